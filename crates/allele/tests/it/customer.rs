//! Consent ledger, customer tokens and `/v1/me`: a customer reaches only
//! their own data, and API keys never act as a customer.

use crate::common::{Server, client, read, unique};
use serde_json::{Value, json};

fn me(
    server: &Server,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client()
        .request(method, format!("{}{path}", server.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    read(request.send().expect("request"))
}

fn admin_put(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    read(
        client()
            .put(format!("{}{path}", server.url))
            .bearer_auth(&server.admin_key)
            .json(body)
            .send()
            .expect("put"),
    )
}

#[test]
fn consent_ledger_and_customer_tokens() {
    let server = Server::start();
    let (a, b) = (unique("cust-a"), unique("cust-b"));
    for user in [&a, &b] {
        let body = json!({"userId": user, "traits": {"email": format!("{user}@example.com")}});
        assert_eq!(server.post("/v1/identify", &body).0, 200);
    }
    // Admin records consent; newest in ledger order wins; history keeps all.
    let path = format!("/v1/profiles/user_id:{a}/consent");
    let (status, given) = admin_put(
        &server,
        &path,
        &json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"}),
    );
    assert_eq!(status, 200, "{given}");
    assert!(
        given["receipt_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("rcpt_"))
    );
    let (status, _) = admin_put(
        &server,
        &path,
        &json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "withdrawn"}),
    );
    assert_eq!(status, 200);
    let (_, current) = server.admin_get(&path);
    assert_eq!(
        current["consents"].as_array().map(Vec::len),
        Some(1),
        "{current}"
    );
    assert_eq!(current["consents"][0]["status"], "withdrawn");
    let (_, history) = server.admin_get(&format!("{path}?history=true"));
    assert_eq!(history["consents"].as_array().map(Vec::len), Some(2));
    for bad in [
        json!({"purpose": "marketing", "channel": "email", "status": "given"}),
        json!({"purpose": "dpv:DirectMarketing", "channel": "pigeon", "status": "given"}),
        json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "maybe"}),
        json!({"purpose": "dpv:DirectMarketing", "channel": "email"}),
    ] {
        let (status, err) = admin_put(&server, &path, &bad);
        assert_eq!(
            (status, err["code"].as_str()),
            (400, Some("invalid_body")),
            "{bad}: {err}"
        );
    }

    // A token for A reads and changes only A.
    let (status, issued) = server.admin_post(&format!("/v1/profiles/user_id:{a}/tokens"), None);
    assert_eq!(status, 200, "{issued}");
    let token = issued["token"].as_str().expect("token").to_string();
    assert!(
        issued["login_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://") && u.contains("/me/login?code="))
    );
    let (status, mine) = me(
        &server,
        &token,
        reqwest::Method::GET,
        "/v1/me/consent",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(mine, current);
    let change = json!({"purpose": "dpv:Personalisation", "channel": "web", "status": "given"});
    let (status, receipt) = me(
        &server,
        &token,
        reqwest::Method::PUT,
        "/v1/me/consent",
        Some(change),
    );
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["source"], "customer");
    let (_, b_consents) = server.admin_get(&format!("/v1/profiles/user_id:{b}/consent"));
    assert_eq!(
        b_consents["consents"],
        json!([]),
        "B must not see A's change"
    );
    let (status, export) = me(&server, &token, reqwest::Method::GET, "/v1/me/export", None);
    assert_eq!(status, 200);
    let identities = export["profile"]["identities"].to_string();
    assert!(
        identities.contains(&format!("\"user_id\",\"value\":\"{a}\"")),
        "{identities}"
    );
    assert!(
        !export.to_string().contains(&b),
        "export leaks another customer"
    );
    assert_eq!(export["consents"].as_array().map(Vec::len), Some(3));

    // Keys are not customers; unknown tokens are refused.
    for (credential, expected) in [
        (server.admin_key.as_str(), 403),
        (server.write_key.as_str(), 403),
        ("ct_0000", 401),
        ("nonsense", 401),
    ] {
        let (status, err) = me(
            &server,
            credential,
            reqwest::Method::GET,
            "/v1/me/consent",
            None,
        );
        assert_eq!(status, expected, "{credential}: {err}");
    }
    let (status, _) = read(
        client()
            .get(format!("{}/v1/me/export", server.url))
            .send()
            .expect("get"),
    );
    assert_eq!(status, 401);
    // A customer token is not an admin key.
    let (status, _) = read(
        client()
            .get(format!("{}/v1/profiles/user_id:{a}", server.url))
            .bearer_auth(&token)
            .send()
            .expect("get"),
    );
    assert_eq!(
        status, 403,
        "a customer token is a valid credential of the wrong kind"
    );
}

