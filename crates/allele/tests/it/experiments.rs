//! An experiment sent through the HTTP API, read out by
//! `/v1/reports/experiments/{id}` and `allele report`, and checked against
//! the same statistics computed independently by scipy and statsmodels.

use crate::common::{Server, bin, require_tool, unique};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

struct Truth {
    /// variation → per-user (converted, value)
    users: BTreeMap<String, Vec<(bool, f64)>>,
}

fn send_experiment(server: &Server, experiment: &str) -> Truth {
    let mut rng = StdRng::seed_from_u64(42);
    let mut truth = Truth {
        users: BTreeMap::new(),
    };
    let mut batch = Vec::new();
    for i in 0..900 {
        let user = format!("{experiment}-u{i}");
        let variation = if i % 19 < 9 { "control" } else { "treatment" };
        let rate = if variation == "control" { 0.10 } else { 0.16 };
        let exposed_at = 1_000 + rng.random_range(0..500);
        let ts = |minute: i64| {
            format!(
                "2026-03-{:02}T{:02}:{:02}:00Z",
                1 + minute / 1440,
                minute / 60 % 24,
                minute % 60
            )
        };
        // A purchase before exposure never counts.
        if rng.random_bool(0.3) {
            batch.push(json!({"type": "track", "userId": user, "event": "Order Completed", "timestamp": ts(exposed_at - 5), "properties": {"revenue": 99.0}}));
        }
        batch.push(json!({"type": "track", "userId": user, "event": "Experiment Viewed", "timestamp": ts(exposed_at),
                          "properties": {"experiment_id": experiment, "variation_id": variation}}));
        // A second exposure later does not count the user twice.
        if i % 7 == 0 {
            batch.push(json!({"type": "track", "userId": user, "event": "Experiment Viewed", "timestamp": ts(exposed_at + 30),
                              "properties": {"experiment_id": experiment, "variation_id": variation}}));
        }
        let mut value = 0.0;
        let converted = rng.random_bool(rate);
        if converted {
            for _ in 0..rng.random_range(1..3) {
                let revenue = (rng.random_range(1_000..9_000) as f64) / 100.0;
                value += revenue;
                batch.push(json!({"type": "track", "userId": user, "event": "Order Completed", "timestamp": ts(exposed_at + rng.random_range(1..200)), "properties": {"revenue": revenue}}));
            }
        }
        truth
            .users
            .entry(variation.to_string())
            .or_default()
            .push((converted, value));
        if batch.len() > 400 {
            assert_eq!(
                server
                    .post("/v1/batch", &json!({"batch": std::mem::take(&mut batch)}))
                    .0,
                200
            );
        }
    }
    assert_eq!(server.post("/v1/batch", &json!({"batch": batch})).0, 200);
    truth
}

const REFERENCE: &str = r#"
import json, sys
import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest
data = json.load(sys.stdin)
c, t = data["control"], data["treatment"]
conv = lambda g: sum(1 for x in g if x[0])
z, p = proportions_ztest([conv(t), conv(c)], [len(t), len(c)])
vt, vc = np.array([x[1] for x in t]), np.array([x[1] for x in c])
w = stats.ttest_ind(vt, vc, equal_var=False)
a, b = vt.var(ddof=1) / len(vt), vc.var(ddof=1) / len(vc)
df = (a + b) ** 2 / (a * a / (len(vt) - 1) + b * b / (len(vc) - 1))
print(json.dumps({"z": z, "p": p, "welch_t": w.statistic, "welch_p": w.pvalue, "welch_df": df}))
"#;

