//! Word of mouth and scheduled listening: referral codes attribute sign-ups
//! and revenue, follows and referrals join the influence graph, and the
//! scheduler stores influence as computed traits and raises one sentiment
//! alert per window.

use crate::common::{Server, client, read, unique};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn track(user: &str, event: &str, at: &str, properties: Value) -> Value {
    json!({"type": "track", "userId": user, "event": event, "timestamp": at, "properties": properties})
}

#[test]
fn referral_codes_attribute_first_signups_and_revenue_within_the_window() {
    let server = Server::start();
    let p = unique("ref");
    let who = |name: &str| format!("{p}-{name}");
    let mut batch = vec![
        json!({"type": "identify", "userId": who("alice"), "traits": {"referral_code": "ALICE10"}}),
        json!({"type": "identify", "userId": who("bob"), "traits": {"referral_code": "Bob5"}}),
        // Revenue before the sign-up is not the referral's doing.
        track(
            &who("carol"),
            "Order Completed",
            "2026-03-01T09:00:00Z",
            json!({"revenue": 10}),
        ),
        track(
            &who("carol"),
            "Signed Up",
            "2026-03-01T10:00:00Z",
            json!({"referral_code": "alice10"}),
        ),
        track(
            &who("carol"),
            "Order Completed",
            "2026-03-02T10:00:00Z",
            json!({"revenue": 30}),
        ),
        track(
            &who("carol"),
            "Order Completed",
            "2026-03-03T10:00:00Z",
            json!({"revenue": 20.5}),
        ),
        track(
            &who("dave"),
            "Signed Up",
            "2026-03-01T11:00:00Z",
            json!({"referral_code": "ALICE10"}),
        ),
        track(
            &who("erin"),
            "Signed Up",
            "2026-03-01T12:00:00Z",
            json!({"referral_code": "NOPE"}),
        ),
        track(
            &who("alice"),
            "Signed Up",
            "2026-03-01T13:00:00Z",
            json!({"referral_code": "ALICE10"}),
        ),
        // Only the first sign-up counts: frank came without a code.
        track(
            &who("frank"),
            "Signed Up",
            "2026-03-01T14:00:00Z",
            json!({}),
        ),
        track(
            &who("frank"),
            "Signed Up",
            "2026-03-05T14:00:00Z",
            json!({"referral_code": "BOB5"}),
        ),
        track(
            &who("gina"),
            "Signed Up",
            "2026-03-01T15:00:00Z",
            json!({"referral_code": "bob5"}),
        ),
        // Forty days later: inside no 30-day window.
        track(
            &who("gina"),
            "Order Completed",
            "2026-04-10T15:00:00Z",
            json!({"revenue": 100}),
        ),
        track(
            &who("gina"),
            "Order Completed",
            "2026-04-11T15:00:00Z",
            json!({"revenue": "lots"}),
        ),
    ];
    batch.push(track(
        &who("zed"),
        "Page Viewed",
        "2026-03-01T15:00:00Z",
        json!({}),
    ));
    assert_eq!(server.post("/v1/batch", &json!({"batch": batch})).0, 200);

    let (status, all) = server.admin_get("/v1/reports/referrals");
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        (
            &all["signups"],
            &all["referred_signups"],
            &all["unknown_codes"],
            &all["self_referrals"],
            &all["referred_converted"]
        ),
        (&json!(6), &json!(3), &json!(1), &json!(1), &json!(2)),
        "{all}"
    );
    assert_eq!(all["referred_revenue"], 150.5);
    let referrers = all["referrers"].as_array().expect("referrers");
    assert_eq!(referrers.len(), 2);
    assert_eq!(referrers[0]["user_id"], who("bob").as_str(), "{all}");
    assert_eq!(
        (&referrers[0]["signups"], &referrers[0]["revenue"]),
        (&json!(1), &json!(100.0))
    );
    assert_eq!(referrers[1]["user_id"], who("alice").as_str());
    assert_eq!(
        (
            &referrers[1]["signups"],
            &referrers[1]["converted"],
            &referrers[1]["revenue"]
        ),
        (&json!(2), &json!(1), &json!(50.5))
    );

    let (status, windowed) = server.admin_get("/v1/reports/referrals?window_days=30");
    assert_eq!(status, 200, "{windowed}");
    assert_eq!(windowed["referred_revenue"], 50.5);
    assert_eq!(windowed["referrers"][0]["user_id"], who("alice").as_str());

    let (status, error) = server.admin_get("/v1/reports/referrals?window_days=0");
    assert_eq!(status, 400, "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("`0`")));
    let (status, _) = read(
        client()
            .get(format!("{}/v1/reports/referrals", server.url))
            .bearer_auth(&server.write_key)
            .send()
            .expect("get"),
    );
    assert_eq!(status, 403);

    // Referrals are edges of the influence graph: both referred people
    // with a user id point at alice, gina at bob.
    let (status, influence) = server.admin_get("/v1/reports/influence");
    assert_eq!(status, 200, "{influence}");
    assert_eq!(influence["edges"], 3, "{influence}");
    assert_eq!(influence["people"][0]["user_id"], who("alice").as_str());
    assert_eq!(influence["people"][0]["reach"], 2);
}

