//! `allele demo` as a newcomer meets it: the story runs, the server keeps
//! serving, and the console in headless Chromium shows the same numbers as
//! the demo's summary and the API (tests/browser/demo.mjs). Screenshots are
//! saved under the test target's temporary directory.

use crate::browser::{browser_ready, run_node};
use crate::common::{bin, client, read};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const EXPERIMENT: &str =
    "experiment_id=holdout-demo&metric=Card%20Applied&value=revenue&control=holdout";

#[test]
fn the_demo_console_shows_the_demo_numbers() {
    if !browser_ready() {
        return;
    }
    let mut child = Command::new(bin())
        .args(["demo", "--listen", "127.0.0.1:0", "--customers", "400"])
        .env("ALLELE_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn demo");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo(child);
    // The summary is pretty-printed JSON, closed by a `}` on its own line.
    let mut text = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("demo output");
        text.push_str(&line);
        text.push('\n');
        if line == "}" {
            break;
        }
    }
    let summary: Value = serde_json::from_str(&text).expect("summary json");
    let url = summary["urls"]["api"]
        .as_str()
        .expect("api url")
        .to_string();
    let admin_key = summary["admin_key"]
        .as_str()
        .expect("admin key")
        .to_string();
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let answer = run_node(
        "demo.mjs",
        &json!({"url": url, "admin_key": admin_key, "experiment": EXPERIMENT, "artifacts": artifacts}),
    );
    assert_eq!(answer["errors"], json!([]), "{answer}");
    let seen = &answer["seen"];
    let chart = &seen["chart"];
    assert!(chart["width"].as_f64() > Some(100.0), "{chart}");
    assert!(
        chart["marks"].as_u64() > Some(2),
        "the lift chart drew nothing: {chart}"
    );
    // The readout on the page is the API's and the summary's.
    let (status, api) = read(
        client()
            .get(format!("{url}/v1/reports/experiments/holdout-demo?metric=Card%20Applied&value=revenue&control=holdout"))
            .bearer_auth(&admin_key)
            .send()
            .expect("readout"),
    );
    assert_eq!(status, 200, "{api}");
    let rows = seen["variations"].as_array().expect("variation rows");
    assert_eq!(rows.len(), 2, "{seen}");
    for variation in api["variations"].as_array().expect("variations") {
        let id = variation["variation_id"].as_str().expect("id");
        let row = rows
            .iter()
            .find(|r| r[0] == id)
            .unwrap_or_else(|| panic!("no row for `{id}`: {seen}"));
        assert_eq!(row[1], variation["n"].to_string(), "{row} vs {variation}");
        assert_eq!(
            row[2],
            variation["conversions"].to_string(),
            "{row} vs {variation}"
        );
        let shown: f64 = row[3].as_str().and_then(|r| r.parse().ok()).expect("rate");
        let key = if id == "holdout" {
            "holdout_rate"
        } else {
            "treated_rate"
        };
        let printed = summary["marketing"]["holdout_experiment"][key]
            .as_f64()
            .expect("summary rate");
        assert!(
            (shown - printed).abs() < 1e-3,
            "{id}: page {shown}, summary {printed}"
        );
    }
    // Both edges are on the edges page, with empty outboxes.
    let edges = seen["edges"].as_array().expect("edge rows");
    for edge in summary["edges"].as_array().expect("summary edges") {
        let id = edge["edge_id"].as_str().expect("edge id");
        let row = edges
            .iter()
            .find(|r| r[0] == id)
            .unwrap_or_else(|| panic!("edge `{id}` not on the page: {seen}"));
        assert_eq!(row[5], "0", "{row}");
    }
    // The loyalty offer's contextual model learned at the edges.
    let learned = seen["learned"].as_array().expect("learned rows");
    assert!(
        learned.iter().any(|r| r
            .as_str()
            .is_some_and(|r| r.contains("loyalty_points") && r.contains("tier"))),
        "{seen}"
    );
    assert!(artifacts.join("demo-edges.png").exists());
    drop(demo);
}
