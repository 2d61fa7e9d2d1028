//! Thompson sampling learns at the centre: Beta propensities are fed each
//! action's offers and outcomes from the decision log, per touchpoint, so
//! the better action wins where it is better — and the counts used are
//! logged with the decision for replay.

use crate::common::{Server, client, publish_policy, read, unique};
use serde_json::{Value, json};

const POLICY: &str = r#"
holdout: { universal: 0.0, salt: "bandit" }
selection: thompson
actions:
  - id: left
    channels: [web]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    propensity: { model: thompson, prior: [1, 1] }
  - id: right
    channels: [web]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    propensity: { model: thompson, prior: [1, 1] }
"#;

fn decide(server: &Server, touchpoint: &str) -> Value {
    let user = unique("bandit");
    assert_eq!(server.post("/v1/identify", &json!({"userId": user})).0, 200);
    let (status, decision) = read(
        client()
            .post(format!("{}/v1/decide", server.url))
            .bearer_auth(&server.admin_key)
            .json(&json!({"user_id": user, "touchpoint": touchpoint, "channel": "web", "context": {}}))
            .send()
            .expect("decide"),
    );
    assert_eq!(status, 200, "{decision}");
    decision
}

/// `left` always converts in the store, `right` always on the web.
fn play(server: &Server, rounds: usize) -> [[usize; 2]; 2] {
    let mut picks = [[0; 2]; 2];
    for _ in 0..rounds {
        for (t, touchpoint) in ["store", "web"].into_iter().enumerate() {
            let decision = decide(server, touchpoint);
            let action = decision["actions"][0]["action_id"]
                .as_str()
                .expect("action");
            let a = usize::from(action == "right");
            picks[t][a] += 1;
            if (touchpoint == "store") == (action == "left") {
                let outcome = json!({"decision_id": decision["decision_id"], "event": "Converted"});
                let (status, _) = read(
                    client()
                        .post(format!("{}/v1/outcomes", server.url))
                        .bearer_auth(&server.admin_key)
                        .json(&outcome)
                        .send()
                        .expect("outcome"),
                );
                assert_eq!(status, 200);
            }
        }
    }
    picks
}

#[test]
fn thompson_learns_per_touchpoint_from_logged_outcomes() {
    let server = Server::start();
    assert_eq!(publish_policy(&server, POLICY).0, 200);
    // Explore in rounds, letting the two-second cache of counts refresh.
    for _ in 0..3 {
        play(&server, 15);
        std::thread::sleep(std::time::Duration::from_millis(2_100));
    }
    let [store, web] = play(&server, 30);
    assert!(store[0] >= 24, "the store should favour `left`: {store:?}");
    assert!(web[1] >= 24, "the web should favour `right`: {web:?}");

    // The counts a decision used are in the log, per its touchpoint.
    let conn = rusqlite::Connection::open_with_flags(
        server.data.join("allele.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("db");
    let request: String = conn
        .query_row(
            "SELECT request FROM decisions WHERE json_extract(request, '$.touchpoint') = 'store' ORDER BY at DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .expect("a logged store decision");
    let logged: Value = serde_json::from_str(&request).expect("json");
    let left = &logged["arm_stats"]["left"];
    assert!(left["successes"].as_f64() > Some(20.0), "{logged}");
    assert!(
        left["failures"].as_f64() < Some(1.0),
        "left never fails in the store: {logged}"
    );
}
