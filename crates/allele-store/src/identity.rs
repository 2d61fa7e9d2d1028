//! Identity resolution: which profile an event belongs to, and merges.
//!
//! Invariants:
//! - every identity `(kind, value)` is owned by exactly one profile, the one
//!   that first claimed it, and keeps that owner across merges;
//! - a merge only adds the edge `from.merged_into = into` and moves the
//!   `root_id` of `from`'s subtree, so an unmerge removes exactly that edge;
//! - implicit merges never join two profiles that each carry a different
//!   `user_id`, nor a pair an unmerge separated. `alias` is explicit and may.

use crate::StoreError;
use crate::cache::{IdentityCache, Lookup};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};

/// How many identities of one kind a merged profile may hold before further
/// ones are kept out (and the refusal recorded).
pub fn kind_limit(kind: &str) -> i64 {
    match kind {
        "user_id" => 16,
        "anonymous_id" => 1_000,
        _ => 10,
    }
}

/// Traits that identify a person. A value seen on two profiles merges them.
pub const IDENTITY_TRAITS: &[&str] = &["email", "phone"];

pub struct Resolver<'a> {
    pub conn: &'a Connection,
    pub ws: &'a str,
    pub now: i64,
    pub cache: &'a mut IdentityCache,
}

#[derive(Debug, Clone)]
pub struct Found {
    pub owner: String,
    pub root: String,
}

/// Normalise an identity trait value so that `A@B.com ` and `a@b.com` match.
pub fn normalise_identity(kind: &str, value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let text = match kind {
        "email" => text.to_lowercase(),
        "phone" => text
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect(),
        _ => text,
    };
    (!text.is_empty()).then_some(text)
}

/// Time-ordered ids (milliseconds, a per-process counter, random bits):
/// new rows land at the end of every index keyed by them instead of at
/// random pages, which keeps ingest writes sequential.
pub fn new_id(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let millis = jiff::Timestamp::now().as_millisecond();
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed) & 0xff_ffff;
    format!(
        "{prefix}{millis:011x}{count:06x}{:06x}",
        rand::random::<u32>() & 0xff_ffff
    )
}

