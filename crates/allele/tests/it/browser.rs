//! Headless Debian Chromium (through playwright-core) against a real
//! server: the engine compiled to wasm decides exactly as the server does on
//! the same signed bundle, and refuses a tampered one; the `/me` portal works
//! without JavaScript (see `it/portal.rs`).
//!
//! Needs `/usr/bin/chromium`, node, `npm ci` in tests/browser, the wasm32
//! target and wasm-bindgen-cli: fails when missing under `CI=true`, skips
//! with the reason otherwise.

use crate::common::{Server, client, decide_key, read, require_tool, unique};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Chromium, node and playwright-core are all here (or the test may skip).
pub fn browser_ready() -> bool {
    let chromium = std::env::var("ALLELE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    require_tool(
        Path::new(&chromium).exists(),
        "chromium (`/usr/bin/chromium`, Debian package `chromium`)",
    ) && require_tool(node, "node")
        && require_tool(
            browser_dir().join("node_modules/playwright-core").exists(),
            "playwright-core (`npm ci` in crates/allele/tests/browser)",
        )
}

/// The wasm toolchain is here; then builds web/pkg (fails on a build error).
fn wasm_built() -> bool {
    let lock = std::fs::read_to_string(repo_root().join("Cargo.lock")).expect("Cargo.lock");
    let want = lock
        .split("[[package]]")
        .find(|block| block.contains("name = \"wasm-bindgen\"\n"))
        .and_then(|block| block.split("version = \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("wasm-bindgen in Cargo.lock")
        .to_string();
    let have = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let target = Path::new(&sysroot).join("lib/rustlib/wasm32-unknown-unknown");
    if !(require_tool(
        have == format!("wasm-bindgen {want}"),
        &format!("wasm-bindgen-cli {want} (found `{have}`)"),
    ) && require_tool(target.exists(), "the wasm32-unknown-unknown target"))
    {
        return false;
    }
    let output = Command::new(repo_root().join("scripts/build-wasm.sh"))
        .output()
        .expect("run scripts/build-wasm.sh");
    assert!(
        output.status.success(),
        "build-wasm failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

/// Runs `node SCRIPT JOB.json` in tests/browser and parses what it prints.
pub fn run_node(script: &str, job: &Value) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("job.json");
    std::fs::write(&path, job.to_string()).expect("write job");
    let output = Command::new("node")
        .arg(browser_dir().join(script))
        .arg(&path)
        .current_dir(browser_dir())
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "{script} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("node printed JSON")
}

const POLICY: &str = r#"
holdout: { universal: 0.4, salt: "parity" }
selection: thompson
actions:
  - id: gold_card
    channels: [web, email]
    purpose: dpv:DirectMarketing
    kind: marketing
    value: 120.0
    eligibility: 'profile.traits.age >= 18 && profile.traits.country in ["GB", "US", "IE"]'
    propensity: { model: thompson, prior: [2, 20] }
    caps: { per_customer: { count: 1, per: 7d } }
  - id: travel_pass
    channels: [web]
    purpose: dpv:DirectMarketing
    kind: marketing
    value: 60.0
    applicability: 'context.page == "/travel" || context.touchpoint == "app"'
    context_weight: 'has(context.basket) ? 1.5 : 1.0'
    propensity: { model: thompson, prior: [3, 30] }
    caps: { per_customer: { count: 1, per: 1d } }
  - id: newsletter
    channels: [web, email]
    purpose: dpv:Personalisation
    kind: marketing
    value: 4.0
    propensity: { expression: "0.2" }
  - id: order_update
    channels: [web, email]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    propensity: { expression: "0.5" }
"#;

pub fn put(server: &Server, path: &str, content_type: &str, body: String) -> (u16, Value) {
    read(
        client()
            .put(format!("{}{path}", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .expect("put"),
    )
}

/// People with different traits and consents, so every gate has work.
fn seed_people(server: &Server, prefix: &str) -> Vec<String> {
    let ages = [34, 17, 52, 41, 29, 66, 23, 38, 45, 19, 71, 30];
    let countries = [
        "GB", "US", "IE", "FR", "GB", "US", "IE", "GB", "DE", "US", "GB", "IE",
    ];
    let mut users = Vec::new();
    for (i, (age, country)) in ages.iter().zip(countries).enumerate() {
        let user = format!("{prefix}-{i}");
        let body = json!({"userId": user, "traits": {"age": age, "country": country}});
        assert_eq!(server.post("/v1/identify", &body).0, 200);
        let path = format!("/v1/profiles/user_id:{user}/consent");
        let mut consents = Vec::new();
        if i % 4 != 3 {
            consents.push(("dpv:DirectMarketing", "web", "given"));
        }
        if i % 3 == 0 {
            consents.push(("dpv:DirectMarketing", "email", "given"));
            consents.push(("dpv:Personalisation", "*", "given"));
        }
        if i == 5 {
            consents.push(("dpv:DirectMarketing", "web", "withdrawn"));
        }
        if i == 7 {
            consents.push(("dpv:ServiceProvision", "*", "refused"));
        }
        for (purpose, channel, status) in consents {
            let body = json!({"purpose": purpose, "channel": channel, "status": status});
            let (code, answer) = put(server, &path, "application/json", body.to_string());
            assert_eq!(code, 200, "{answer}");
        }
        users.push(user);
    }
    users
}

struct Case {
    user: String,
    body: Value,
    limit: usize,
    server: Value,
}

#[test]
fn browser_decides_as_the_server_does() {
    if !browser_ready() || !wasm_built() {
        return;
    }
    let server = Server::start();
    let (status, published) = put(&server, "/v1/policies", "application/yaml", POLICY.into());
    assert_eq!(status, 200, "{published}");
    let key = decide_key(&server);
    let users = seed_people(&server, &unique("parity"));

    // Every person on the web, then six of them again in the app (what
    // they were offered first now counts against its cap), then someone
    // never seen.
    let seeds = [
        1_u64,
        7,
        42,
        u64::MAX,
        1 << 60,
        99,
        12_345,
        3,
        2024,
        555,
        8,
        9_007_199_254_740_993,
    ];
    let decide = |user: &str, body: Value, limit: usize| {
        let (status, decision) = read(
            client()
                .post(format!("{}/v1/decide", server.url))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .expect("decide"),
        );
        assert_eq!(status, 200, "{decision}");
        Case {
            user: user.to_string(),
            body,
            limit,
            server: decision,
        }
    };
    let mut cases = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let context = match i % 3 {
            0 => json!({"page": "/travel", "basket": 3}),
            1 => json!({"page": "/travel"}),
            _ => json!({"page": "/home"}),
        };
        let body = json!({"user_id": user, "touchpoint": "web", "channel": "web", "context": context,
                          "limit": 1 + i % 3, "seed": seeds[i % seeds.len()]});
        cases.push(decide(user, body, 1 + i % 3));
    }
    // Six go on to the app, first those the web offered a capped action
    // (who is held out depends on random profile ids, so a fixed choice of
    // people might never meet a cap).
    let capped = |case: &Case| {
        case.server["actions"].as_array().is_some_and(|a| {
            a.iter()
                .any(|a| a["action_id"] == "gold_card" || a["action_id"] == "travel_pass")
        })
    };
    let mut again: Vec<String> = cases
        .iter()
        .filter(|c| capped(c))
        .map(|c| c.user.clone())
        .collect();
    again.extend(cases.iter().filter(|c| !capped(c)).map(|c| c.user.clone()));
    for (i, user) in again.iter().take(6).enumerate() {
        let body = json!({"user_id": user, "touchpoint": "app", "channel": "web", "context": {},
                          "limit": 2, "seed": seeds[(i + 5) % seeds.len()]});
        cases.push(decide(user, body, 2));
    }
    let stranger = unique("stranger");
    let body = json!({"user_id": stranger, "touchpoint": "web", "channel": "web", "context": {"page": "/travel"}, "seed": 5});
    cases.push(decide(&stranger, body, 1));

    // What the server's engine read for each decision, from its decision
    // log: the profile as rules saw it, the clock, the workspace salt; the
    // contact history is every earlier decision of that person.
    let conn = rusqlite::Connection::open_with_flags(
        server.data.join("allele.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("db");
    let mut history: BTreeMap<String, BTreeMap<String, Vec<i64>>> = BTreeMap::new();
    let mut inputs = Vec::new();
    for case in &cases {
        let id = case.server["decision_id"].as_str().expect("decision_id");
        let (request, workspace): (String, String) = conn
            .query_row(
                "SELECT request, workspace_id FROM decisions WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .expect("logged decision");
        let logged: Value = serde_json::from_str(&request).expect("logged request");
        let seen = history.entry(case.user.clone()).or_default();
        let input = json!({
            "profile": logged["profile"],
            "request": {"touchpoint": case.body["touchpoint"], "channel": case.body["channel"],
                        "context": case.body["context"], "limit": case.limit},
            "now_ms": logged["now_ms"],
            // as text: the browser must get all 64 bits
            "seed": case.body["seed"].as_u64().expect("seed").to_string(),
            "workspace_salt": workspace,
            "contact_history": seen.clone(),
            "arm_stats": logged.get("arm_stats").cloned().unwrap_or_else(|| json!({})),
        });
        inputs.push(input.to_string());
        let at = logged["now_ms"].as_i64().expect("now_ms");
        for action in case.server["actions"].as_array().expect("actions") {
            let action_id = action["action_id"].as_str().expect("action_id").to_string();
            seen.entry(action_id).or_default().push(at);
        }
    }

    let sweep_seeds: Vec<String> = (0..48_u64).map(|s| (s * 7919).to_string()).collect();
    // Someone outside the holdout for whom both Thompson arms pass every
    // gate, so the pick can vary with the seed.
    let workspace =
        serde_json::from_str::<Value>(&inputs[0]).expect("input")["workspace_salt"].clone();
    let salt = workspace.as_str().expect("salt");
    let id = (0..100)
        .map(|n| format!("sweep-{n}"))
        .find(|id| !allele_engine::holdout::is_held_out(0.4, salt, "parity", id))
        .expect("someone outside a 40% holdout");
    let sweep_input = json!({
        "profile": {"id": id, "traits": {"age": 30, "country": "GB"},
                    "consent": [{"purpose": "dpv:DirectMarketing", "channel": "web", "status": "given"}]},
        "request": {"touchpoint": "web", "channel": "web", "context": {"page": "/travel"}},
        "now_ms": 1_780_000_000_000_i64, "seed": "0", "workspace_salt": salt,
    })
    .to_string();
    let answer = run_node(
        "parity.mjs",
        &json!({
            "web_root": repo_root().join("web"),
            "server": server.url,
            "key": key,
            "inputs": inputs,
            "sweep": {"input": sweep_input, "seeds": sweep_seeds},
        }),
    );
    assert_eq!(answer["errors"], json!([]), "{answer}");
    let version = published["version"].as_u64().expect("version");
    assert_eq!(
        answer["verified"],
        format!("Verified bundle v{version} (ed25519).")
    );
    assert_eq!(answer["page_decision"]["bundle_version"], version);

    // The engine the server runs, natively, on the same signed bytes: the
    // browser's decision text must be byte for byte what it writes.
    let (status, signed) = read(
        client()
            .get(format!("{}/v1/bundles/latest", server.url))
            .bearer_auth(&key)
            .send()
            .expect("bundle"),
    );
    assert_eq!(status, 200, "{signed}");
    let (_, public) = read(
        client()
            .get(format!("{}/v1/bundles/key", server.url))
            .bearer_auth(&key)
            .send()
            .expect("key"),
    );
    let public: [u8; 32] =
        allele_engine::sign::from_hex(public["public_key"].as_str().expect("key"))
            .expect("hex")
            .try_into()
            .expect("32 bytes");
    let signed: allele_engine::SignedBundle = serde_json::from_value(signed).expect("signed");
    let native_bundle = allele_engine::verify(&signed, &public).expect("verifies natively");
    let native = |input: &str, seed: &str| -> String {
        let mut input: Value = serde_json::from_str(input).expect("input");
        input["seed"] = json!(seed.parse::<u64>().expect("seed"));
        let input: allele_engine::DecisionInput = serde_json::from_value(input).expect("typed");
        serde_json::to_string(&allele_engine::decide(&native_bundle, &input)).expect("json")
    };

    // The same decision as the server's, field by field, for every case.
    let browser = answer["decisions"].as_array().expect("decisions");
    assert_eq!(browser.len(), cases.len());
    let mut held_out = 0;
    let mut chosen = std::collections::BTreeSet::new();
    for ((case, text), input) in cases.iter().zip(browser).zip(&inputs) {
        let text = text.as_str().expect("decision text");
        let seed = case.body["seed"].to_string();
        assert_eq!(
            text,
            native(input, &seed),
            "native and wasm differ on {input}"
        );
        let decided: Value = serde_json::from_str(text).expect("decision JSON");
        for field in [
            "bundle_version",
            "holdout",
            "actions",
            "candidates",
            "trace",
        ] {
            assert_eq!(
                decided[field], case.server[field],
                "`{field}` differs for {}: browser {decided} server {}",
                case.body, case.server
            );
        }
        held_out += usize::from(case.server["holdout"] == true);
        for action in case.server["actions"].as_array().expect("actions") {
            chosen.insert(action["action_id"].as_str().unwrap_or("").to_string());
        }
    }
    // The cases exercise what they claim to: holdouts both ways, both
    // Thompson arms and the transactional action chosen, a contact cap
    // biting. (Which people are held out depends on their random ids.)
    assert!(
        held_out > 0 && held_out < cases.len(),
        "holdout {held_out}/{}",
        cases.len()
    );
    for action in ["gold_card", "travel_pass", "order_update"] {
        assert!(chosen.contains(action), "{action} never chosen: {chosen:?}");
    }
    assert!(
        cases.iter().any(|c| c.server["trace"]
            .as_array()
            .expect("trace")
            .iter()
            .any(|t| t["stage"] == "contact_caps")),
        "no case hit a contact cap"
    );

    // The seed reaches the engine: Thompson picks change with it, and each
    // browser answer is the native engine's, byte for byte.
    let swept = answer["swept"].as_array().expect("swept");
    let mut picks = std::collections::BTreeSet::new();
    for (seed, text) in sweep_seeds.iter().zip(swept) {
        let text = text.as_str().expect("text");
        assert_eq!(text, native(&sweep_input, seed), "seed {seed}");
        let decided: Value = serde_json::from_str(text).expect("json");
        picks.insert(decided["actions"][0]["action_id"].to_string());
    }
    assert!(picks.len() > 1, "every seed picked {picks:?}");
    assert!(
        answer["badInput"]
            .as_str()
            .is_some_and(|e| e.starts_with("AlleleError: invalid decision input")),
        "{answer}"
    );

    // Altered in transit: refused with the reason, and nothing decides.
    let tampered = &answer["tampered"];
    assert_eq!(tampered["refused"], true, "{answer}");
    assert_eq!(tampered["decide_disabled"], true, "{answer}");
    let text = tampered["status"].as_str().expect("status");
    assert!(
        text.starts_with("Refused: bundle refused: bundle signature does not verify"),
        "{text}"
    );
    assert!(
        answer["tampered_module"]
            .as_str()
            .is_some_and(|e| e.contains("the bundle was altered or signed with another key")),
        "{answer}"
    );
}
