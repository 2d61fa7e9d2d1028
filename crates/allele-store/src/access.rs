//! The access log's storage: append an entry (its leaf hash computed by
//! `allele-privacy`), and read leaves and a subject's entries back.

use crate::StoreError;
use allele_privacy::merkle::Hash;
use allele_privacy::merkle::entry::AccessLogEntry;
use rusqlite::{Connection, params};

/// Append one access; returns its index in the workspace's log.
pub fn append(
    conn: &Connection,
    ws: &str,
    at: i64,
    actor: &str,
    action: &str,
    purpose: &str,
    subject: &str,
) -> Result<u64, StoreError> {
    let next: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(idx) + 1, 0) FROM access_log WHERE workspace_id = ?1")?
        .query_row([ws], |row| row.get(0))?;
    let entry = AccessLogEntry {
        index: next as u64,
        at: at.max(0) as u64,
        actor: actor.to_string(),
        action: action.to_string(),
        purpose: purpose.to_string(),
        subject: subject.to_string(),
    };
    conn.prepare_cached(
        "INSERT INTO access_log (workspace_id, idx, at, actor, action, purpose, subject, leaf_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        ws,
        next,
        at,
        actor,
        action,
        purpose,
        subject,
        entry.leaf_hash().to_vec()
    ])?;
    Ok(next as u64)
}

/// Every leaf hash of the workspace's log, in order.
pub fn leaf_hashes(conn: &Connection, ws: &str) -> Result<Vec<Hash>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT leaf_hash FROM access_log WHERE workspace_id = ?1 ORDER BY idx")?;
    let mut rows = stmt.query([ws])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let bytes: Vec<u8> = row.get(0)?;
        let hash: Hash = bytes
            .try_into()
            .map_err(|_| StoreError::Invalid("a stored leaf hash is not 32 bytes".into()))?;
        out.push(hash);
    }
    Ok(out)
}

/// The entries about the given subjects (the members of a merged profile).
pub fn entries_about(
    conn: &Connection,
    ws: &str,
    subjects: &[String],
) -> Result<Vec<AccessLogEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT idx, at, actor, action, purpose, subject FROM access_log WHERE workspace_id = ?1 AND subject = ?2 ORDER BY idx",
    )?;
    let mut out = Vec::new();
    for subject in subjects {
        let rows = stmt.query_map(params![ws, subject], |row| {
            Ok(AccessLogEntry {
                index: row.get::<_, i64>(0)? as u64,
                at: row.get::<_, i64>(1)?.max(0) as u64,
                actor: row.get(2)?,
                action: row.get(3)?,
                purpose: row.get(4)?,
                subject: row.get(5)?,
            })
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    out.sort_by_key(|entry| entry.index);
    Ok(out)
}
