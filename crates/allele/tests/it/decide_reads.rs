//! What a decision reads: only the computed traits its bundle (and the
//! workspace's segments) can see are computed, and those reflect an
//! acknowledged event at once; exact per-person locks keep caps under
//! concurrency while decisions for other people proceed.

use crate::common::{Server, client, read, unique};
use serde_json::{Value, json};

/// `vip_offer` needs the `vip` segment (revenue over all time); `cart_nudge`
/// needs two `Cart Viewed` in 7 days. Nothing else is read.
const POLICY: &str = r#"
holdout: { universal: 0.0, salt: "reads" }
selection: top
actions:
  - id: vip_offer
    channels: [email]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 50.0
    eligibility: '"vip" in profile.segments'
    propensity: { expression: "0.5" }
  - id: cart_nudge
    channels: [email]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 10.0
    eligibility: 'profile.computed.count_7d["Cart Viewed"] >= 2'
    propensity: { expression: "0.5" }
"#;

fn decide(server: &Server, user: &str) -> Value {
    let body = json!({"user_id": user, "touchpoint": "web", "channel": "email"});
    let (status, answer) = read(
        client()
            .post(format!("{}/v1/decide", server.url))
            .bearer_auth(&server.admin_key)
            .json(&body)
            .send()
            .expect("decide"),
    );
    assert_eq!(status, 200, "{answer}");
    answer
}

fn offered(answer: &Value) -> Vec<String> {
    answer["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["action_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The `profile` a logged decision recorded.
fn logged_profile(server: &Server, decision_id: &str) -> Value {
    let conn = rusqlite::Connection::open(server.data.join("allele.db")).expect("open");
    let request: String = conn
        .query_row(
            "SELECT request FROM decisions WHERE id = ?1",
            [decision_id],
            |row| row.get(0),
        )
        .expect("logged");
    serde_json::from_str::<Value>(&request).expect("json")["profile"].clone()
}

#[test]
fn decisions_compute_what_rules_read_and_see_new_events_at_once() {
    let server = Server::start();
    let user = unique("reads");
    let (status, segment) = server.admin_put(
        "/v1/segments/vip",
        &json!({"definition": "profile.computed.revenue_all >= 100.0"}),
    );
    assert_eq!(status, 200, "{segment}");
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
    let track = |event: &str, properties: Value| {
        // Distinct messageIds: two identical bodies would be one event.
        let body = json!({"userId": user, "event": event, "properties": properties, "messageId": unique("m")});
        assert_eq!(server.post("/v1/track", &body).0, 200);
    };
    track("Cart Viewed", json!({}));
    let first = decide(&server, &user);
    assert_eq!(offered(&first), Vec::<String>::new(), "{first}");
    // The second cart view and the order are acknowledged, so the very next
    // decision must see both (no cache may hide them).
    track("Cart Viewed", json!({}));
    let second = decide(&server, &user);
    assert_eq!(offered(&second), vec!["cart_nudge"], "{second}");
    track("Order Completed", json!({"revenue": 120.0}));
    let both = decide(&server, &user);
    assert_eq!(offered(&both), vec!["vip_offer"], "{both}");
    assert_eq!(both["candidates"].as_array().map(Vec::len), Some(2));

    // The log records what the rules and segments could read: the counts
    // and revenue (one query computes them together), no sentiment,
    // influence or ideas, and the segment the rule tested.
    let profile = logged_profile(&server, both["decision_id"].as_str().expect("id"));
    let computed = profile["computed"].as_object().expect("computed");
    assert_eq!(computed["count_7d"]["Cart Viewed"], json!(2));
    assert_eq!(computed["count_all"]["Order Completed"], json!(1));
    assert_eq!(computed["revenue_all"], json!(120.0));
    assert!(!computed.contains_key("days_since_last_seen"), "{profile}");
    assert!(!computed.contains_key("ideas_posted"), "{profile}");
    assert_eq!(profile["segments"], json!(["vip"]));

    // A profile read still computes everything.
    let (status, full) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert_eq!(status, 200, "{full}");
    assert!(full["computed"]["days_since_last_seen"].is_i64(), "{full}");
    assert_eq!(full["computed"]["count_1d"]["Cart Viewed"], json!(2));
    assert_eq!(full["computed"]["revenue_30d"], json!(120.0));
}

#[test]
fn a_rule_reading_the_whole_computed_map_gets_every_trait() {
    let server = Server::start();
    let user = unique("whole");
    let policy = r#"
holdout: { universal: 0.0, salt: "whole" }
selection: top
actions:
  - id: returning
    channels: [email]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    eligibility: '"days_since_last_seen" in profile.computed'
    propensity: { expression: "0.5" }
"#;
    let (status, published) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(policy)
            .send()
            .expect("publish"),
    );
    assert_eq!(status, 200, "{published}");
    let body = json!({"userId": user, "event": "Page Viewed"});
    assert_eq!(server.post("/v1/track", &body).0, 200);
    let answer = decide(&server, &user);
    assert_eq!(offered(&answer), vec!["returning"], "{answer}");
    let profile = logged_profile(&server, answer["decision_id"].as_str().expect("id"));
    assert_eq!(profile["computed"]["count_all"]["Page Viewed"], json!(1));
}
