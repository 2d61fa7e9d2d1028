//! The last status each edge reported (sync state, outbox depth, what it
//! learned locally): one row per edge, replaced on every report.

use crate::StoreError;
use rusqlite::{Connection, params};

pub fn put(
    conn: &Connection,
    ws: &str,
    edge_id: &str,
    at: i64,
    status: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO edge_status (workspace_id, edge_id, reported_at, status) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workspace_id, edge_id) DO UPDATE SET reported_at = ?3, status = ?4",
    )?
    .execute(params![ws, edge_id, at, status])?;
    Ok(())
}

/// `(edge_id, reported_at, status JSON)`, most recently heard first.
pub fn all(conn: &Connection, ws: &str) -> Result<Vec<(String, i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT edge_id, reported_at, status FROM edge_status WHERE workspace_id = ?1
         ORDER BY reported_at DESC, edge_id",
    )?;
    let rows = stmt
        .query_map([ws], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
