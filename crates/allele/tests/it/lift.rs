//! Holdout lift and ROI from the decision log, and attribution over
//! campaign touches, checked against counts known by construction.

use crate::common::{Server, client, read, unique};
use serde_json::{Value, json};
use std::collections::HashMap;

const POLICY: &str = r#"
holdout: { universal: 0.3, salt: "lift-test" }
selection: top
actions:
  - id: promo
    channels: [web]
    purpose: dpv:DirectMarketing
    kind: marketing
    value: 10.0
    cost: 0.5
    propensity: { expression: "0.2" }
"#;

#[test]
fn holdout_lift_and_roi_from_the_decision_log() {
    let server = Server::start();
    let (status, body) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .body(POLICY)
            .send()
            .expect("publish"),
    );
    assert_eq!(status, 200, "{body}");
    let prefix = unique("lift");
    let mut held = 0;
    let mut treated = 0;
    let mut conversions: HashMap<bool, (usize, f64)> = HashMap::new();
    for i in 0..200 {
        let user = format!("{prefix}-{i}");
        assert_eq!(
            server
                .post("/v1/identify", &json!({"userId": user, "traits": {"n": i}}))
                .0,
            200
        );
        let consent =
            json!({"purpose": "dpv:DirectMarketing", "channel": "web", "status": "given"});
        read(
            client()
                .put(format!("{}/v1/profiles/user_id:{user}/consent", server.url))
                .bearer_auth(&server.admin_key)
                .json(&consent)
                .send()
                .expect("consent"),
        );
        let (status, decision) = read(
            client()
                .post(format!("{}/v1/decide", server.url))
                .bearer_auth(&server.admin_key)
                .json(&json!({"user_id": user, "touchpoint": "web", "channel": "web"}))
                .send()
                .expect("decide"),
        );
        assert_eq!(status, 200, "{decision}");
        let holdout = decision["holdout"].as_bool().expect("holdout");
        assert_eq!(
            decision["actions"].as_array().map(Vec::is_empty),
            Some(holdout),
            "{decision}"
        );
        if holdout {
            held += 1
        } else {
            treated += 1
        }
        // Treated people buy more often: every 2nd versus every 4th.
        if i % if holdout { 4 } else { 2 } == 0 {
            let revenue = 10.0 + (i % 7) as f64;
            let entry = conversions.entry(holdout).or_default();
            entry.0 += 1;
            entry.1 += revenue;
            assert_eq!(server.post("/v1/track", &json!({"userId": user, "event": "Purchase", "properties": {"revenue": revenue}})).0, 200);
        }
    }
    assert!(held > 30 && treated > 100, "held {held}, treated {treated}");
    let (status, lift) =
        server.admin_get("/v1/reports/lift?metric=Purchase&value=revenue&action=promo");
    assert_eq!(status, 200, "{lift}");
    assert_eq!(lift["holdout"]["n"], held, "{lift}");
    assert_eq!(lift["treated"]["n"], treated);
    assert_eq!(lift["holdout"]["conversions"], conversions[&true].0);
    assert_eq!(lift["treated"]["conversions"], conversions[&false].0);
    assert_eq!(lift["contacts"], treated);
    assert!((lift["cost"].as_f64().expect("cost") - 0.5 * treated as f64).abs() < 1e-9);
    assert!(lift["lift_abs"].as_f64().expect("lift") > 0.0);
    assert!(lift["roi"].is_number(), "{lift}");
    // Decisions also record the holdout as an experiment, readable the Segment way.
    let (status, readout) = server.admin_get(
        "/v1/reports/experiments/holdout-lift-test?metric=Purchase&value=revenue&control=holdout",
    );
    assert_eq!(status, 200, "{readout}");
    assert_eq!(readout["variations"][0]["variation_id"], "holdout");
    assert_eq!(readout["variations"][0]["n"], held);
    assert_eq!(readout["variations"][1]["n"], treated);
    let (status, err) = server.admin_get("/v1/reports/lift");
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_query")));
}

#[test]
fn attribution_over_campaign_touches() {
    let server = Server::start();
    let prefix = unique("attr");
    let mut batch = Vec::new();
    let mut last_touch: HashMap<&str, usize> = HashMap::new();
    for i in 0..60 {
        let user = format!("{prefix}-{i}");
        let sources = match i % 3 {
            0 => vec!["newsletter", "search"],
            1 => vec!["social"],
            _ => vec!["search", "social", "newsletter"],
        };
        for (step, source) in sources.iter().enumerate() {
            batch.push(json!({"type": "page", "userId": user, "name": "Landing", "timestamp": format!("2026-04-01T10:0{step}:00Z"),
                              "context": {"campaign": {"source": source, "medium": "x"}}}));
        }
        if i % 2 == 0 {
            *last_touch.entry(sources[sources.len() - 1]).or_default() += 1;
            batch.push(json!({"type": "track", "userId": user, "event": "Signed Up", "timestamp": "2026-04-01T11:00:00Z", "properties": {"revenue": 5}}));
            // A touch after converting earns no credit.
            batch.push(json!({"type": "page", "userId": user, "name": "Late", "timestamp": "2026-04-02T00:00:00Z", "context": {"campaign": {"source": "late"}}}));
        }
    }
    assert_eq!(server.post("/v1/batch", &json!({"batch": batch})).0, 200);
    let (status, last) =
        server.admin_get("/v1/reports/attribution?model=last&conversion=Signed%20Up&value=revenue");
    assert_eq!(status, 200, "{last}");
    let credit = |report: &Value, channel: &str| {
        report["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .find(|c| c["channel"] == channel)
            .map_or(0.0, |c| c["conversions"].as_f64().unwrap_or(0.0))
    };
    for (channel, count) in &last_touch {
        assert!(
            (credit(&last, channel) - *count as f64).abs() < 1e-9,
            "{channel}: {last}"
        );
    }
    assert_eq!(credit(&last, "late"), 0.0);
    for model in ["first", "linear", "time_decay", "markov", "shapley"] {
        let (status, report) = server.admin_get(&format!(
            "/v1/reports/attribution?model={model}&conversion=Signed%20Up&value=revenue"
        ));
        assert_eq!(status, 200, "{model}: {report}");
        let total: f64 = report["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .map(|c| c["conversions"].as_f64().unwrap_or(0.0))
            .sum();
        assert!(
            (total - 30.0).abs() < 1e-6,
            "{model} credits {total} conversions: {report}"
        );
    }
    let (status, err) =
        server.admin_get("/v1/reports/attribution?model=magic&conversion=Signed%20Up");
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_query")));
}
