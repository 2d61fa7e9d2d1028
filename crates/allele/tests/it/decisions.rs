//! Policies, signed bundles and decisions over HTTP: publish, check errors,
//! ETag and long-poll, consent and caps enforced by the engine, rollback,
//! and a tampered bundle refused.

use crate::common::{Server, bin, client, decide_key, publish_policy as publish, read, unique};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

const POLICY: &str = r#"
holdout: { universal: 0.0, salt: "test" }
selection: top
actions:
  - id: gold_card
    channels: [email, web]
    purpose: dpv:DirectMarketing
    kind: marketing
    value: 120.0
    cost: 2.5
    eligibility: 'profile.traits.age >= 18 && profile.traits.country in ["GB", "US", "IE"]'
    applicability: 'context.touchpoint in ["web", "app"]'
    propensity: { expression: "0.05" }
    caps: { per_customer: { count: 2, per: 7d } }
  - id: order_update
    channels: [email]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    propensity: { expression: "0.5" }
"#;

fn decide(server: &Server, key: &str, user: &str) -> (u16, Value) {
    let body = json!({"user_id": user, "touchpoint": "web", "channel": "email", "context": {"page": "/home"}});
    read(
        client()
            .post(format!("{}/v1/decide", server.url))
            .bearer_auth(key)
            .json(&body)
            .send()
            .expect("decide"),
    )
}

