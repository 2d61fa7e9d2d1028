//! Reads behind the marketer console's pages that no JSON report answers:
//! headline counts, recent activity, the decision log, the consent ledger
//! summary and the list of policy versions.

use crate::StoreError;
use rusqlite::{Connection, params};

/// Headline numbers of a workspace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub events: i64,
    pub profiles: i64,
    pub decisions: i64,
    pub outcomes: i64,
    pub revenue: f64,
    pub consent_records: i64,
}

pub fn counts(conn: &Connection, ws: &str) -> Result<Counts, StoreError> {
    let count = |sql: &str| conn.query_row(sql, [ws], |row| row.get::<_, i64>(0));
    Ok(Counts {
        events: count("SELECT COUNT(*) FROM events WHERE workspace_id = ?1")?,
        profiles: count(
            "SELECT COUNT(*) FROM profiles WHERE workspace_id = ?1 AND merged_into IS NULL",
        )?,
        decisions: count("SELECT COUNT(*) FROM decisions WHERE workspace_id = ?1")?,
        outcomes: count("SELECT COUNT(*) FROM outcomes WHERE workspace_id = ?1")?,
        revenue: conn.query_row(
            "SELECT COALESCE(SUM(revenue), 0.0) FROM outcomes WHERE workspace_id = ?1",
            [ws],
            |row| row.get(0),
        )?,
        consent_records: count("SELECT COUNT(*) FROM consents WHERE workspace_id = ?1")?,
    })
}

/// Events per hour (by event time) from `since_ms` on: one entry per hour
/// that has events, as (start of the hour in ms, count), oldest first.
pub fn events_per_hour(
    conn: &Connection,
    ws: &str,
    since_ms: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT (ts / 3600000) * 3600000 AS hour, COUNT(*) FROM events
         WHERE workspace_id = ?1 AND ts >= ?2 GROUP BY hour ORDER BY hour",
    )?;
    let rows = stmt.query_map(params![ws, since_ms], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One logged decision as the decide endpoint answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedDecisionRow {
    pub id: String,
    pub profile_id: Option<String>,
    pub bundle_version: i64,
    pub holdout: bool,
    /// The JSON request the rules saw.
    pub request: String,
    /// The JSON answer (actions, candidates, trace).
    pub result: String,
    pub at: i64,
}

/// The newest decisions, optionally only those about some profiles (a root
/// and the profiles merged into it) or those that returned one action.
pub fn recent_decisions(
    conn: &Connection,
    ws: &str,
    profiles: Option<&[String]>,
    action: Option<&str>,
    limit: usize,
) -> Result<Vec<LoggedDecisionRow>, StoreError> {
    let profiles_json = profiles.map(|ids| serde_json::Value::from(ids.to_vec()).to_string());
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.profile_id, d.bundle_version, d.holdout, d.request, d.result, d.at
         FROM decisions d
         WHERE d.workspace_id = ?1
           AND (?2 IS NULL OR d.profile_id IN (SELECT value FROM json_each(?2)))
           AND (?3 IS NULL OR EXISTS (SELECT 1 FROM decision_actions a
                                      WHERE a.decision_id = d.id AND a.action_id = ?3))
         ORDER BY d.at DESC, d.id DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![ws, profiles_json, action, limit as i64], |row| {
        Ok(LoggedDecisionRow {
            id: row.get(0)?,
            profile_id: row.get(1)?,
            bundle_version: row.get(2)?,
            holdout: row.get(3)?,
            request: row.get(4)?,
            result: row.get(5)?,
            at: row.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Consent ledger records counted per (purpose, channel, status), and how
/// many profiles each combination currently holds (newest record wins).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentCount {
    pub purpose: String,
    pub channel: String,
    pub status: String,
    pub records: i64,
    pub current: i64,
}

pub fn consent_counts(conn: &Connection, ws: &str) -> Result<Vec<ConsentCount>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "WITH newest AS (
             SELECT purpose, channel, status FROM consents c
             WHERE workspace_id = ?1 AND seq = (SELECT MAX(seq) FROM consents n
                 WHERE n.profile_id = c.profile_id AND n.purpose = c.purpose AND n.channel = c.channel))
         SELECT c.purpose, c.channel, c.status, COUNT(*),
                (SELECT COUNT(*) FROM newest w
                 WHERE w.purpose = c.purpose AND w.channel = c.channel AND w.status = c.status)
         FROM consents c WHERE c.workspace_id = ?1
         GROUP BY c.purpose, c.channel, c.status ORDER BY c.purpose, c.channel, c.status",
    )?;
    let rows = stmt.query_map([ws], |row| {
        Ok(ConsentCount {
            purpose: row.get(0)?,
            channel: row.get(1)?,
            status: row.get(2)?,
            records: row.get(3)?,
            current: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A published policy version, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyVersion {
    pub version: i64,
    pub created_at: i64,
    pub active: bool,
    pub source_bytes: i64,
}

pub fn policy_versions(conn: &Connection, ws: &str) -> Result<Vec<PolicyVersion>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.version, b.created_at, b.version = a.version, LENGTH(CAST(b.source AS BLOB))
         FROM bundles b LEFT JOIN active_bundles a ON a.workspace_id = b.workspace_id
         WHERE b.workspace_id = ?1 ORDER BY b.version DESC",
    )?;
    let rows = stmt.query_map([ws], |row| {
        Ok(PolicyVersion {
            version: row.get(0)?,
            created_at: row.get(1)?,
            active: row.get::<_, Option<bool>>(2)?.unwrap_or(false),
            source_bytes: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().expect("db");
        conn.execute_batch(
            "CREATE TABLE consents (seq INTEGER PRIMARY KEY, workspace_id TEXT, profile_id TEXT,
                 purpose TEXT, channel TEXT, status TEXT);
             CREATE TABLE events (seq INTEGER PRIMARY KEY, workspace_id TEXT, ts INTEGER);",
        )
        .expect("schema");
        conn
    }

    #[test]
    fn consent_counts_keep_the_ledger_and_the_newest_state_apart() {
        let conn = conn();
        for (profile, status) in [("p1", "given"), ("p1", "withdrawn"), ("p2", "given")] {
            conn.execute(
                "INSERT INTO consents (workspace_id, profile_id, purpose, channel, status)
                 VALUES ('w', ?1, 'dpv:DirectMarketing', 'email', ?2)",
                [profile, status],
            )
            .expect("insert");
        }
        let counts = consent_counts(&conn, "w").expect("counts");
        let given = counts.iter().find(|c| c.status == "given").expect("given");
        let withdrawn = counts
            .iter()
            .find(|c| c.status == "withdrawn")
            .expect("withdrawn");
        assert_eq!((given.records, given.current), (2, 1));
        assert_eq!((withdrawn.records, withdrawn.current), (1, 1));
        assert!(consent_counts(&conn, "other").expect("empty").is_empty());
    }

    #[test]
    fn events_fall_into_their_hour() {
        let conn = conn();
        for ts in [3_600_000, 3_600_001, 7_300_000, 100] {
            conn.execute(
                "INSERT INTO events (workspace_id, ts) VALUES ('w', ?1)",
                [ts],
            )
            .expect("insert");
        }
        let hours = events_per_hour(&conn, "w", 3_600_000).expect("hours");
        assert_eq!(hours, vec![(3_600_000, 2), (7_200_000, 1)]);
    }
}
