//! Per-person event rollups, kept in each event's own transaction so that
//! computed traits read a bounded number of rows however long a person's
//! history grows: `event_totals` (per profile and event name: count,
//! summed revenue, the newest event's time and revenue) and `event_hours`
//! (the same per clock hour, with the smallest and largest revenue).
//!
//! A window such as "the last 7 days" rarely starts on an hour: the hours
//! that lie wholly inside it come from `event_hours`, and the events of the
//! one hour it cuts are read from the log (at most an hour of one person's
//! events), so every window is exact.
//!
//! Like `event_facts`, rows name the profile that owns the event, never its
//! merged root; readers resolve the root. Erasure deletes them with the
//! profile (`facts::erase`).

use crate::StoreError;
use crate::facts::json_number;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The windows computed traits read, in days; the last is the widest.
pub const WINDOW_DAYS: [i64; 3] = [1, 7, 30];

/// An event's revenue as rollups keep it: `properties.revenue` read as
/// readouts sum it ([`json_number`]); `None` when absent or null, so that
/// an event without revenue never becomes a minimum of 0.
pub fn revenue_of(body: &Map<String, Value>) -> Option<f64> {
    let value = body.get("properties")?.as_object()?.get("revenue")?;
    (!value.is_null()).then(|| json_number(value))
}

/// What one stored named event adds.
pub struct Added {
    pub profile: i64,
    pub name_id: i64,
    pub ts: i64,
    pub seq: i64,
    pub revenue: Option<f64>,
}

/// Add one event to its profile's rollups.
pub fn add(conn: &Connection, event: &Added) -> Result<(), StoreError> {
    let hour = event.ts.div_euclid(HOUR_MS);
    let sum = event.revenue.unwrap_or(0.0);
    conn.prepare_cached(
        "INSERT INTO event_hours (profile, hour, name_id, n, revenue, revenue_min, revenue_max)
         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5)
         ON CONFLICT (profile, hour, name_id) DO UPDATE SET
             n = n + 1,
             revenue = revenue + excluded.revenue,
             revenue_min = CASE WHEN revenue_min IS NULL OR excluded.revenue_min < revenue_min
                                THEN excluded.revenue_min ELSE revenue_min END,
             revenue_max = CASE WHEN revenue_max IS NULL OR excluded.revenue_max > revenue_max
                                THEN excluded.revenue_max ELSE revenue_max END",
    )?
    .execute(params![
        event.profile,
        hour,
        event.name_id,
        sum,
        event.revenue
    ])?;
    // The newest event by (time, seq) names `last_*`; a late event carrying
    // an older time adds to the sums and leaves them.
    conn.prepare_cached(
        "INSERT INTO event_totals (profile, name_id, n, revenue, last_ts, last_seq, last_revenue)
         VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6)
         ON CONFLICT (profile, name_id) DO UPDATE SET
             n = n + 1,
             revenue = revenue + excluded.revenue,
             last_revenue = CASE WHEN (excluded.last_ts, excluded.last_seq) > (last_ts, last_seq)
                                 THEN excluded.last_revenue ELSE last_revenue END,
             last_seq = CASE WHEN (excluded.last_ts, excluded.last_seq) > (last_ts, last_seq)
                             THEN excluded.last_seq ELSE last_seq END,
             last_ts = max(last_ts, excluded.last_ts)",
    )?
    .execute(params![
        event.profile,
        event.name_id,
        sum,
        event.ts,
        event.seq,
        event.revenue
    ])?;
    Ok(())
}

/// Delete one profile's rollups (erasure).
pub fn erase(conn: &Connection, profile: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM event_hours WHERE profile = ?1")?
        .execute([profile])?;
    conn.prepare_cached("DELETE FROM event_totals WHERE profile = ?1")?
        .execute([profile])?;
    Ok(())
}

/// Fill the rollups from the stored log (the migration that creates them).
pub fn rebuild(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("DELETE FROM event_hours; DELETE FROM event_totals;")?;
    let mut stmt = conn.prepare(
        "SELECT p.num, n.id, e.ts, e.seq, e.body
         FROM events e JOIN event_names n ON n.workspace_id = e.workspace_id AND n.name = e.name
         JOIN profiles p ON p.id = e.profile_id
         WHERE e.name IS NOT NULL AND p.num IS NOT NULL ORDER BY e.seq",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let body: String = row.get(4)?;
        let body = serde_json::from_str::<Map<String, Value>>(&body).unwrap_or_default();
        add(
            conn,
            &Added {
                profile: row.get(0)?,
                name_id: row.get(1)?,
                ts: row.get(2)?,
                seq: row.get(3)?,
                revenue: revenue_of(&body),
            },
        )?;
    }
    Ok(())
}

