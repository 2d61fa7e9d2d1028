//! The `/me` portal in headless Chromium with JavaScript disabled: a
//! customer logs in through the single-use link, withdraws a consent and
//! sets quiet hours and a cap through the plain forms; the API then shows
//! the changes, the page passes a basic accessibility audit, and another
//! customer's data never appears.

use crate::browser::{browser_ready, put, run_node};
use crate::common::{Server, client, read, unique};
use serde_json::{Value, json};

fn consent(server: &Server, user: &str, purpose: &str, channel: &str) {
    let body = json!({"purpose": purpose, "channel": channel, "status": "given"});
    let path = format!("/v1/profiles/user_id:{user}/consent");
    let (status, answer) = put(server, &path, "application/json", body.to_string());
    assert_eq!(status, 200, "{answer}");
}

fn current(server: &Server, user: &str) -> Vec<Value> {
    let (status, state) = server.admin_get(&format!("/v1/profiles/user_id:{user}/consent"));
    assert_eq!(status, 200, "{state}");
    state["consents"].as_array().expect("consents").clone()
}

#[test]
fn portal_works_without_javascript() {
    if !browser_ready() {
        return;
    }
    let server = Server::start();
    let (a, b) = (unique("portal-a"), unique("portal-b"));
    for user in [&a, &b] {
        let body = json!({"userId": user, "traits": {"email": format!("{user}@example.com")}});
        assert_eq!(server.post("/v1/identify", &body).0, 200);
    }
    consent(&server, &a, "dpv:DirectMarketing", "email");
    consent(&server, &a, "dpv:Personalisation", "web");
    // only B ever gave this: it must never show on A's pages
    consent(&server, &b, "dpv:SellDataToThirdParties", "sms");
    consent(&server, &b, "dpv:DirectMarketing", "email");
    let (_, b_profile) = server.admin_get(&format!("/v1/profiles/user_id:{b}"));
    let b_id = b_profile["id"].as_str().expect("id").to_string();

    let (status, issued) = server.admin_post(&format!("/v1/profiles/user_id:{a}/tokens"), None);
    assert_eq!(status, 200, "{issued}");
    let answer = run_node("portal.mjs", &json!({"login_url": issued["login_url"]}));

    assert_eq!(answer["steps"]["landed"], "/me", "{answer}");
    assert_eq!(answer["steps"]["status"], 200, "{answer}");
    assert_eq!(answer["problems"], json!([]), "accessibility: {answer}");
    let row = answer["steps"]["after_consent"].as_str().expect("row");
    assert!(row.contains("withdrawn"), "{row}");
    let text = answer["steps"]["limits_text"].as_str().expect("text");
    assert!(
        text.contains("Time zone: Europe/London. Quiet hours: from 21:00 to 08:00."),
        "{text}"
    );
    assert!(
        text.contains("At most 2 marketing message(s) per 7 days on email"),
        "{text}"
    );
    assert_eq!(answer["steps"]["after_unconfirmed_erase"], "/me");
    assert_eq!(answer["steps"]["erase_blocked"], true);

    // The ledger changed, by the customer, and only for A.
    let a_now = current(&server, &a);
    let email = a_now
        .iter()
        .find(|c| c["purpose"] == "dpv:DirectMarketing" && c["channel"] == "email")
        .expect("a's email consent");
    assert_eq!(email["status"], "withdrawn", "{a_now:?}");
    assert_eq!(email["source"], "customer", "{a_now:?}");
    let web = a_now
        .iter()
        .find(|c| c["purpose"] == "dpv:Personalisation")
        .expect("a's web consent");
    assert_eq!(
        web["status"], "given",
        "only the one row changed: {a_now:?}"
    );
    assert!(
        current(&server, &b).iter().all(|c| c["status"] == "given"),
        "b's ledger moved"
    );

    // The limits are the customer's, as the API reads them.
    let (_, token) = server.admin_post(&format!("/v1/profiles/user_id:{a}/tokens"), None);
    let (status, caps) = read(
        client()
            .get(format!("{}/v1/me/caps", server.url))
            .bearer_auth(token["token"].as_str().expect("token"))
            .send()
            .expect("caps"),
    );
    assert_eq!(status, 200, "{caps}");
    assert_eq!(caps["timezone"], "Europe/London");
    assert_eq!(caps["quiet_hours"]["start"], "21:00:00", "{caps}");
    assert_eq!(caps["quiet_hours"]["end"], "08:00:00", "{caps}");
    assert_eq!(
        caps["caps"],
        json!([{"channel": "email", "count": 2, "window_ms": 7 * 24 * 3_600_000_i64}])
    );

    // Nothing of B on any page A saw.
    for page in answer["pages"].as_array().expect("pages") {
        let html = page.as_str().expect("html");
        for secret in [
            b.as_str(),
            &format!("{b}@example.com"),
            &b_id,
            "SellDataToThirdParties",
        ] {
            assert!(!html.contains(secret), "`{secret}` on a's page: {html}");
        }
    }
}
