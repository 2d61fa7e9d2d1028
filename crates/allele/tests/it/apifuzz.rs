//! The whole HTTP API fuzzed from its own `/openapi.json` with schemathesis,
//! once per credential: admin, write, decide, a customer token, and the admin
//! key and a customer of another workspace. No 5xx, every status and body as
//! documented, authentication never ignored, and nothing of this workspace's
//! person in what the other workspace's credentials get back. A short,
//! seed-fixed run here; `bench/apifuzz.sh` runs the long one.

use crate::common::{Server, client, read, require_tool, unique};
use serde_json::json;
use std::process::Command;

/// Seconds per credential; `ALLELE_APIFUZZ_SECONDS` lengthens a local run.
fn budget() -> String {
    std::env::var("ALLELE_APIFUZZ_SECONDS").unwrap_or_else(|_| "20".into())
}

fn schemathesis() -> bool {
    Command::new("st")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run schemathesis with one credential; returns every response body it saw.
fn fuzz(server: &Server, role: &str, auth: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new("st")
        .current_dir(dir.path())
        .args(["run", &format!("{}/openapi.json", server.url)])
        .args(auth)
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth",
            "--phases",
            // The coverage phase trips over its own generator on some body
            // schemas ("inconsistent results" inside schemathesis itself).
            "examples,fuzzing",
            "--max-examples",
            "15",
            "--max-time",
            &budget(),
            "--seed",
            "20261123",
            "--workers",
            "2",
            "--request-timeout",
            "20",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "vcr",
            "--report-dir",
        ])
        .arg(dir.path())
        // Long-polls hold for up to a minute by design; they have their own tests.
        .args(["--exclude-path", "/v1/bundles/latest"])
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems as {role}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = String::new();
    for entry in std::fs::read_dir(dir.path()).expect("report dir").flatten() {
        if entry.path().extension().is_some_and(|e| e == "yaml") {
            seen.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
    }
    assert!(!seen.is_empty(), "no cassette written as {role}");
    seen
}

#[test]
fn the_api_survives_fuzzing_with_every_credential() {
    if !require_tool(schemathesis(), "schemathesis (pip install schemathesis)") {
        return;
    }
    let server = Server::start();
    let victim = unique("fuzz-victim");
    let secret = format!("{victim}-private@x.test");
    let marker = json!({"userId": victim, "traits": {"email": secret, "name": "Victim"}});
    assert_eq!(server.post("/v1/identify", &marker).0, 200);
    let token_of = |user: &str| {
        let (status, issued) =
            server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
        assert_eq!(status, 200, "{issued}");
        issued["token"].as_str().expect("token").to_string()
    };
    let customer = unique("fuzz-customer");
    assert_eq!(
        server.post("/v1/identify", &json!({"userId": customer})).0,
        200
    );
    let customer_token = token_of(&customer);
    let decide_key = {
        let conn = rusqlite::Connection::open(server.data.join("allele.db")).expect("db");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("timeout");
        allele_store::keys::create_key(&conn, "default", allele_store::Role::Decide, 0)
            .expect("decide key")
    };
    let (other_admin, other_write) = {
        let conn = rusqlite::Connection::open(server.data.join("allele.db")).expect("db");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("timeout");
        let other = allele_store::keys::create_workspace(&conn, "other", 0).expect("workspace");
        (other.admin_key, other.write_key)
    };
    // A customer of the other workspace, with a token of their own.
    let (status, _) = read(
        client()
            .post(format!("{}/v1/identify", server.url))
            .basic_auth(&other_write, Some(""))
            .json(&json!({"userId": "other-customer"}))
            .send()
            .expect("identify"),
    );
    assert_eq!(status, 200);
    let (status, issued) = read(
        client()
            .post(format!(
                "{}/v1/profiles/user_id:other-customer/tokens",
                server.url
            ))
            .bearer_auth(&other_admin)
            .send()
            .expect("token"),
    );
    assert_eq!(status, 200, "{issued}");
    let other_customer = issued["token"].as_str().expect("token").to_string();

    let bearer = |key: &str| format!("Authorization: Bearer {key}");
    let admin = bearer(&server.admin_key);
    fuzz(&server, "admin", &["-H", &admin]);
    fuzz(&server, "write", &["-a", &format!("{}:", server.write_key)]);
    fuzz(&server, "decide", &["-H", &bearer(&decide_key)]);
    fuzz(&server, "customer", &["-H", &bearer(&customer_token)]);
    for (role, credential) in [
        ("other admin", other_admin),
        ("other customer", other_customer),
    ] {
        let seen = fuzz(&server, role, &["-H", &bearer(&credential)]);
        assert!(
            !seen.contains(&secret),
            "{role} saw this workspace's person"
        );
    }
    // The person fuzzed around is still whole.
    let (status, profile) = server.admin_get(&format!("/v1/profiles/user_id:{victim}"));
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["traits"]["email"], secret.as_str());
}