fn python_reference(truth: &Truth) -> Option<Value> {
    let ok = Command::new("python3")
        .args(["-c", "import scipy, statsmodels"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !require_tool(ok, "python packages scipy and statsmodels") {
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", REFERENCE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python");
    let input = json!({"control": truth.users["control"], "treatment": truth.users["treatment"]});
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python output");
    assert!(out.status.success());
    Some(serde_json::from_slice(&out.stdout).expect("json"))
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-6 * b.abs().max(1.0),
        "{what}: allele {a} vs reference {b}"
    );
}

#[test]
fn experiment_readout_matches_an_independent_computation() {
    let server = Server::start();
    let experiment = unique("exp");
    let truth = send_experiment(&server, &experiment);
    let path = format!(
        "/v1/reports/experiments/{experiment}?metric=Order%20Completed&value=revenue&control=control"
    );
    let (status, readout) = server.admin_get(&path);
    assert_eq!(status, 200, "{readout}");
    for variation in readout["variations"].as_array().expect("variations") {
        let id = variation["variation_id"].as_str().expect("id");
        let users = &truth.users[id];
        assert_eq!(variation["n"], users.len(), "{id}");
        assert_eq!(
            variation["conversions"],
            users.iter().filter(|u| u.0).count(),
            "{id}"
        );
        let value_sum: f64 = users.iter().map(|u| u.1).sum();
        close(
            variation["value_sum"].as_f64().expect("value_sum"),
            value_sum,
            "value_sum",
        );
        close(
            variation["value_mean"].as_f64().expect("mean"),
            value_sum / users.len() as f64,
            "value_mean",
        );
    }
    let comparison = &readout["comparisons"][0];
    assert_eq!(comparison["variation_id"], "treatment");
    let rate = |id: &str| {
        truth.users[id].iter().filter(|u| u.0).count() as f64 / truth.users[id].len() as f64
    };
    close(
        comparison["lift_abs"].as_f64().expect("lift"),
        rate("treatment") - rate("control"),
        "lift_abs",
    );
    if let Some(reference) = python_reference(&truth) {
        for field in ["z", "p", "welch_t", "welch_p", "welch_df"] {
            close(
                comparison[field].as_f64().expect(field),
                reference[field].as_f64().expect(field),
                field,
            );
        }
    }
    // The CLI reads the same data dir and prints the same readout.
    let out = Command::new(bin())
        .args([
            "report",
            "experiment",
            &experiment,
            "--metric",
            "Order Completed",
            "--value",
            "revenue",
            "--control",
            "control",
            "--json",
            "--data",
        ])
        .arg(&server.data)
        .output()
        .expect("allele report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).expect("cli json");
    assert_eq!(cli, readout);
}

#[test]
fn experiment_report_errors_are_clear() {
    let server = Server::start();
    let experiment = unique("exp-bad");
    let events = json!({"batch": [
        {"type": "track", "userId": "x1", "event": "Experiment Viewed", "properties": {"experiment_id": experiment, "variation_id": "a"}},
        {"type": "track", "userId": "x2", "event": "Experiment Viewed", "properties": {"experiment_id": experiment, "variation_id": "b"}},
        {"type": "track", "userId": "x1", "event": "Signed Up"},
    ]});
    assert_eq!(server.post("/v1/batch", &events).0, 200);
    for (path, status, code) in [
        (
            "/v1/reports/experiments/nope?metric=Signed%20Up".to_string(),
            404,
            "experiment_not_found",
        ),
        (
            format!("/v1/reports/experiments/{experiment}?metric=Never%20Sent"),
            404,
            "metric_not_found",
        ),
        (
            format!("/v1/reports/experiments/{experiment}?metric=Signed%20Up&control=c"),
            400,
            "invalid_report",
        ),
        (
            format!("/v1/reports/experiments/{experiment}"),
            400,
            "invalid_query",
        ),
    ] {
        let (got, body) = server.admin_get(&path);
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
    // Zero conversions in one arm and a single user per arm: no NaN anywhere.
    let (status, readout) = server.admin_get(&format!(
        "/v1/reports/experiments/{experiment}?metric=Signed%20Up&value=revenue&control=b"
    ));
    assert_eq!(status, 200, "{readout}");
    assert!(!readout.to_string().contains("NaN"));
    assert_eq!(readout["variations"][1]["conversions"], 0);
}