#[test]
fn access_log_is_verifiable_by_the_customer() {
    use allele_privacy::merkle::entry::{AccessLogResponse, verify_access_log};
    use base64::Engine;
    let server = Server::start();
    let (a, b) = (unique("log-a"), unique("log-b"));
    for user in [&a, &b] {
        assert_eq!(server.post("/v1/identify", &json!({"userId": user})).0, 200);
    }
    // Reads by staff, of A and of B.
    assert_eq!(
        server.admin_get(&format!("/v1/profiles/user_id:{a}")).0,
        200
    );
    assert_eq!(
        server
            .admin_get(&format!("/v1/profiles/user_id:{a}/events"))
            .0,
        200
    );
    assert_eq!(
        server.admin_get(&format!("/v1/profiles/user_id:{b}")).0,
        200
    );
    let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{a}/tokens"), None);
    let token = issued["token"].as_str().expect("token").to_string();
    let (status, log) = me(
        &server,
        &token,
        reqwest::Method::GET,
        "/v1/me/access-log",
        None,
    );
    assert_eq!(status, 200, "{log}");
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        actions,
        ["read_profile", "read_events", "read_access_log"],
        "{log}"
    );
    assert!(
        log["entries"][0]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("admin:"))
    );
    assert!(log["tree_head"]["tree_size"].as_u64() >= Some(4));
    let (_, key) = me(
        &server,
        &token,
        reqwest::Method::GET,
        "/v1/transparency/key",
        None,
    );
    let bytes: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(key["public_key"].as_str().expect("key"))
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&bytes).expect("key");
    let response: AccessLogResponse = serde_json::from_value(log.clone()).expect("shape");
    assert_eq!(verify_access_log(&response, &verifying), Ok(3));
    // Any rewrite is caught.
    let mut forged = log.clone();
    forged["entries"][0]["actor"] = json!("nobody");
    let forged: AccessLogResponse = serde_json::from_value(forged).expect("shape");
    assert!(verify_access_log(&forged, &verifying).is_err());
    let mut dropped = log.clone();
    dropped["tree_head"]["tree_size"] = json!(2);
    let dropped: AccessLogResponse = serde_json::from_value(dropped).expect("shape");
    assert!(verify_access_log(&dropped, &verifying).is_err());
}

