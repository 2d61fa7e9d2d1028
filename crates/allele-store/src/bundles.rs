//! Published policy bundles, the decision log and outcomes.

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, Clone)]
pub struct StoredBundle {
    pub version: u64,
    pub bundle: String,
    pub signature: String,
    pub source: String,
}

pub fn signing_key(conn: &Connection, ws: &str) -> Result<[u8; 32], StoreError> {
    let bytes: Vec<u8> = conn
        .prepare_cached("SELECT signing_key FROM workspaces WHERE id = ?1")?
        .query_row([ws], |row| row.get(0))?;
    bytes
        .try_into()
        .map_err(|_| StoreError::Invalid(format!("workspace `{ws}` has a malformed signing key")))
}

pub fn next_version(conn: &Connection, ws: &str) -> Result<u64, StoreError> {
    let max: Option<i64> = conn
        .prepare_cached("SELECT MAX(version) FROM bundles WHERE workspace_id = ?1")?
        .query_row([ws], |row| row.get(0))?;
    Ok(max.unwrap_or(0) as u64 + 1)
}

/// Store a signed bundle and make it the active one.
pub fn publish(
    conn: &Connection,
    ws: &str,
    stored: &StoredBundle,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO bundles (workspace_id, version, source, bundle, signature, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![ws, stored.version as i64, stored.source, stored.bundle, stored.signature, now])?;
    activate(conn, ws, stored.version)
}

pub fn activate(conn: &Connection, ws: &str, version: u64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO active_bundles (workspace_id, version) VALUES (?1, ?2)
         ON CONFLICT (workspace_id) DO UPDATE SET version = excluded.version",
    )?
    .execute(params![ws, version as i64])?;
    Ok(())
}

pub fn get(conn: &Connection, ws: &str, version: u64) -> Result<Option<StoredBundle>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT version, bundle, signature, source FROM bundles WHERE workspace_id = ?1 AND version = ?2")?
        .query_row(params![ws, version as i64], |row| {
            Ok(StoredBundle { version: row.get::<_, i64>(0)? as u64, bundle: row.get(1)?, signature: row.get(2)?, source: row.get(3)? })
        })
        .optional()?)
}

pub fn active(conn: &Connection, ws: &str) -> Result<Option<StoredBundle>, StoreError> {
    let version: Option<i64> = conn
        .prepare_cached("SELECT version FROM active_bundles WHERE workspace_id = ?1")?
        .query_row([ws], |row| row.get(0))
        .optional()?;
    match version {
        Some(version) => get(conn, ws, version as u64),
        None => Ok(None),
    }
}

/// Every workspace with an active bundle (loaded at start).
pub fn all_active(conn: &Connection) -> Result<Vec<(String, StoredBundle)>, StoreError> {
    let mut stmt = conn.prepare("SELECT workspace_id FROM active_bundles")?;
    let workspaces = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for ws in workspaces {
        if let Some(bundle) = active(conn, &ws)? {
            out.push((ws, bundle));
        }
    }
    Ok(out)
}

pub fn known_traits(conn: &Connection, ws: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT key FROM traits_seen WHERE workspace_id = ?1 ORDER BY key")?;
    let keys = stmt
        .query_map([ws], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(keys)
}

pub struct LoggedDecision<'a> {
    pub id: &'a str,
    pub ws: &'a str,
    pub profile_id: Option<&'a str>,
    pub bundle_version: u64,
    pub holdout: bool,
    pub request: &'a str,
    pub result: &'a str,
    pub at: i64,
    /// Every action returned.
    pub actions: Vec<LoggedAction>,
    pub channel: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedAction {
    pub action_id: String,
    pub probability: f64,
    pub marketing: bool,
    /// The contextual model's `{"key","x"}` as JSON, when it has one.
    pub features: Option<String>,
}

pub fn log_decision(conn: &Connection, decision: &LoggedDecision) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO decisions (id, workspace_id, profile_id, bundle_version, holdout, request, result, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        decision.id,
        decision.ws,
        decision.profile_id,
        decision.bundle_version as i64,
        decision.holdout,
        decision.request,
        decision.result,
        decision.at
    ])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO decision_actions (decision_id, profile_id, action_id, probability, at, channel, marketing, features)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for action in &decision.actions {
        insert.execute(params![
            decision.id,
            decision.profile_id,
            action.action_id,
            action.probability,
            decision.at,
            decision.channel,
            action.marketing,
            action.features
        ])?;
    }
    crate::arms::offered(conn, decision)
}

/// When each action was returned to this profile's members (contact caps).
pub fn contact_history(conn: &Connection, root: &str) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT action_id, at FROM decision_actions
         WHERE profile_id IN (SELECT id FROM profiles WHERE root_id = ?1) ORDER BY at",
    )?;
    let rows = stmt
        .query_map([root], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// When marketing actions were returned to this person on `channel`
/// (customer caps count these).
pub fn marketing_contacts(
    conn: &Connection,
    root: &str,
    channel: &str,
) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT at FROM decision_actions
         WHERE profile_id IN (SELECT id FROM profiles WHERE root_id = ?1) AND marketing = 1 AND channel = ?2 ORDER BY at",
    )?;
    let rows = stmt
        .query_map(params![root, channel], |row| row.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(rows)
}

pub fn customer_limits(conn: &Connection, root: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT limits FROM customer_limits WHERE profile_id = ?1")?
        .query_row([root], |row| row.get(0))
        .optional()?)
}

pub fn set_customer_limits(
    conn: &Connection,
    ws: &str,
    root: &str,
    limits: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO customer_limits (profile_id, workspace_id, limits, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (profile_id) DO UPDATE SET limits = excluded.limits, updated_at = excluded.updated_at",
    )?
    .execute(params![root, ws, limits, now])?;
    Ok(())
}

/// One logged decision with its outcomes: request and result as logged,
/// outcome count and summed revenue.
pub struct LoggedOutcome {
    pub request: String,
    pub result: String,
    pub outcomes: u64,
    pub revenue: f64,
}

/// The whole decision log of a workspace, oldest first, with outcomes joined.
pub fn decision_log(conn: &Connection, ws: &str) -> Result<Vec<LoggedOutcome>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.request, d.result, COUNT(o.message_id), COALESCE(SUM(o.revenue), 0)
         FROM decisions d LEFT JOIN outcomes o ON o.decision_id = d.id AND o.workspace_id = d.workspace_id
         WHERE d.workspace_id = ?1 GROUP BY d.id ORDER BY d.at, d.id",
    )?;
    let rows = stmt
        .query_map([ws], |row| {
            Ok(LoggedOutcome {
                request: row.get(0)?,
                result: row.get(1)?,
                outcomes: row.get::<_, i64>(2)?.max(0) as u64,
                revenue: row.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The workspace's challenger: `(version, share)`.
pub fn challenger(conn: &Connection, ws: &str) -> Result<Option<(u64, f64)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT version, share FROM challengers WHERE workspace_id = ?1")?
        .query_row([ws], |row| {
            Ok((row.get::<_, i64>(0)?.max(0) as u64, row.get(1)?))
        })
        .optional()?)
}

pub fn set_challenger(
    conn: &Connection,
    ws: &str,
    version: u64,
    share: f64,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO challengers (workspace_id, version, share, started_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workspace_id) DO UPDATE SET version = excluded.version, share = excluded.share, started_at = excluded.started_at",
    )?
    .execute(params![ws, version as i64, share, now])?;
    Ok(())
}

pub fn clear_challenger(conn: &Connection, ws: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM challengers WHERE workspace_id = ?1")?
        .execute([ws])?
        > 0)
}
