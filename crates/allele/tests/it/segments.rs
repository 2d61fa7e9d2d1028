//! Segments in CEL: members over HTTP, membership on the profile and in
//! rules, immediate updates, and clear errors.

use crate::common::{Server, client, read, unique};
use serde_json::{Value, json};

fn put_segment(server: &Server, id: &str, body: &Value) -> (u16, Value) {
    read(
        client()
            .put(format!("{}/v1/segments/{id}", server.url))
            .bearer_auth(&server.admin_key)
            .json(body)
            .send()
            .expect("put"),
    )
}

#[test]
fn segments_follow_profiles_at_once() {
    let server = Server::start();
    let prefix = unique("seg");
    let mut batch = Vec::new();
    for i in 0..30 {
        batch.push(json!({"type": "identify", "userId": format!("{prefix}-{i}"), "traits": {"age": 15 + i, "country": if i % 2 == 0 { "IE" } else { "FR" }}}));
    }
    assert_eq!(server.post("/v1/batch", &json!({"batch": batch})).0, 200);
    let (status, created) = put_segment(
        &server,
        "irish_adults",
        &json!({"definition": "profile.traits.age >= 18 && profile.traits.country == \"IE\"", "description": "adults in Ireland"}),
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["warnings"], json!([]));
    let mut members = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(cursor) => format!("/v1/segments/irish_adults/members?limit=4&after={cursor}"),
            None => "/v1/segments/irish_adults/members?limit=4".to_string(),
        };
        let (status, page) = server.admin_get(&path);
        assert_eq!(status, 200, "{page}");
        members.extend(
            page["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|m| m["user_id"].as_str().unwrap_or("").to_string()),
        );
        match page["next_after"].as_str() {
            Some(cursor) => after = Some(cursor.to_string()),
            None => break,
        }
    }
    // Ages 15..45: even i with 15 + i >= 18, i.e. i in {4, 6, …, 28}.
    let mut expected: Vec<String> = (0..30)
        .filter(|i| i % 2 == 0 && 15 + i >= 18)
        .map(|i| format!("{prefix}-{i}"))
        .collect();
    members.sort();
    expected.sort();
    assert_eq!(members, expected);
    // Membership shows on the profile, and changes with the next identify.
    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{prefix}-4"));
    assert_eq!(profile["segments"], json!(["irish_adults"]));
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": format!("{prefix}-4"), "traits": {"country": "FR"}})
            )
            .0,
        200
    );
    let (_, moved) = server.admin_get(&format!("/v1/profiles/user_id:{prefix}-4"));
    assert_eq!(moved["segments"], json!([]));
    // Errors: bad CEL with a position; a typo'd trait warned with a suggestion.
    let (status, err) = put_segment(
        &server,
        "bad",
        &json!({"definition": "profile.traits.age >= "}),
    );
    assert_eq!(status, 400, "{err}");
    assert!(
        err["message"].as_str().is_some_and(|m| m.starts_with("1:")),
        "{err}"
    );
    let (status, warned) = put_segment(
        &server,
        "typo",
        &json!({"definition": "profile.traits.countyr == \"IE\""}),
    );
    assert_eq!(status, 200);
    assert!(
        warned["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("`countyr`") && w.contains("country")),
        "{warned}"
    );
    let (status, err) = server.admin_get("/v1/segments/nope/members");
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("segment_not_found"))
    );
}

#[test]
fn computed_traits_feed_segments() {
    let server = Server::start();
    let (browser, buyer) = (unique("browser"), unique("buyer"));
    let now = jiff::Timestamp::now();
    let ago = |days: i64| {
        now.checked_sub(jiff::SignedDuration::from_hours(24 * days))
            .expect("time")
            .to_string()
    };
    let mut batch = Vec::new();
    for user in [&browser, &buyer] {
        for day in [0, 1, 2, 20] {
            batch.push(json!({"type": "track", "userId": user, "event": "Product Viewed", "timestamp": ago(day)}));
        }
    }
    batch.push(json!({"type": "track", "userId": buyer, "event": "Order Completed", "timestamp": ago(1), "properties": {"revenue": 80.5}}));
    batch.push(json!({"type": "track", "userId": browser, "event": "Social Post Observed", "timestamp": ago(3), "properties": {"text": "this shop is awful and slow"}}));
    assert_eq!(server.post("/v1/batch", &json!({"batch": batch})).0, 200);
    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{buyer}"));
    assert_eq!(
        profile["computed"]["count_7d"]["Product Viewed"], 3,
        "{profile}"
    );
    assert_eq!(profile["computed"]["count_all"]["Product Viewed"], 4);
    assert_eq!(profile["computed"]["revenue_30d"], 80.5);
    let (_, unhappy) = server.admin_get(&format!("/v1/profiles/user_id:{browser}"));
    let expected = allele_listen::polarity_scores("this shop is awful and slow").compound;
    assert_eq!(
        unhappy["computed"]["sentiment_30d"].as_f64(),
        Some(expected)
    );
    let definition = "profile.computed.count_7d[\"Product Viewed\"] >= 3 && !(\"Order Completed\" in profile.computed.count_7d)";
    let (status, body) = put_segment(
        &server,
        "browsing_not_buying",
        &json!({"definition": definition}),
    );
    assert_eq!(status, 200, "{body}");
    let (_, page) = server.admin_get("/v1/segments/browsing_not_buying/members");
    let members: Vec<&str> = page["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["user_id"].as_str())
        .collect();
    assert_eq!(members, [browser.as_str()], "{page}");
}

#[test]
fn funnel_counts_ordered_steps_within_the_window() {
    let server = Server::start();
    let p = unique("funnel");
    let at = |hour: u32| format!("2026-06-01T{hour:02}:00:00Z");
    let mut batch = Vec::new();
    let mut step = |user: &str, event: &str, hour: u32| {
        batch.push(json!({"type": "track", "userId": format!("{p}-{user}"), "event": event, "timestamp": at(hour)}))
    };
    for (event, hour) in [("Viewed", 1), ("Cart", 2), ("Bought", 3)] {
        step("all", event, hour);
    }
    step("two", "Viewed", 1);
    step("two", "Cart", 2);
    step("backwards", "Cart", 1);
    step("backwards", "Viewed", 2);
    step("skipper", "Viewed", 1);
    step("skipper", "Bought", 2);
    step("slow", "Viewed", 1);
    step("slow", "Cart", 5);
    assert_eq!(server.post("/v1/batch", &json!({"batch": batch})).0, 200);
    let people = |report: &Value| -> Vec<u64> {
        report["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["people"].as_u64().unwrap_or(0))
            .collect()
    };
    let (status, open) = server.admin_get("/v1/reports/funnel?steps=Viewed,Cart,Bought");
    assert_eq!(status, 200, "{open}");
    assert_eq!(people(&open), [5, 3, 1], "{open}");
    assert_eq!(open["steps"][2]["median_ms_from_first_step"], 7_200_000.0);
    let (_, windowed) =
        server.admin_get("/v1/reports/funnel?steps=Viewed,Cart,Bought&window_hours=2");
    assert_eq!(
        people(&windowed),
        [5, 2, 1],
        "the slow one's cart came too late: {windowed}"
    );
    assert_eq!(server.admin_get("/v1/reports/funnel?steps=Viewed").0, 400);
}