fn chosen(decision: &Value) -> Vec<String> {
    decision["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["action_id"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn publish_decide_cap_rollback() {
    let server = Server::start();
    let key = decide_key(&server);
    let (yes, no) = (unique("consented"), unique("silent"));
    for user in [&yes, &no] {
        assert_eq!(
            server
                .post(
                    "/v1/identify",
                    &json!({"userId": user, "traits": {"age": 34, "country": "IE"}})
                )
                .0,
            200
        );
    }
    let consent = json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"});
    let (status, _) = read(
        client()
            .put(format!("{}/v1/profiles/user_id:{yes}/consent", server.url))
            .bearer_auth(&server.admin_key)
            .json(&consent)
            .send()
            .expect("put"),
    );
    assert_eq!(status, 200);

    let (status, err) = decide(&server, &key, &yes);
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("no_active_bundle"))
    );
    let (status, published) = publish(&server, POLICY);
    assert_eq!(status, 200, "{published}");
    assert_eq!(
        (published["version"].as_u64(), published["active"].as_bool()),
        (Some(1), Some(true))
    );

    // The engine's own consent gate: no consent, no marketing action.
    let (status, with_consent) = decide(&server, &key, &yes);
    assert_eq!(status, 200, "{with_consent}");
    assert_eq!(chosen(&with_consent), ["gold_card"]);
    assert_eq!(with_consent["actions"][0]["probability"], 1.0);
    assert_eq!(with_consent["bundle_version"], 1);
    let (_, without) = decide(&server, &key, &no);
    assert_eq!(chosen(&without), ["order_update"], "{without}");
    assert!(
        without["trace"].to_string().contains("gold_card"),
        "the trace explains the exclusion: {without}"
    );
    assert_ne!(with_consent["decision_id"], without["decision_id"]);

    // Contact cap: two per customer per week, counted across decisions.
    let (_, second) = decide(&server, &key, &yes);
    assert_eq!(chosen(&second), ["gold_card"]);
    let (_, third) = decide(&server, &key, &yes);
    assert_eq!(chosen(&third), ["order_update"], "cap exceeded: {third}");

    // Withdrawal takes effect on the next decision.
    let withdraw =
        json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "withdrawn"});
    let other = unique("withdrawn");
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": other, "traits": {"age": 40, "country": "GB"}})
            )
            .0,
        200
    );
    for body in [&consent, &withdraw] {
        read(
            client()
                .put(format!(
                    "{}/v1/profiles/user_id:{other}/consent",
                    server.url
                ))
                .bearer_auth(&server.admin_key)
                .json(body)
                .send()
                .expect("put"),
        );
    }
    assert_eq!(chosen(&decide(&server, &key, &other).1), ["order_update"]);

    // Outcomes join by decision id.
    let outcome = json!({"decision_id": with_consent["decision_id"], "action_id": "gold_card", "event": "Card Applied", "revenue": 120.0});
    let (status, body) = read(
        client()
            .post(format!("{}/v1/outcomes", server.url))
            .bearer_auth(&key)
            .json(&outcome)
            .send()
            .expect("outcome"),
    );
    assert_eq!(status, 200, "{body}");
    let events = server.all_events(&format!("user_id:{yes}"));
    assert!(events.iter().any(|e| e["event"] == "Card Applied"
        && e["properties"]["decision_id"] == with_consent["decision_id"]));

    // Write keys may not decide; bundles need decide or admin.
    let (status, _) = decide(&server, &server.write_key, &yes);
    assert_eq!(status, 403);

    // ETag, 304, long-poll, and rollback.
    let latest = client()
        .get(format!("{}/v1/bundles/latest", server.url))
        .bearer_auth(&key)
        .send()
        .expect("latest");
    assert_eq!(latest.status(), 200);
    let etag = latest.headers()["etag"].to_str().expect("etag").to_string();
    let body: Value = latest.json().expect("json");
    assert_eq!(body["version"], 1);
    let signed = allele_engine::SignedBundle {
        version: 1,
        signature: body["signature"].as_str().expect("sig").into(),
        bundle: body["bundle"].as_str().expect("bundle").into(),
    };
    let public: [u8; 32] = hex_decode(body["public_key"].as_str().expect("key"));
    assert!(
        allele_engine::verify(&signed, &public).is_ok(),
        "served bundle verifies"
    );
    let not_modified = client()
        .get(format!("{}/v1/bundles/latest", server.url))
        .bearer_auth(&key)
        .header("if-none-match", &etag)
        .send()
        .expect("304");
    assert_eq!(not_modified.status(), 304);
    let waiter = {
        let (url, key, etag) = (server.url.clone(), key.clone(), etag.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let response = client()
                .get(format!("{url}/v1/bundles/latest?wait=20"))
                .bearer_auth(&key)
                .header("if-none-match", etag)
                .send()
                .expect("poll");
            (
                response.status().as_u16(),
                response.json::<Value>().ok(),
                started.elapsed(),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let (status, v2) = publish(&server, POLICY);
    assert_eq!((status, v2["version"].as_u64()), (200, Some(2)));
    let (status, polled, waited) = waiter.join().expect("waiter");
    assert_eq!(status, 200);
    assert_eq!(polled.expect("body")["version"], 2);
    assert!(
        waited < Duration::from_secs(5),
        "long-poll answered after {waited:?}"
    );
    let (status, _) = server.admin_post("/v1/bundles/1/activate", None);
    assert_eq!(status, 200);
    let (_, after_rollback) = read(
        client()
            .get(format!("{}/v1/bundles/latest", server.url))
            .bearer_auth(&key)
            .send()
            .expect("latest"),
    );
    assert_eq!(after_rollback["version"], 1);
    assert_eq!(decide(&server, &key, &no).1["bundle_version"], 1);

    // A bundle altered at rest is refused; the last good one stays active.
    let db = server.data.join("allele.db");
    let conn = rusqlite::Connection::open(&db).expect("db");
    conn.execute(
        "UPDATE bundles SET bundle = replace(bundle, '120', '999') WHERE version = 2",
        [],
    )
    .expect("tamper");
    drop(conn);
    let (status, refused) = server.admin_post("/v1/bundles/2/activate", None);
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("bundle_rejected")),
        "{refused}"
    );
    assert_eq!(decide(&server, &key, &no).1["bundle_version"], 1);
}

fn hex_decode(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

#[test]
fn bad_policies_get_clear_errors() {
    let server = Server::start();
    let typo = POLICY.replace("profile.traits.age >= 18", "profile.segmnts.size() > 0");
    let (status, err) = publish(&server, &typo);
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_policy")),
        "{err}"
    );
    let text = err["errors"].to_string();
    assert!(text.contains("segments"), "did you mean: {text}");
    assert!(
        err["errors"][0]["line"].is_number() && err["errors"][0]["column"].is_number(),
        "{err}"
    );
    for bad in [
        "holdout: [",
        "actions: 3",
        "actions:\n  - id: x\n    channels: [email]\n    eligibility: '1 / 0 == '\n",
    ] {
        let (status, err) = publish(&server, bad);
        assert_eq!(
            (status, err["code"].as_str()),
            (400, Some("invalid_policy")),
            "{bad}: {err}"
        );
    }
    let (status, err) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "image/png")
            .body("x")
            .send()
            .expect("put"),
    );
    assert_eq!(
        (status, err["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    // The CLI checks the same way, offline.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("policy.yaml");
    std::fs::write(&file, &typo).expect("write");
    let out = Command::new(bin())
        .args(["policy", "check"])
        .arg(&file)
        .output()
        .expect("check");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("policy.yaml:") && stderr.contains("segments"),
        "{stderr}"
    );
    std::fs::write(&file, POLICY).expect("write");
    let out = Command::new(bin())
        .args(["policy", "check"])
        .arg(&file)
        .output()
        .expect("check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin())
        .args([
            "policy",
            "publish",
            "--server",
            &server.url,
            "--key",
            &server.admin_key,
        ])
        .arg(&file)
        .output()
        .expect("publish");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).expect("json")["version"],
        1
    );
}

