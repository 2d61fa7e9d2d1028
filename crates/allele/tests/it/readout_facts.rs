//! Experiment readouts read narrow rows written at ingest (`event_facts`,
//! `exposures`); these tests hold them to the readout recomputed from the
//! raw event JSON in the database, through merges, unmerges, erasure,
//! late-arriving exposures and events before exposure.

use crate::common::{Server, client, read, unique};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// variation → (n, conversions, value sum)
type Summary = BTreeMap<String, (u64, u64, f64)>;

fn ts(second: i64) -> String {
    format!(
        "2026-04-01T{:02}:{:02}:{:02}Z",
        second / 3600,
        second / 60 % 60,
        second % 60
    )
}

/// The readout recomputed from scratch: the event JSON, each event's
/// profile's current root, first exposure by (event time, seq), metric
/// events at or after it, the value property as SQLite reads it.
fn from_raw_events(data: &Path, experiment: &str, metric: &str, value: &str) -> Summary {
    let conn = rusqlite::Connection::open_with_flags(
        data.join("allele.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open db");
    let mut first: HashMap<String, (i64, i64, String)> = HashMap::new();
    let mut stmt = conn
        .prepare(
            "SELECT p.root_id, e.ts, e.seq, json_extract(e.body, '$.properties.variation_id')
             FROM events e JOIN profiles p ON p.id = e.profile_id
             WHERE e.name = 'Experiment Viewed' AND json_extract(e.body, '$.properties.experiment_id') = ?1",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([experiment], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<String>>(3)?,
            ))
        })
        .expect("query");
    for row in rows {
        let (who, at, seq, variation) = row.expect("row");
        let Some(variation) = variation else { continue };
        let entry = first.entry(who).or_insert((at, seq, variation.clone()));
        if (at, seq) < (entry.0, entry.1) {
            *entry = (at, seq, variation);
        }
    }
    let mut outcome: HashMap<String, (bool, f64)> = HashMap::new();
    let mut stmt = conn
        .prepare(
            "SELECT p.root_id, e.ts, json_extract(e.body, '$.properties.' || ?2)
             FROM events e JOIN profiles p ON p.id = e.profile_id WHERE e.name = ?1",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([metric, value], |row| {
            let amount = match row.get_ref(2)? {
                rusqlite::types::ValueRef::Integer(n) => n as f64,
                rusqlite::types::ValueRef::Real(x) => x,
                rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0.0),
                _ => 0.0,
            };
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, amount))
        })
        .expect("query");
    for row in rows {
        let (who, at, amount) = row.expect("row");
        if first.get(&who).is_some_and(|(since, _, _)| at >= *since) {
            let entry = outcome.entry(who).or_default();
            entry.0 = true;
            entry.1 += amount;
        }
    }
    let mut summary = Summary::new();
    for (who, (_, _, variation)) in first {
        let (converted, amount) = outcome.get(&who).copied().unwrap_or_default();
        let entry = summary.entry(variation).or_default();
        entry.0 += 1;
        entry.1 += u64::from(converted);
        entry.2 += amount;
    }
    summary
}

fn readout(server: &Server, experiment: &str) -> Summary {
    let (status, body) = server.admin_get(&format!(
        "/v1/reports/experiments/{experiment}?metric=Order%20Completed&value=revenue&control=control"
    ));
    assert_eq!(status, 200, "{body}");
    body["variations"]
        .as_array()
        .expect("variations")
        .iter()
        .map(|v| {
            (
                v["variation_id"].as_str().expect("id").to_string(),
                (
                    v["n"].as_u64().expect("n"),
                    v["conversions"].as_u64().expect("conversions"),
                    v["value_sum"].as_f64().expect("value_sum"),
                ),
            )
        })
        .collect()
}

fn assert_matches_raw(server: &Server, experiment: &str, when: &str) -> Summary {
    let got = readout(server, experiment);
    let want = from_raw_events(&server.data, experiment, "Order Completed", "revenue");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{when}"
    );
    for (variation, (n, conversions, sum)) in &want {
        let (got_n, got_conversions, got_sum) = got[variation];
        assert_eq!(
            (got_n, got_conversions),
            (*n, *conversions),
            "{when}: {variation}"
        );
        assert!(
            (got_sum - sum).abs() <= 1e-9 * sum.abs().max(1.0),
            "{when}: {variation} value_sum {got_sum} vs {sum}"
        );
    }
    got
}

fn send(server: &Server, batch: Vec<Value>) {
    let (status, body) = server.post("/v1/batch", &json!({ "batch": batch }));
    assert_eq!(status, 200, "{body}");
}

fn exposure(who: (&str, &str), experiment: &str, variation: &str, at: i64) -> Value {
    json!({"type": "track", who.0: who.1, "event": "Experiment Viewed", "timestamp": ts(at),
           "properties": {"experiment_id": experiment, "variation_id": variation}})
}

