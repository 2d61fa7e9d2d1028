//! The ideas and reviews board's storage.

use crate::StoreError;
use rusqlite::{Connection, params};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Idea {
    pub id: String,
    #[serde(skip)]
    pub author: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    #[serde(skip)]
    pub public: bool,
    pub status: String,
    pub hidden: bool,
    pub flagged: bool,
    pub up: u64,
    pub votes: u64,
    pub comments: u64,
    pub created_at: i64,
}

pub struct NewIdea<'a> {
    pub id: &'a str,
    pub author: &'a str,
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    /// The author agreed to show it (and their name) publicly.
    pub public: bool,
}

pub fn post(conn: &Connection, ws: &str, idea: &NewIdea, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO ideas (id, workspace_id, author, kind, title, body, public, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![idea.id, ws, idea.author, idea.kind, idea.title, idea.body, idea.public, now])?;
    Ok(())
}

/// One vote per person: voting again changes the vote, never adds one.
pub fn vote(conn: &Connection, idea: &str, voter: &str, up: bool) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO idea_votes (idea_id, voter, up) VALUES (?1, ?2, ?3)
         ON CONFLICT (idea_id, voter) DO UPDATE SET up = excluded.up",
    )?
    .execute(params![idea, voter, up])?;
    Ok(())
}

pub fn comment(
    conn: &Connection,
    idea: &str,
    author: &str,
    body: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO idea_comments (idea_id, author, body, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![idea, author, body, now])?;
    Ok(())
}

pub fn exists(conn: &Connection, ws: &str, idea: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM ideas WHERE id = ?1 AND workspace_id = ?2")?
        .exists(params![idea, ws])?)
}

/// Moderation and status: hide, flag, planned/shipped.
pub fn moderate(
    conn: &Connection,
    ws: &str,
    idea: &str,
    hidden: Option<bool>,
    flagged: Option<bool>,
    status: Option<&str>,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE ideas SET hidden = COALESCE(?3, hidden), flagged = COALESCE(?4, flagged), status = COALESCE(?5, status)
             WHERE id = ?1 AND workspace_id = ?2",
        )?
        .execute(params![idea, ws, hidden, flagged, status])?;
    Ok(changed > 0)
}

pub fn list(conn: &Connection, ws: &str) -> Result<Vec<Idea>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.id, i.author, i.kind, i.title, i.body, i.public, i.status, i.hidden, i.flagged, i.created_at,
                (SELECT COALESCE(SUM(up), 0) FROM idea_votes v WHERE v.idea_id = i.id),
                (SELECT COUNT(*) FROM idea_votes v WHERE v.idea_id = i.id),
                (SELECT COUNT(*) FROM idea_comments c WHERE c.idea_id = i.id)
         FROM ideas i WHERE i.workspace_id = ?1",
    )?;
    let rows = stmt
        .query_map([ws], |row| {
            Ok(Idea {
                id: row.get(0)?,
                author: row.get(1)?,
                kind: row.get(2)?,
                title: row.get(3)?,
                body: row.get(4)?,
                public: row.get(5)?,
                status: row.get(6)?,
                hidden: row.get(7)?,
                flagged: row.get(8)?,
                created_at: row.get(9)?,
                up: row.get::<_, i64>(10)?.max(0) as u64,
                votes: row.get::<_, i64>(11)?.max(0) as u64,
                comments: row.get::<_, i64>(12)?.max(0) as u64,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
