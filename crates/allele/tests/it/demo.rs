//! `allele demo --exit-after-story` tells its whole story and its summary
//! holds together.

use crate::common::bin;
use serde_json::Value;
use std::process::Command;

#[test]
fn demo_story_summary() {
    let out = Command::new(bin())
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--customers",
            "400",
            "--exit-after-story",
        ])
        .env("ALLELE_LOG", "warn")
        .output()
        .expect("demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary json");
    assert_eq!(
        summary["stored"]["events"], summary["events_sent"],
        "every event sent is stored"
    );
    assert_eq!(summary["stored"]["profiles"], 400);
    let marketing = &summary["marketing"];
    assert_eq!(marketing["policy_version"], 1);
    assert!(
        marketing["decisions"].as_u64().unwrap_or(0) > 200,
        "{marketing}"
    );
    assert!(marketing["marketing_offers"].as_u64() <= marketing["decisions"].as_u64());
    assert_eq!(marketing["sentiment"]["posts"], 300);
    let experiment = &marketing["holdout_experiment"];
    assert!(
        experiment["srm_p"]
            .as_f64()
            .is_some_and(|p| (0.0..=1.0).contains(&p)),
        "{experiment}"
    );
    let ci = &experiment["lift_abs_ci"];
    assert!(ci[0].as_f64() <= ci[1].as_f64());
    assert!(
        summary["urls"]["api"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:"))
    );
    let data_dir = summary["data_dir"].as_str().expect("data dir");
    let _ = std::fs::remove_dir_all(data_dir);
}
