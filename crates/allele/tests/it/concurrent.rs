//! Decisions running at once over HTTP: while a 1,000-rule bundle is
//! republished no decision fails, and each is served by a version active
//! at some moment of its request (the old one or the new one); and many
//! decisions for one person at the same instant never exceed a cap.

use crate::common::{Server, client, decide_key, read, unique};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn thousand_rules(salt: u64) -> String {
    let mut policy =
        String::from("holdout: { universal: 0.0, salt: \"swap\" }\nselection: top\nactions:\n");
    for i in 0..1000u64 {
        policy.push_str(&format!(
            "  - id: notice_{i}\n    channels: [email]\n    purpose: dpv:ServiceProvision\n    kind: transactional\n    value: {}.0\n    eligibility: 'context.page == \"/home\" && {} >= 0'\n    propensity: {{ expression: \"0.5\" }}\n",
            1 + (i + salt) % 97,
            i
        ));
    }
    policy
}

fn publish(server: &Server, salt: u64) -> u64 {
    let (status, body) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(thousand_rules(salt))
            .send()
            .expect("publish"),
    );
    assert_eq!(status, 200, "{body}");
    body["version"].as_u64().expect("version")
}

#[test]
fn decisions_never_fail_while_a_1000_rule_bundle_is_swapped() {
    const PUBLISHES: u64 = 4;
    let server = Server::start();
    let key = decide_key(&server);
    let first = publish(&server, 0);
    // Versions whose publish has begun / has been acknowledged.
    let started = AtomicU64::new(first);
    let acked = AtomicU64::new(first);
    let done = AtomicBool::new(false);
    let body = json!({"user_id": "swap-user", "touchpoint": "web", "channel": "email", "context": {"page": "/home"}});

    let served: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let deciders: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut versions = Vec::new();
                    while !done.load(Ordering::Acquire) || versions.len() < 5 {
                        let low = acked.load(Ordering::Acquire);
                        let (status, decision) = read(
                            client()
                                .post(format!("{}/v1/decide", server.url))
                                .bearer_auth(&key)
                                .json(&body)
                                .send()
                                .expect("decide"),
                        );
                        let high = started.load(Ordering::Acquire);
                        assert_eq!(status, 200, "a decision failed during a swap: {decision}");
                        let version = decision["bundle_version"].as_u64().expect("version");
                        assert!(
                            (low..=high).contains(&version),
                            "served by v{version}, outside v{low}..=v{high}"
                        );
                        assert_eq!(
                            decision["actions"].as_array().map(Vec::len),
                            Some(1),
                            "{decision}"
                        );
                        versions.push(version);
                    }
                    versions
                })
            })
            .collect();
        for salt in 1..=PUBLISHES {
            started.fetch_add(1, Ordering::AcqRel);
            let version = publish(&server, salt);
            assert_eq!(version, first + salt);
            acked.store(version, Ordering::Release);
        }
        done.store(true, Ordering::Release);
        deciders
            .into_iter()
            .map(|d| d.join().expect("decider"))
            .collect()
    });
    let all: Vec<u64> = served.into_iter().flatten().collect();
    let distinct: std::collections::BTreeSet<u64> = all.iter().copied().collect();
    assert!(
        distinct.len() >= 2,
        "only {distinct:?} served over {} decisions",
        all.len()
    );
    assert!(distinct.contains(&(first + PUBLISHES)), "{distinct:?}");
}

const CAPPED: &str = r#"
holdout: { universal: 0.0, salt: "caps" }
selection: top
actions:
  - id: gold_card
    channels: [email]
    purpose: dpv:DirectMarketing
    value: 120.0
    propensity: { expression: "0.5" }
    caps: { per_customer: { count: 2, per: 7d } }
"#;

#[test]
fn concurrent_decisions_for_one_person_never_exceed_a_cap() {
    let server = Server::start();
    let key = decide_key(&server);
    let user = unique("capped");
    let (status, _) = server.post(
        "/v1/identify",
        &json!({"userId": user, "traits": {"age": 30}}),
    );
    assert_eq!(status, 200);
    let consent = json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"});
    let (status, _) = read(
        client()
            .put(format!("{}/v1/profiles/user_id:{user}/consent", server.url))
            .bearer_auth(&server.admin_key)
            .json(&consent)
            .send()
            .expect("consent"),
    );
    assert_eq!(status, 200);
    let (status, body) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(CAPPED)
            .send()
            .expect("publish"),
    );
    assert_eq!(status, 200, "{body}");
    let body = json!({"user_id": user, "touchpoint": "web", "channel": "email"});
    let start = std::sync::Barrier::new(8);
    let offered: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    let mut offered = 0;
                    for _ in 0..3 {
                        let (status, decision) = read(
                            client()
                                .post(format!("{}/v1/decide", server.url))
                                .bearer_auth(&key)
                                .json(&body)
                                .send()
                                .expect("decide"),
                        );
                        assert_eq!(status, 200, "{decision}");
                        offered += decision["actions"].as_array().map_or(0, Vec::len);
                    }
                    offered
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    assert_eq!(
        offered, 2,
        "24 simultaneous decisions offered a 2-per-week action {offered} times"
    );
}