/// One event name's figures for a merged person at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameRollup {
    /// Events in each of [`WINDOW_DAYS`], then all time.
    pub counts: [i64; 4],
    /// Summed revenue over the same windows.
    pub revenue: [f64; 4],
    /// Smallest and largest revenue over the widest window.
    pub revenue_min: Option<f64>,
    pub revenue_max: Option<f64>,
    /// The newest event's time and revenue.
    pub last_ts: i64,
    pub last_seq: i64,
    pub last_revenue: Option<f64>,
}

impl NameRollup {
    fn window(&mut self, index: usize, n: i64, revenue: f64, min: Option<f64>, max: Option<f64>) {
        self.counts[index] += n;
        self.revenue[index] += revenue;
        if index == WINDOW_DAYS.len() - 1 {
            self.revenue_min = smaller(self.revenue_min, min);
            self.revenue_max = larger(self.revenue_max, max);
        }
    }
}

fn smaller(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn larger(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The first hour boundary at or after `ms`.
fn ceil_hour(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
        + if ms.rem_euclid(HOUR_MS) == 0 {
            0
        } else {
            HOUR_MS
        }
}

/// Per event name, the merged person's figures at `now`, by name.
pub fn of_person(
    conn: &Connection,
    root: &str,
    now: i64,
) -> Result<BTreeMap<String, NameRollup>, StoreError> {
    let mut out: BTreeMap<String, NameRollup> = BTreeMap::new();
    let mut totals = conn.prepare_cached(
        "SELECT n.name, t.n, t.revenue, t.last_ts, t.last_seq, t.last_revenue
         FROM event_totals t JOIN event_names n ON n.id = t.name_id
         WHERE t.profile IN (SELECT num FROM profiles WHERE root_id = ?1)",
    )?;
    let mut rows = totals.query([root])?;
    while let Some(row) = rows.next()? {
        let entry = out.entry(row.get(0)?).or_default();
        let first = entry.counts[3] == 0;
        entry.counts[3] += row.get::<_, i64>(1)?;
        entry.revenue[3] += row.get::<_, f64>(2)?;
        let (ts, seq): (i64, i64) = (row.get(3)?, row.get(4)?);
        if first || (ts, seq) > (entry.last_ts, entry.last_seq) {
            (entry.last_ts, entry.last_seq) = (ts, seq);
            entry.last_revenue = row.get(5)?;
        }
    }
    let starts = WINDOW_DAYS.map(|days| now - days * DAY_MS);
    let whole = starts.map(ceil_hour);
    let widest = starts[WINDOW_DAYS.len() - 1];
    let mut hours = conn.prepare_cached(
        "SELECT n.name, h.hour, h.n, h.revenue, h.revenue_min, h.revenue_max
         FROM event_hours h JOIN event_names n ON n.id = h.name_id
         WHERE h.profile IN (SELECT num FROM profiles WHERE root_id = ?1) AND h.hour >= ?2",
    )?;
    let mut rows = hours.query(params![root, widest.div_euclid(HOUR_MS)])?;
    let cut_hours = starts.map(|start| start.div_euclid(HOUR_MS));
    let mut cut_has_events = [false; 3];
    while let Some(row) = rows.next()? {
        let hour: i64 = row.get(1)?;
        for (has, cut) in cut_has_events.iter_mut().zip(cut_hours) {
            *has |= hour == cut;
        }
        let start = hour * HOUR_MS;
        let entry = out.entry(row.get(0)?).or_default();
        for (index, first) in whole.iter().enumerate() {
            if start >= *first {
                entry.window(index, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?);
            }
        }
    }
    // The hour each window cuts, event by event, when the person has any
    // event in it.
    let mut cut = conn.prepare_cached(
        "SELECT name, json_extract(body, '$.properties.revenue') FROM events
         WHERE profile_id IN (SELECT id FROM profiles WHERE root_id = ?1)
           AND ts >= ?2 AND ts < ?3 AND name IS NOT NULL",
    )?;
    for (index, (start, first)) in starts.iter().zip(whole).enumerate() {
        if !cut_has_events[index] || *start == first {
            continue;
        }
        let mut rows = cut.query(params![root, start, first])?;
        while let Some(row) = rows.next()? {
            let revenue = sql_revenue(row.get_ref(1)?);
            let entry = out.entry(row.get(0)?).or_default();
            entry.window(index, 1, revenue.unwrap_or(0.0), revenue, revenue);
        }
    }
    Ok(out)
}

/// [`revenue_of`] for what `json_extract` returned.
fn sql_revenue(value: ValueRef<'_>) -> Option<f64> {
    let json = match value {
        ValueRef::Null => return None,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(x) => Value::from(x),
        ValueRef::Text(text) => {
            let text = String::from_utf8_lossy(text);
            // `json_extract` hands back objects and arrays as JSON text;
            // they are 0 like any other non-number.
            Value::String(text.into_owned())
        }
        ValueRef::Blob(_) => return Some(0.0),
    };
    Some(json_number(&json))
}

#[cfg(test)]
#[path = "rollups_tests.rs"]
mod tests;