#[test]
fn erasure_leaves_no_trace_and_returns_a_signed_receipt() {
    let server = Server::start();
    let user = unique("erase-me");
    let email = format!("{user}@private.example");
    let events = json!({"batch": [
        {"type": "identify", "userId": user, "anonymousId": format!("{user}-device"), "traits": {"email": email, "secret_hobby": format!("{user}-hobby")}},
        {"type": "track", "userId": user, "event": "Order Completed", "properties": {"note": format!("{user}-note")}},
    ]});
    assert_eq!(server.post("/v1/batch", &events).0, 200);
    let keep = unique("keep-me");
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": keep, "traits": {"plan": "pro"}})
            )
            .0,
        200
    );
    let consent = json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"});
    assert_eq!(
        admin_put(
            &server,
            &format!("/v1/profiles/user_id:{user}/consent"),
            &consent
        )
        .0,
        200
    );
    let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
    let token = issued["token"].as_str().expect("token").to_string();

    let holds = |needle: &[u8]| {
        std::fs::read_dir(&server.data)
            .expect("data dir")
            .flatten()
            .any(|entry| {
                std::fs::read(entry.path())
                    .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            })
    };
    assert!(
        holds(email.as_bytes()),
        "the scan below must be able to find the email before erasure"
    );
    let (status, receipt) = me(&server, &token, reqwest::Method::DELETE, "/v1/me", None);
    assert_eq!(status, 200, "{receipt}");
    let signed: Value =
        serde_json::from_str(receipt["receipt"].as_str().expect("receipt")).expect("json");
    assert_eq!(signed["erased"]["events"], 2);
    assert_eq!(signed["erased"]["identities"], 3, "{signed}");
    assert_eq!(signed["erased"]["consents"], 1);
    assert!(receipt["signature"].is_string());

    // Gone through the API, and the token with it.
    assert_eq!(
        server.admin_get(&format!("/v1/profiles/user_id:{user}")).0,
        404
    );
    assert_eq!(
        me(
            &server,
            &token,
            reqwest::Method::GET,
            "/v1/me/consent",
            None
        )
        .0,
        401
    );
    assert_eq!(
        server.admin_get(&format!("/v1/profiles/user_id:{keep}")).0,
        200
    );
    // Gone from every file of the data dir.
    for entry in std::fs::read_dir(&server.data).expect("data dir").flatten() {
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        for needle in [user.as_bytes(), email.as_bytes()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} still holds `{}`",
                entry.path().display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
    // New events for the same ids start a fresh profile.
    assert_eq!(
        server
            .post("/v1/track", &json!({"userId": user, "event": "Back"}))
            .0,
        200
    );
    let (status, fresh) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert_eq!(status, 200);
    assert_eq!(fresh["event_count"], 1);
    assert_eq!(fresh["traits"], json!({}));
}

#[test]
fn portal_login_is_single_use_and_forms_are_same_origin_only() {
    let server = Server::start();
    let user = unique("portal");
    assert_eq!(server.post("/v1/identify", &json!({"userId": user})).0, 200);
    let consent = json!({"purpose": "dpv:DirectMarketing", "channel": "sms", "status": "given"});
    assert_eq!(
        admin_put(
            &server,
            &format!("/v1/profiles/user_id:{user}/consent"),
            &consent
        )
        .0,
        200
    );
    let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
    let login_url = issued["login_url"].as_str().expect("login_url").to_string();
    let no_redirect = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let first = no_redirect.get(&login_url).send().expect("login");
    assert_eq!(first.status(), 303);
    let cookie = first.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    assert!(cookie.starts_with("allele_me=ct_"));
    assert_eq!(
        no_redirect.get(&login_url).send().expect("again").status(),
        401,
        "login links are single-use"
    );
    let page = no_redirect
        .get(format!("{}/me", server.url))
        .header("cookie", &cookie)
        .send()
        .expect("me");
    assert_eq!(page.status(), 200);
    let html = page.text().expect("html");
    assert!(
        html.contains("dpv:DirectMarketing") && html.contains("<td>sms</td>"),
        "{html}"
    );
    // Without a session: refused.
    assert_eq!(
        no_redirect
            .get(format!("{}/me", server.url))
            .send()
            .expect("me")
            .status(),
        401
    );
    // A cross-site form post is refused; a same-origin one lands in the ledger.
    let form = [
        ("purpose", "dpv:DirectMarketing"),
        ("channel", "sms"),
        ("status", "withdrawn"),
    ];
    let cross = no_redirect
        .post(format!("{}/me/consent", server.url))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .expect("post");
    assert_eq!(cross.status(), 403);
    let host = server.url.trim_start_matches("http://").to_string();
    let same = no_redirect
        .post(format!("{}/me/consent", server.url))
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
        .form(&form)
        .send()
        .expect("post");
    assert_eq!(same.status(), 303);
    let (_, state) = server.admin_get(&format!("/v1/profiles/user_id:{user}/consent"));
    assert_eq!(state["consents"][0]["status"], "withdrawn", "{state}");
    assert_eq!(state["consents"][0]["source"], "customer");
}
