//! What the challenger's rollback guard reads and writes: the guardrail
//! stored with the challenger, and each arm's decisions and successes since
//! the challenge started.

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

/// A running challenge with a guardrail: `(version, started_at, guardrail JSON)`.
pub fn guarded(conn: &Connection, ws: &str) -> Result<Option<(u64, i64, String)>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT version, started_at, guardrail FROM challengers
             WHERE workspace_id = ?1 AND guardrail IS NOT NULL",
        )?
        .query_row([ws], |row| {
            Ok((
                row.get::<_, i64>(0)?.max(0) as u64,
                row.get(1)?,
                row.get(2)?,
            ))
        })
        .optional()?)
}

pub fn set_guardrail(
    conn: &Connection,
    ws: &str,
    guardrail: Option<&str>,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE challengers SET guardrail = ?2 WHERE workspace_id = ?1")?
        .execute(params![ws, guardrail])?;
    Ok(())
}

/// Decisions since `since` served by `version` and by any other version, each
/// as `(decisions, decisions with an outcome)`; `event` restricts which
/// outcomes count.
pub fn arms(
    conn: &Connection,
    ws: &str,
    version: u64,
    since: i64,
    event: Option<&str>,
) -> Result<[(u64, u64); 2], StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.bundle_version = ?2,
                COUNT(*),
                SUM(EXISTS (SELECT 1 FROM outcomes o WHERE o.decision_id = d.id
                            AND o.workspace_id = d.workspace_id AND (?4 IS NULL OR o.event = ?4)))
         FROM decisions d WHERE d.workspace_id = ?1 AND d.at >= ?3
         GROUP BY d.bundle_version = ?2",
    )?;
    let mut out = [(0, 0); 2];
    let mut rows = stmt.query(params![ws, version as i64, since, event])?;
    while let Some(row) = rows.next()? {
        let challenger: bool = row.get(0)?;
        let n = row.get::<_, i64>(1)?.max(0) as u64;
        let wins = row.get::<_, Option<i64>>(2)?.unwrap_or(0).max(0) as u64;
        out[usize::from(challenger)] = (n, wins);
    }
    Ok(out)
}
