//! Narrow copies of what readouts need from each named event, written in
//! the event's own transaction: `event_facts` (name, profile number, time,
//! numeric properties) and `exposures` (each profile's first `Experiment
//! Viewed` per experiment). Readouts scan these integer-keyed rows instead
//! of parsing event JSON.
//!
//! Rows name the profile that owns the event, never its merged root: a
//! merge or unmerge only moves `profiles.root_id`, and readouts resolve the
//! root when they read. Erasure deletes the rows with the profile.

use crate::StoreError;
use crate::reports::EXPOSURE_EVENT;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A property value as a readout sums it: what SQLite's `json_extract`
/// returns for it, read as a finite number (booleans are 1 and 0, numeric
/// text is its number, anything else counts as 0).
pub fn json_number(value: &Value) -> f64 {
    let number = match value {
        Value::Number(n) => n.as_i64().map(|i| i as f64).or_else(|| n.as_f64()),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::String(text) => text.parse::<f64>().ok(),
        _ => None,
    };
    number.filter(|x| x.is_finite()).unwrap_or(0.0)
}

/// The non-zero numeric properties of an event, as `(key length u32 LE,
/// key, f64 LE)` records; `None` when there are none. Zeros are left out:
/// they add nothing to a sum.
pub fn encode_numbers(properties: Option<&Map<String, Value>>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for (key, value) in properties? {
        let number = json_number(value);
        let Ok(length) = u32::try_from(key.len()) else {
            continue;
        };
        if number != 0.0 {
            out.extend_from_slice(&length.to_le_bytes());
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(&number.to_le_bytes());
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The number stored for `key` in an [`encode_numbers`] record (0 if absent).
pub fn number_in(mut numbers: &[u8], key: &[u8]) -> f64 {
    while let Some((length, rest)) = numbers.split_first_chunk::<4>() {
        let length = u32::from_le_bytes(*length) as usize;
        let Some((name, rest)) = rest.split_at_checked(length) else {
            return 0.0;
        };
        let Some((value, rest)) = rest.split_first_chunk::<8>() else {
            return 0.0;
        };
        if name == key {
            return f64::from_le_bytes(*value);
        }
        numbers = rest;
    }
    0.0
}

/// A variation id as text, the way `json_extract` renders it: strings as
/// they are, integers and booleans as digits, reals in Rust's shortest
/// form, objects and arrays as compact JSON; null means no exposure.
pub fn variation_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Bool(b) => Some(u8::from(*b).to_string()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(i.to_string()),
            None => n.as_f64().map(|x| x.to_string()),
        },
        other => serde_json::to_string(other).ok(),
    }
}

/// `(experiment_id, variation)` when this event is an exposure.
pub fn exposure_of(name: Option<&str>, body: &Map<String, Value>) -> Option<(String, String)> {
    if name != Some(EXPOSURE_EVENT) {
        return None;
    }
    let properties = body.get("properties")?.as_object()?;
    let experiment = properties.get("experiment_id")?.as_str()?;
    let variation = variation_text(properties.get("variation_id")?)?;
    Some((experiment.to_string(), variation))
}

/// Lookups one ingest request repeats for every event.
#[derive(Default)]
pub struct FactCache {
    names: HashMap<String, i64>,
    profiles: HashMap<String, i64>,
}

/// The integer number of a profile, given on first need.
pub fn profile_num(conn: &Connection, profile: &str) -> Result<i64, StoreError> {
    let num: Option<Option<i64>> = conn
        .prepare_cached("SELECT num FROM profiles WHERE id = ?1")?
        .query_row([profile], |row| row.get(0))
        .optional()?;
    match num {
        Some(Some(num)) => Ok(num),
        Some(None) => Ok(conn
            .prepare_cached(
                "UPDATE profiles SET num = (SELECT IFNULL(MAX(num), 0) + 1 FROM profiles)
                 WHERE id = ?1 RETURNING num",
            )?
            .query_row([profile], |row| row.get(0))?),
        None => Err(StoreError::ProfileNotFound),
    }
}

fn name_id(conn: &Connection, ws: &str, name: &str) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO event_names (workspace_id, name) VALUES (?1, ?2)
             ON CONFLICT (workspace_id, name) DO UPDATE SET name = excluded.name RETURNING id",
        )?
        .query_row(params![ws, name], |row| row.get(0))?)
}

pub struct EventFact<'a> {
    pub owner: &'a str,
    pub name: Option<&'a str>,
    pub ts: i64,
    pub seq: i64,
    pub body: &'a Map<String, Value>,
}

