//! Grants (Cedar policies), settlements, intents and consistency proofs over
//! HTTP: a grantee reads only what the customer granted, for as long as they
//! granted it; priced reads show up as earnings; a customer never reaches
//! another customer's grants; the access log proves it only grew.

use crate::common::{Server, client, read, unique};
use reqwest::Method;
use serde_json::{Value, json};

fn call(
    server: &Server,
    credential: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client()
        .request(method, format!("{}{path}", server.url))
        .bearer_auth(credential);
    if let Some(body) = body {
        request = request.json(&body);
    }
    read(request.send().expect("request"))
}

/// A person with traits and a customer token.
fn person(server: &Server, prefix: &str) -> (String, String) {
    let user = unique(prefix);
    let traits = json!({"email": format!("{user}@x.test"), "city": "Leeds", "age": 41});
    assert_eq!(
        server
            .post("/v1/identify", &json!({"userId": user, "traits": traits}))
            .0,
        200
    );
    let (status, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
    assert_eq!(status, 200, "{issued}");
    (user, issued["token"].as_str().expect("token").to_string())
}

fn in_future(seconds: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds)).to_string()
}

fn granted(server: &Server, user: &str, query: &str) -> (u16, Value) {
    server.admin_get(&format!("/v1/profiles/user_id:{user}/granted?{query}"))
}

#[test]
fn grantees_read_only_granted_fields_and_priced_reads_are_settled() {
    let server = Server::start();
    let (user, token) = person(&server, "grant");
    let research = "grantee=acme&purpose=dpv:CommercialResearch";
    // No grant: refused, without naming which traits exist.
    let (status, body) = granted(&server, &user, research);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "grant_required");
    assert!(!body.to_string().contains("email"), "{body}");

    let grant = json!({"grantee": "acme", "fields": ["email", "city"], "purpose": "dpv:CommercialResearch",
                       "expires_at": in_future(3600), "price": {"amount": 25, "currency": "EUR"}});
    let (status, stored) = call(&server, &token, Method::PUT, "/v1/me/grants", Some(grant));
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["status"], "active");
    assert!(
        stored["policy"].as_str().unwrap().starts_with("permit"),
        "{stored}"
    );
    let grant_id = stored["id"].as_str().unwrap().to_string();

    let (status, read) = granted(&server, &user, research);
    assert_eq!(status, 200, "{read}");
    assert_eq!(
        read["fields"],
        json!({"email": format!("{user}@x.test"), "city": "Leeds"})
    );
    assert_eq!(read["settlements"][0]["amount"], 25);
    // Another grantee, another purpose, or an ungranted field: refused.
    assert_eq!(
        granted(
            &server,
            &user,
            "grantee=beta&purpose=dpv:CommercialResearch"
        )
        .0,
        403
    );
    assert_eq!(
        granted(&server, &user, "grantee=acme&purpose=dpv:Marketing").0,
        403
    );
    let (status, body) = granted(&server, &user, &format!("{research}&fields=email,age"));
    assert_eq!(status, 403);
    assert_eq!(body["errors"]["refused_fields"], json!(["age"]));
    let (status, only) = granted(&server, &user, &format!("{research}&fields=city"));
    assert_eq!((status, &only["fields"]), (200, &json!({"city": "Leeds"})));

    // Two paid reads, both in the ledger and both in the access log.
    let (status, earnings) = call(&server, &token, Method::GET, "/v1/me/earnings", None);
    assert_eq!(status, 200);
    assert_eq!(
        earnings["totals"],
        json!([{"currency": "EUR", "amount": 50}]),
        "{earnings}"
    );
    let settlements = earnings["settlements"].as_array().unwrap();
    assert_eq!(settlements.len(), 2);
    assert_eq!(settlements[1]["fields"], json!(["city"]));
    let (_, log) = call(&server, &token, Method::GET, "/v1/me/access-log", None);
    let reads: Vec<&Value> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "read_granted")
        .collect();
    assert_eq!(reads.len(), 2, "{log}");
    assert_eq!(reads[0]["purpose"], "dpv:CommercialResearch");
    assert!(
        reads[0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("grantee:acme")
    );
    assert_eq!(reads[0]["index"], settlements[0]["access_index"]);
    let (_, mine) = call(&server, &token, Method::GET, "/v1/me/grants", None);
    assert_eq!(mine["earned"], json!([{"currency": "EUR", "amount": 50}]));

    // A refusal of the purpose's parent on every channel forbids the grant.
    let refuse =
        json!({"purpose": "dpv:ResearchAndDevelopment", "channel": "*", "status": "refused"});
    assert_eq!(
        call(&server, &token, Method::PUT, "/v1/me/consent", Some(refuse)).0,
        200
    );
    assert_eq!(granted(&server, &user, research).0, 403);
    let give = json!({"purpose": "dpv:ResearchAndDevelopment", "channel": "*", "status": "given"});
    assert_eq!(
        call(&server, &token, Method::PUT, "/v1/me/consent", Some(give)).0,
        200
    );
    assert_eq!(granted(&server, &user, research).0, 200);

    // Withdrawing removes it at once; a second withdrawal finds nothing.
    let path = format!("/v1/me/grants/{grant_id}");
    let (status, withdrawn) = call(&server, &token, Method::DELETE, &path, None);
    assert_eq!((status, &withdrawn["status"]), (200, &json!("withdrawn")));
    assert_eq!(granted(&server, &user, research).0, 403);
    assert_eq!(call(&server, &token, Method::DELETE, &path, None).0, 404);
    let (_, earnings) = call(&server, &token, Method::GET, "/v1/me/earnings", None);
    assert_eq!(
        earnings["totals"][0]["amount"], 75,
        "money earned stays after a withdrawal"
    );
}

