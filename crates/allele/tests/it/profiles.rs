//! Profile API behaviour beyond the conformance files: paging over ties,
//! unmerge over HTTP, CORS, metrics and the OpenAPI description.

use crate::common::{Server, client, unique};
use serde_json::{Value, json};
use std::collections::HashSet;

#[test]
fn paging_never_skips_or_repeats_when_timestamps_tie() {
    let server = Server::start();
    let user = unique("page");
    // 57 events in three timestamps: most of them tie.
    let batch: Vec<Value> = (0..57)
        .map(|i| json!({"type": "track", "userId": user, "event": format!("E{i}"), "messageId": format!("{user}-{i}"),
                        "timestamp": format!("2026-02-0{}T00:00:00Z", 1 + i % 3)}))
        .collect();
    assert_eq!(server.post("/v1/batch", &json!({"batch": batch})).0, 200);
    let mut seen = HashSet::new();
    let mut before: Option<String> = None;
    let mut last_ts = String::from("9999");
    let mut pages = 0;
    loop {
        let mut path = format!("/v1/profiles/user_id:{user}/events?limit=5");
        if let Some(cursor) = &before {
            path.push_str(&format!("&before={cursor}"));
        }
        let (status, page) = server.admin_get(&path);
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for event in page["events"].as_array().expect("events") {
            let ts = event["timestamp"].as_str().expect("ts").to_string();
            assert!(ts <= last_ts, "not newest first: {ts} after {last_ts}");
            last_ts = ts;
            assert!(
                seen.insert(event["messageId"].as_str().expect("id").to_string()),
                "repeated {event}"
            );
        }
        match page["next_before"].as_str() {
            Some(cursor) => before = Some(cursor.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 57);
    assert_eq!(pages, 12);
}

#[test]
fn unmerge_over_http_splits_exactly_and_sticks() {
    let server = Server::start();
    let u = unique("um");
    let events = json!({"batch": [
        {"type": "identify", "anonymousId": format!("{u}-anon"), "traits": {"colour": "red"}, "timestamp": "2026-01-01T00:00:00Z"},
        {"type": "track", "anonymousId": format!("{u}-anon"), "event": "Browse", "timestamp": "2026-01-01T00:00:01Z"},
        {"type": "identify", "userId": format!("{u}-user"), "traits": {"plan": "pro"}, "timestamp": "2026-01-01T00:00:02Z"},
    ]});
    assert_eq!(server.post("/v1/batch", &events).0, 200);
    let (_, anon_before) = server.admin_get(&format!("/v1/profiles/anonymous_id:{u}-anon"));
    let (_, user_before) = server.admin_get(&format!("/v1/profiles/user_id:{u}-user"));
    // A shared device: the same anonymousId is now seen with the userId.
    let link = json!({"userId": format!("{u}-user"), "anonymousId": format!("{u}-anon"), "event": "Login", "timestamp": "2026-01-01T00:00:03Z"});
    assert_eq!(server.post("/v1/track", &link).0, 200);
    let (_, merged) = server.admin_get(&format!("/v1/profiles/anonymous_id:{u}-anon"));
    assert_eq!(merged["id"], user_before["id"]);
    assert_eq!(merged["event_count"], 4);
    assert_eq!(merged["traits"], json!({"colour": "red", "plan": "pro"}));
    // The merged-away id still resolves to the survivor.
    let (status, by_old_id) = server.admin_get(&format!(
        "/v1/profiles/{}",
        anon_before["id"].as_str().expect("id")
    ));
    assert_eq!(status, 200);
    assert_eq!(by_old_id["id"], user_before["id"]);

    let (status, outcome) =
        server.admin_post(&format!("/v1/profiles/anonymous_id:{u}-anon/unmerge"), None);
    assert_eq!(status, 200, "{outcome}");
    let (_, anon_after) = server.admin_get(&format!("/v1/profiles/anonymous_id:{u}-anon"));
    let (_, user_after) = server.admin_get(&format!("/v1/profiles/user_id:{u}-user"));
    assert_eq!(anon_after, anon_before);
    assert_eq!(user_after["traits"], user_before["traits"]);
    assert_eq!(
        user_after["event_count"], 2,
        "the login event stays with the userId"
    );
    // Seen together again, they are not re-merged implicitly.
    let again = json!({"userId": format!("{u}-user"), "anonymousId": format!("{u}-anon"), "event": "Login", "timestamp": "2026-01-01T00:00:04Z"});
    assert_eq!(server.post("/v1/track", &again).0, 200);
    let (_, still_apart) = server.admin_get(&format!("/v1/profiles/anonymous_id:{u}-anon"));
    assert_eq!(still_apart["id"], anon_before["id"]);
    // Nothing left to undo.
    let (status, err) =
        server.admin_post(&format!("/v1/profiles/anonymous_id:{u}-anon/unmerge"), None);
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["code"], "merge_not_found");
}

#[test]
fn cors_preflight_allows_browser_clients() {
    let server = Server::start();
    let response = client()
        .request(reqwest::Method::OPTIONS, format!("{}/v1/track", server.url))
        .header("Origin", "https://shop.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type,sec-gpc",
        )
        .send()
        .expect("preflight");
    assert!(response.status().is_success());
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://shop.example"
    );
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("sec-gpc"),
        "{allowed}"
    );
}

#[test]
fn metrics_count_ingest_and_rejects() {
    let server = Server::start();
    let user = unique("m");
    assert_eq!(
        server
            .post("/v1/track", &json!({"userId": user, "event": "E"}))
            .0,
        200
    );
    assert_eq!(server.post("/v1/track", &json!({"event": "E"})).0, 400);
    let text = client()
        .get(format!("{}/metrics", server.url))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    for needle in [
        "allele_ingest_events_total",
        "allele_commit_seconds_bucket",
        "allele_ingest_batch_size",
        "allele_ingest_rejects_total{reason=\"missing_identity\"}",
    ] {
        assert!(text.contains(needle), "metrics lack `{needle}`:\n{text}");
    }
}

#[test]
fn openapi_describes_every_route() {
    let server = Server::start();
    let (status, spec) = crate::common::read(
        client()
            .get(format!("{}/openapi.json", server.url))
            .send()
            .expect("get"),
    );
    assert_eq!(status, 200);
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    let source = include_str!("../../../allele-server/src/lib.rs");
    let mut routes = 0;
    // Every `.route(` call, whether rustfmt kept its path on the same line or not.
    for chunk in source.split(".route(").skip(1) {
        let path = chunk.split('"').nth(1).expect("route path");
        routes += 1;
        if path == "/v1/{kind}" {
            for kind in ["identify", "track", "page", "screen", "group", "alias"] {
                assert!(
                    spec["paths"][format!("/v1/{kind}")].is_object(),
                    "openapi lacks /v1/{kind}"
                );
            }
            continue;
        }
        assert!(spec["paths"][path].is_object(), "openapi lacks `{path}`");
    }
    assert!(routes >= 30, "found only {routes} routes");
}
