//! Abusive request bodies: JSON nested far past the parser's depth limit on
//! every endpoint that reads JSON (and YAML for policies), nesting just under
//! it through the paths that walk traits and properties, and compression
//! bombs. Each gets a JSON error or a normal answer, never a 5xx or a crash.

use crate::common::{Server, client, read};
use allele_store::Role;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

fn assert_error_body(body: &Value, context: &str) {
    for field in ["message", "code", "type", "link"] {
        assert!(body[field].is_string(), "{context}: no `{field}` in {body}");
    }
}

/// `{"x":{"x":...1...}}`, `depth` objects deep.
fn nested(depth: usize) -> String {
    format!("{}1{}", "{\"x\":".repeat(depth), "}".repeat(depth))
}

fn nested_value(depth: usize) -> Value {
    serde_json::from_str(&nested(depth)).expect("within serde_json's limit")
}

enum Credential<'a> {
    Write(&'a str),
    Bearer(&'a str),
}

fn send(server: &Server, method: &str, path: &str, body: &str, key: &Credential) -> (u16, Value) {
    let url = format!("{}{path}", server.url);
    let mut request = match method {
        "PUT" => client().put(url),
        _ => client().post(url),
    };
    request = match key {
        Credential::Write(key) => request.basic_auth(key, Some("")),
        Credential::Bearer(key) => request.bearer_auth(key),
    };
    read(
        request
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .expect("send"),
    )
}

#[test]
fn json_nested_past_the_limit_is_a_400_on_every_json_endpoint() {
    let server = Server::start();
    let user = "deep-user";
    assert_eq!(server.post("/v1/identify", &json!({"userId": user})).0, 200);
    let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
    let token = issued["token"].as_str().expect("token").to_string();
    let decide = {
        let conn = rusqlite::Connection::open(server.data.join("allele.db")).expect("db");
        conn.busy_timeout(Duration::from_secs(5)).expect("timeout");
        allele_store::keys::create_key(&conn, "default", Role::Decide, 0).expect("key")
    };
    let keys = [
        Credential::Write(&server.write_key),
        Credential::Bearer(&server.admin_key),
        Credential::Bearer(&decide),
        Credential::Bearer(&token),
    ];
    let spec: Value = client()
        .get(format!("{}/openapi.json", server.url))
        .send()
        .expect("openapi")
        .json()
        .expect("json");
    // 5,000 levels (25 KB) stays under the 32 KB single-event limit, so the
    // parser, not the size check, is what refuses it.
    let deep = nested(5_000);
    let mut checked = 0;
    for (path, methods) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().expect("methods") {
            if operation["requestBody"]["content"]["application/json"].is_null() {
                continue;
            }
            let path = path
                .replace("{reference}", &format!("user_id:{user}"))
                .replace(['{', '}'], "");
            let method = method.to_uppercase();
            let (status, body) = keys
                .iter()
                .map(|key| send(&server, &method, &path, &deep, key))
                .find(|(status, _)| !matches!(status, 401 | 403))
                .unwrap_or_else(|| panic!("{method} {path}: no key is accepted"));
            assert_eq!(status, 400, "{method} {path}: {body}");
            assert_error_body(&body, &format!("{method} {path}"));
            checked += 1;
        }
    }
    assert!(checked >= 35, "only {checked} JSON endpoints in the spec");
    // Policies are YAML: flow sequences nested 20,000 deep.
    let yaml = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let (status, body) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(yaml)
            .send()
            .expect("policy"),
    );
    assert_eq!(status, 400, "{body}");
    assert_error_body(&body, "PUT /v1/policies");
    assert_eq!(
        client()
            .get(format!("{}/healthz", server.url))
            .send()
            .expect("alive")
            .status(),
        200
    );
}