#[test]
fn customer_caps_and_quiet_hours_bind_every_decision() {
    let server = Server::start();
    assert_eq!(publish(&server, POLICY).0, 200);
    let key = decide_key(&server);
    let user = unique("limits");
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": user, "traits": {"age": 30, "country": "US"}})
            )
            .0,
        200
    );
    let consent = json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"});
    read(
        client()
            .put(format!("{}/v1/profiles/user_id:{user}/consent", server.url))
            .bearer_auth(&server.admin_key)
            .json(&consent)
            .send()
            .expect("put"),
    );
    let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
    let token = issued["token"].as_str().expect("token").to_string();
    let put_limits = |limits: Value| {
        read(
            client()
                .put(format!("{}/v1/me/caps", server.url))
                .bearer_auth(&token)
                .json(&limits)
                .send()
                .expect("caps"),
        )
    };
    // At most one marketing email a day, set by the customer.
    let (status, body) = put_limits(
        json!({"timezone": "Europe/Dublin", "caps": [{"channel": "email", "count": 1, "window_ms": 86_400_000}]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(chosen(&decide(&server, &key, &user).1), ["gold_card"]);
    let (_, second) = decide(&server, &key, &user);
    assert_eq!(
        chosen(&second),
        ["order_update"],
        "the customer's cap binds: {second}"
    );
    // Quiet hours around now, in the customer's zone: no marketing, transactional still flows.
    let now =
        jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("America/New_York").expect("tz"));
    let start = now
        .time()
        .saturating_sub(jiff::SignedDuration::from_mins(30));
    let end = now
        .time()
        .saturating_add(jiff::SignedDuration::from_mins(30));
    let other = unique("quiet");
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": other, "traits": {"age": 30, "country": "US"}})
            )
            .0,
        200
    );
    read(
        client()
            .put(format!(
                "{}/v1/profiles/user_id:{other}/consent",
                server.url
            ))
            .bearer_auth(&server.admin_key)
            .json(&consent)
            .send()
            .expect("put"),
    );
    let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{other}/tokens"), None);
    let other_token = issued["token"].as_str().expect("token").to_string();
    let quiet = json!({"timezone": "America/New_York", "quiet_hours": {"start": start.strftime("%H:%M").to_string(), "end": end.strftime("%H:%M").to_string()}});
    let (status, body) = read(
        client()
            .put(format!("{}/v1/me/caps", server.url))
            .bearer_auth(&other_token)
            .json(&quiet)
            .send()
            .expect("caps"),
    );
    assert_eq!(status, 200, "{body}");
    let (_, hushed) = decide(&server, &key, &other);
    // Skip only in the minute around midnight, where the window wraps oddly.
    if start < end {
        assert_eq!(
            chosen(&hushed),
            ["order_update"],
            "quiet hours bind: {hushed}"
        );
    }
    let (status, err) = put_limits(json!({"timezone": "Mars/Olympus"}));
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_body")),
        "{err}"
    );
}

