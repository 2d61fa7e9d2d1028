//! `allele edge` against a real centre: the same decisions for the same
//! bundle and input; deciding through a partition (and a centre crash),
//! then every decision, outcome and event at the centre exactly once, even
//! when the centre's answers were lost and uploads retried; a stale consent
//! snapshot failing closed for marketing; tampered bundles refused (served
//! live, or written into the edge's cache); `kill -9` of the edge losing no
//! acknowledged event; and a customer cap holding across two edges.

use crate::common::{Server, client, read, unique};
use crate::edge_support::{
    DOWN, EdgeProc, FakeCentre, Proxy, SWALLOW, UP, count, decide_key, give_consent, publish,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const POLICY: &str = r#"
holdout: { universal: 0.3, salt: "edge" }
selection: epsilon
epsilon: 0.2
actions:
  - id: gold_card
    channels: [email, web]
    purpose: dpv:DirectMarketing
    kind: marketing
    value: 120.0
    eligibility: 'profile.traits.age >= 18'
    propensity: { expression: "0.05" }
  - id: silver_card
    channels: [email]
    purpose: dpv:DirectMarketing
    kind: marketing
    value: 80.0
    propensity: { expression: "0.06" }
  - id: order_update
    channels: [email]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    propensity: { expression: "0.5" }
"#;

/// No holdout and no trait rules: only consent and caps decide marketing.
const CAP_POLICY: &str = r#"
holdout: { universal: 0.0, salt: "edge-cap" }
selection: top
actions:
  - id: gold_card
    channels: [email]
    purpose: dpv:DirectMarketing
    kind: marketing
    value: 120.0
    propensity: { expression: "0.05" }
  - id: order_update
    channels: [email]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    propensity: { expression: "0.5" }
"#;

fn chosen(decision: &Value) -> Vec<String> {
    decision["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["action_id"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn centre_decide(server: &Server, key: &str, body: &Value) -> Value {
    let (status, answer) = read(
        client()
            .post(format!("{}/v1/decide", server.url))
            .bearer_auth(key)
            .json(body)
            .send()
            .expect("decide"),
    );
    assert_eq!(status, 200, "{answer}");
    answer
}

fn host(url: &str) -> &str {
    url.trim_start_matches("http://")
}

#[test]
fn edge_decides_like_the_centre_through_a_partition_and_loses_nothing() {
    let mut centre = Server::start();
    publish(&centre, POLICY);
    let key = decide_key(&centre);
    let proxy = Proxy::start(host(&centre.url));
    let dir = tempfile::tempdir().expect("tempdir");
    let edge = EdgeProc::start(
        &proxy.url,
        &key,
        &dir.path().join("edge"),
        &["--max-staleness", "2s"],
    );
    let users: Vec<String> = (0..6).map(|i| unique(&format!("edge-u{i}"))).collect();
    for user in &users {
        give_consent(&centre, user, json!({"age": 30 + users.len()}));
    }
    let consented = Instant::now();
    // The same identify at the edge: the edge learns the traits, and the
    // centre stores it once (same messageId) when the edge uploads it.
    for user in &users {
        let identify = json!({"userId": user, "traits": {"age": 30 + users.len()}, "messageId": format!("id-{user}")});
        assert_eq!(centre.post("/v1/identify", &identify).0, 200);
        assert_eq!(edge.post("/v1/identify", &identify).0, 200);
    }
    edge.wait_ready();
    edge.wait_snapshot_after(consented);
    // Same bundle, same input, same seed: the same answer, holdout included.
    let mut compared = 0;
    // A stranger only once: the centre's first decision creates a profile
    // (its exposure event), after which the centre keys them differently.
    let stranger = unique("edge-stranger");
    for (index, user) in users.iter().chain([&stranger]).enumerate() {
        let seeds: &[u64] = if *user == stranger { &[1] } else { &[1, 2, 3] };
        for &seed in seeds {
            let body = json!({"user_id": user, "touchpoint": "store", "channel": "email", "seed": seed + index as u64, "limit": 2});
            let at_centre = centre_decide(&centre, &key, &body);
            let (status, at_edge) = edge.decide(&body);
            assert_eq!(status, 200, "{at_edge}");
            for field in [
                "bundle_version",
                "holdout",
                "actions",
                "candidates",
                "trace",
            ] {
                assert_eq!(
                    at_centre[field], at_edge[field],
                    "{field} differs for {user}: {at_centre} vs {at_edge}"
                );
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 19);
    let marketing_before: usize = users
        .iter()
        .map(|u| {
            chosen(
                &edge
                    .decide(&json!({"user_id": u, "touchpoint": "store", "channel": "email"}))
                    .1,
            )
        })
        .filter(|c| c.iter().any(|a| a != "order_update"))
        .count();
    assert!(
        marketing_before > 0,
        "with fresh consent some marketing is offered"
    );

    // Partition, and crash the centre meanwhile: the edge keeps answering.
    proxy.set(DOWN);
    centre.crash_and_restart();
    proxy.retarget(&centre.url);
    let mut decisions = vec![];
    let mut outcomes = 0;
    for round in 0..40 {
        let user = &users[round % users.len()];
        let (status, answer) =
            edge.decide(&json!({"user_id": user, "touchpoint": "store", "channel": "email"}));
        assert_eq!(status, 200, "{answer}");
        let id = answer["decision_id"].as_str().expect("id").to_string();
        if round % 3 == 0 {
            let (status, body) = edge.post(
                "/v1/outcomes",
                &json!({"decision_id": id, "event": "Purchased", "revenue": 10.0}),
            );
            assert_eq!(status, 200, "{body}");
            outcomes += 1;
        }
        decisions.push(id);
    }
    let events: Vec<Value> = (0..300)
        .map(|i| json!({"type": "track", "userId": users[i % users.len()], "event": "Visited", "messageId": format!("{}-visit-{i}", users[0])}))
        .collect();
    for chunk in events.chunks(100) {
        assert_eq!(edge.post("/v1/batch", &json!({"batch": chunk})).0, 200);
    }
    // Past --max-staleness: marketing fails closed, transactional still flows.
    std::thread::sleep(Duration::from_millis(2_300));
    for user in &users {
        let (status, answer) = edge.decide(
            &json!({"user_id": user, "touchpoint": "store", "channel": "email", "limit": 3}),
        );
        assert_eq!(status, 200);
        assert_eq!(chosen(&answer), ["order_update"], "{answer}");
        let trace = answer["trace"].to_string();
        assert!(
            trace.contains("fail closed") && trace.contains("max-staleness"),
            "{trace}"
        );
        decisions.push(answer["decision_id"].as_str().expect("id").to_string());
    }
    let queued = edge.status();
    assert!(
        queued["outbox"]["decision"].as_i64().unwrap_or(0) >= decisions.len() as i64,
        "{queued}"
    );

    // The link comes back but every answer is lost: the centre stores the
    // uploads, the edge retries them. Then answers flow again.
    proxy.set(SWALLOW);
    std::thread::sleep(Duration::from_millis(2_000));
    proxy.set(UP);
    edge.wait_drained();
    let prefix = format!("{}-visit-%", users[0]);
    let stored_events = count(
        &centre,
        "SELECT COUNT(*) FROM events WHERE message_id LIKE ?1",
        &prefix,
    );
    assert_eq!(stored_events, 300, "every event once");
    let edge_id = queued["edge_id"].as_str().expect("edge id");
    let stored = count(
        &centre,
        "SELECT COUNT(*) FROM decisions WHERE edge_id = ?1",
        edge_id,
    );
    // 19 compared + 6 before the partition + 40 + 6 during it.
    assert_eq!(
        stored,
        19 + 6 + decisions.len() as i64,
        "every decision once"
    );
    let with_outcome = count(
        &centre,
        "SELECT COUNT(*) FROM outcomes o JOIN decisions d ON d.id = o.decision_id WHERE d.edge_id = ?1",
        edge_id,
    );
    assert_eq!(
        with_outcome, outcomes,
        "every outcome once, joined to its decision"
    );
    for user in &users {
        let identifies = count(
            &centre,
            "SELECT COUNT(*) FROM events WHERE message_id = ?1",
            &format!("id-{user}"),
        );
        assert_eq!(identifies, 1, "the identify sent to both is stored once");
    }
    // Back in touch: a fresh snapshot lifts the fail-closed state.
    edge.wait_for(10, "refreshed its snapshot", |s| {
        s["snapshot_age_ms"].as_i64().is_some_and(|a| a < 1_000)
    });
}

#[test]
fn tampered_bundles_are_refused_and_the_last_good_one_serves() {
    let centre = Server::start();
    publish(&centre, POLICY);
    let key = decide_key(&centre);
    let (_, good) = read(
        client()
            .get(format!("{}/v1/bundles/latest", centre.url))
            .bearer_auth(&key)
            .send()
            .expect("bundle"),
    );
    let public_key = good["public_key"].as_str().expect("key").to_string();
    let fake = FakeCentre::start(good.to_string(), public_key.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("edge");
    let mut edge = EdgeProc::start(&fake.url, &key, &data, &["--public-key", &public_key]);
    edge.wait_ready();
    let body = json!({"user_id": "someone", "touchpoint": "store", "channel": "email", "seed": 5});
    let (status, before) = edge.decide(&body);
    assert_eq!(status, 200, "{before}");

    // A newer version whose text was altered after signing (gold is worth more).
    let mut tampered = good.clone();
    tampered["version"] = json!(good["version"].as_u64().expect("v") + 1);
    let text = good["bundle"]
        .as_str()
        .expect("text")
        .replace("120", "9120")
        .replace(
            &format!("\"version\":{}", good["version"]),
            &format!("\"version\":{}", tampered["version"]),
        );
    tampered["bundle"] = json!(text);
    fake.serve(tampered.to_string());
    assert_eq!(
        edge.status()["bundle_version"],
        good["version"],
        "the tampered version is not installed"
    );
    let (_, after) = edge.decide(&body);
    assert_eq!(before["actions"], after["actions"]);
    // Unsigned: refused too.
    let mut unsigned = tampered.clone();
    unsigned["signature"] = json!("");
    fake.serve(unsigned.to_string());
    assert_eq!(edge.status()["bundle_version"], good["version"]);

    // Restart with the centre gone: the last good bundle serves from disk.
    drop(fake);
    edge.restart("http://127.0.0.1:9");
    let (status, offline) = edge.decide(&body);
    assert_eq!(status, 200, "{offline}");
    assert_eq!(offline["actions"], before["actions"]);

    // The cache edited on disk is refused on the next start.
    edge.kill9();
    {
        let conn = rusqlite::Connection::open(data.join("allele.db")).expect("edge db");
        let cached: String = conn
            .query_row(
                "SELECT value FROM edge_state WHERE key = 'bundle'",
                [],
                |r| r.get(0),
            )
            .expect("cached bundle");
        let edited = cached.replace("120", "9120");
        assert_ne!(edited, cached);
        conn.execute(
            "UPDATE edge_state SET value = ?1 WHERE key = 'bundle'",
            [edited],
        )
        .expect("edit");
    }
    edge.restart("http://127.0.0.1:9");
    let (status, refused) = edge.decide(&body);
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "no_active_bundle");
}

#[test]
fn kill_9_of_the_edge_loses_no_acknowledged_event() {
    let centre = Server::start();
    publish(&centre, POLICY);
    let key = decide_key(&centre);
    let proxy = Proxy::start(host(&centre.url));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut edge = EdgeProc::start(&proxy.url, &key, &dir.path().join("edge"), &[]);
    edge.wait_ready();
    proxy.set(DOWN);
    let user = unique("edge-kill");
    let mut acked: Vec<String> = Vec::new();
    for round in 0..3 {
        let url = edge.url.clone();
        let (sender_key, sender_user) = (key.clone(), user.clone());
        let start = round * 100_000;
        let sender = std::thread::spawn(move || {
            let http = client();
            let mut ok = Vec::new();
            for batch in 0.. {
                let ids: Vec<String> = (0..50)
                    .map(|i| format!("{sender_user}-{}", start + batch * 50 + i))
                    .collect();
                let events: Vec<Value> = ids
                    .iter()
                    .map(|id| json!({"type": "track", "userId": sender_user, "event": "Tapped", "messageId": id}))
                    .collect();
                let sent = http
                    .post(format!("{url}/v1/batch"))
                    .bearer_auth(&sender_key)
                    .json(&json!({"batch": events}))
                    .send();
                match sent {
                    Ok(r) if r.status() == 200 => ok.extend(ids),
                    _ => return ok,
                }
            }
            ok
        });
        std::thread::sleep(Duration::from_millis(300 + rand::random::<u64>() % 400));
        edge.kill9();
        acked.extend(sender.join().expect("sender"));
        edge.restart(&proxy.url);
    }
    assert!(acked.len() >= 150, "{} acknowledged", acked.len());
    proxy.set(UP);
    edge.wait_drained();
    let stored = count(
        &centre,
        "SELECT COUNT(*) FROM events WHERE message_id LIKE ?1",
        &format!("{user}-%"),
    );
    assert!(
        stored >= acked.len() as i64,
        "{stored} stored < {} acknowledged",
        acked.len()
    );
    for id in acked.iter().step_by(7) {
        assert_eq!(
            count(
                &centre,
                "SELECT COUNT(*) FROM events WHERE message_id = ?1",
                id
            ),
            1,
            "{id}"
        );
    }
}

#[test]
fn a_customer_cap_holds_across_two_edges() {
    let centre = Server::start();
    publish(&centre, CAP_POLICY);
    let key = decide_key(&centre);
    let user = unique("edge-cap");
    give_consent(&centre, &user, json!({"age": 40}));
    let (_, issued) = centre.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
    let token = issued["token"].as_str().expect("token");
    let (status, body) = read(
        client()
            .put(format!("{}/v1/me/caps", centre.url))
            .bearer_auth(token)
            .json(&json!({"timezone": "UTC", "caps": [{"channel": "email", "count": 3, "window_ms": 86_400_000}]}))
            .send()
            .expect("caps"),
    );
    assert_eq!(status, 200, "{body}");
    let capped = Instant::now();
    let dirs = tempfile::tempdir().expect("tempdir");
    let proxy = Proxy::start(host(&centre.url));
    let edges = [
        EdgeProc::start(&proxy.url, &key, &dirs.path().join("a"), &[]),
        EdgeProc::start(&proxy.url, &key, &dirs.path().join("b"), &[]),
    ];
    for edge in &edges {
        edge.wait_ready();
        edge.wait_snapshot_after(capped);
    }
    let body = json!({"user_id": user, "touchpoint": "store", "channel": "email"});
    let mut marketing = 0;
    for round in 0..8 {
        let (status, answer) = edges[round % 2].decide(&body);
        assert_eq!(status, 200, "{answer}");
        if chosen(&answer).iter().any(|a| a != "order_update") {
            marketing += 1;
        } else {
            assert!(answer["trace"].to_string().contains("cap"), "{answer}");
        }
    }
    assert_eq!(
        marketing, 3,
        "exactly the customer's cap, across both edges"
    );
    // Without the centre no lease can be had: marketing fails closed.
    let other = unique("edge-cap2");
    give_consent(&centre, &other, json!({"age": 40}));
    let (_, issued) = centre.admin_post(&format!("/v1/profiles/user_id:{other}/tokens"), None);
    let (status, _) = read(
        client()
            .put(format!("{}/v1/me/caps", centre.url))
            .bearer_auth(issued["token"].as_str().expect("token"))
            .json(&json!({"timezone": "UTC", "caps": [{"channel": "email", "count": 5, "window_ms": 86_400_000}]}))
            .send()
            .expect("caps"),
    );
    assert_eq!(status, 200);
    edges[0].wait_snapshot_after(Instant::now());
    proxy.set(DOWN);
    let (_, answer) =
        edges[0].decide(&json!({"user_id": other, "touchpoint": "store", "channel": "email"}));
    assert_eq!(chosen(&answer), ["order_update"], "{answer}");
    assert!(
        answer["trace"]
            .to_string()
            .contains("no contact budget leased"),
        "{answer}"
    );
}
