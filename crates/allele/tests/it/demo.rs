//! `allele demo --exit-after-story` tells its whole story and its summary
//! holds together and agrees with what the centre stored.

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
    // Two edges, one cut off for a spell: every edge decision reaches the
    // centre once, and the centre's own log agrees with the summary.
    let data_dir = summary["data_dir"].as_str().expect("data dir");
    let db = rusqlite::Connection::open(std::path::Path::new(data_dir).join("allele.db"))
        .expect("demo db");
    let edges = summary["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 2, "{summary}");
    for edge in edges {
        let decisions = edge["decisions"].as_i64().expect("decisions");
        assert!(decisions > 100, "{edge}");
        assert_eq!(edge["stored_at_centre"].as_i64(), Some(decisions), "{edge}");
        let in_log: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM decisions WHERE edge_id = ?1",
                [edge["edge_id"].as_str().expect("edge id")],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(in_log, decisions, "{edge}");
    }
    let offline = &summary["call_centre_offline"];
    assert!(offline["decisions"].as_u64().unwrap_or(0) > 20, "{offline}");
    assert!(
        offline["outbox_at_reconnect"].as_u64() >= offline["decisions"].as_u64(),
        "{offline}"
    );
    let withdrawn = &summary["consent_withdrawn"];
    assert_eq!(
        withdrawn["marketing_offers_after_at_store"], 0,
        "{withdrawn}"
    );
    assert_eq!(
        withdrawn["marketing_offers_at_call_centre_after_reconnecting"], 0,
        "{withdrawn}"
    );
    // The learning loop found the effect planted at the store.
    let proposals = summary["learning"]["proposals"]
        .as_array()
        .expect("proposals");
    assert!(
        proposals.iter().any(|p| p["summary"]
            .as_str()
            .is_some_and(|s| s.contains("touchpoint") && s.contains("store"))),
        "{proposals:?}"
    );
    assert!(
        summary["urls"]["portal"]
            .as_str()
            .is_some_and(|u| u.contains("/me/login?code="))
    );
    drop(db);
    let _ = std::fs::remove_dir_all(data_dir);
}
