//! Edge agents, both sides of the wire. The centre streams consent and
//! limit changes since a cursor, leases contact budgets, and marks which
//! edge made a decision; an edge keeps an outbox, its state (last good
//! bundle, cursors) and the snapshot it was sent, in its own data dir.

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where a snapshot stream stands: the last consent-ledger row sent, and
/// the last `(updated_at, profile_id)` of customer limits sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotCursor {
    pub consent_seq: i64,
    pub limits_at: i64,
    pub limits_profile: String,
}

impl SnapshotCursor {
    /// `seq:at:profile`, opaque to clients.
    pub fn encode(&self) -> String {
        format!(
            "{}:{}:{}",
            self.consent_seq, self.limits_at, self.limits_profile
        )
    }

    pub fn decode(text: &str) -> Option<SnapshotCursor> {
        if text.is_empty() {
            return Some(SnapshotCursor::default());
        }
        let mut parts = text.splitn(3, ':');
        Some(SnapshotCursor {
            consent_seq: parts.next()?.parse().ok()?,
            limits_at: parts.next()?.parse().ok()?,
            limits_profile: parts.next()?.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectConsent {
    pub purpose: String,
    pub channel: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectIdentity {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// One person's current consent ledger and limits, as an edge needs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    pub profile_id: String,
    pub identities: Vec<SubjectIdentity>,
    /// Oldest first: the newest record per purpose × channel wins.
    pub consents: Vec<SubjectConsent>,
    /// The customer's limits as stored (JSON text), if any.
    pub limits: Option<String>,
}

/// Everyone whose consent or limits changed after `since`, at most about
/// `limit` changes; `complete` is false when more remain.
pub fn snapshot(
    conn: &Connection,
    ws: &str,
    since: &SnapshotCursor,
    limit: usize,
) -> Result<(Vec<Subject>, SnapshotCursor, bool), StoreError> {
    let mut next = since.clone();
    let mut roots: BTreeSet<String> = BTreeSet::new();
    let mut consent_rows = 0usize;
    {
        let mut stmt = conn.prepare_cached(
            "SELECT c.seq, p.root_id FROM consents c JOIN profiles p ON p.id = c.profile_id
             WHERE c.workspace_id = ?1 AND c.seq > ?2 ORDER BY c.seq LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![ws, since.consent_seq, limit as i64], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (seq, root) = row?;
            next.consent_seq = seq;
            roots.insert(root);
            consent_rows += 1;
        }
    }
    let mut limit_rows = 0usize;
    {
        let mut stmt = conn.prepare_cached(
            "SELECT l.updated_at, l.profile_id, COALESCE(p.root_id, l.profile_id) FROM customer_limits l
             LEFT JOIN profiles p ON p.id = l.profile_id
             WHERE l.workspace_id = ?1 AND (l.updated_at > ?2 OR (l.updated_at = ?2 AND l.profile_id > ?3))
             ORDER BY l.updated_at, l.profile_id LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![ws, since.limits_at, since.limits_profile, limit as i64],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            },
        )?;
        for row in rows {
            let (at, profile, root) = row?;
            next.limits_at = at;
            next.limits_profile = profile;
            roots.insert(root);
            limit_rows += 1;
        }
    }
    let complete = consent_rows < limit && limit_rows < limit;
    let mut subjects = Vec::with_capacity(roots.len());
    for root in roots {
        subjects.push(subject(conn, &root)?);
    }
    Ok((subjects, next, complete))
}

fn subject(conn: &Connection, root: &str) -> Result<Subject, StoreError> {
    let identities = conn
        .prepare_cached(
            "SELECT i.kind, i.value FROM identities i JOIN profiles p ON p.id = i.profile_id
             WHERE p.root_id = ?1 ORDER BY i.kind, i.value",
        )?
        .query_map([root], |row| {
            Ok(SubjectIdentity {
                kind: row.get(0)?,
                value: row.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let consents = crate::read::consent_ledger(conn, root)?
        .into_iter()
        .map(|record| SubjectConsent {
            purpose: record.purpose,
            channel: record.channel,
            status: record.status,
        })
        .collect();
    Ok(Subject {
        profile_id: root.to_string(),
        identities,
        consents,
        limits: crate::bundles::customer_limits(conn, root)?,
    })
}

/// What a lease request asks for, at the centre.
pub struct LeaseRequest<'a> {
    pub ws: &'a str,
    pub edge_id: &'a str,
    pub root: &'a str,
    pub channel: &'a str,
    /// The customer's cap on this channel: contacts per window.
    pub cap: u32,
    pub window_ms: i64,
    pub requested: u32,
    pub now: i64,
    pub ttl_ms: i64,
}

/// Grant up to `requested` contacts: what the cap leaves after contacts
/// already logged in the window and budgets other leases still hold.
/// Returns the lease id and the number granted (0 means none is left).
pub fn grant_lease(conn: &Connection, request: &LeaseRequest) -> Result<(String, u32), StoreError> {
    let since = request.now - request.window_ms;
    let logged: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM decision_actions
             WHERE profile_id IN (SELECT id FROM profiles WHERE root_id = ?1)
               AND marketing = 1 AND channel = ?2 AND at > ?3",
        )?
        .query_row(params![request.root, request.channel, since], |row| {
            row.get(0)
        })?;
    let held: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(MAX(granted - used, 0)), 0) FROM edge_leases
             WHERE workspace_id = ?1 AND profile_id = ?2 AND channel = ?3 AND expires_at > ?4",
        )?
        .query_row(
            params![request.ws, request.root, request.channel, request.now],
            |row| row.get(0),
        )?;
    let left = (i64::from(request.cap) - logged - held).max(0);
    let granted = left.min(i64::from(request.requested)) as u32;
    let id = crate::identity::new_id("lease_");
    if granted > 0 {
        conn.prepare_cached(
            "INSERT INTO edge_leases (id, workspace_id, edge_id, profile_id, channel, granted, expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            id,
            request.ws,
            request.edge_id,
            request.root,
            request.channel,
            granted,
            request.now + request.ttl_ms,
            request.now
        ])?;
    }
    Ok((id, granted))
}

/// An uploaded edge decision spent `count` contacts of a lease: the
/// decision log now counts them, so the lease no longer holds them.
pub fn spend_lease(
    conn: &Connection,
    ws: &str,
    lease_id: &str,
    count: u32,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE edge_leases SET used = used + ?3 WHERE id = ?1 AND workspace_id = ?2",
    )?
    .execute(params![lease_id, ws, count])?;
    Ok(())
}

pub fn decision_exists(conn: &Connection, ws: &str, id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM decisions WHERE id = ?1 AND workspace_id = ?2")?
        .query_row(params![id, ws], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn mark_edge_decision(conn: &Connection, id: &str, edge_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE decisions SET edge_id = ?2 WHERE id = ?1")?
        .execute(params![id, edge_id])?;
    Ok(())
}

// ---- the edge's own data dir ----

pub fn state_get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM edge_state WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()?)
}

pub fn state_set(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO edge_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

pub fn outbox_push(conn: &Connection, kind: &str, body: &str, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO edge_outbox (kind, body, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![kind, body, now])?;
    Ok(())
}

/// The oldest items of a kind, at most `limit` of them and about
/// `max_bytes` of bodies (always at least one).
pub fn outbox_take(
    conn: &Connection,
    kind: &str,
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, body FROM edge_outbox WHERE kind = ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![kind, limit as i64], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for row in rows {
        let (seq, body) = row?;
        if !out.is_empty() && bytes + body.len() > max_bytes {
            break;
        }
        bytes += body.len();
        out.push((seq, body));
    }
    Ok(out)
}

/// Forget what the centre acknowledged: every item of `kind` up to `seq`.
pub fn outbox_ack(conn: &Connection, kind: &str, up_to: i64) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM edge_outbox WHERE kind = ?1 AND seq <= ?2")?
        .execute(params![kind, up_to])?)
}

/// Items waiting, per kind.
pub fn outbox_counts(conn: &Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT kind, COUNT(*) FROM edge_outbox GROUP BY kind ORDER BY kind")?;
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Store subjects a snapshot sent (newer state replaces older).
pub fn apply_subjects(conn: &Connection, subjects: &[Subject]) -> Result<(), StoreError> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO edge_subjects (profile_id, consents, limits) VALUES (?1, ?2, ?3)
         ON CONFLICT (profile_id) DO UPDATE SET consents = excluded.consents, limits = excluded.limits",
    )?;
    let mut identity = conn.prepare_cached(
        "INSERT INTO edge_identities (kind, value, profile_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (kind, value) DO UPDATE SET profile_id = excluded.profile_id",
    )?;
    for subject in subjects {
        let consents = serde_json::to_string(&subject.consents)?;
        upsert.execute(params![subject.profile_id, consents, subject.limits])?;
        for id in &subject.identities {
            identity.execute(params![id.kind, id.value, subject.profile_id])?;
        }
    }
    Ok(())
}

