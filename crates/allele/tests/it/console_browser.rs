//! The console in headless Chromium with JavaScript on (see
//! tests/browser/console.mjs): charts draw, boosted forms work, policy
//! errors show inline, publish and rollback act, and the strict content
//! security policy blocks nothing the console itself needs.

use crate::browser::{browser_ready, run_node};
use crate::common::{Server, publish_policy, unique};
use serde_json::json;

const POLICY: &str = "selection: top\nactions:\n  - id: receipt\n    channels: [email]\n    purpose: dpv:ServiceProvision\n    kind: transactional\n    value: 1\n    propensity: { expression: \"0.5\" }\n";

#[test]
fn the_console_works_in_a_real_browser() {
    if !browser_ready() {
        return;
    }
    let server = Server::start();
    let user = unique("console-chromium");
    let body = json!({"userId": user, "traits": {"plan": "gold-plan"}});
    assert_eq!(server.post("/v1/identify", &body).0, 200);
    assert_eq!(publish_policy(&server, POLICY).0, 200);
    let bad = POLICY.replace(
        "value: 1",
        "value: 1\n    eligibility: 'profile.traits.age >= '",
    );
    let job = json!({
        "url": server.url,
        "admin_key": server.admin_key,
        "user": user,
        "bad_policy": bad,
        "good_policy": POLICY.replace("value: 1", "value: 2"),
    });
    let answer = run_node("console.mjs", &job);
    let steps = &answer["steps"];
    assert_eq!(answer["errors"], json!([]), "console errors: {answer}");
    assert_eq!(steps["redirected_to"], "/login", "{answer}");
    assert_eq!(steps["chart"]["rows"], 48, "{answer}");
    assert!(steps["chart"]["width"].as_u64() > Some(0), "{answer}");
    let profile = steps["profile_text"].as_str().expect("profile");
    assert!(
        profile.contains(&user) && profile.contains("gold-plan"),
        "{profile}"
    );
    let error = steps["error_text"].as_str().expect("error");
    assert!(
        error.contains("nothing was published") && error.contains("column"),
        "{error}"
    );
    assert_eq!(steps["active_after_error"], "1");
    assert_eq!(steps["active_after_publish"], "2");
    assert_eq!(steps["active_after_rollback"], "1");
    let (_, latest) = server.admin_get("/v1/bundles/latest");
    assert_eq!(latest["version"], 1, "the rollback reached the API");
}
