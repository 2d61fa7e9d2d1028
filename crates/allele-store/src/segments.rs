//! Segment definitions and the profiles they are evaluated over.

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

pub fn put(
    conn: &Connection,
    ws: &str,
    id: &str,
    definition: &str,
    description: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO segments (workspace_id, id, definition, description, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workspace_id, id) DO UPDATE SET definition = excluded.definition,
             description = excluded.description, updated_at = excluded.updated_at",
    )?
    .execute(params![ws, id, definition, description, now])?;
    Ok(())
}

pub fn get(conn: &Connection, ws: &str, id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT definition FROM segments WHERE workspace_id = ?1 AND id = ?2")?
        .query_row(params![ws, id], |row| row.get(0))
        .optional()?)
}

/// Every `(id, definition)` of the workspace, by id.
pub fn all(conn: &Connection, ws: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, definition FROM segments WHERE workspace_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([ws], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Root profiles after `after` (by id), with their first userId.
pub fn roots_after(
    conn: &Connection,
    ws: &str,
    after: &str,
    limit: usize,
) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, (SELECT i.value FROM identities i JOIN profiles m ON m.id = i.profile_id
                       WHERE m.root_id = p.id AND i.kind = 'user_id' ORDER BY i.created_at LIMIT 1)
         FROM profiles p WHERE p.workspace_id = ?1 AND p.merged_into IS NULL AND p.id > ?2 ORDER BY p.id LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![ws, after, limit as i64], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
