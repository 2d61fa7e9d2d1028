//! The bulk scan and one person's re-evaluation against the per-person
//! evaluation over the full profile read, on seeded random stores with
//! merges, consent, identities and missing or tied trait times.

use super::{all_members, memberships, scan_members};
use crate::segments::{Compiled, as_input, compile, is_member};
use allele_store::Connection;
use std::sync::Arc;

const WS: &str = "w";

const DEFINITIONS: &[&str] = &[
    r#"profile.traits.plan == "pro" && profile.traits.spend > 50"#,
    r#"has(profile.traits.vip) || profile.traits.country == "FR""#,
    r#"profile.consent.marketing.email == "given""#,
    r#"profile.identities.exists(i, i.type == "email") && profile.event_count >= 3"#,
    r#"profile.computed.days_since_last_seen < 20"#,
    r#"size(profile.traits) >= 3"#,
    r#"profile.first_seen < timestamp("2021-06-01T00:00:00Z")"#,
    r#"size(profile) > 0 && profile.consent.analytics.sms != "refused""#,
    r#"profile.computed.count_all["Order Completed"] >= 1 || "d0" in profile.segments"#,
];

struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A member's stored traits and trait times: keys present or not, times
/// missing, malformed or tied, values sometimes null.
fn member_traits(random: &mut Lcg) -> (String, String) {
    let mut traits = serde_json::Map::new();
    let mut times = serde_json::Map::new();
    for key in ["plan", "spend", "country", "vip"] {
        if !random.chance(70) {
            continue;
        }
        let value = match key {
            "plan" => serde_json::json!(random.pick(&["pro", "basic"])),
            "spend" => serde_json::json!(random.below(100)),
            "country" => serde_json::json!(random.pick(&["DE", "FR"])),
            _ if random.chance(40) => serde_json::Value::Null,
            _ => serde_json::json!(true),
        };
        traits.insert(key.into(), value);
        if random.chance(85) {
            times.insert(
                key.into(),
                serde_json::json!([random.below(4), random.below(3)]),
            );
        } else if random.chance(50) {
            times.insert(key.into(), serde_json::json!("x"));
        }
    }
    (
        serde_json::Value::Object(traits).to_string(),
        serde_json::Value::Object(times).to_string(),
    )
}

fn populate(conn: &mut Connection, ws: &str, people: usize, random: &mut Lcg) {
    let now = allele_store::now_ms();
    let tx = conn.transaction().unwrap();
    for person in 0..people {
        let root = format!("{ws}_p{:04}", random.below(10_000));
        if tx
            .query_row("SELECT 1 FROM profiles WHERE id = ?1", [&root], |_| Ok(()))
            .is_ok()
        {
            continue;
        }
        let extra = match random.below(10) {
            0..7 => 0,
            7..9 => 1,
            _ => 2,
        };
        let mut members = vec![root.clone()];
        for k in 0..extra {
            // Merged ids sort before and after their root.
            members.push(format!("{ws}_{}{person}_{k}", random.pick(&["a", "z"])));
        }
        for (index, id) in members.iter().enumerate() {
            let (traits, times) = member_traits(random);
            let merged_into =
                (index > 0).then(|| members[random.below(index as u64) as usize].clone());
            let day = 86_400_000;
            let last_seen = random
                .chance(80)
                .then(|| now - (random.below(40 * day as u64) as i64));
            let first_seen = random
                .chance(80)
                .then(|| 1_600_000_000_000 + random.below(80_000_000_000) as i64);
            tx.execute(
                "INSERT INTO profiles (id, workspace_id, root_id, merged_into, created_at, traits, trait_times, first_seen, last_seen, event_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                rusqlite::params![id, ws, root, merged_into, random.below(3) as i64, traits, times, first_seen, last_seen, random.below(3) as i64],
            )
            .unwrap();
            for n in 0..random.below(3) {
                let kind = random.pick(&["user_id", "email"]);
                tx.execute(
                    "INSERT INTO identities (workspace_id, kind, value, profile_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    rusqlite::params![ws, kind, format!("{id}-{n}"), id, random.below(3) as i64],
                )
                .unwrap();
            }
            for _ in 0..random.below(4) {
                tx.execute(
                    "INSERT INTO consents (workspace_id, profile_id, purpose, channel, status, source, receipt_id, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'api', 'r', 0)",
                    rusqlite::params![
                        ws,
                        id,
                        random.pick(&["marketing", "analytics"]),
                        random.pick(&["email", "sms"]),
                        random.pick(&["given", "withdrawn", "refused", "bogus"])
                    ],
                )
                .unwrap();
            }
        }
    }
    tx.commit().unwrap();
}

