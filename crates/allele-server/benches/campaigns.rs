//! Segments and funnels over a large embedded store. Data is written
//! straight into SQLite in the store's schema (profiles with traits and
//! trait times, events with the `event_facts` rows ingest derives from
//! them), outside the measured time. Run through `bench/segments.sh` and
//! `bench/funnel.sh`:
//!
//! - `segment [PEOPLE]`: a full rebuild of one segment's membership over
//!   every profile (the path `GET /v1/segments/{id}/members` pages
//!   through), then incremental evaluation: a changed profile's
//!   memberships recomputed, as profile updates per second.
//! - `funnel [EVENTS]`: a three-step funnel report over EVENTS events of
//!   EVENTS / 10 people.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "bench code fails loudly"
)]

use allele_store::Connection;
use std::time::Instant;

const WS: &str = "w";

fn store(dir: &std::path::Path) -> Connection {
    // Opening the store creates and migrates the database.
    drop(allele_store::SqliteStore::open(dir).unwrap());
    let conn = Connection::open(dir.join(allele_store::DB_FILE)).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;",
    )
    .unwrap();
    // As the store's own connections.
    conn.set_prepared_statement_cache_capacity(128);
    conn
}

/// A small deterministic generator (the figures need no better).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn profiles(conn: &mut Connection, people: usize) {
    let tx = conn.transaction().unwrap();
    {
        let mut profile = tx
            .prepare("INSERT INTO profiles (id, workspace_id, root_id, created_at, traits, trait_times, first_seen, last_seen, event_count, num)
                      VALUES (?1, 'w', ?1, 0, ?2, '{\"plan\":[0,1],\"spend\":[0,1],\"country\":[0,1]}', 0, 0, 1, ?3)")
            .unwrap();
        let mut identity = tx
            .prepare("INSERT INTO identities (workspace_id, kind, value, profile_id, created_at) VALUES ('w', 'user_id', ?1, ?2, 0)")
            .unwrap();
        for i in 0..people {
            let id = format!("prf_{i:08}");
            let plan = if i % 2 == 0 { "pro" } else { "basic" };
            let traits = format!(
                r#"{{"plan":"{plan}","spend":{},"country":"{}"}}"#,
                i % 1000,
                ["DE", "FR", "US"][i % 3]
            );
            profile
                .execute(rusqlite::params![id, traits, i as i64 + 1])
                .unwrap();
            identity
                .execute(rusqlite::params![format!("u{i}"), id])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn segment(people: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = store(dir.path());
    let setup = Instant::now();
    profiles(&mut conn, people);
    allele_store::segments::put(
        &conn,
        WS,
        "big_pro",
        r#"profile.traits.plan == "pro" && profile.traits.spend > 500"#,
        "",
        0,
    )
    .unwrap();
    eprintln!(
        "setup (not measured): {people} profiles in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let members = allele_server::segments::rebuild(&conn, WS, "big_pro")
        .unwrap()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let expected = (0..people).filter(|i| i % 2 == 0 && i % 1000 > 500).count();
    assert_eq!(members.len(), expected);
    println!(
        "full rebuild: {} members of {people} profiles in {seconds:.2} s ({:.0} profiles/s)",
        members.len(),
        people as f64 / seconds
    );

    // Incremental: a person's memberships re-evaluated after an event
    // changed their profile, as the journey runner does: the workspace's
    // definitions (compiled, kept until a definition is written), one indexed read of the
    // person's member rows, trait JSON parsed, every definition evaluated.
    let sample = 100_000.min(people);
    let mut random = Lcg(7);
    let roots: Vec<String> = (0..sample)
        .map(|_| format!("prf_{:08}", random.below(people as u64)))
        .collect();
    let started = Instant::now();
    let mut in_segment = 0;
    for root in &roots {
        let segments = allele_server::segments::memberships(&conn, WS, root).unwrap();
        in_segment += usize::from(!segments.is_empty());
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "incremental: {sample} profile updates evaluated in {seconds:.2} s ({:.0} updates/s; {in_segment} members)",
        sample as f64 / seconds
    );
    // Batched, as the journey runner reads: the people of up to 500 events
    // at once, their member rows in one query.
    let started = Instant::now();
    let mut in_segment = 0;
    for batch in roots.chunks(500) {
        let batch: Vec<&str> = batch.iter().map(String::as_str).collect();
        let found = allele_server::segments::memberships_of(&conn, WS, &batch).unwrap();
        in_segment += batch
            .iter()
            .filter(|root| found.get(**root).is_some_and(|s| !s.is_empty()))
            .count();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "incremental, batches of 500: {sample} profile updates in {seconds:.2} s ({:.0} updates/s; {in_segment} members)",
        sample as f64 / seconds
    );
    // The previous path, for comparison: the full profile read per person.
    let sample = 20_000.min(people);
    let started = Instant::now();
    let mut in_segment = 0;
    for root in roots.iter().take(sample) {
        let profile = allele_server::decisions::segment_profile(&conn, WS, root).unwrap();
        in_segment += usize::from(!profile.segments.is_empty());
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "incremental via the full profile read: {sample} updates in {seconds:.2} s ({:.0} updates/s; {in_segment} members)",
        sample as f64 / seconds
    );
}

fn funnel(events: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = store(dir.path());
    let people = (events / 10).max(1);
    let setup = Instant::now();
    profiles(&mut conn, people);
    let names = ["Product Viewed", "Product Added", "Order Completed"];
    {
        let tx = conn.transaction().unwrap();
        {
            let mut name = tx
                .prepare("INSERT INTO event_names (id, workspace_id, name) VALUES (?1, 'w', ?2)")
                .unwrap();
            for (index, n) in names.iter().enumerate() {
                name.execute(rusqlite::params![index as i64 + 1, n])
                    .unwrap();
            }
            let mut event = tx
                .prepare("INSERT INTO events (seq, workspace_id, message_id, profile_id, type, name, ts, received_at, body)
                          VALUES (?1, 'w', ?2, ?3, 'track', ?4, ?5, 0, '{}')")
                .unwrap();
            let mut fact = tx
                .prepare("INSERT INTO event_facts (name_id, profile, ts, seq, numbers) VALUES (?1, ?2, ?3, ?4, NULL)")
                .unwrap();
            let mut random = Lcg(11);
            let mut seq = 0_i64;
            for person in 0..people {
                let id = format!("prf_{person:08}");
                // Ten events a person over 30 days: five views, three
                // adds, two orders, in time order.
                let mut times: Vec<(i64, usize)> = (0..10)
                    .map(|k| {
                        let step = match k {
                            0..5 => 0,
                            5..8 => 1,
                            _ => 2,
                        };
                        (random.below(30 * 86_400_000) as i64, step)
                    })
                    .collect();
                times.sort_unstable();
                for (ts, step) in times {
                    seq += 1;
                    event
                        .execute(rusqlite::params![
                            seq,
                            format!("m{seq:010}"),
                            id,
                            names[step],
                            ts
                        ])
                        .unwrap();
                    fact.execute(rusqlite::params![
                        step as i64 + 1,
                        person as i64 + 1,
                        ts,
                        seq
                    ])
                    .unwrap();
                }
            }
        }
        tx.commit().unwrap();
    }
    conn.execute_batch("ANALYZE").unwrap();
    eprintln!(
        "setup (not measured): {} events of {people} people in {:.1} s",
        people * 10,
        setup.elapsed().as_secs_f64()
    );
    let steps: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let started = Instant::now();
    let report = allele_server::funnel::report(&conn, WS, &steps, 7 * 86_400_000).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "funnel: {} events, 3 steps, 7-day window in {seconds:.2} s",
        people * 10
    );
    println!("{report}");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size = |default: usize| {
        args.iter()
            .find_map(|a| a.parse::<usize>().ok())
            .unwrap_or(default)
    };
    if args.iter().any(|a| a == "funnel") {
        funnel(size(10_000_000));
    } else if args.iter().any(|a| a == "segment") {
        segment(size(1_000_000));
    } else {
        eprintln!("usage: campaigns segment [PEOPLE] | funnel [EVENTS]");
    }
}
