//! `allele evaluate`: off-policy estimates checked against values computed
//! by hand from the log, and against the known truth of a simulated market.

use crate::common::bin;
use serde_json::{Value, json};
use std::io::Write;
use std::process::Command;

const TWO_ACTIONS: &str = r#"
holdout: { universal: 0.0, salt: "ope" }
selection: SELECTION
epsilon: EPSILON
actions:
  - id: a
    channels: [web]
    purpose: dpv:DirectMarketing
    value: 2.0
    propensity: { expression: "0.5" }
  - id: b
    channels: [web]
    purpose: dpv:DirectMarketing
    value: 1.0
    propensity: { expression: "0.5" }
"#;

fn run(policy: &str, lines: &[Value]) -> Value {
    let dir = tempfile::tempdir().expect("dir");
    let (policy_path, log_path) = (dir.path().join("p.yaml"), dir.path().join("log.jsonl"));
    std::fs::write(&policy_path, policy).expect("policy");
    let mut log = std::fs::File::create(&log_path).expect("log");
    for line in lines {
        writeln!(log, "{line}").expect("write");
    }
    let out = Command::new(bin())
        .args(["evaluate", "--log"])
        .arg(&log_path)
        .arg("--policy")
        .arg(&policy_path)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// A uniform random logger over a and b (seeded, so the test is
/// deterministic); a pays 1 with probability 0.7, b with 0.2.
fn uniform_log(n: usize) -> Vec<Value> {
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let action = if next() < 0.5 { "a" } else { "b" };
            let pays = if action == "a" { 0.7 } else { 0.2 };
            let reward = f64::from(u8::from(next() < pays));
            json!({"context": {"touchpoint": "web", "channel": "web"}, "profile": {"traits": {}}, "action_id": action, "propensity": 0.5, "reward": reward})
        })
        .collect()
}

fn close(a: &Value, b: f64) {
    let a = a.as_f64().expect("number");
    assert!((a - b).abs() < 1e-9, "{a} vs {b}");
}

#[test]
fn ips_snips_dr_match_hand_computed_values() {
    let log = uniform_log(1_000);
    let mean = log
        .iter()
        .map(|l| l["reward"].as_f64().unwrap_or(0.0))
        .sum::<f64>()
        / log.len() as f64;
    // Replaying the logging policy itself (ε = 1: uniform) gives w = 1: IPS is the on-policy mean.
    let uniform = run(
        &TWO_ACTIONS
            .replace("SELECTION", "epsilon")
            .replace("EPSILON", "1.0"),
        &log,
    );
    assert_eq!(uniform["n"], 1_000);
    close(&uniform["ips"]["estimate"], mean);
    close(&uniform["snips"]["estimate"], mean);
    close(&uniform["ess"], 1_000.0);
    // Always-a (top by value): w = 2 on a's lines, 0 on b's.
    let greedy = run(
        &TWO_ACTIONS
            .replace("SELECTION", "top")
            .replace("EPSILON", "0.1"),
        &log,
    );
    let a_rewards: Vec<f64> = log
        .iter()
        .filter(|l| l["action_id"] == "a")
        .map(|l| l["reward"].as_f64().unwrap_or(0.0))
        .collect();
    let ips = 2.0 * a_rewards.iter().sum::<f64>() / 1_000.0;
    let snips = a_rewards.iter().sum::<f64>() / a_rewards.len() as f64;
    close(&greedy["ips"]["estimate"], ips);
    close(&greedy["snips"]["estimate"], snips);
    let k = a_rewards.len() as f64;
    close(&greedy["ess"], (2.0 * k).powi(2) / (4.0 * k));
    // DR with the per-action mean reward model: v̂ = q̂(a) and the correction averages to 0.
    close(&greedy["dr"]["estimate"], snips);
    // The truth (a pays 0.7) lies inside every interval.
    for estimator in ["ips", "snips", "dr"] {
        let ci = &greedy[estimator]["ci"];
        assert!(
            ci[0].as_f64() < Some(0.7) && Some(0.7) < ci[1].as_f64(),
            "{estimator}: {greedy}"
        );
    }
    // ε-greedy candidate: π(a) = 0.9 + 0.05, π(b) = 0.05.
    let epsilon = run(
        &TWO_ACTIONS
            .replace("SELECTION", "epsilon")
            .replace("EPSILON", "0.1"),
        &log,
    );
    let b_rewards: f64 = log
        .iter()
        .filter(|l| l["action_id"] == "b")
        .map(|l| l["reward"].as_f64().unwrap_or(0.0))
        .sum();
    close(
        &epsilon["ips"]["estimate"],
        (1.9 * a_rewards.iter().sum::<f64>() + 0.1 * b_rewards) / 1_000.0,
    );
}

#[test]
fn bad_logs_are_clear_errors() {
    let dir = tempfile::tempdir().expect("dir");
    let policy = dir.path().join("p.yaml");
    std::fs::write(
        &policy,
        TWO_ACTIONS
            .replace("SELECTION", "top")
            .replace("EPSILON", "0.1"),
    )
    .expect("write");
    for (content, needle) in [
        (
            "{\"action_id\":\"a\",\"propensity\":0,\"reward\":1}\n",
            "propensity",
        ),
        ("not json\n", ":1:"),
        ("{\"action_id\":\"a\",\"reward\":1}\n", "propensity"),
    ] {
        let log = dir.path().join("log.jsonl");
        std::fs::write(&log, content).expect("write");
        let out = Command::new(bin())
            .args(["evaluate", "--log"])
            .arg(&log)
            .arg("--policy")
            .arg(&policy)
            .output()
            .expect("run");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{stderr}");
    }
}
