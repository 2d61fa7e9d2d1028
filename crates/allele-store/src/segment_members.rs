//! Recorded segment memberships: who the segment watcher last saw in each
//! segment, so that a change can be told apart from a member staying in
//! (`allele-server::segments::watch`), with the watcher's own cursor over
//! the event log.

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeSet, HashMap};

pub fn cursor(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT seq FROM segment_cursor WHERE id = 0")?
        .query_row([], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

pub fn set_cursor(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO segment_cursor (id, seq) VALUES (0, ?1) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
    )?
    .execute([seq])?;
    Ok(())
}

/// Where the watcher may jump to when no workspace has a segment: the
/// newest event, if past `cursor` (there is nothing to evaluate before it).
pub fn skip_to(conn: &Connection, cursor: i64) -> Result<Option<i64>, StoreError> {
    let any: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM segments)")?
        .query_row([], |row| row.get(0))?;
    if any {
        return Ok(None);
    }
    let newest: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
        .query_row([], |row| row.get(0))?;
    Ok(Some(newest.max(cursor)))
}

/// The recorded segments of each of `roots` (absent: none).
pub fn recorded(
    conn: &Connection,
    ws: &str,
    roots: &[&str],
) -> Result<HashMap<String, BTreeSet<String>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT segment FROM segment_members WHERE workspace_id = ?1 AND profile_id = ?2",
    )?;
    let mut out = HashMap::new();
    for root in roots {
        let segments = stmt
            .query_map(params![ws, root], |row| row.get(0))?
            .collect::<Result<BTreeSet<String>, _>>()?;
        if !segments.is_empty() {
            out.insert(root.to_string(), segments);
        }
    }
    Ok(out)
}

pub fn enter(
    conn: &Connection,
    ws: &str,
    segment: &str,
    root: &str,
    at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO segment_members (workspace_id, segment, profile_id, since) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![ws, segment, root, at])?;
    Ok(())
}

pub fn exit(conn: &Connection, ws: &str, segment: &str, root: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "DELETE FROM segment_members WHERE workspace_id = ?1 AND segment = ?2 AND profile_id = ?3",
    )?
    .execute(params![ws, segment, root])?;
    Ok(())
}

/// The ids an event about this person carries: its first `user_id`, and
/// an `anonymous_id` when it has no user id.
pub fn ids_of(
    conn: &Connection,
    root: &str,
) -> Result<(Option<String>, Option<String>), StoreError> {
    match crate::segments::first_user_id(conn, root)? {
        Some(user) => Ok((Some(user), None)),
        None => Ok((
            None,
            crate::segments::first_identity(conn, root, "anonymous_id")?,
        )),
    }
}