#[test]
fn a_grant_ends_exactly_at_its_expiry() {
    let server = Server::start();
    let (user, token) = person(&server, "expiry");
    // Whole seconds, so the boundary is an instant the test can wait for.
    let expires = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 2).unwrap();
    let grant = json!({"grantee": "acme", "fields": ["*"], "purpose": "dpv:Advertising", "expires_at": expires.to_string()});
    let (status, stored) = call(&server, &token, Method::PUT, "/v1/me/grants", Some(grant));
    assert_eq!(status, 200, "{stored}");
    let query = "grantee=acme&purpose=dpv:Advertising";
    let (status, before) = granted(&server, &user, query);
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["fields"]["age"], 41);
    while jiff::Timestamp::now() < expires {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        granted(&server, &user, query).0,
        403,
        "expired at the instant"
    );
    let (_, mine) = call(&server, &token, Method::GET, "/v1/me/grants", None);
    assert_eq!(mine["grants"][0]["status"], "expired");
    // A grant that is already expired is refused up front.
    let past = json!({"grantee": "acme", "fields": ["*"], "purpose": "dpv:Advertising", "expires_at": "2020-01-01T00:00:00Z"});
    assert_eq!(
        call(&server, &token, Method::PUT, "/v1/me/grants", Some(past)).0,
        400
    );
}

