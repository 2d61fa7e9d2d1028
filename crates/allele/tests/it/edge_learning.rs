//! Local adaptation at an edge: its Beta and contextual propensities learn
//! from the outcomes it sees itself (no centre needed), it reports what it
//! learned with its sync state, the centre lists and shows that report,
//! and the feature vectors travel with the uploaded decisions so the
//! centre's own contextual model learns from edge offers too.

use crate::common::{Server, unique};
use crate::console_pages::Browser;
use crate::edge_support::{EdgeProc, count, decide_key, give_consent, publish};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The basket offer works only for big baskets; the coupon never does.
const POLICY: &str = r#"
holdout: { universal: 0.0, salt: "edge-learn" }
selection: thompson
actions:
  - id: basket_offer
    channels: [email]
    purpose: dpv:DirectMarketing
    value: 1.0
    propensity:
      model: contextual
      prior: [1, 1]
      features: ['context.basket >= 50']
  - id: coupon
    channels: [email]
    purpose: dpv:DirectMarketing
    value: 1.0
    propensity: { model: thompson, prior: [1, 1] }
"#;

fn learned(status: &Value, action: &str) -> Value {
    status["learned"]["store"][action].clone()
}

#[test]
fn an_edge_learns_from_its_own_outcomes_and_reports_it() {
    let centre = Server::start();
    publish(&centre, POLICY);
    let key = decide_key(&centre);
    let dir = tempfile::tempdir().expect("tempdir");
    let edge = EdgeProc::start(&centre.url, &key, &dir.path().join("edge"), &[]);
    let users: Vec<String> = (0..4).map(|i| unique(&format!("learn-u{i}"))).collect();
    for user in &users {
        give_consent(&centre, user, json!({"age": 40}));
    }
    let consented = Instant::now();
    edge.wait_ready();
    edge.wait_snapshot_after(consented);
    let mut offers = 0u64;
    for round in 0..120 {
        let basket = if round % 2 == 0 { 90 } else { 10 };
        let user = &users[round % users.len()];
        let (status, answer) = edge.decide(&json!({
            "user_id": user, "touchpoint": "store", "channel": "email", "context": {"basket": basket}
        }));
        assert_eq!(status, 200, "{answer}");
        let chosen = answer["actions"][0]["action_id"].as_str().unwrap_or("");
        if chosen == "basket_offer" {
            offers += 1;
            let x = &answer["actions"][0]["features"]["x"];
            assert_eq!(
                x,
                &json!([1.0, if basket >= 50 { 1.0 } else { 0.0 }]),
                "{answer}"
            );
        }
        if chosen == "basket_offer" && basket >= 50 {
            let id = answer["decision_id"].as_str().expect("decision id");
            let (status, body) = edge.post(
                "/v1/outcomes",
                &json!({"decision_id": id, "event": "Purchased", "revenue": 20.0}),
            );
            assert_eq!(status, 200, "{body}");
        }
        // Let the cached statistics refresh a few times along the way.
        if round % 40 == 39 {
            std::thread::sleep(Duration::from_millis(2_100));
        }
    }
    assert!(
        offers > 10,
        "the basket offer was hardly ever tried: {offers}"
    );
    // What the edge learned, from its own log: the big-basket feature has
    // a large positive effect, the coupon a low rate.
    edge.wait_for(20, "learned from its outcomes", |s| {
        learned(s, "basket_offer")["offers"].as_u64() == Some(offers)
    });
    let status = edge.status();
    let basket = learned(&status, "basket_offer");
    assert_eq!(basket["model"], "contextual", "{status}");
    let effect = basket["coefficients"]["context.basket >= 50"]
        .as_f64()
        .expect("a coefficient per feature");
    assert!(effect > 0.4, "{basket}");
    let coupon = learned(&status, "coupon");
    assert_eq!(coupon["model"], "thompson", "{status}");
    assert_eq!(coupon["outcomes"].as_u64(), Some(0), "{coupon}");
    assert!(coupon["offers"].as_u64().unwrap_or(0) >= 1, "{coupon}");
    // Now the edge exploits what it learned, per context.
    let share = |basket: u32| {
        let (_, answer) = edge.decide(&json!({
            "user_id": users[0], "touchpoint": "store", "channel": "email", "context": {"basket": basket}
        }));
        let probability = answer["candidates"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["action_id"] == "basket_offer"))
            .and_then(|c| c["probability"].as_f64())
            .unwrap_or(0.0);
        (
            probability,
            answer["actions"][0]["action_id"] == "basket_offer",
        )
    };
    let (big, offered_big) = share(95);
    let (small, offered_small) = share(5);
    let offers_logged = offers + u64::from(offered_big) + u64::from(offered_small);
    assert!(big > 0.9, "big baskets: {big}");
    assert!(small < big, "small baskets: {small} vs {big}");

    // The centre lists the edge's report…
    let edge_id = status["edge_id"].as_str().expect("edge id").to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let report = loop {
        let (code, body) = centre.admin_get("/v1/edges");
        assert_eq!(code, 200, "{body}");
        let found = body["edges"].as_array().and_then(|edges| {
            edges
                .iter()
                .find(|e| e["edge_id"] == edge_id.as_str())
                .cloned()
        });
        if let Some(found) = found.filter(|f| {
            learned(&f["status"], "basket_offer")["offers"]
                .as_u64()
                .is_some_and(|n| n >= offers)
        }) {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no report from `{edge_id}`: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(report["stale"], false, "{report}");
    assert!(report["status"]["snapshot_age_ms"].is_i64(), "{report}");
    // …shows it on the console…
    let browser = Browser::login(&centre);
    let (code, page) = browser.get("/edges");
    assert_eq!(code, 200);
    assert!(page.contains(&edge_id), "{page}");
    assert!(page.contains("context.basket &#62;= 50: +0."), "{page}");
    // …and learns from the uploaded offers itself.
    edge.wait_drained();
    let with_features = count(
        &centre,
        "SELECT COUNT(*) FROM decision_actions WHERE features IS NOT NULL AND action_id = ?1",
        "basket_offer",
    );
    assert_eq!(with_features, offers_logged as i64);
    std::thread::sleep(Duration::from_millis(2_100));
    let (code, decision) = centre.post_with_key(
        &key,
        "/v1/decide",
        &json!({"user_id": users[1], "touchpoint": "store", "channel": "email", "context": {"basket": 70}}),
    );
    assert_eq!(code, 200, "{decision}");
    let id = decision["decision_id"].as_str().expect("id");
    let n = count(
        &centre,
        "SELECT json_extract(request, '$.linear_stats.basket_offer.n') FROM decisions WHERE id = ?1",
        id,
    );
    assert_eq!(n, offers_logged as i64);
}

#[test]
fn status_reports_are_validated() {
    let centre = Server::start();
    let key = decide_key(&centre);
    for (body, needle) in [
        (json!({"bundle_version": 3}), "`edge_id`"),
        (json!({"edge_id": ""}), "`edge_id`"),
        (json!({"edge_id": "x".repeat(65)}), "`edge_id`"),
    ] {
        let (code, answer) = centre.post_with_key(&key, "/v1/edge/status", &body);
        assert_eq!(code, 400, "{answer}");
        assert!(
            answer["message"].as_str().unwrap_or("").contains(needle),
            "{answer}"
        );
        assert_eq!(answer["code"], "invalid_body", "{answer}");
    }
    let huge = json!({"edge_id": "e1", "learned": {"x": "y".repeat(300_000)}});
    let (code, answer) = centre.post_with_key(&key, "/v1/edge/status", &huge);
    assert_eq!(code, 400, "{answer}");
    let (_, listed) = centre.admin_get("/v1/edges");
    assert_eq!(listed["edges"], json!([]), "refused reports are not stored");
    // What an edge reports is shown escaped: touchpoints and action ids
    // come from callers.
    let hostile = json!({
        "edge_id": "<img src=x onerror=alert(1)>",
        "snapshot_age_ms": 1200,
        "outbox": {"event": 3, "decision": 4},
        "learned": {"<script>alert(2)</script>": {"a\"><b>": {"model": "thompson", "offers": 5, "outcomes": 1, "rate": 0.2}}},
    });
    let (code, answer) = centre.post_with_key(&key, "/v1/edge/status", &hostile);
    assert_eq!(code, 200, "{answer}");
    let (_, listed) = centre.admin_get("/v1/edges");
    assert_eq!(listed["edges"][0]["status"]["outbox"]["decision"], 4);
    let (code, page) = Browser::login(&centre).get("/edges");
    assert_eq!(code, 200);
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("&#60;img src=x onerror=alert(1)&#62;"),
        "{page}"
    );
    assert!(page.contains(">7</td>"), "outbox depth summed: {page}");
}
