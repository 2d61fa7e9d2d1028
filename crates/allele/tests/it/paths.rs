//! `/v1/reports/paths`: next and previous steps within sessions, across
//! pages, app screens and store visits; sessions split by 30 idle minutes
//! and by a new campaign; reloads count once.

use crate::common::{Server, unique};
use serde_json::{Value, json};

fn page(user: &str, path: &str, at: &str) -> Value {
    json!({"type": "page", "userId": user, "timestamp": at, "properties": {"path": path}})
}

fn count(report: &Value, step: &str) -> u64 {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == step)
        .and_then(|s| s["count"].as_u64())
        .unwrap_or(0)
}

#[test]
fn paths_follow_sessions_across_channels() {
    let server = Server::start();
    let p = unique("paths");
    let (a, b, c) = (format!("{p}-a"), format!("{p}-b"), format!("{p}-c"));
    let batch = vec![
        // a: home → cart (reloaded) → app checkout screen → store visit
        page(&a, "/home", "2026-07-01T10:00:00Z"),
        page(&a, "/cart", "2026-07-01T10:01:00Z"),
        page(&a, "/cart", "2026-07-01T10:01:30Z"),
        json!({"type": "screen", "userId": a, "name": "Checkout", "timestamp": "2026-07-01T10:05:00Z"}),
        json!({"type": "track", "userId": a, "event": "Store Visit", "timestamp": "2026-07-01T10:20:00Z"}),
        // b: home → cart, then 31 idle minutes: the next session starts at /cart
        page(&b, "/home", "2026-07-01T11:00:00Z"),
        page(&b, "/cart", "2026-07-01T11:02:00Z"),
        page(&b, "/cart", "2026-07-01T11:33:00Z"),
        page(&b, "/home", "2026-07-01T11:34:00Z"),
        // c: /home then an ad click brings a new campaign: a new session
        page(&c, "/home", "2026-07-01T12:00:00Z"),
        json!({"type": "page", "userId": c, "timestamp": "2026-07-01T12:01:00Z",
               "properties": {"path": "/cart"}, "context": {"campaign": {"source": "ads", "name": "summer"}}}),
    ];
    assert_eq!(server.post("/v1/batch", &json!({"batch": batch})).0, 200);

    let (status, next) = server.admin_get("/v1/reports/paths?step=/home");
    assert_eq!(status, 200, "{next}");
    assert_eq!(next["sessions"], 5, "{next}");
    assert_eq!(next["occurrences"], 4);
    assert_eq!(count(&next, "/cart"), 2, "{next}");
    assert_eq!(count(&next, "(exit)"), 2, "{next}");

    let (_, after_cart) = server.admin_get("/v1/reports/paths?step=/cart");
    assert_eq!(
        count(&after_cart, "Checkout"),
        1,
        "reloads count once: {after_cart}"
    );
    let (_, before_cart) = server.admin_get("/v1/reports/paths?step=/cart&direction=previous");
    assert_eq!(count(&before_cart, "/home"), 2, "{before_cart}");
    assert_eq!(count(&before_cart, "(entrance)"), 2, "{before_cart}");
    let (_, screen) = server.admin_get("/v1/reports/paths?step=Checkout");
    assert_eq!(count(&screen, "Store Visit"), 1, "{screen}");

    let (_, longer) = server.admin_get("/v1/reports/paths?step=/home&session_minutes=60");
    assert_eq!(longer["sessions"], 4, "{longer}");
    for bad in [
        "",
        "?step=/home&direction=up",
        "?step=/home&session_minutes=0",
    ] {
        let (status, body) = server.admin_get(&format!("/v1/reports/paths{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // The console's Funnels page shows the same report, as a table.
    let browser = crate::console_pages::Browser::login(&server);
    let (status, html) = browser.get("/funnels?step=%2Fcart&direction=previous");
    assert_eq!(status, 200);
    let caption = format!(
        "Before /cart: {} times in {} sessions",
        before_cart["occurrences"], before_cart["sessions"]
    );
    assert!(html.contains(&caption), "{html}");
    let row = format!(
        "<tr><td>/home</td><td class=\"num\">{}</td>",
        count(&before_cart, "/home")
    );
    assert!(html.contains(&row), "{html}");
}