/// Record what readouts need from one stored event.
pub fn record(
    conn: &Connection,
    ws: &str,
    cache: &mut FactCache,
    event: &EventFact<'_>,
) -> Result<(), StoreError> {
    let Some(name) = event.name else {
        return Ok(());
    };
    let name_id = match cache.names.get(name) {
        Some(id) => *id,
        None => {
            let id = name_id(conn, ws, name)?;
            cache.names.insert(name.to_string(), id);
            id
        }
    };
    let profile = match cache.profiles.get(event.owner) {
        Some(num) => *num,
        None => {
            let num = profile_num(conn, event.owner)?;
            cache.profiles.insert(event.owner.to_string(), num);
            num
        }
    };
    let properties = event.body.get("properties").and_then(Value::as_object);
    conn.prepare_cached(
        "INSERT INTO event_facts (name_id, profile, ts, seq, numbers) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        name_id,
        profile,
        event.ts,
        event.seq,
        encode_numbers(properties)
    ])?;
    crate::rollups::add(
        conn,
        &crate::rollups::Added {
            profile,
            name_id,
            ts: event.ts,
            seq: event.seq,
            revenue: crate::rollups::revenue_of(event.body),
        },
    )?;
    if let Some((experiment, variation)) = exposure_of(Some(name), event.body) {
        // Only the first exposure by (event time, seq) is kept, so a late
        // event carrying an earlier time replaces the row.
        conn.prepare_cached(
            "INSERT INTO exposures (workspace_id, experiment_id, profile, ts, seq, variation)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (workspace_id, experiment_id, profile) DO UPDATE
             SET ts = excluded.ts, seq = excluded.seq, variation = excluded.variation
             WHERE (excluded.ts, excluded.seq) < (exposures.ts, exposures.seq)",
        )?
        .execute(params![
            ws, experiment, profile, event.ts, event.seq, variation
        ])?;
    }
    Ok(())
}

/// Delete the facts of one profile (erasure).
pub fn erase(conn: &Connection, ws: &str, profile: &str) -> Result<(), StoreError> {
    let num: Option<Option<i64>> = conn
        .prepare_cached("SELECT num FROM profiles WHERE id = ?1")?
        .query_row([profile], |row| row.get(0))
        .optional()?;
    let Some(Some(num)) = num else {
        return Ok(());
    };
    conn.prepare_cached(
        "DELETE FROM event_facts
         WHERE name_id IN (SELECT id FROM event_names WHERE workspace_id = ?1) AND profile = ?2",
    )?
    .execute(params![ws, num])?;
    conn.prepare_cached("DELETE FROM exposures WHERE profile = ?1")?
        .execute([num])?;
    crate::rollups::erase(conn, num)?;
    Ok(())
}

/// SQL functions the migration uses to backfill these tables from stored
/// events with exactly the code ingest uses.
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("allele_numbers", 1, flags, |ctx| {
        Ok(body_of_at(ctx, 0)?
            .and_then(|body| encode_numbers(body.get("properties").and_then(Value::as_object))))
    })?;
    conn.create_scalar_function("allele_experiment", 2, flags, |ctx| {
        let name: Option<String> = ctx.get(0)?;
        let body = body_of_at(ctx, 1)?;
        Ok(body.and_then(|b| exposure_of(name.as_deref(), &b).map(|e| e.0)))
    })?;
    conn.create_scalar_function("allele_variation", 2, flags, |ctx| {
        let name: Option<String> = ctx.get(0)?;
        let body = body_of_at(ctx, 1)?;
        Ok(body.and_then(|b| exposure_of(name.as_deref(), &b).map(|e| e.1)))
    })?;
    Ok(())
}