/// The centre's profile id, consent ledger and limits (JSON) of a person.
pub type KnownSubject = (String, Vec<SubjectConsent>, Option<String>);

/// The centre's profile id, consent ledger and limits for an identity.
pub fn subject_for(
    conn: &Connection,
    kind: &str,
    value: &str,
) -> Result<Option<KnownSubject>, StoreError> {
    let found: Option<(String, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT s.profile_id, s.consents, s.limits FROM edge_identities i
             JOIN edge_subjects s ON s.profile_id = i.profile_id WHERE i.kind = ?1 AND i.value = ?2",
        )?
        .query_row(params![kind, value], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((profile, consents, limits)) = found else {
        return Ok(None);
    };
    Ok(Some((profile, serde_json::from_str(&consents)?, limits)))
}

/// A lease this edge holds with budget left: `(lease_id, remaining)`.
pub fn held_lease(
    conn: &Connection,
    profile: &str,
    channel: &str,
    now: i64,
) -> Result<Option<(String, u32)>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT lease_id, granted - used FROM edge_held_leases
             WHERE profile_id = ?1 AND channel = ?2 AND expires_at > ?3 AND used < granted
             ORDER BY expires_at LIMIT 1",
        )?
        .query_row(params![profile, channel, now], |row| {
            Ok((row.get(0)?, row.get::<_, i64>(1)?.max(0) as u32))
        })
        .optional()?)
}

