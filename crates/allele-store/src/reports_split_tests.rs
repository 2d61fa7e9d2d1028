//! The split readout (two connections) gives bit-for-bit the figures of the
//! single scan, merged profiles included.

use super::*;

fn setup(path: &std::path::Path) -> Connection {
    let mut conn = Connection::open(path).expect("open");
    crate::schema::configure(&conn).expect("configure");
    crate::schema::migrate(&mut conn).expect("migrate");
    conn
}

#[test]
fn split_readout_equals_single_scan() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("allele.db");
    let conn = setup(&path);
    let tx = conn.unchecked_transaction().expect("tx");
    for num in 1..=40_i64 {
        // Every fifth profile is merged into one far away, so a person's
        // rows sit in both halves of the split.
        let (root, merged) = match num % 5 {
            0 => (format!("p{}", 41 - num), Some(format!("p{}", 41 - num))),
            _ => (format!("p{num}"), None),
        };
        tx.execute(
            "INSERT INTO profiles (id, workspace_id, root_id, merged_into, created_at, num) VALUES (?1, 'w', ?2, ?3, 0, ?4)",
            params![format!("p{num}"), root, merged, num],
        )
        .expect("profile");
    }
    tx.execute_batch(
        "INSERT INTO event_names (id, workspace_id, name) VALUES (1, 'w', 'Viewed'), (2, 'w', 'Order'), (3, 'w', 'Visit');",
    )
    .expect("names");
    let mut seq = 0;
    for num in 1..=40_i64 {
        seq += 1;
        let variation = if num % 3 == 0 { "b" } else { "a" };
        tx.execute(
            "INSERT INTO exposures (workspace_id, experiment_id, profile, ts, seq, variation) VALUES ('w', 'x', ?1, ?2, ?3, ?4)",
            params![num, 100 + num % 7, seq, variation],
        )
        .expect("exposure");
        for k in 0..6_i64 {
            seq += 1;
            // Values whose sum depends on the order they are added in.
            let value = 0.1 * (k + 1) as f64 + 1e-3 * num as f64 + 1e15 * ((k % 2) as f64);
            let numbers = facts::encode_numbers(serde_json::json!({"revenue": value}).as_object());
            let ts = 90 + k * 5 + num % 4;
            // Some people never order.
            let names: &[i64] = if num % 7 == 1 { &[3] } else { &[2, 3] };
            for name in names {
                tx.execute(
                    "INSERT INTO event_facts (name_id, profile, ts, seq, numbers) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![name, num, ts, seq, numbers],
                )
                .expect("fact");
            }
        }
    }
    tx.commit().expect("commit");
    let query = ExperimentQuery {
        experiment_id: "x",
        metric: "Order",
        value: Some("revenue"),
        pre_metric: Some("Visit"),
    };
    let single = experiment(&conn, "w", &query)
        .expect("single")
        .expect("exposed");
    let (mut first, mut second) = (
        Connection::open(&path).expect("first"),
        Connection::open(&path).expect("second"),
    );
    let split = experiment_split(&mut first, &mut second, "w", &query)
        .expect("split")
        .expect("exposed");
    let bits =
        |groups: &BTreeMap<String, Vec<ExposedUser>>| -> Vec<(String, bool, u64, Option<u64>)> {
            groups
                .iter()
                .flat_map(|(name, users)| {
                    users.iter().map(move |u| {
                        (
                            name.clone(),
                            u.converted,
                            u.value.to_bits(),
                            u.covariate.map(f64::to_bits),
                        )
                    })
                })
                .collect()
        };
    assert_eq!(bits(&single), bits(&split));
    // Without a value (no numbers column read) and without a covariate.
    let query = ExperimentQuery {
        value: None,
        pre_metric: None,
        ..query
    };
    let plain = experiment(&conn, "w", &query)
        .expect("single")
        .expect("exposed");
    let plain_split = experiment_split(&mut first, &mut second, "w", &query)
        .expect("split")
        .expect("exposed");
    assert_eq!(bits(&plain), bits(&plain_split));
    assert!(
        plain
            .values()
            .flatten()
            .all(|u| u.value == 0.0 && u.covariate.is_none())
    );
    // 40 profiles, 8 merged away: 32 people, some converted with a value.
    assert_eq!(single.values().map(Vec::len).sum::<usize>(), 32);
    assert!(
        single
            .values()
            .flatten()
            .any(|u| u.converted && u.value > 1e15)
    );
    assert!(
        single
            .values()
            .flatten()
            .any(|u| u.covariate.is_some_and(|c| c > 0.0))
    );
    assert!(single.values().flatten().any(|u| !u.converted));
}
