//! Sense-making: the heterogeneity report finds the context that changes an
//! action's outcome rate (with BH control, so a null feature stays quiet),
//! and turns it into a policy diff scored off-policy.

use crate::common::{Server, client, read, unique};
use serde_json::{Value, json};

const POLICY: &str = r#"
holdout: { universal: 0.0, salt: "learn" }
selection: top
actions:
  - id: offer
    channels: [web]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 10.0
    propensity: { expression: "0.5" }
  - id: fallback
    channels: [web]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    propensity: { expression: "0.5" }
"#;

#[test]
fn heterogeneity_finds_the_touchpoint_and_proposes_a_scored_rule() {
    let server = Server::start();
    let (status, published) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(POLICY)
            .send()
            .expect("publish"),
    );
    assert_eq!(status, 200, "{published}");
    let (mut store_wins, mut web_wins) = (0, 0);
    for i in 0..240u32 {
        let user = unique("learn");
        // A planted effect (store converts 3 in 5, web 1 in 10) and a null
        // one (the `tier` trait is unrelated to the outcome).
        let tier = if i % 4 < 2 { "gold" } else { "silver" };
        assert_eq!(
            server
                .post(
                    "/v1/identify",
                    &json!({"userId": user, "traits": {"tier": tier}})
                )
                .0,
            200
        );
        let touchpoint = if i % 2 == 0 { "store" } else { "web" };
        let (status, decision) = read(
            client()
                .post(format!("{}/v1/decide", server.url))
                .bearer_auth(&server.admin_key)
                .json(&json!({"user_id": user, "touchpoint": touchpoint, "channel": "web", "context": {}}))
                .send()
                .expect("decide"),
        );
        assert_eq!(status, 200, "{decision}");
        assert_eq!(decision["actions"][0]["action_id"], "offer");
        let round = i / 2;
        let converts = if touchpoint == "store" {
            round % 5 < 3
        } else {
            round % 10 == 0
        };
        if converts {
            if touchpoint == "store" {
                store_wins += 1;
            } else {
                web_wins += 1;
            }
            let outcome = json!({"decision_id": decision["decision_id"], "event": "Converted"});
            let (status, body) = read(
                client()
                    .post(format!("{}/v1/outcomes", server.url))
                    .bearer_auth(&server.admin_key)
                    .json(&outcome)
                    .send()
                    .expect("outcome"),
            );
            assert_eq!(status, 200, "{body}");
        }
    }
    let (status, report) = server.admin_get("/v1/reports/heterogeneity?action=offer&min_n=20");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["decisions"], 240);
    let cells = report["cells"].as_array().expect("cells");
    let cell = |feature: &str, value: &str| -> &Value {
        cells
            .iter()
            .find(|c| c["feature"] == feature && c["value"] == value)
            .unwrap_or_else(|| panic!("no cell {feature}={value}: {report}"))
    };
    let store = cell("context.touchpoint", "store");
    assert_eq!(store["n"], 120);
    assert_eq!(store["successes"], store_wins);
    assert_eq!(store["rest_n"], 120);
    let expected = f64::from(store_wins - web_wins) / 120.0;
    assert!((store["difference"].as_f64().expect("diff") - expected).abs() < 1e-12);
    assert_eq!(store["significant"], true, "{store}");
    let interval = store["interval"].as_array().expect("interval");
    assert!(interval[0].as_f64() > Some(0.0), "{store}");
    let tier = cell("profile.traits[\"tier\"]", "gold");
    assert_eq!(tier["significant"], false, "a null feature: {tier}");

    let proposals = report["proposals"].as_array().expect("proposals");
    assert!(!proposals.is_empty(), "{report}");
    let first = &proposals[0];
    assert!(
        first["clause"]
            .as_str()
            .is_some_and(|c| c.contains("context.touchpoint") && c.contains("\"store\"")),
        "{first}"
    );
    assert!(
        first["diff"]
            .as_str()
            .is_some_and(|d| d.contains("+") && d.contains("applicability")),
        "{first}"
    );
    assert!(first["snips_gain"].as_f64() > Some(0.0), "{first}");
    // The console's learning page shows the same cells and proposal, and
    // accepting it there publishes it as the next version.
    let browser = crate::console_pages::Browser::login(&server);
    let (status, html) = browser.get("/learning?action=offer&min_n=20");
    assert_eq!(status, 200);
    assert!(
        html.contains("context.touchpoint") && html.contains("Accept and publish"),
        "{html}"
    );
    assert!(
        html.contains("+  applicability: context.touchpoint == &#34;store&#34;"),
        "{html}"
    );
    let (status, _, _) = browser.post(
        "/policies",
        &[
            ("csrf", browser.csrf.as_str()),
            ("source", first["policy"].as_str().expect("policy")),
            ("intent", "publish"),
        ],
    );
    assert!(status == 200 || status == 303, "{status}");
    let (_, latest) = server.admin_get("/v1/bundles/latest");
    assert_eq!(latest["version"], 2, "accepting published the proposal");
    // The proposal is also a valid policy to publish through the API.
    let (status, body) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(first["policy"].as_str().expect("policy").to_string())
            .send()
            .expect("publish"),
    );
    assert_eq!(status, 200, "{body}");
    let user = unique("learn-after");
    assert_eq!(server.post("/v1/identify", &json!({"userId": user})).0, 200);
    let (_, web) = read(
        client()
            .post(format!("{}/v1/decide", server.url))
            .bearer_auth(&server.admin_key)
            .json(&json!({"user_id": user, "touchpoint": "web", "channel": "web", "context": {}}))
            .send()
            .expect("decide"),
    );
    assert_eq!(web["actions"][0]["action_id"], "fallback", "{web}");

    for (query, code) in [
        ("", 400),
        ("?action=nothing", 400),
        ("?action=offer&value=profit", 400),
    ] {
        let (status, body) = server.admin_get(&format!("/v1/reports/heterogeneity{query}"));
        assert_eq!(status, code, "{query}: {body}");
        assert!(body["message"].is_string());
    }
}
