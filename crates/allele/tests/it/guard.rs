//! Champion/challenger with a guardrail: a challenger that converts worse is
//! rolled back by itself (always-valid test, so the guard may look every
//! second); one that does as well keeps running.

use crate::common::{Server, client, read, unique};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const POLICY: &str = r#"
holdout: { universal: 0.0, salt: "guard" }
selection: top
actions:
  - id: offer
    channels: [web]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    propensity: { expression: "0.5" }
"#;

fn admin(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client()
        .request(method, format!("{}{path}", server.url))
        .bearer_auth(&server.admin_key);
    request = match body {
        Some(Value::String(yaml)) => request
            .header("content-type", "application/yaml")
            .body(yaml),
        Some(json) => request.json(&json),
        None => request,
    };
    read(request.send().expect("request"))
}

/// Decide for `n` new people; `converts(version, i)` says who converts.
fn traffic(server: &Server, n: usize, converts: impl Fn(u64, usize) -> bool) -> [usize; 3] {
    let mut served = [0; 3];
    for i in 0..n {
        let user = unique("guard");
        assert_eq!(server.post("/v1/identify", &json!({"userId": user})).0, 200);
        let body = json!({"user_id": user, "touchpoint": "web", "channel": "web", "context": {}});
        let (status, decision) = admin(server, "POST", "/v1/decide", Some(body));
        assert_eq!(status, 200, "{decision}");
        let version = decision["bundle_version"].as_u64().expect("version");
        served[version as usize] += 1;
        if converts(version, served[version as usize]) {
            let outcome = json!({"decision_id": decision["decision_id"], "event": "Bought"});
            assert_eq!(admin(server, "POST", "/v1/outcomes", Some(outcome)).0, 200);
        }
        let _ = i;
    }
    served
}

fn start_challenge(server: &Server) {
    for _ in 0..2 {
        assert_eq!(
            admin(server, "PUT", "/v1/policies", Some(json!(POLICY))).0,
            200
        );
    }
    // Version 1 is the champion, version 2 the challenger.
    assert_eq!(admin(server, "POST", "/v1/bundles/1/activate", None).0, 200);
    let challenge =
        json!({"version": 2, "share": 0.5, "guardrail": {"min_decisions": 40, "event": "Bought"}});
    let (status, body) = admin(server, "PUT", "/v1/bundles/challenger", Some(challenge));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["guardrail"]["min_decisions"], 40);
}

#[test]
fn a_worse_challenger_is_rolled_back_by_its_guardrail() {
    let server = Server::start_with(&["--guard-every", "1"]);
    start_challenge(&server);
    // The champion converts 1 in 2, the challenger 1 in 20.
    let served = traffic(&server, 200, |version, k| {
        if version == 1 {
            k % 2 == 0
        } else {
            k % 20 == 0
        }
    });
    assert!(served[1] >= 40 && served[2] >= 40, "{served:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let stopped = loop {
        let (status, body) = admin(&server, "GET", "/v1/bundles/challenger", None);
        if status == 404 {
            break body;
        }
        assert_eq!(status, 200, "{body}");
        assert!(Instant::now() < deadline, "never rolled back: {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(stopped["code"], "bundle_not_found");
    // Everyone is back on the champion.
    let after = traffic(&server, 20, |_, _| false);
    assert_eq!(after, [0, 20, 0]);
    // A webhook subscription to the rollback is accepted.
    let hook = json!({"url": "http://127.0.0.1:9/", "events": ["challenger.rolled_back"]});
    assert_eq!(
        admin(&server, "PUT", "/v1/webhooks/guard", Some(hook)).0,
        200
    );
}

#[test]
fn an_equal_challenger_keeps_running_and_reports_its_reading() {
    let server = Server::start_with(&["--guard-every", "1"]);
    start_challenge(&server);
    let served = traffic(&server, 160, |_, k| k % 2 == 0);
    std::thread::sleep(Duration::from_millis(2_500));
    let (status, body) = admin(&server, "GET", "/v1/bundles/challenger", None);
    assert_eq!(status, 200, "{body}");
    let guard = &body["guard"];
    assert_eq!(guard["degraded"], false, "{body}");
    assert_eq!(guard["challenger"]["decisions"], served[2]);
    assert_eq!(guard["champion"]["decisions"], served[1]);
    assert_eq!(guard["challenger"]["successes"], served[2] / 2);
    assert!(
        guard["sequential"]["always_valid_p"].as_f64() > Some(0.5),
        "{guard}"
    );

    let bad = json!({"version": 2, "share": 0.5, "guardrail": {"alpha": 2.0}});
    let (status, body) = admin(&server, "PUT", "/v1/bundles/challenger", Some(bad));
    assert_eq!(status, 400, "{body}");
    let unknown = json!({"version": 2, "share": 0.5, "guardrail": {"metric": "x"}});
    assert_eq!(
        admin(&server, "PUT", "/v1/bundles/challenger", Some(unknown)).0,
        400
    );
}
