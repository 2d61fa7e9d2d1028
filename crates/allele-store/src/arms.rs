//! Outcome counts behind Beta-Bernoulli propensities: for every action a
//! decision returned outside the holdout, per touchpoint, how many times it
//! was offered and how many of those offers have an outcome.

use crate::StoreError;
use rusqlite::{Connection, params};

/// `(touchpoint, action, offers, offers with an outcome)`.
pub fn counts(conn: &Connection, ws: &str) -> Result<Vec<(String, String, u64, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(json_extract(d.request, '$.touchpoint'), ''), a.action_id, COUNT(*),
                SUM(EXISTS (SELECT 1 FROM outcomes o WHERE o.decision_id = a.decision_id AND o.workspace_id = ?1))
         FROM decision_actions a JOIN decisions d ON d.id = a.decision_id
         WHERE d.workspace_id = ?1 AND d.holdout = 0
         GROUP BY 1, 2",
    )?;
    let rows = stmt
        .query_map(params![ws], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?.max(0) as u64,
                row.get::<_, Option<i64>>(3)?.unwrap_or(0).max(0) as u64,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Offers with a contextual feature vector, newest first, at most `limit`:
/// `(touchpoint, action, features JSON, has an outcome)`. The cap bounds
/// the work per refresh and lets the model follow drifting behaviour.
pub fn linear_rows(
    conn: &Connection,
    ws: &str,
    limit: usize,
) -> Result<Vec<(String, String, String, bool)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(json_extract(d.request, '$.touchpoint'), ''), a.action_id, a.features,
                EXISTS (SELECT 1 FROM outcomes o WHERE o.decision_id = a.decision_id AND o.workspace_id = ?1)
         FROM decision_actions a JOIN decisions d ON d.id = a.decision_id
         WHERE d.workspace_id = ?1 AND d.holdout = 0 AND a.features IS NOT NULL
         ORDER BY a.at DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![ws, limit as i64], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