fn store(seed: u64) -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    drop(allele_store::SqliteStore::open(dir.path()).unwrap());
    let mut conn = Connection::open(dir.path().join(allele_store::DB_FILE)).unwrap();
    let mut random = Lcg(seed);
    // Another workspace's people interleave in root order and never show.
    populate(&mut conn, WS, 300, &mut random);
    populate(&mut conn, "v", 100, &mut random);
    for (index, definition) in DEFINITIONS.iter().enumerate() {
        allele_store::segments::put(&conn, WS, &format!("d{index}"), definition, "", 0).unwrap();
    }
    (dir, conn)
}

/// The per-person evaluation: every root read in full, one at a time.
fn per_person(conn: &Connection, compiled: &Compiled, now: i64) -> Vec<String> {
    let mut found = Vec::new();
    for (root, _) in allele_store::segments::roots_after(conn, WS, "", 100_000).unwrap() {
        let profile = crate::decisions::engine_profile(conn, WS, &root).unwrap();
        if is_member(&compiled.0, &compiled.1, &as_input(&profile, now), now) {
            found.push(root);
        }
    }
    found
}

#[test]
fn bulk_rebuild_equals_per_person_evaluation() {
    for seed in [1, 2, 3, 4] {
        let (_dir, conn) = store(seed);
        let now = allele_store::now_ms();
        let mut non_trivial = 0;
        for definition in DEFINITIONS {
            let compiled: Compiled = Arc::new(compile(definition).unwrap());
            let expected = per_person(&conn, &compiled, now);
            let bulk = all_members(&conn, WS, &compiled, now).unwrap();
            assert_eq!(bulk, expected, "seed {seed}: {definition}");
            non_trivial += usize::from(!expected.is_empty() && expected.len() < 250);
            // Pages of seven from a cursor add up to the whole.
            let mut paged = Vec::new();
            let mut cursor = String::new();
            loop {
                let mut page = Vec::new();
                scan_members(&conn, WS, &compiled, &cursor, now, |root| {
                    page.push(root.to_string());
                    Ok(page.len() < 7)
                })
                .unwrap();
                let Some(last) = page.last() else { break };
                cursor = last.clone();
                paged.extend(page);
            }
            assert_eq!(paged, expected, "seed {seed}: {definition} paged");
        }
        assert!(
            non_trivial >= 7,
            "seed {seed}: {non_trivial} definitions split the people"
        );
    }
}

#[test]
fn one_persons_memberships_equal_the_full_profile_read() {
    let (_dir, conn) = store(9);
    let mut with_some = 0;
    for (root, _) in allele_store::segments::roots_after(&conn, WS, "", 100_000).unwrap() {
        let expected = crate::decisions::engine_profile(&conn, WS, &root)
            .unwrap()
            .segments;
        assert_eq!(memberships(&conn, WS, &root).unwrap(), expected, "{root}");
        with_some += usize::from(!expected.is_empty());
    }
    assert!(with_some > 100);
    assert!(matches!(
        memberships(&conn, WS, "nobody"),
        Err(allele_store::StoreError::ProfileNotFound)
    ));
}

#[test]
fn batched_memberships_equal_one_persons() {
    let (_dir, conn) = store(10);
    let roots: Vec<String> = allele_store::segments::roots_after(&conn, WS, "", 100_000)
        .unwrap()
        .into_iter()
        .map(|(root, _)| root)
        .collect();
    let mut asked: Vec<&str> = roots.iter().map(String::as_str).collect();
    asked.push("nobody");
    let found = super::memberships_of(&conn, WS, &asked).unwrap();
    assert_eq!(
        found.len(),
        roots.len(),
        "a root with no profile is left out"
    );
    for root in &roots {
        assert_eq!(found[root], memberships(&conn, WS, root).unwrap(), "{root}");
    }
    assert!(found.values().filter(|s| !s.is_empty()).count() > 100);
}

#[test]
fn a_written_definition_is_seen_by_the_next_evaluation() {
    let (_dir, conn) = store(11);
    let (root, _) = allele_store::segments::roots_after(&conn, WS, "", 1)
        .unwrap()
        .remove(0);
    let put = |definition: &str| {
        allele_store::segments::put(&conn, WS, "z_toggle", definition, "", 0).unwrap();
    };
    put("true");
    assert!(
        memberships(&conn, WS, &root)
            .unwrap()
            .contains(&"z_toggle".to_string())
    );
    put("false");
    assert!(
        !memberships(&conn, WS, &root)
            .unwrap()
            .contains(&"z_toggle".to_string())
    );
    let batched = super::memberships_of(&conn, WS, &[root.as_str()]).unwrap();
    assert!(!batched[&root].contains(&"z_toggle".to_string()));
    put("true");
    let batched = super::memberships_of(&conn, WS, &[root.as_str()]).unwrap();
    assert!(batched[&root].contains(&"z_toggle".to_string()));
}
