//! `allele import`: CSV and JSONL, rejects with reasons, idempotent re-runs,
//! and resumption after the importer is killed.

use crate::common::{Server, bin};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn init(data: &Path) {
    let out = Command::new(bin())
        .args(["init", "--data"])
        .arg(data)
        .output()
        .expect("init");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn import(data: &Path, file: &Path, extra: &[&str]) -> Value {
    let out = Command::new(bin())
        .args(["import", "--data"])
        .arg(data)
        .arg(file)
        .args(extra)
        .output()
        .expect("import");
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("summary json")
}

/// `rows` purchases over 50 customers; every 100th row lacks a customer.
fn write_csv(path: &Path, rows: usize) -> usize {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("csv"));
    writeln!(file, "customer,store,sku,amount,ts").expect("write");
    let mut valid = 0;
    for i in 0..rows {
        let customer = if i % 100 == 99 {
            String::new()
        } else {
            format!("pos-{}", i % 50)
        };
        if !customer.is_empty() {
            valid += 1;
        }
        writeln!(
            file,
            "{customer},store-{},sku-{},{}.5,2026-01-0{}T10:00:00Z",
            i % 7,
            i % 13,
            i % 90,
            1 + i % 9
        )
        .expect("write");
    }
    valid
}

fn total_events(server: &Server) -> i64 {
    (0..50)
        .map(|c| {
            let (status, profile) = server.admin_get(&format!("/v1/profiles/user_id:pos-{c}"));
            assert_eq!(status, 200, "{profile}");
            profile["event_count"].as_i64().unwrap_or(0)
        })
        .sum()
}

const MAP: &str = "type=track,event=Purchase,user_id=customer,timestamp=ts,properties.store=store,properties.sku=sku,properties.revenue=amount";

#[test]
fn csv_import_is_idempotent_and_reports_rejects() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    init(&data);
    let csv = dir.path().join("pos.csv");
    let valid = write_csv(&csv, 1_000);
    let first = import(&data, &csv, &["--map", MAP]);
    assert_eq!(first["accepted"], valid as u64, "{first}");
    assert_eq!(first["rejected"], 10, "{first}");
    let rejects =
        std::fs::read_to_string(first["rejects_file"].as_str().expect("path")).expect("rejects");
    assert_eq!(rejects.lines().count(), 10);
    assert!(
        rejects.contains("neither `userId` nor `anonymousId`"),
        "{rejects}"
    );
    let second = import(&data, &csv, &["--map", MAP]);
    assert_eq!(second["accepted"], 0, "{second}");
    assert_eq!(second["duplicates"], valid as u64, "{second}");
    let mut server = Server::spawn(&data, &[], None);
    server.admin_key = created_admin_key(&data);
    assert_eq!(total_events(&server), valid as i64);
    let events = server.all_events("user_id:pos-1");
    assert_eq!(events[0]["event"], "Purchase");
    assert!(events[0]["properties"]["revenue"].is_f64(), "{}", events[0]);
}

/// Keys are printed once by `init`; tests that need one later make a new one.
fn created_admin_key(data: &Path) -> String {
    let out = Command::new(bin())
        .args(["keys", "create", "--role", "admin", "--data"])
        .arg(data)
        .output()
        .expect("keys create");
    assert!(out.status.success());
    let value: Value = serde_json::from_slice(&out.stdout).expect("json");
    value["key"].as_str().expect("key").to_string()
}