#[test]
fn customers_and_keys_stay_in_their_lane() {
    let server = Server::start();
    let (alice, alice_token) = person(&server, "alice");
    let (bob, bob_token) = person(&server, "bob");
    let grant = json!({"grantee": "acme", "fields": ["city"], "purpose": "dpv:CommercialResearch",
                       "expires_at": in_future(3600), "price": {"amount": 7, "currency": "GBP"}});
    let (_, stored) = call(
        &server,
        &alice_token,
        Method::PUT,
        "/v1/me/grants",
        Some(grant),
    );
    let alice_grant = stored["id"].as_str().unwrap().to_string();
    let query = "grantee=acme&purpose=dpv:CommercialResearch";
    assert_eq!(granted(&server, &alice, query).0, 200);
    // Alice's grant opens nothing of Bob's.
    assert_eq!(granted(&server, &bob, query).0, 403);
    // Bob sees none of Alice's grants or earnings, and cannot withdraw hers.
    let (_, bobs) = call(&server, &bob_token, Method::GET, "/v1/me/grants", None);
    assert_eq!(bobs["grants"], json!([]));
    assert_eq!(bobs["earned"], json!([]));
    let (_, bob_earnings) = call(&server, &bob_token, Method::GET, "/v1/me/earnings", None);
    assert_eq!(bob_earnings["settlements"], json!([]));
    let path = format!("/v1/me/grants/{alice_grant}");
    assert_eq!(
        call(&server, &bob_token, Method::DELETE, &path, None).0,
        404
    );
    assert_eq!(granted(&server, &alice, query).0, 200, "still granted");
    // The admin key cannot act as Alice, nor can a grantee read with a customer token.
    assert_eq!(
        call(&server, &server.admin_key, Method::DELETE, &path, None).0,
        403
    );
    assert_eq!(
        call(
            &server,
            &server.admin_key,
            Method::GET,
            "/v1/me/earnings",
            None
        )
        .0,
        403
    );
    let grantee_path = format!("/v1/profiles/user_id:{alice}/granted?{query}");
    assert_eq!(
        call(&server, &alice_token, Method::GET, &grantee_path, None).0,
        403
    );
    // Bad grants get clear errors and store nothing.
    for bad in [
        json!({"grantee": "", "fields": ["city"], "purpose": "dpv:X", "expires_at": in_future(60)}),
        json!({"grantee": "acme", "fields": [], "purpose": "dpv:X", "expires_at": in_future(60)}),
        json!({"grantee": "acme", "fields": ["city"], "purpose": "marketing", "expires_at": in_future(60)}),
        json!({"grantee": "acme", "fields": ["city"], "purpose": "dpv:X", "expires_at": "tomorrow"}),
        json!({"grantee": "acme", "fields": ["city"], "purpose": "dpv:X", "expires_at": in_future(60), "price": {"amount": 1, "currency": "euro"}}),
    ] {
        let (status, body) = call(&server, &bob_token, Method::PUT, "/v1/me/grants", Some(bad));
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_body")),
            "{body}"
        );
    }
    let (_, bobs) = call(&server, &bob_token, Method::GET, "/v1/me/grants", None);
    assert_eq!(bobs["grants"], json!([]));
}

#[test]
fn intents_reach_only_their_audience_and_leave_with_erasure() {
    let server = Server::start();
    let (user, token) = person(&server, "intent");
    let intents = json!({"intents": [
        {"want": "trail running shoes", "until": in_future(3600), "max_price": {"amount": 12000, "currency": "EUR"},
         "visible_to": [{"grantee": "acme", "purpose": "dpv:Advertising"}]},
        {"want": "a quiet holiday", "until": in_future(3600)},
        {"want": "a new bike", "until": in_future(3600), "category": "cycling",
         "visible_to": [{"grantee": "self", "purpose": "dpv:ServicePersonalisation"}]}
    ]});
    let (status, stored) = call(
        &server,
        &token,
        Method::PUT,
        "/v1/me/intents",
        Some(intents),
    );
    assert_eq!(status, 200, "{stored}");
    assert!(
        stored["intents"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("intent_")
    );
    let (_, listed) = call(&server, &token, Method::GET, "/v1/me/intents", None);
    assert_eq!(listed["intents"].as_array().unwrap().len(), 3);
    // The workspace's own rules see only what was shown to `self`.
    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    let own = profile["computed"]["intents"]
        .as_array()
        .expect("intents for rules");
    assert_eq!(own.len(), 1, "{profile}");
    assert_eq!(own[0]["want"], "a new bike");
    assert!(own[0].get("visible_to").is_none());
    // Refusing the purpose on every channel hides it from rules too.
    let refuse =
        json!({"purpose": "dpv:ServicePersonalisation", "channel": "*", "status": "refused"});
    assert_eq!(
        call(&server, &token, Method::PUT, "/v1/me/consent", Some(refuse)).0,
        200
    );
    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert!(profile["computed"].get("intents").is_none(), "{profile}");
    // acme sees the shoes (and no traits: it has no grant); nobody else sees anything.
    let (status, seen) = granted(&server, &user, "grantee=acme&purpose=dpv:Advertising");
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["fields"], json!({}));
    assert_eq!(seen["intents"].as_array().unwrap().len(), 1);
    assert_eq!(seen["intents"][0]["want"], "trail running shoes");
    assert!(seen["intents"][0].get("visible_to").is_none());
    assert_eq!(
        granted(&server, &user, "grantee=beta&purpose=dpv:Advertising").0,
        403
    );
    assert_eq!(
        granted(&server, &user, "grantee=acme&purpose=dpv:Marketing").0,
        403
    );
    let bad = json!({"intents": [{"want": "x", "until": "soon"}]});
    assert_eq!(
        call(&server, &token, Method::PUT, "/v1/me/intents", Some(bad)).0,
        400
    );

    // Export carries grants, settlements and intents; erasure removes them.
    let grant = json!({"grantee": "acme", "fields": ["city"], "purpose": "dpv:Advertising",
                       "expires_at": in_future(3600), "price": {"amount": 3, "currency": "EUR"}});
    assert_eq!(
        call(&server, &token, Method::PUT, "/v1/me/grants", Some(grant)).0,
        200
    );
    assert_eq!(
        granted(&server, &user, "grantee=acme&purpose=dpv:Advertising").0,
        200
    );
    let (_, export) = call(&server, &token, Method::GET, "/v1/me/export", None);
    assert_eq!(export["grants"].as_array().unwrap().len(), 1, "{export}");
    assert_eq!(export["settlements"].as_array().unwrap().len(), 1);
    assert_eq!(export["intents"].as_array().unwrap().len(), 3);
    let (status, receipt) = call(&server, &token, Method::DELETE, "/v1/me", None);
    assert_eq!(status, 200);
    let erased: Value = serde_json::from_str(receipt["receipt"].as_str().unwrap()).unwrap();
    assert_eq!(erased["erased"]["grants"], 1);
    assert_eq!(erased["erased"]["settlements"], 1);
    assert_eq!(erased["erased"]["intents"], 1);
    let conn = rusqlite::Connection::open(server.data.join("allele.db")).unwrap();
    for table in ["grants", "settlements", "intents"] {
        let rows: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "{table} keeps rows after erasure");
    }
}

