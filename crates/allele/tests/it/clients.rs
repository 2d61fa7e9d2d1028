//! Real Segment and RudderStack SDKs, unchanged except for the host, send to
//! a real server; the merged profile is then read back through the API.

use crate::common::{Server, require_tool, unique};
use std::path::PathBuf;
use std::process::Command;

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run_client(server: &Server, program: &str, script: &str) -> String {
    let prefix = unique(script.split('.').next().unwrap_or("client"));
    let output = Command::new(program)
        .arg(clients_dir().join(script))
        .args([&server.url, &server.write_key, &prefix])
        .current_dir(clients_dir())
        .output()
        .expect("run client");
    assert!(
        output.status.success(),
        "{script} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    prefix
}

/// What every client script sends: page, identify (anon → user, email),
/// track, alias (legacy → user) and five Product Viewed.
fn check_profile(server: &Server, prefix: &str) {
    let (status, profile) = server.admin_get(&format!("/v1/profiles/user_id:{prefix}-user"));
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["event_count"], 9, "{profile}");
    assert_eq!(profile["traits"]["plan"], "pro", "{profile}");
    let identities: Vec<String> = profile["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["type"].as_str().unwrap_or(""),
                i["value"].as_str().unwrap_or("")
            )
        })
        .collect();
    for expected in [
        format!("user_id:{prefix}-user"),
        format!("anonymous_id:{prefix}-anon"),
        format!("anonymous_id:{prefix}-legacy"),
        format!("email:{prefix}@example.com"),
    ] {
        assert!(
            identities.contains(&expected),
            "missing {expected} in {identities:?}"
        );
    }
    for other in [
        format!("anonymous_id:{prefix}-anon"),
        format!("anonymous_id:{prefix}-legacy"),
        format!("email:{prefix}@example.com"),
    ] {
        let (status, same) = server.admin_get(&format!("/v1/profiles/{other}"));
        assert_eq!(status, 200);
        assert_eq!(same["id"], profile["id"], "{other} resolves elsewhere");
    }
    let events = server.all_events(&format!("user_id:{prefix}-user"));
    assert_eq!(events.len(), 9);
    let viewed = events
        .iter()
        .filter(|e| e["event"] == "Product Viewed")
        .count();
    assert_eq!(viewed, 5);
}

#[test]
fn segment_analytics_python() {
    if !require_tool(
        python_has("segment.analytics"),
        "python package segment-analytics-python",
    ) {
        return;
    }
    let server = Server::start();
    let prefix = run_client(&server, "python3", "segment_python.py");
    check_profile(&server, &prefix);
}

#[test]
fn rudder_sdk_python() {
    if !require_tool(
        python_has("rudderstack.analytics"),
        "python package rudder-sdk-python",
    ) {
        return;
    }
    let server = Server::start();
    let prefix = run_client(&server, "python3", "rudder_python.py");
    check_profile(&server, &prefix);
}

#[test]
fn segment_analytics_node() {
    let installed = clients_dir()
        .join("node_modules/@segment/analytics-node")
        .is_dir();
    if !require_tool(
        installed,
        "npm package @segment/analytics-node (npm ci in tests/clients)",
    ) {
        return;
    }
    let server = Server::start();
    let prefix = run_client(&server, "node", "segment_node.mjs");
    check_profile(&server, &prefix);
}