#[test]
fn nesting_under_the_limit_flows_through_traits_properties_and_segments() {
    let server = Server::start();
    let user = "nested-user";
    // serde_json refuses more than 128 levels; 120 levels of traits and
    // properties reach trait folding, event storage, the profile read and a
    // segment evaluation intact.
    let (status, body) = server.post(
        "/v1/identify",
        &json!({"userId": user, "traits": {"plan": "pro", "deep": nested_value(120)}}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.post(
        "/v1/track",
        &json!({"userId": user, "event": "Deep", "properties": {"deep": nested_value(120)}}),
    );
    assert_eq!(status, 200, "{body}");
    let batch = json!({"batch": (0..20).map(|i| json!({"type": "identify", "userId": format!("{user}-{i}"),
        "traits": {"deep": nested_value(120), "plan": "pro"}})).collect::<Vec<_>>()});
    assert_eq!(server.post("/v1/batch", &batch).0, 200);
    let (status, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert_eq!(status, 200, "{profile}");
    let mut walk = &profile["traits"]["deep"];
    for _ in 0..120 {
        walk = &walk["x"];
    }
    assert_eq!(walk, &json!(1), "{profile}");
    let events = server.all_events(&format!("user_id:{user}"));
    assert!(events.iter().any(|e| e["event"] == "Deep"), "{events:?}");
    let (status, body) = server.admin_put(
        "/v1/segments/deep",
        &json!({"definition": "profile.traits.plan == \"pro\" && profile.traits.deep.x.x.x != 2"}),
    );
    assert!(status < 300, "{status} {body}");
    let (status, members) = server.admin_get("/v1/segments/deep/members");
    assert_eq!(status, 200, "{members}");
    assert!(members.to_string().contains(user), "{members}");
    // One level past the limit in a trait: a 400 naming the depth.
    let past = format!(
        r#"{{"userId":"{user}","traits":{{"deep":{}}}}}"#,
        nested(200)
    );
    let (status, body) = read(
        client()
            .post(format!("{}/v1/identify", server.url))
            .basic_auth(&server.write_key, Some(""))
            .header("content-type", "application/json")
            .body(past)
            .send()
            .expect("identify"),
    );
    assert_eq!(status, 400, "{body}");
    assert_error_body(&body, "identify");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("recursion"),
        "{body}"
    );
}

fn gzip(parts: &[&[u8]], repeat_middle: usize) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(parts[0]).expect("gzip");
    let block = vec![parts[1][0]; 1 << 20];
    let mut left = repeat_middle;
    while left > 0 {
        let n = left.min(block.len());
        encoder.write_all(&block[..n]).expect("gzip");
        left -= n;
    }
    encoder.write_all(parts[2]).expect("gzip");
    encoder.finish().expect("gzip")
}

fn post_encoded(server: &Server, path: &str, encoding: &str, body: Vec<u8>) -> (u16, Value) {
    read(
        client()
            .post(format!("{}{path}", server.url))
            .basic_auth(&server.write_key, Some(""))
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .timeout(Duration::from_secs(10))
            .body(body)
            .send()
            .expect("the server answers a bomb promptly"),
    )
}

#[test]
fn compression_bombs_are_refused_with_413_and_other_encodings_with_415() {
    let server = Server::start();
    let head: &[u8] =
        br#"{"batch":[{"type":"track","userId":"bomb","event":"Bomb","properties":{"pad":""#;
    let tail: &[u8] = br#""}}]}"#;
    // 64 MB of one byte in valid JSON: well over 1000:1.
    let inflated = 64 << 20;
    let bomb = gzip(&[head, b"a", tail], inflated);
    let ratio = inflated / bomb.len();
    assert!(ratio > 1000, "ratio {ratio}:1 ({} bytes)", bomb.len());
    for encoding in ["gzip", "x-gzip", "GZIP"] {
        let (status, body) = post_encoded(&server, "/v1/batch", encoding, bomb.clone());
        assert_eq!(status, 413, "{encoding}: {body}");
        assert_eq!(body["code"], "batch_too_large", "{body}");
        assert_error_body(&body, encoding);
    }
    let single = gzip(
        &[
            br#"{"userId":"bomb","event":"Bomb","properties":{"pad":""#,
            b" ",
            tail,
        ],
        16 << 20,
    );
    let (status, body) = post_encoded(&server, "/v1/track", "gzip", single);
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "event_too_large", "{body}");
    // The control: a batch as compressible but under the limit (12 events
    // of 25 KB) is decoded and stored, so size, not ratio, is refused.
    let pad = "a".repeat(25 * 1024);
    let batch = json!({"batch": (0..12).map(|i| json!({"type": "track", "userId": "bomb",
        "event": "Bomb", "messageId": format!("fits-{i}"), "properties": {"pad": pad}})).collect::<Vec<_>>()});
    let plain = serde_json::to_vec(&batch).expect("json");
    let fits = gzip(&[&plain, b" ", b""], 0);
    assert!(
        plain.len() / fits.len() > 100,
        "{} -> {}",
        plain.len(),
        fits.len()
    );
    let (status, body) = post_encoded(&server, "/v1/batch", "gzip", fits);
    assert_eq!(status, 200, "{body}");
    // No other encoding is decoded, so none can be a bomb.
    for encoding in ["deflate", "br", "zstd", "compress", "gzip, gzip"] {
        let (status, body) = post_encoded(&server, "/v1/batch", encoding, bomb.clone());
        assert_eq!(status, 415, "{encoding}: {body}");
        assert_eq!(body["code"], "unsupported_encoding", "{body}");
    }
    assert_eq!(server.all_events("user_id:bomb").len(), 12);
}