#[test]
fn consistency_proofs_show_the_log_only_grew() {
    use allele_privacy::merkle::entry::{AccessLogResponse, verify_tree_heads_consistent};
    use allele_privacy::merkle::sth::SignedTreeHead;
    use base64::Engine;
    let server = Server::start();
    let (user, token) = person(&server, "consistency");
    let (_, log) = call(&server, &token, Method::GET, "/v1/me/access-log", None);
    let old: SignedTreeHead = serde_json::from_value(log["tree_head"].clone()).unwrap();
    for _ in 0..5 {
        assert_eq!(
            server.admin_get(&format!("/v1/profiles/user_id:{user}")).0,
            200
        );
    }
    let (_, log) = call(&server, &token, Method::GET, "/v1/me/access-log", None);
    let new: SignedTreeHead = serde_json::from_value(log["tree_head"].clone()).unwrap();
    assert!(new.tree_size >= old.tree_size + 6);
    let _: AccessLogResponse = serde_json::from_value(log).unwrap();
    let (_, key) = call(&server, &token, Method::GET, "/v1/transparency/key", None);
    let bytes: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(key["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).unwrap();
    let path = format!(
        "/v1/transparency/consistency?first={}&second={}",
        old.tree_size, new.tree_size
    );
    // A customer token and an api key both may ask.
    let (status, answer) = call(&server, &token, Method::GET, &path, None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        call(&server, &server.admin_key, Method::GET, &path, None).0,
        200
    );
    let proof: Vec<String> = serde_json::from_value(answer["consistency"].clone()).unwrap();
    assert!(!proof.is_empty());
    verify_tree_heads_consistent(&old, &new, &proof, &key).unwrap();
    // The served head for `second` is the same tree as the customer's.
    let served: SignedTreeHead = serde_json::from_value(answer["tree_head"].clone()).unwrap();
    assert_eq!(
        (served.tree_size, &served.root_hash),
        (new.tree_size, &new.root_hash)
    );
    // Truncation: heads in the wrong order (the log shrank) fail.
    assert!(verify_tree_heads_consistent(&new, &old, &proof, &key).is_err());
    // A rewritten entry: a proof hash changed no longer links the heads.
    let mut rewritten = proof.clone();
    let first = rewritten[0].clone();
    rewritten[0] = format!(
        "{}{}",
        if first.starts_with('0') { "1" } else { "0" },
        &first[1..]
    );
    assert!(verify_tree_heads_consistent(&old, &new, &rewritten, &key).is_err());
    // A forked head: same size, another root, validly signed by nobody we trust.
    let mut forked = new.clone();
    forked.root_hash = old.root_hash.clone();
    assert!(verify_tree_heads_consistent(&old, &forked, &proof, &key).is_err());
    // Sizes beyond the log or reversed are clear 400s; no credential is 401.
    let (status, body) = call(
        &server,
        &token,
        Method::GET,
        "/v1/transparency/consistency?first=5&second=99999",
        None,
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_query")),
        "{body}"
    );
    assert_eq!(
        call(
            &server,
            &token,
            Method::GET,
            "/v1/transparency/consistency?first=9&second=3",
            None
        )
        .0,
        400
    );
    assert_eq!(
        read(
            client()
                .get(format!("{}{path}", server.url))
                .send()
                .unwrap()
        )
        .0,
        401
    );
}

#[test]
fn the_portal_shows_grants_earnings_and_intents_and_withdraws_without_javascript() {
    let server = Server::start();
    let (user, token) = person(&server, "portal-grant");
    let grant = json!({"grantee": "acme <script>", "fields": ["city"], "purpose": "dpv:CommercialResearch",
                       "expires_at": in_future(3600), "price": {"amount": 150, "currency": "EUR"}});
    let (_, stored) = call(&server, &token, Method::PUT, "/v1/me/grants", Some(grant));
    let query = "grantee=acme%20%3Cscript%3E&purpose=dpv:CommercialResearch";
    assert_eq!(granted(&server, &user, query).0, 200);
    let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
    let no_redirect = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = no_redirect
        .get(issued["login_url"].as_str().unwrap())
        .send()
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = |client: &reqwest::blocking::Client| {
        client
            .get(format!("{}/me", server.url))
            .header("cookie", &cookie)
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    let html = page(&no_redirect);
    assert!(
        html.contains("acme &lt;script&gt;") && !html.contains("acme <script>"),
        "{html}"
    );
    assert!(html.contains("1.50 EUR"), "earned shows: {html}");
    assert!(html.contains("action=\"/me/grants/withdraw\""));
    let host = server.url.trim_start_matches("http://").to_string();
    let origin = server.url.clone();
    let post = |path: &str, form: &[(&str, &str)], origin: &str| {
        no_redirect
            .post(format!("{}{path}", server.url))
            .header("cookie", &cookie)
            .header("host", &host)
            .header("origin", origin)
            .form(form)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let id = stored["id"].as_str().unwrap();
    assert_eq!(
        post("/me/grants/withdraw", &[("id", id)], "https://evil.example"),
        403
    );
    assert_eq!(granted(&server, &user, query).0, 200);
    assert_eq!(post("/me/grants/withdraw", &[("id", id)], &origin), 303);
    assert_eq!(granted(&server, &user, query).0, 403);
    let add = [
        ("grantee", "beta"),
        ("fields", "city, age"),
        ("purpose", "dpv:Advertising"),
        ("until", "2099-12-31"),
        ("price", "5"),
        ("currency", "gbp"),
    ];
    assert_eq!(post("/me/grants", &add, &origin), 303);
    let (status, seen) = granted(&server, &user, "grantee=beta&purpose=dpv:Advertising");
    assert_eq!(status, 200);
    assert_eq!(seen["fields"], json!({"city": "Leeds", "age": 41}));
    assert_eq!(seen["settlements"][0]["currency"], "GBP");
    let intent = [
        ("want", "a bike"),
        ("until", "2099-01-01"),
        ("grantee", "beta"),
        ("purpose", "dpv:Advertising"),
    ];
    assert_eq!(post("/me/intents", &intent, &origin), 303);
    let html = page(&no_redirect);
    assert!(
        html.contains("a bike") && html.contains("withdrawn"),
        "{html}"
    );
    let (_, listed) = call(&server, &token, Method::GET, "/v1/me/intents", None);
    let intent_id = listed["intents"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        post("/me/intents", &[("remove", intent_id.as_str())], &origin),
        303
    );
    let (_, listed) = call(&server, &token, Method::GET, "/v1/me/intents", None);
    assert_eq!(listed["intents"], json!([]));
}