fn wait_for(what: &str, mut check: impl FnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_scheduler_stores_influence_and_alerts_once_per_window() {
    let server = Server::start_with(&["--listen-every", "1"]);
    let (status, hook) = read(
        client()
            .put(format!("{}/v1/webhooks/alerts", server.url))
            .bearer_auth(&server.admin_key)
            .json(&json!({"url": "http://127.0.0.1:9/", "events": ["sentiment.drop"]}))
            .send()
            .expect("put"),
    );
    assert_eq!(status, 200, "{hook}");
    let p = unique("sched");
    let hub = format!("{p}-hub");
    let now = jiff::Timestamp::now();
    let ago = |hours: i64| {
        now.checked_sub(jiff::SignedDuration::from_hours(hours))
            .expect("time")
            .to_string()
    };
    let mut batch = Vec::new();
    for i in 0..5 {
        let fan = format!("{p}-fan{i}");
        batch.push(track(
            &fan,
            "User Followed",
            &ago(1),
            json!({"followed_user_id": hub}),
        ));
        let (text, hours) = if i < 3 {
            ("I love this brand, great service!", 72 + i)
        } else {
            ("terrible, awful, the worst :(", 1 + i)
        };
        batch.push(track(
            &fan,
            "Social Post Observed",
            &ago(hours),
            json!({"text": text}),
        ));
    }
    batch.push(track(
        &hub,
        "Social Post Observed",
        &ago(2),
        json!({"text": "this is horrible and sad"}),
    ));
    batch.push(track(
        &format!("{p}-fan0"),
        "Social Post Observed",
        &ago(80),
        json!({"text": "wonderful, happy, excellent"}),
    ));
    assert_eq!(server.post("/v1/batch", &json!({"batch": batch})).0, 200);

    let profile = wait_for("influence on the hub's profile", || {
        let (status, profile) = server.admin_get(&format!("/v1/profiles/user_id:{hub}"));
        (status == 200 && profile["computed"]["influence_score"].is_number()).then_some(profile)
    });
    assert_eq!(profile["computed"]["influence_reach"], 5, "{profile}");
    let (_, fan) = server.admin_get(&format!("/v1/profiles/user_id:{p}-fan1"));
    assert!(
        profile["computed"]["influence_score"].as_f64()
            > fan["computed"]["influence_score"].as_f64(),
        "the followed hub outranks a fan: {profile} {fan}"
    );

    wait_for("a scheduled sentiment alert", || {
        let (_, list) = server.admin_get("/v1/webhooks/alerts/deliveries");
        (list["deliveries"].as_array().map(Vec::len) == Some(1)).then_some(list)
    });
    // Several more runs go by; the window already has its alert.
    std::thread::sleep(Duration::from_millis(3_500));
    let (_, list) = server.admin_get("/v1/webhooks/alerts/deliveries");
    assert_eq!(
        list["deliveries"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    // An explicit check still answers, and says the drop is there.
    let (status, check) = server.admin_post("/v1/alerts/sentiment/check", None);
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["dropped"], true, "{check}");

    // "Influencers with negative recent sentiment", as a segment.
    let definition = "\"influence_reach\" in profile.computed && profile.computed.influence_reach >= 3 && \"sentiment_30d\" in profile.computed && profile.computed.sentiment_30d < -0.05";
    let (status, body) = server.admin_put(
        "/v1/segments/unhappy_influencers",
        &json!({"definition": definition}),
    );
    assert_eq!(status, 200, "{body}");
    let (_, page) = server.admin_get("/v1/segments/unhappy_influencers/members");
    let members: Vec<&str> = page["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["user_id"].as_str())
        .collect();
    assert_eq!(members, [hub.as_str()], "{page}");

    // Per person and per topic series.
    let (_, mine) = server.admin_get(&format!("/v1/reports/sentiment?user_id={hub}"));
    assert_eq!(mine["posts"], 1, "{mine}");
    let (_, topic) = server.admin_get("/v1/reports/sentiment?topic=%23BRAND");
    assert_eq!(topic["posts"], 3, "{topic}");
}
