//! A 1,000,000-recipient send plan: a workspace with N people, each with an
//! email consent (one in ten later refused), planned as one broadcast.
//! Prints the seconds to prepare the plan (consent scan and one outbox row
//! per recipient, committed), then the same for one segment's members.
//! Run: `bench/send_plan.sh [N]`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "bench code fails loudly"
)]

use std::time::Instant;

fn main() {
    let people: usize = std::env::args()
        .skip(1)
        .find(|a| a.parse::<usize>().is_ok())
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    // Opening the store creates and migrates the database.
    drop(allele_store::SqliteStore::open(dir.path()).unwrap());
    let mut conn = rusqlite::Connection::open(dir.path().join(allele_store::DB_FILE)).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        .unwrap();
    let setup = Instant::now();
    {
        let tx = conn.transaction().unwrap();
        {
            let mut profile = tx
                .prepare("INSERT INTO profiles (id, workspace_id, root_id, created_at) VALUES (?1, 'w', ?1, 0)")
                .unwrap();
            let mut consent = tx
                .prepare("INSERT INTO consents (workspace_id, profile_id, purpose, channel, status, source, receipt_id, at) VALUES ('w', ?1, 'dpv:DirectMarketing', 'email', ?2, 'admin', 'r', 0)")
                .unwrap();
            for i in 0..people {
                let id = format!("prf_{i:08}");
                profile.execute([&id]).unwrap();
                consent.execute([&id, "given"]).unwrap();
            }
            for i in (0..people).step_by(10) {
                consent
                    .execute([&format!("prf_{i:08}"), "refused"])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    eprintln!(
        "setup: {people} people in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let tx = conn.transaction().unwrap();
    let queued = allele_store::outbox::plan_broadcast(
        &tx,
        "w",
        "spring",
        "welcome",
        &["dpv:DirectMarketing", "dpv:Marketing"],
        None,
        0,
    )
    .unwrap();
    tx.commit().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(queued, people - people.div_ceil(10));
    println!(
        "send plan: {queued} recipients queued from {people} people in {seconds:.2} s ({:.0} recipients/s)",
        queued as f64 / seconds
    );
    // Segment-targeted: the same scan, only a segment's members (every
    // other person here, handed over as the server's segment scan returns
    // them) queued, under a new key.
    let members: std::collections::HashSet<String> = (0..people)
        .step_by(2)
        .map(|i| format!("prf_{i:08}"))
        .collect();
    let started = Instant::now();
    let tx = conn.transaction().unwrap();
    let queued = allele_store::outbox::plan_broadcast(
        &tx,
        "w",
        "spring-pros",
        "welcome",
        &["dpv:DirectMarketing", "dpv:Marketing"],
        Some(&members),
        0,
    )
    .unwrap();
    tx.commit().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    // Even people, less the multiples of ten that refused.
    assert_eq!(queued, people.div_ceil(2) - people.div_ceil(10));
    println!(
        "segment send plan: {queued} of {} members queued from {people} people in {seconds:.2} s",
        members.len()
    );
}