pub fn hold_lease(
    conn: &Connection,
    lease_id: &str,
    profile: &str,
    channel: &str,
    granted: u32,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO edge_held_leases (lease_id, profile_id, channel, granted, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![lease_id, profile, channel, granted, expires_at])?;
    Ok(())
}

pub fn use_held_lease(conn: &Connection, lease_id: &str, count: u32) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE edge_held_leases SET used = used + ?2 WHERE lease_id = ?1")?
        .execute(params![lease_id, count])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().expect("db");
        crate::schema::migrate(&mut conn).expect("migrate");
        conn.execute(
            "INSERT INTO profiles (id, workspace_id, root_id, created_at) VALUES ('p1', 'w', 'p1', 0)",
            [],
        )
        .expect("profile");
        conn
    }

    fn ask(conn: &Connection, edge: &str, requested: u32, now: i64) -> u32 {
        let request = LeaseRequest {
            ws: "w",
            edge_id: edge,
            root: "p1",
            channel: "email",
            cap: 3,
            window_ms: 1_000,
            requested,
            now,
            ttl_ms: 500,
        };
        grant_lease(conn, &request).expect("lease").1
    }

    #[test]
    fn leases_never_grant_more_than_the_cap_leaves() {
        let conn = db();
        // One marketing contact already logged in the window, one outside it.
        for at in [-5_000, 900] {
            conn.execute(
                "INSERT INTO decision_actions (decision_id, profile_id, action_id, probability, at, channel, marketing)
                 VALUES ('d', 'p1', 'a', 1.0, ?1, 'email', 1)",
                [at],
            )
            .expect("contact");
        }
        assert_eq!(ask(&conn, "a", 1, 1_000), 1);
        assert_eq!(ask(&conn, "b", 5, 1_000), 1, "3 − 1 logged − 1 leased");
        assert_eq!(ask(&conn, "a", 1, 1_000), 0, "nothing left");
        // Spending a lease moves its budget into the log: still nothing left.
        let id: String = conn
            .query_row("SELECT id FROM edge_leases WHERE edge_id = 'a'", [], |r| {
                r.get(0)
            })
            .expect("lease id");
        spend_lease(&conn, "w", &id, 1).expect("spend");
        conn.execute(
            "INSERT INTO decision_actions (decision_id, profile_id, action_id, probability, at, channel, marketing)
             VALUES ('d2', 'p1', 'a', 1.0, 1000, 'email', 1)",
            [],
        )
        .expect("contact");
        assert_eq!(ask(&conn, "c", 1, 1_000), 0);
        // Leases expire (unspent budget returns); old contacts leave the window.
        assert_eq!(
            ask(&conn, "c", 3, 1_600),
            1,
            "b's lease expired; 2 contacts in window"
        );
    }

    #[test]
    fn cursor_round_trips_and_refuses_garbage() {
        let cursor = SnapshotCursor {
            consent_seq: 12,
            limits_at: 1_700_000_000_000,
            limits_profile: "prof_a:b".into(),
        };
        assert_eq!(SnapshotCursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(SnapshotCursor::decode(""), Some(SnapshotCursor::default()));
        assert_eq!(SnapshotCursor::decode("x:1:"), None);
        assert_eq!(SnapshotCursor::decode("1"), None);
    }
}
