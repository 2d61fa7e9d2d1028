//! Journey definitions, runs and the runner's event cursor.

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

pub fn put(
    conn: &Connection,
    ws: &str,
    id: &str,
    definition: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO journeys (workspace_id, id, definition, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workspace_id, id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
    )?
    .execute(params![ws, id, definition, now])?;
    Ok(())
}

/// Every journey as `(workspace, id, definition)`.
pub fn all(conn: &Connection) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT workspace_id, id, definition FROM journeys ORDER BY workspace_id, id",
    )?;
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn cursor(conn: &Connection) -> Result<i64, StoreError> {
    // One cursor for the store: the runner reads every workspace's events.
    Ok(conn
        .prepare_cached("SELECT seq FROM journey_cursor WHERE workspace_id = ''")?
        .query_row([], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

pub fn set_cursor(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO journey_cursor (workspace_id, seq) VALUES ('', ?1) ON CONFLICT (workspace_id) DO UPDATE SET seq = excluded.seq",
    )?
    .execute([seq])?;
    Ok(())
}

/// An event as the runner sees it.
#[derive(Debug, Clone)]
pub struct SeenEvent {
    pub seq: i64,
    pub ws: String,
    pub root: String,
    pub kind: String,
    pub name: Option<String>,
    pub ts: i64,
}

pub fn events_after(
    conn: &Connection,
    seq: i64,
    limit: usize,
) -> Result<Vec<SeenEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.seq, e.workspace_id, COALESCE(p.root_id, e.profile_id), e.type, e.name, e.ts
         FROM events e LEFT JOIN profiles p ON p.id = e.profile_id WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![seq, limit as i64], |row| {
            Ok(SeenEvent {
                seq: row.get(0)?,
                ws: row.get(1)?,
                root: row.get(2)?,
                kind: row.get(3)?,
                name: row.get(4)?,
                ts: row.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The newest run of a person in a journey: `(status, entered_at)`.
pub fn latest_run(
    conn: &Connection,
    ws: &str,
    journey: &str,
    root: &str,
) -> Result<Option<(String, i64)>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT r.status, r.entered_at FROM journey_runs r JOIN profiles p ON p.id = r.profile_id
             WHERE r.workspace_id = ?1 AND r.journey_id = ?2 AND p.root_id = ?3 ORDER BY r.entered_at DESC, r.id DESC LIMIT 1",
        )?
        .query_row(params![ws, journey, root], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub id: String,
    pub ws: String,
    pub journey_id: String,
    pub profile_id: String,
    pub status: String,
    pub step: i64,
    pub waiting: bool,
    pub next_at: i64,
    pub entered_at: i64,
    pub updated_at: i64,
    pub context: String,
}

const RUN_COLUMNS: &str = "r.id, r.workspace_id, r.journey_id, COALESCE(p.root_id, r.profile_id), r.status, r.step, r.waiting, r.next_at, r.entered_at, r.updated_at, r.context";

fn run(row: &rusqlite::Row<'_>) -> rusqlite::Result<Run> {
    Ok(Run {
        id: row.get(0)?,
        ws: row.get(1)?,
        journey_id: row.get(2)?,
        profile_id: row.get(3)?,
        status: row.get(4)?,
        step: row.get(5)?,
        waiting: row.get(6)?,
        next_at: row.get(7)?,
        entered_at: row.get(8)?,
        updated_at: row.get(9)?,
        context: row.get(10)?,
    })
}

pub fn insert_run(conn: &Connection, run: &Run) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO journey_runs (id, workspace_id, journey_id, profile_id, status, step, waiting, next_at, entered_at, updated_at, context)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![run.id, run.ws, run.journey_id, run.profile_id, run.status, run.step, run.waiting, run.next_at, run.entered_at, run.updated_at, run.context])?;
    Ok(())
}

pub fn due(conn: &Connection, now: i64, limit: usize) -> Result<Vec<Run>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM journey_runs r LEFT JOIN profiles p ON p.id = r.profile_id
         WHERE r.status = 'active' AND r.next_at <= ?1 ORDER BY r.next_at LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![now, limit as i64], run)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn runs(
    conn: &Connection,
    ws: &str,
    journey: &str,
    limit: usize,
) -> Result<Vec<Run>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM journey_runs r LEFT JOIN profiles p ON p.id = r.profile_id
         WHERE r.workspace_id = ?1 AND r.journey_id = ?2 ORDER BY r.entered_at, r.id LIMIT ?3"
    ))?;
    let rows = stmt
        .query_map(params![ws, journey, limit as i64], run)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Save a run's new state if nobody changed it since `seen_updated_at`
/// (an exit may have landed meanwhile); `false` when it was changed.
pub fn save_state(conn: &Connection, run: &Run, seen_updated_at: i64) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE journey_runs SET status = ?2, step = ?3, waiting = ?4, next_at = ?5, updated_at = ?6, context = ?7
             WHERE id = ?1 AND updated_at = ?8 AND status = 'active'",
        )?
        .execute(params![run.id, run.status, run.step, run.waiting, run.next_at, run.updated_at, run.context, seen_updated_at])?;
    Ok(changed == 1)
}

/// End a person's active runs of a journey (its exit goal was reached).
pub fn exit_runs(
    conn: &Connection,
    ws: &str,
    journey: &str,
    root: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE journey_runs SET status = 'exited', updated_at = ?4 WHERE workspace_id = ?1 AND journey_id = ?2 AND status = 'active'
             AND profile_id IN (SELECT id FROM profiles WHERE root_id = ?3)",
        )?
        .execute(params![ws, journey, root, now])?)
}

/// Record a membership as seen; `true` when it is new (an entry).
pub fn segment_entered(
    conn: &Connection,
    ws: &str,
    segment: &str,
    root: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("INSERT OR IGNORE INTO journey_segment_members (workspace_id, segment, profile_id) VALUES (?1, ?2, ?3)")?
        .execute(params![ws, segment, root])?
        == 1)
}

pub fn segment_left(
    conn: &Connection,
    ws: &str,
    segment: &str,
    root: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM journey_segment_members WHERE workspace_id = ?1 AND segment = ?2 AND profile_id = ?3")?
        .execute(params![ws, segment, root])?;
    Ok(())
}

/// Record that a date-trait journey entered (or passed over) a person for
/// the anniversary of `year`; `true` the first time. The key shares the
/// segment-membership table: segment ids never start with `@`, so the two
/// cannot collide, and erasure already clears both.
pub fn occasion_entered(
    conn: &Connection,
    ws: &str,
    journey: &str,
    year: i16,
    root: &str,
) -> Result<bool, StoreError> {
    segment_entered(conn, ws, &format!("@date:{journey}:{year}"), root)
}

/// Root profiles of the workspace with a member whose trait `name` is text
/// whose `MM-DD` (characters 6–10, as in `1990-05-17` or a timestamp) is
/// one of `month_days`: the few people whose anniversary may be due, for
/// the exact check in Rust.
pub fn date_candidates(
    conn: &Connection,
    ws: &str,
    name: &str,
    month_days: &[String],
) -> Result<Vec<String>, StoreError> {
    let path = format!("$.\"{name}\"");
    let days = serde_json::to_string(month_days).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT root_id FROM profiles WHERE workspace_id = ?1
         AND substr(json_extract(traits, ?2), 6, 5) IN (SELECT value FROM json_each(?3)) ORDER BY root_id",
    )?;
    let rows = stmt
        .query_map(params![ws, path, days], |row| row.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