#[test]
fn live_off_policy_evaluation_of_a_stored_bundle() {
    let server = Server::start();
    assert_eq!(publish(&server, POLICY).0, 200);
    let key = decide_key(&server);
    let consent = json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"});
    let mut offered = 0;
    let mut rewarded = 0;
    for i in 0..40 {
        let user = unique("ope");
        assert_eq!(
            server
                .post(
                    "/v1/identify",
                    &json!({"userId": user, "traits": {"age": 20 + i, "country": "GB"}})
                )
                .0,
            200
        );
        if i % 2 == 0 {
            read(
                client()
                    .put(format!("{}/v1/profiles/user_id:{user}/consent", server.url))
                    .bearer_auth(&server.admin_key)
                    .json(&consent)
                    .send()
                    .expect("put"),
            );
        }
        let (_, decision) = decide(&server, &key, &user);
        offered += 1;
        if i % 3 == 0 {
            rewarded += 1;
            let outcome = json!({"decision_id": decision["decision_id"], "event": "Clicked"});
            let (status, _) = read(
                client()
                    .post(format!("{}/v1/outcomes", server.url))
                    .bearer_auth(&key)
                    .json(&outcome)
                    .send()
                    .expect("outcome"),
            );
            assert_eq!(status, 200);
        }
    }
    // The same rules as a new version: every weight is 1, IPS is the logged mean.
    assert_eq!(publish(&server, POLICY).0, 200);
    let (status, report) = server.admin_get("/v1/reports/ope?version=2");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["n"], offered);
    let mean = f64::from(rewarded) / f64::from(offered);
    assert!(
        (report["ips"]["estimate"].as_f64().expect("ips") - mean).abs() < 1e-12,
        "{report}"
    );
    assert!((report["ess"].as_f64().expect("ess") - f64::from(offered)).abs() < 1e-9);
    // A policy that never offers gold_card gives zero weight to those decisions.
    let without_gold = POLICY.replace(
        "eligibility: 'profile.traits.age >= 18",
        "eligibility: 'profile.traits.age >= 180",
    );
    assert_eq!(publish(&server, &without_gold).0, 200);
    let (_, changed) = server.admin_get("/v1/reports/ope?version=3");
    assert!(
        changed["ess"].as_f64().expect("ess") < f64::from(offered),
        "{changed}"
    );
    for (path, status) in [
        ("/v1/reports/ope", 400),
        ("/v1/reports/ope?version=99", 404),
        ("/v1/reports/ope?version=1&value=clicks", 400),
    ] {
        assert_eq!(server.admin_get(path).0, status, "{path}");
    }
}

#[test]
fn champion_challenger_splits_people_stably() {
    let server = Server::start();
    let key = decide_key(&server);
    assert_eq!(publish(&server, POLICY).0, 200);
    let plain = POLICY.replace("value: 120.0", "value: 0.1");
    assert_eq!(publish(&server, &plain).0, 200);
    let put = |body: Value| {
        read(
            client()
                .put(format!("{}/v1/bundles/challenger", server.url))
                .bearer_auth(&server.admin_key)
                .json(&body)
                .send()
                .expect("put"),
        )
    };
    assert_eq!(put(json!({"version": 1, "share": 1.5})).0, 400);
    assert_eq!(put(json!({"version": 9, "share": 0.5})).0, 404);
    let (status, started) = put(json!({"version": 1, "share": 0.5}));
    assert_eq!(status, 200, "{started}");
    let mut by_version = std::collections::HashMap::new();
    for i in 0..60 {
        let user = format!("{}-{i}", unique("cc"));
        let (_, first) = decide(&server, &key, &user);
        let (_, again) = decide(&server, &key, &user);
        assert_eq!(
            first["bundle_version"], again["bundle_version"],
            "a person stays in one arm"
        );
        *by_version
            .entry(first["bundle_version"].as_u64().expect("version"))
            .or_insert(0) += 1;
    }
    assert!(
        by_version.get(&1).copied().unwrap_or(0) > 10
            && by_version.get(&2).copied().unwrap_or(0) > 10,
        "{by_version:?}"
    );
    let (status, readout) = server.admin_get(
        "/v1/reports/experiments/challenger-v1?metric=Experiment%20Viewed&control=champion",
    );
    assert_eq!(status, 200, "{readout}");
    let n: u64 = readout["variations"]
        .as_array()
        .expect("variations")
        .iter()
        .map(|v| v["n"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(n, 60);
    let (status, _) = read(
        client()
            .delete(format!("{}/v1/bundles/challenger", server.url))
            .bearer_auth(&server.admin_key)
            .send()
            .expect("delete"),
    );
    assert_eq!(status, 200);
    assert_eq!(
        decide(&server, &key, &unique("after")).1["bundle_version"],
        2
    );
}