#[test]
fn killed_import_resumes_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    init(&data);
    let csv = dir.path().join("big.csv");
    let valid = write_csv(&csv, 60_000);
    let mut child = Command::new(bin())
        .args(["import", "--chunk", "200", "--map", MAP, "--data"])
        .arg(&data)
        .arg(&csv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("import");
    // Kill it once it has checkpointed some progress.
    let imports = data.join("imports");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut killed = false;
    while Instant::now() < deadline {
        let checkpointed = std::fs::read_dir(&imports)
            .map(|entries| {
                entries.flatten().any(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .ends_with(".checkpoint.json")
                })
            })
            .unwrap_or(false);
        if checkpointed {
            let _ = child.kill();
            killed = child.wait().map(|s| !s.success()).unwrap_or(false);
            break;
        }
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    let resumed = import(&data, &csv, &["--map", MAP]);
    eprintln!(
        "import killed mid-way: {killed}; resumed at line {}",
        resumed["resumed_from_line"]
    );
    if killed {
        assert!(
            resumed["resumed_from_line"].as_u64().unwrap_or(0) > 1,
            "{resumed}"
        );
    }
    let mut server = Server::spawn(&data, &[], None);
    server.admin_key = created_admin_key(&data);
    assert_eq!(
        total_events(&server),
        valid as i64,
        "after resume: {resumed}"
    );
}

#[test]
fn jsonl_import_takes_segment_messages() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    init(&data);
    let file = dir.path().join("calls.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"type":"identify","userId":"cc-1","traits":{"email":"cc1@example.com"}}"#, "\n",
            r#"{"type":"track","userId":"cc-1","event":"Call Completed","properties":{"minutes":4}}"#, "\n",
            "\n",
            r#"{"type":"track","userId":"cc-1","event":"#, "\n",
            r#"{"type":"track","event":"No One"}"#, "\n",
        ),
    )
    .expect("write");
    let summary = import(&data, &file, &[]);
    assert_eq!(summary["accepted"], 2, "{summary}");
    assert_eq!(summary["rejected"], 2, "{summary}");
    let rejects =
        std::fs::read_to_string(summary["rejects_file"].as_str().expect("path")).expect("rejects");
    assert!(rejects.contains("malformed json"), "{rejects}");
    assert!(rejects.contains("\"line\":4"), "{rejects}");
}

#[test]
fn import_errors_are_one_clear_line() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    init(&data);
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, "a,b\n1,2\n").expect("write");
    let out = Command::new(bin())
        .args(["import", "--map", "user_id=nope", "--data"])
        .arg(&data)
        .arg(&csv)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("column `nope`"), "{stderr}");
    let out = Command::new(bin())
        .args(["import", "--data"])
        .arg(&data)
        .arg(dir.path().join("missing.csv"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
}

#[test]
fn a_social_tool_csv_export_feeds_sentiment_and_influence() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    init(&data);
    let csv = dir.path().join("mentions.csv");
    std::fs::write(
        &csv,
        "author,network,posted_at,text,mentions,url\n\
         sx-ann,x,2026-05-01T10:00:00Z,Loving the new store!,@sx-brand @sx-bob,https://x.example/1\n\
         sx-bob,x,2026-05-01T11:00:00Z,\"Queue was awful, staff rude\",\"@sx-brand, @sx-ann\",https://x.example/2\n\
         sx-cy,instagram,2026-05-02T09:00:00Z,meh,sx-brand;sx-ann,https://ig.example/3\n\
         sx-dee,x,2026-05-02T10:00:00Z,no mentions here,,https://x.example/4\n",
    )
    .expect("write");
    let map = "type=track,event=Social Post Observed,user_id=author,timestamp=posted_at,properties.text=text,properties.mentions=mentions,properties.network=network,properties.url=url";
    let summary = import(&data, &csv, &["--map", map]);
    assert_eq!(summary["accepted"], 4, "{summary}");
    let mut server = Server::spawn(&data, &[], None);
    server.admin_key = created_admin_key(&data);
    let (status, influence) = server.admin_get("/v1/reports/influence");
    assert_eq!(status, 200, "{influence}");
    assert_eq!(influence["edges"], 6, "{influence}");
    assert_eq!(influence["people"][0]["user_id"], "sx-brand");
    assert_eq!(influence["people"][0]["reach"], 3);
    let (_, sentiment) = server.admin_get("/v1/reports/sentiment?topic=@sx-brand");
    assert_eq!(sentiment["posts"], 3, "{sentiment}");
    assert_eq!(sentiment["days"][0]["negative"], 1, "{sentiment}");
}
