//! The authorization matrix: every endpoint against no key, a write key, a
//! customer token, and the admin key of another workspace. None of them
//! reaches this workspace's data.

use crate::common::{Server, client, read, unique};
use serde_json::json;

#[test]
fn every_endpoint_refuses_the_wrong_credentials() {
    let server = Server::start();
    let user = unique("authz");
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": user, "traits": {"email": format!("{user}@x.test")}})
            )
            .0,
        200
    );
    let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
    let token = issued["token"].as_str().expect("token").to_string();
    // Another tenant on the same store.
    let other_admin = {
        let conn = rusqlite::Connection::open(server.data.join("allele.db")).expect("db");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("timeout");
        allele_store::keys::create_workspace(&conn, "other", 0)
            .expect("workspace")
            .admin_key
    };
    let admin_only: Vec<(&str, String)> = vec![
        ("GET", format!("/v1/profiles/user_id:{user}")),
        ("GET", format!("/v1/profiles/user_id:{user}/events")),
        ("POST", format!("/v1/profiles/user_id:{user}/unmerge")),
        ("GET", format!("/v1/profiles/user_id:{user}/consent")),
        ("PUT", format!("/v1/profiles/user_id:{user}/consent")),
        ("POST", format!("/v1/profiles/user_id:{user}/tokens")),
        (
            "GET",
            format!("/v1/profiles/user_id:{user}/granted?grantee=acme&purpose=dpv:Marketing"),
        ),
        ("GET", "/v1/reports/experiments/x?metric=E".into()),
        ("GET", "/v1/reports/lift?metric=E".into()),
        ("GET", "/v1/reports/attribution?conversion=E".into()),
        ("GET", "/v1/reports/sentiment".into()),
        ("GET", "/v1/reports/influence".into()),
        ("GET", "/v1/reports/referrals".into()),
        ("GET", "/v1/edges".into()),
        ("GET", "/v1/reports/paths".into()),
        ("GET", "/v1/reports/heterogeneity".into()),
        ("GET", "/v1/reports/ope?version=1".into()),
        ("PUT", "/v1/segments/s".into()),
        ("PUT", "/v1/bundles/challenger".into()),
        ("GET", "/v1/bundles/challenger".into()),
        ("POST", "/v1/ideas/x/moderate".into()),
        ("GET", "/v1/reports/ideas".into()),
        ("GET", "/v1/reports/funnel?steps=a,b".into()),
        ("PUT", "/v1/webhooks/w".into()),
        ("GET", "/v1/webhooks/w/deliveries".into()),
        ("POST", "/v1/alerts/sentiment/check".into()),
        ("DELETE", "/v1/bundles/challenger".into()),
        ("GET", "/v1/segments/s/members".into()),
        ("GET", "/v1/segments/s/export".into()),
        ("POST", "/v1/sentiment".into()),
        ("PUT", "/v1/policies".into()),
        ("POST", "/v1/bundles/1/activate".into()),
        ("GET", "/v1/channels/email".into()),
        ("PUT", "/v1/channels/email".into()),
        ("PUT", "/v1/templates/t".into()),
        ("GET", "/v1/emails".into()),
        ("POST", "/v1/emails".into()),
        ("GET", "/v1/emails/e".into()),
        ("POST", "/v1/emails/e/bounce".into()),
        ("POST", "/v1/broadcasts".into()),
        ("PUT", "/v1/journeys/j".into()),
        ("GET", "/v1/journeys/j".into()),
        ("GET", "/v1/journeys/j/runs".into()),
    ];
    let decide_or_admin: Vec<(&str, String)> = vec![
        ("POST", "/v1/decide".into()),
        ("POST", "/v1/outcomes".into()),
        ("GET", "/v1/bundles/latest".into()),
        ("GET", "/v1/bundles/key".into()),
        ("GET", "/v1/edge/snapshot".into()),
        ("POST", "/v1/edge/events".into()),
        ("POST", "/v1/edge/decisions".into()),
        ("POST", "/v1/edge/leases".into()),
        ("POST", "/v1/edge/status".into()),
    ];
    let customer_only: Vec<(&str, String)> = vec![
        ("GET", "/v1/me/consent".into()),
        ("PUT", "/v1/me/consent".into()),
        ("GET", "/v1/me/caps".into()),
        ("PUT", "/v1/me/caps".into()),
        ("GET", "/v1/me/export".into()),
        ("GET", "/v1/me/access-log".into()),
        ("POST", "/v1/me/ideas".into()),
        ("POST", "/v1/me/ideas/x/vote".into()),
        ("GET", "/v1/ideas".into()),
        ("GET", "/v1/me/grants".into()),
        ("PUT", "/v1/me/grants".into()),
        ("DELETE", "/v1/me/grants/x".into()),
        ("GET", "/v1/me/earnings".into()),
        ("GET", "/v1/me/intents".into()),
        ("PUT", "/v1/me/intents".into()),
        ("DELETE", "/v1/me".into()),
        ("POST", "/me/limits".into()),
    ];
    let call = |method: &str, path: &str, credential: Option<&str>| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = client()
            .request(method, format!("{}{path}", server.url))
            .body("{}")
            .header("content-type", "application/json");
        if let Some(credential) = credential {
            request = request.bearer_auth(credential);
        }
        read(request.send().expect("request"))
    };
    let mut checked = 0;
    for (method, path) in admin_only.iter().chain(&decide_or_admin) {
        for (credential, expected) in [
            (None, 401),
            (Some(server.write_key.as_str()), 403),
            (Some(token.as_str()), 403),
        ] {
            let (status, body) = call(method, path, credential);
            assert_eq!(
                status, expected,
                "{method} {path} with {credential:?}: {body}"
            );
            for field in ["message", "code", "type", "link"] {
                assert!(body[field].is_string(), "{method} {path}: {body}");
            }
            checked += 1;
        }
        // Another workspace's admin key never sees this workspace's person.
        // (The id may be echoed back from the path in an error; the email, which
        // the request never names, must not appear, nor the id in a success.)
        let (status, body) = call(method, path, Some(&other_admin));
        let text = body.to_string();
        let leaked = text.contains(&format!("{user}@x.test"))
            || ((200..300).contains(&status) && text.contains(&user));
        assert!(
            !leaked,
            "{method} {path} leaked across workspaces: {status} {body}"
        );
        checked += 1;
    }
    for (method, path) in &customer_only {
        for (credential, expected) in [
            (None, 401),
            (Some(server.write_key.as_str()), 403),
            (Some(server.admin_key.as_str()), 403),
            (Some(other_admin.as_str()), 403),
        ] {
            let (status, body) = call(method, path, credential);
            assert_eq!(
                status, expected,
                "{method} {path} with {credential:?}: {body}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 100, "{checked} checks");
}