impl Resolver<'_> {
    pub fn lookup(&mut self, kind: &str, value: &str) -> Result<Option<Found>, StoreError> {
        let owner = match self.cache.owner(self.ws, kind, value) {
            Lookup::Owner(owner) => owner,
            Lookup::Absent => return Ok(None),
            Lookup::Unknown => {
                let owner: Option<String> = self
                    .conn
                    .prepare_cached("SELECT profile_id FROM identities WHERE workspace_id = ?1 AND kind = ?2 AND value = ?3")?
                    .query_row(params![self.ws, kind, value], |row| row.get(0))
                    .optional()?;
                let Some(owner) = owner else { return Ok(None) };
                self.cache.set_owner(self.ws, kind, value, &owner);
                owner
            }
        };
        let root = self.root_of(&owner)?.unwrap_or_else(|| owner.clone());
        Ok(Some(Found { owner, root }))
    }

    pub fn root_of(&mut self, profile_id: &str) -> Result<Option<String>, StoreError> {
        if let Some(root) = self.cache.root(profile_id) {
            return Ok(Some(root));
        }
        let root: Option<String> = self
            .conn
            .prepare_cached("SELECT root_id FROM profiles WHERE id = ?1 AND workspace_id = ?2")?
            .query_row(params![profile_id, self.ws], |row| row.get(0))
            .optional()?;
        if let Some(root) = &root {
            self.cache.set_root(profile_id, root);
        }
        Ok(root)
    }

    pub fn create_profile(&mut self) -> Result<String, StoreError> {
        let id = new_id(allele_types::profile_ref::PROFILE_ID_PREFIX);
        self.conn
            .prepare_cached("INSERT INTO profiles (id, workspace_id, root_id, created_at) VALUES (?1, ?2, ?1, ?3)")?
            .execute(params![id, self.ws, self.now])?;
        self.cache.set_root(&id, &id);
        Ok(id)
    }

    /// Give a profile created in this same step its first identities (no
    /// limit can be reached yet, so no count is needed).
    pub fn claim_fresh(
        &mut self,
        kind: &str,
        value: &str,
        profile: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO identities (workspace_id, kind, value, profile_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![self.ws, kind, value, profile, self.now])?;
        self.cache.set_owner(self.ws, kind, value, profile);
        Ok(())
    }

    /// Give `profile` the identity, unless the merged profile already holds
    /// as many of that kind as allowed.
    pub fn claim(
        &mut self,
        kind: &str,
        value: &str,
        profile: &str,
        cause: &Cause<'_>,
    ) -> Result<bool, StoreError> {
        let root = self
            .root_of(profile)?
            .unwrap_or_else(|| profile.to_string());
        let held: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM identities i JOIN profiles p ON p.id = i.profile_id
                 WHERE p.root_id = ?1 AND i.kind = ?2",
            )?
            .query_row(params![root, kind], |row| row.get(0))?;
        if held >= kind_limit(kind) {
            self.refuse(
                &root,
                None,
                &format!("limit of {} `{kind}` identities reached", kind_limit(kind)),
                cause,
            )?;
            return Ok(false);
        }
        self.claim_fresh(kind, value, profile)?;
        Ok(true)
    }

    /// The userIds held anywhere in the merged profile rooted at `root`.
    pub fn user_ids(&self, root: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.value FROM identities i JOIN profiles p ON p.id = i.profile_id
             WHERE p.root_id = ?1 AND i.kind = 'user_id' ORDER BY i.value",
        )?;
        let ids = stmt
            .query_map([root], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    fn members(&self, root: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM profiles WHERE root_id = ?1")?;
        let ids = stmt
            .query_map([root], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    fn blocked(&self, a: &str, b: &str) -> Result<bool, StoreError> {
        let members_a = self.members(a)?;
        let members_b = self.members(b)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT 1 FROM merge_blocks WHERE (profile_a = ?1 AND profile_b = ?2) OR (profile_a = ?2 AND profile_b = ?1)",
        )?;
        for x in &members_a {
            for y in &members_b {
                if stmt.exists(params![x, y])? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    pub fn refuse(
        &self,
        a: &str,
        b: Option<&str>,
        reason: &str,
        cause: &Cause<'_>,
    ) -> Result<(), StoreError> {
        metrics::counter!("allele_merge_refusals_total").increment(1);
        self.conn
            .prepare_cached(
                "INSERT INTO merge_refusals (workspace_id, profile_a, profile_b, reason, cause, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![self.ws, a, b, reason, cause.to_json(), self.now])?;
        Ok(())
    }

    /// Merge two roots found to be one person by a shared identity. Returns
    /// the surviving root, or `None` when a guard refused the merge.
    pub fn merge_implicit(
        &mut self,
        a: &str,
        b: &str,
        cause: &Cause<'_>,
    ) -> Result<Option<String>, StoreError> {
        if a == b {
            return Ok(Some(a.to_string()));
        }
        let users_a = self.user_ids(a)?;
        let users_b = self.user_ids(b)?;
        if !users_a.is_empty() && !users_b.is_empty() && users_a != users_b {
            self.refuse(a, Some(b), "both profiles carry a different user_id", cause)?;
            return Ok(None);
        }
        if self.blocked(a, b)? {
            self.refuse(
                a,
                Some(b),
                "an earlier unmerge separated these profiles",
                cause,
            )?;
            return Ok(None);
        }
        // The profile with a userId survives; otherwise the older one.
        let (from, into) = match (users_a.is_empty(), users_b.is_empty()) {
            (true, false) => (a, b),
            (false, true) => (b, a),
            _ => {
                if self.created(a)? <= self.created(b)? {
                    (b, a)
                } else {
                    (a, b)
                }
            }
        };
        self.merge(from, into, cause)?;
        Ok(Some(into.to_string()))
    }

    fn created(&self, id: &str) -> Result<(i64, String), StoreError> {
        let at = self
            .conn
            .prepare_cached("SELECT created_at FROM profiles WHERE id = ?1")?
            .query_row([id], |row| row.get(0))?;
        Ok((at, id.to_string()))
    }

    /// Record `from` (a root) as merged into `into` (a root).
    pub fn merge(&mut self, from: &str, into: &str, cause: &Cause<'_>) -> Result<(), StoreError> {
        metrics::counter!("allele_merges_total").increment(1);
        self.conn
            .prepare_cached("UPDATE profiles SET merged_into = ?2 WHERE id = ?1")?
            .execute(params![from, into])?;
        self.conn
            .prepare_cached("UPDATE profiles SET root_id = ?2 WHERE root_id = ?1")?
            .execute(params![from, into])?;
        self.conn
            .prepare_cached(
                "INSERT INTO merges (workspace_id, from_profile, into_profile, cause, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![self.ws, from, into, cause.to_json(), self.now])?;
        self.recache_roots(into)?;
        Ok(())
    }

    /// After a merge or unmerge moved a subtree, refresh the cached roots of
    /// every member now under `root`.
    fn recache_roots(&mut self, root: &str) -> Result<(), StoreError> {
        for member in self.members(root)? {
            self.cache.set_root(&member, root);
        }
        Ok(())
    }

    /// Undo one merge exactly: detach `from`'s subtree and make it a root again.
    pub fn unmerge(&mut self, merge_id: i64) -> Result<(String, String), StoreError> {
        let (from, into): (String, String) = self
            .conn
            .prepare_cached(
                "SELECT from_profile, into_profile FROM merges WHERE id = ?1 AND workspace_id = ?2 AND undone_at IS NULL",
            )?
            .query_row(params![merge_id, self.ws], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?
            .ok_or(StoreError::MergeNotFound)?;
        self.conn.execute(
            "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION SELECT p.id FROM profiles p JOIN sub ON p.merged_into = sub.id)
             UPDATE profiles SET root_id = ?1 WHERE id IN sub",
            params![from],
        )?;
        self.conn.execute(
            "UPDATE profiles SET merged_into = NULL WHERE id = ?1",
            params![from],
        )?;
        self.conn.execute(
            "UPDATE merges SET undone_at = ?2 WHERE id = ?1",
            params![merge_id, self.now],
        )?;
        self.conn.execute(
            "INSERT OR IGNORE INTO merge_blocks (profile_a, profile_b) VALUES (?1, ?2)",
            params![from, into],
        )?;
        self.recache_roots(&from)?;
        Ok((from, into))
    }

    /// The merge an unmerge of `profile` should undo: its own merge if it was
    /// merged away, else the newest active merge within its subtree.
    pub fn merge_to_undo(&self, profile: &str) -> Result<Option<i64>, StoreError> {
        let own = self
            .conn
            .query_row(
                "SELECT id FROM merges WHERE from_profile = ?1 AND undone_at IS NULL ORDER BY id DESC LIMIT 1",
                [profile],
                |row| row.get(0),
            )
            .optional()?;
        if own.is_some() {
            return Ok(own);
        }
        let newest = self
            .conn
            .query_row(
                "SELECT m.id FROM merges m JOIN profiles p ON p.id = m.into_profile
                 WHERE p.root_id = ?1 AND m.undone_at IS NULL ORDER BY m.id DESC LIMIT 1",
                [profile],
                |row| row.get(0),
            )
            .optional()?;
        Ok(newest)
    }
}

/// The identities a message's traits carry, normalised.
pub fn trait_identities(
    traits: &Map<String, Value>,
    context_traits: &Map<String, Value>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for source in [traits, context_traits] {
        for kind in IDENTITY_TRAITS {
            if let Some(value) = source.get(*kind).and_then(|v| normalise_identity(kind, v)) {
                let pair = ((*kind).to_string(), value);
                if !out.contains(&pair) {
                    out.push(pair);
                }
            }
        }
    }
    out
}

/// Why a merge or refusal happened; turned into JSON only when recorded,
/// since most events merge nothing.
#[derive(Debug, Clone, Copy)]
pub struct Cause<'a> {
    pub message_id: &'a str,
    pub kind: &'a str,
    pub via: &'a str,
}

impl Cause<'_> {
    pub fn to_json(&self) -> String {
        json!({"message_id": self.message_id, "type": self.kind, "via": self.via}).to_string()
    }
}

pub fn cause_of<'a>(message_id: &'a str, kind: &'a str, via: &'a str) -> Cause<'a> {
    Cause {
        message_id,
        kind,
        via,
    }
}