fn order(who: (&str, &str), revenue: Value, at: i64) -> Value {
    json!({"type": "track", who.0: who.1, "event": "Order Completed", "timestamp": ts(at),
           "properties": {"revenue": revenue}})
}

#[test]
fn readout_follows_merges_erasure_and_late_exposures() {
    let server = Server::start();
    let experiment = unique("facts");
    let x = experiment.as_str();
    let (user, device) = (format!("{x}-user"), format!("{x}-device"));
    let (late, gone) = (format!("{x}-late"), format!("{x}-gone"));
    let (early, both) = (format!("{x}-early"), format!("{x}-both"));
    let mut batch = Vec::new();
    // Background traffic: random arms, exposure times, orders on both sides.
    let mut rng = StdRng::seed_from_u64(9);
    for i in 0..120 {
        let who = format!("{x}-bg{i}");
        let variation = if rng.random_bool(0.5) {
            "control"
        } else {
            "treatment"
        };
        let at = rng.random_range(600..1200);
        batch.push(exposure(("userId", &who), x, variation, at));
        for _ in 0..rng.random_range(0..4) {
            let when = at + rng.random_range(-300..300);
            let revenue = json!(f64::from(rng.random_range(100..9_000)) / 100.0);
            batch.push(order(("userId", &who), revenue, when));
        }
    }
    // A device exposed to treatment, then orders under a separate user id
    // (one before the exposure); they merge later.
    batch.push(exposure(("anonymousId", &device), x, "treatment", 1000));
    batch.push(order(("userId", &user), json!(5), 900));
    batch.push(order(("userId", &user), json!("12.5"), 1500));
    // Ordered before exposure only: exposed, not converted.
    batch.push(order(("userId", &early), json!(40), 100));
    batch.push(exposure(("userId", &early), x, "control", 200));
    // Exposed at 3000 to control; an earlier exposure arrives later.
    batch.push(exposure(("userId", &late), x, "control", 3000));
    batch.push(order(("userId", &late), json!(7), 2000));
    // Converted, then erased.
    batch.push(exposure(("userId", &gone), x, "treatment", 100));
    batch.push(order(("userId", &gone), json!(1000), 200));
    // Exposed to both arms on two profiles that merge: the earlier wins.
    batch.push(exposure(("userId", &both), x, "control", 500));
    batch.push(exposure(
        ("anonymousId", &format!("{both}-d")),
        x,
        "treatment",
        400,
    ));
    batch.push(order(("anonymousId", &format!("{both}-d")), json!(3), 450));
    send(&server, batch);
    let start = assert_matches_raw(&server, x, "as sent");

    send(
        &server,
        vec![exposure(("userId", &late), x, "treatment", 1000)],
    );
    let after_late = assert_matches_raw(&server, x, "late exposure");
    assert_eq!(after_late["treatment"].0, start["treatment"].0 + 1);
    assert_eq!(after_late["treatment"].1, start["treatment"].1 + 1);
    assert!((after_late["treatment"].2 - start["treatment"].2 - 7.0).abs() < 1e-6);

    // Both merges: the device folds into the user, `both`'s devices into it.
    let link = |u: &str, d: &str, at: i64| json!({"type": "track", "userId": u, "anonymousId": d, "event": "Linked", "timestamp": ts(at)});
    send(
        &server,
        vec![
            link(&user, &device, 2000),
            link(&both, &format!("{both}-d"), 2000),
        ],
    );
    let merged = assert_matches_raw(&server, x, "after merges");
    // The user is now exposed (via the device) and converted with 12.5 only;
    // `both` leaves control and stays in treatment.
    assert_eq!(merged["treatment"].0, after_late["treatment"].0);
    assert_eq!(merged["treatment"].1, after_late["treatment"].1 + 1);
    assert_eq!(merged["control"].0, after_late["control"].0 - 1);
    assert!((merged["treatment"].2 - after_late["treatment"].2 - 12.5).abs() < 1e-6);

    let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{gone}/tokens"), None);
    let token = issued["token"].as_str().expect("token");
    let (status, receipt) = read(
        client()
            .delete(format!("{}/v1/me", server.url))
            .bearer_auth(token)
            .send()
            .expect("erase"),
    );
    assert_eq!(status, 200, "{receipt}");
    let erased = assert_matches_raw(&server, x, "after erasure");
    assert_eq!(erased["treatment"].0, merged["treatment"].0 - 1);
    assert!((merged["treatment"].2 - erased["treatment"].2 - 1000.0).abs() < 1e-6);

    let (status, body) =
        server.admin_post(&format!("/v1/profiles/anonymous_id:{device}/unmerge"), None);
    assert_eq!(status, 200, "{body}");
    let unmerged = assert_matches_raw(&server, x, "after unmerge");
    // The device alone is still exposed; the user's order goes with the user.
    assert_eq!(unmerged["treatment"].0, erased["treatment"].0);
    assert_eq!(unmerged["treatment"].1, erased["treatment"].1 - 1);
    assert!((erased["treatment"].2 - unmerged["treatment"].2 - 12.5).abs() < 1e-6);
}