fn body_of_at(
    ctx: &rusqlite::functions::Context<'_>,
    index: usize,
) -> rusqlite::Result<Option<Map<String, Value>>> {
    let text: Option<String> = ctx.get(index)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_round_trip_and_follow_json_extract() {
        let body = json!({"revenue": 12.5, "count": 3, "free": true, "off": false, "text": "7.25",
                          "word": "abc", "none": null, "list": [1], "zero": 0, "odd \"key\".x": -2});
        let numbers = encode_numbers(body.as_object()).expect("numbers");
        for (key, want) in [
            ("revenue", 12.5),
            ("count", 3.0),
            ("free", 1.0),
            ("off", 0.0),
            ("text", 7.25),
            ("word", 0.0),
            ("none", 0.0),
            ("list", 0.0),
            ("zero", 0.0),
            ("odd \"key\".x", -2.0),
            ("missing", 0.0),
        ] {
            assert_eq!(number_in(&numbers, key.as_bytes()), want, "{key}");
        }
        assert_eq!(encode_numbers(json!({"a": "x"}).as_object()), None);
        assert_eq!(number_in(&[1, 0], b"a"), 0.0);
    }

    #[test]
    fn variations_render_like_json_extract() {
        for (value, want) in [
            (json!("b"), Some("b")),
            (json!(2), Some("2")),
            (json!(1.5), Some("1.5")),
            (json!(true), Some("1")),
            (json!(null), None),
            (json!(["a", 1]), Some("[\"a\",1]")),
        ] {
            assert_eq!(variation_text(&value).as_deref(), want, "{value}");
        }
    }

    type Facts = Vec<(String, i64, i64, i64, Option<Vec<u8>>)>;
    type Exposures = Vec<(String, i64, i64, i64, String)>;

    fn snapshot(conn: &Connection) -> (Facts, Exposures) {
        let facts = conn
            .prepare("SELECT n.name, f.profile, f.ts, f.seq, f.numbers FROM event_facts f JOIN event_names n ON n.id = f.name_id ORDER BY f.seq")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("facts");
        let exposures = conn
            .prepare("SELECT experiment_id, profile, ts, seq, variation FROM exposures ORDER BY experiment_id, profile")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("exposures");
        (facts, exposures)
    }

    /// The migration's backfill derives exactly the rows ingest writes.
    #[test]
    fn backfill_equals_what_ingest_records() {
        let mut conn = Connection::open_in_memory().expect("db");
        crate::schema::migrate(&mut conn).expect("migrate");
        for id in ["prf_a", "prf_b"] {
            conn.execute(
                "INSERT INTO profiles (id, workspace_id, root_id, created_at) VALUES (?1, 'w', ?1, 0)",
                [id],
            )
            .expect("profile");
        }
        let events = [
            (
                "prf_a",
                Some(EXPOSURE_EVENT),
                50,
                json!({"properties": {"experiment_id": "e1", "variation_id": "b"}}),
            ),
            (
                "prf_a",
                Some(EXPOSURE_EVENT),
                40,
                json!({"properties": {"experiment_id": "e1", "variation_id": 2}}),
            ),
            (
                "prf_a",
                Some(EXPOSURE_EVENT),
                40,
                json!({"properties": {"experiment_id": "e2", "variation_id": 1.5}}),
            ),
            (
                "prf_b",
                Some(EXPOSURE_EVENT),
                60,
                json!({"properties": {"experiment_id": 7, "variation_id": "a"}}),
            ),
            (
                "prf_b",
                Some(EXPOSURE_EVENT),
                60,
                json!({"properties": {"experiment_id": "e1", "variation_id": null}}),
            ),
            (
                "prf_b",
                Some(EXPOSURE_EVENT),
                70,
                json!({"properties": {"experiment_id": "e1", "variation_id": true}}),
            ),
            (
                "prf_b",
                Some("Order Completed"),
                80,
                json!({"properties": {"revenue": "12.5", "qty": 2, "gift": true}}),
            ),
            (
                "prf_b",
                Some("Order Completed"),
                90,
                json!({"properties": "not an object"}),
            ),
            ("prf_a", Some("Order Completed"), 10, json!({})),
            ("prf_a", None, 10, json!({"properties": {"revenue": 3}})),
        ];
        let mut cache = FactCache::default();
        for (seq, (owner, name, ts, body)) in events.iter().enumerate() {
            let seq = seq as i64 + 1;
            conn.execute(
                "INSERT INTO events (seq, workspace_id, message_id, profile_id, type, name, ts, received_at, body)
                 VALUES (?1, 'w', ?1, ?2, 'track', ?3, ?4, 0, ?5)",
                params![seq, owner, name, ts, body.to_string()],
            )
            .expect("event");
            let body = body.as_object().expect("object");
            let event = EventFact {
                owner,
                name: *name,
                ts: *ts,
                seq,
                body,
            };
            record(&conn, "w", &mut cache, &event).expect("record");
        }
        let recorded = snapshot(&conn);
        assert_eq!(recorded.0.len(), 9, "every named event has a fact");
        let firsts: Vec<(&str, i64, &str)> = recorded
            .1
            .iter()
            .map(|(e, _, ts, _, v)| (e.as_str(), *ts, v.as_str()))
            .collect();
        assert_eq!(
            firsts,
            [("e1", 40, "2"), ("e1", 70, "1"), ("e2", 40, "1.5")]
        );
        conn.execute_batch(
            "DELETE FROM event_facts; DELETE FROM exposures; DELETE FROM event_names;",
        )
        .expect("clear");
        conn.execute_batch(crate::schema::FACTS_BACKFILL)
            .expect("backfill");
        assert_eq!(snapshot(&conn), recorded);
    }
}
