//! The writer's in-memory map of identities to profiles and profiles to
//! roots.
//!
//! Resolving an event's profile is the hot path of ingest; asking SQLite for
//! every identity costs more than storing the event. Only the writer thread
//! changes identities and roots, so it can keep an exact copy in memory:
//!
//! - loaded from the database when the writer starts (if it fits in
//!   [`MAX_ENTRIES`]; otherwise the cache is partial and a miss asks SQLite);
//! - every change inside a job is recorded in an undo log, replayed in reverse
//!   if the job's savepoint rolls back;
//! - if a whole group commit fails, the cache is marked stale and reloaded
//!   before the next group.

use crate::StoreError;
use rusqlite::Connection;
use std::collections::HashMap;

/// Identities kept before the cache gives up on being complete.
pub const MAX_ENTRIES: usize = 4_000_000;

pub enum Lookup {
    /// The identity's owner profile.
    Owner(String),
    /// Known not to exist (the cache is complete).
    Absent,
    /// Not cached; ask the database.
    Unknown,
}

enum Undo {
    Owner(String),
    Root(String, Option<String>),
}

#[derive(Default)]
pub struct IdentityCache {
    owners: HashMap<String, String>,
    roots: HashMap<String, String>,
    complete: bool,
    stale: bool,
    undo: Vec<Undo>,
}

fn key(ws: &str, kind: &str, value: &str) -> String {
    let mut key = String::with_capacity(ws.len() + kind.len() + value.len() + 2);
    key.push_str(ws);
    key.push('\u{1f}');
    key.push_str(kind);
    key.push('\u{1f}');
    key.push_str(value);
    key
}

impl IdentityCache {
    pub fn load(conn: &Connection) -> Result<IdentityCache, StoreError> {
        let mut cache = IdentityCache::default();
        cache.reload(conn)?;
        Ok(cache)
    }

    fn reload(&mut self, conn: &Connection) -> Result<(), StoreError> {
        self.owners.clear();
        self.roots.clear();
        self.undo.clear();
        self.stale = false;
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM identities", [], |row| row.get(0))?;
        self.complete = (count as usize) <= MAX_ENTRIES;
        if !self.complete {
            return Ok(());
        }
        let mut stmt =
            conn.prepare("SELECT workspace_id, kind, value, profile_id FROM identities")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let ws: String = row.get(0)?;
            let kind: String = row.get(1)?;
            let value: String = row.get(2)?;
            self.owners.insert(key(&ws, &kind, &value), row.get(3)?);
        }
        let mut stmt = conn.prepare("SELECT id, root_id FROM profiles")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            self.roots.insert(row.get(0)?, row.get(1)?);
        }
        Ok(())
    }

    /// Reload after a failed group, before anything reads the cache.
    pub fn refresh_if_stale(&mut self, conn: &Connection) -> Result<(), StoreError> {
        if self.stale {
            self.reload(conn)?;
        }
        Ok(())
    }

    pub fn owner(&self, ws: &str, kind: &str, value: &str) -> Lookup {
        match self.owners.get(&key(ws, kind, value)) {
            Some(owner) => Lookup::Owner(owner.clone()),
            None if self.complete => Lookup::Absent,
            None => Lookup::Unknown,
        }
    }

    pub fn root(&self, profile: &str) -> Option<String> {
        self.roots.get(profile).cloned()
    }

    pub fn set_owner(&mut self, ws: &str, kind: &str, value: &str, profile: &str) {
        if self.owners.len() >= MAX_ENTRIES {
            // Too big to hold whole: keep what we have, stop claiming completeness.
            self.complete = false;
            return;
        }
        let key = key(ws, kind, value);
        if self
            .owners
            .insert(key.clone(), profile.to_string())
            .is_none()
        {
            self.undo.push(Undo::Owner(key));
        }
    }

    pub fn set_root(&mut self, profile: &str, root: &str) {
        let old = self.roots.insert(profile.to_string(), root.to_string());
        self.undo.push(Undo::Root(profile.to_string(), old));
    }

    /// Reload from the database before the next group (after changes the
    /// undo log cannot express, such as erasure).
    pub fn reload_before_next_group(&mut self) {
        self.stale = true;
    }

    /// Erasure: the identity no longer exists. Not undoable, so erasure runs
    /// as an isolated job whose failure marks the cache stale instead.
    pub fn forget(&mut self, ws: &str, kind: &str, value: &str, profile: &str) {
        self.owners.remove(&key(ws, kind, value));
        self.roots.remove(profile);
    }

    /// A job's savepoint committed: its changes stay.
    pub fn keep_job(&mut self) {
        self.undo.clear();
    }

    /// A job's savepoint rolled back: undo its changes, newest first.
    pub fn undo_job(&mut self) {
        while let Some(entry) = self.undo.pop() {
            match entry {
                Undo::Owner(key) => {
                    self.owners.remove(&key);
                }
                Undo::Root(profile, Some(old)) => {
                    self.roots.insert(profile, old);
                }
                Undo::Root(profile, None) => {
                    self.roots.remove(&profile);
                }
            }
        }
    }

    /// The group's commit failed: nothing in memory can be trusted.
    pub fn mark_stale(&mut self) {
        self.undo.clear();
        self.stale = true;
    }

    pub fn len(&self) -> usize {
        self.owners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }
}
