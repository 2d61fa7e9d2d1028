//! Channel settings, email templates and the email outbox.
//!
//! An outbox row moves `pending` → `sending` → `sent`, or back to `pending`
//! with a later `next_at` (retry, quiet hours, caps), or ends `blocked`
//! (no consent, no address), `bounced` (the server refused the recipient),
//! `failed` (retries exhausted) or `interrupted` (the process stopped after
//! `sending` was committed: the message may have left, so it is not retried).

use crate::StoreError;
use crate::identity::new_id;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

pub fn put_settings(
    conn: &Connection,
    ws: &str,
    channel: &str,
    settings: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO channel_settings (workspace_id, channel, settings, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workspace_id, channel) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
    )?
    .execute(params![ws, channel, settings, now])?;
    Ok(())
}

pub fn settings(conn: &Connection, ws: &str, channel: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT settings FROM channel_settings WHERE workspace_id = ?1 AND channel = ?2",
        )?
        .query_row(params![ws, channel], |row| row.get(0))
        .optional()?)
}

pub fn put_template(
    conn: &Connection,
    ws: &str,
    id: &str,
    template: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO email_templates (workspace_id, id, template, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workspace_id, id) DO UPDATE SET template = excluded.template, updated_at = excluded.updated_at",
    )?
    .execute(params![ws, id, template, now])?;
    Ok(())
}

pub fn template(conn: &Connection, ws: &str, id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT template FROM email_templates WHERE workspace_id = ?1 AND id = ?2")?
        .query_row(params![ws, id], |row| row.get(0))
        .optional()?)
}

/// A message to queue.
pub struct NewEmail<'a> {
    pub ws: &'a str,
    pub idempotency_key: &'a str,
    pub profile_id: &'a str,
    pub template_id: &'a str,
    pub kind: &'a str,
    pub vars: &'a str,
    pub source: &'a str,
    pub at: i64,
}

/// Queue a message unless one with its idempotency key exists; answers the
/// message id and whether this call created it.
pub fn enqueue(conn: &Connection, email: &NewEmail<'_>) -> Result<(String, bool), StoreError> {
    let id = new_id("eml_");
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO email_outbox (id, workspace_id, idempotency_key, profile_id, template_id, kind, vars, source, next_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        )?
        .execute(params![id, email.ws, email.idempotency_key, email.profile_id, email.template_id, email.kind, email.vars, email.source, email.at])?;
    if inserted == 1 {
        return Ok((id, true));
    }
    let existing: String = conn
        .prepare_cached(
            "SELECT id FROM email_outbox WHERE workspace_id = ?1 AND idempotency_key = ?2",
        )?
        .query_row(params![email.ws, email.idempotency_key], |row| row.get(0))?;
    Ok((existing, false))
}

#[derive(Debug, Clone)]
pub struct Due {
    pub id: String,
    pub ws: String,
    pub profile_id: String,
    pub template_id: String,
    pub kind: String,
    pub vars: String,
    pub attempts: i64,
}

pub fn due(conn: &Connection, now: i64, limit: usize) -> Result<Vec<Due>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.id, o.workspace_id, COALESCE(p.root_id, o.profile_id), o.template_id, o.kind, o.vars, o.attempts
         FROM email_outbox o LEFT JOIN profiles p ON p.id = o.profile_id
         WHERE o.status = 'pending' AND o.next_at <= ?1 ORDER BY o.next_at LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![now, limit as i64], |row| {
            Ok(Due {
                id: row.get(0)?,
                ws: row.get(1)?,
                profile_id: row.get(2)?,
                template_id: row.get(3)?,
                kind: row.get(4)?,
                vars: row.get(5)?,
                attempts: row.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Take a pending message for sending; `false` if someone else did or it
/// is no longer pending. Committed before the SMTP hand-off.
pub fn claim(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached("UPDATE email_outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ?1 AND status = 'pending'")?
        .execute([id])?;
    Ok(changed == 1)
}

/// Record where a message ended up; `next_at` only matters for `pending`.
pub fn settle(
    conn: &Connection,
    id: &str,
    status: &str,
    next_at: i64,
    error: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE email_outbox SET status = ?2, next_at = ?3, last_error = ?4,
         sent_at = CASE WHEN ?2 = 'sent' THEN ?5 ELSE sent_at END WHERE id = ?1",
    )?
    .execute(params![id, status, next_at, error, now])?;
    Ok(())
}

/// Postpone without counting an attempt (quiet hours, caps).
pub fn defer(conn: &Connection, id: &str, until: i64, reason: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE email_outbox SET next_at = ?2, last_error = ?3 WHERE id = ?1 AND status = 'pending'")?
        .execute(params![id, until, reason])?;
    Ok(())
}

/// After a restart: a message left `sending` may or may not have reached
/// the SMTP server, so it is never retried.
pub fn recover_interrupted(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE email_outbox SET status = 'interrupted',
         last_error = 'the server stopped while handing this message to the smtp server; not retried so it is never sent twice'
         WHERE status = 'sending'",
        [],
    )?)
}

/// When this person was sent marketing email (for caps), every merged member included.
pub fn marketing_sends(conn: &Connection, root: &str) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT sent_at FROM email_outbox WHERE profile_id IN (SELECT id FROM profiles WHERE root_id = ?1)
         AND status = 'sent' AND kind = 'marketing' AND sent_at IS NOT NULL",
    )?;
    let rows = stmt
        .query_map([root], |row| row.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(rows)
}

#[derive(Debug, Serialize)]
pub struct Message {
    pub id: String,
    pub idempotency_key: String,
    pub profile_id: String,
    pub template_id: String,
    pub kind: String,
    pub source: String,
    pub status: String,
    pub attempts: i64,
    pub next_at: i64,
    pub sent_at: Option<i64>,
    pub last_error: Option<String>,
}

const MESSAGE_COLUMNS: &str = "id, idempotency_key, profile_id, template_id, kind, source, status, attempts, next_at, sent_at, last_error";

fn message(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        idempotency_key: row.get(1)?,
        profile_id: row.get(2)?,
        template_id: row.get(3)?,
        kind: row.get(4)?,
        source: row.get(5)?,
        status: row.get(6)?,
        attempts: row.get(7)?,
        next_at: row.get(8)?,
        sent_at: row.get(9)?,
        last_error: row.get(10)?,
    })
}

pub fn get(conn: &Connection, ws: &str, id: &str) -> Result<Option<Message>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM email_outbox WHERE workspace_id = ?1 AND id = ?2"
        ))?
        .query_row(params![ws, id], message)
        .optional()?)
}

/// Messages of the workspace, optionally one status, in id order after `after`.
pub fn list(
    conn: &Connection,
    ws: &str,
    status: Option<&str>,
    after: &str,
    limit: usize,
) -> Result<Vec<Message>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM email_outbox WHERE workspace_id = ?1 AND (?2 IS NULL OR status = ?2) AND id > ?3 ORDER BY id LIMIT ?4"
    ))?;
    let rows = stmt
        .query_map(params![ws, status, after, limit as i64], message)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Mark a sent message bounced (a provider's report after delivery).
pub fn bounce(conn: &Connection, ws: &str, id: &str, reason: &str) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached("UPDATE email_outbox SET status = 'bounced', last_error = ?3 WHERE workspace_id = ?1 AND id = ?2 AND status IN ('sent', 'bounced')")?
        .execute(params![ws, id, reason])?;
    Ok(changed == 1)
}

/// Plan a broadcast: queue `template` for every person of the workspace
/// whose newest consent record for one of `purposes` on email (or `*`) is
/// `given`, each under the idempotency key `{key}:{profile}`, so planning
/// twice queues nobody twice. Consent and limits are checked again when
/// each message is sent; this only decides who is worth queueing. With
/// `only`, people (root ids) outside it are left out, such as everyone not
/// in a segment.
pub fn plan_broadcast(
    conn: &Connection,
    ws: &str,
    key: &str,
    template: &str,
    purposes: &[&str],
    only: Option<&std::collections::HashSet<String>>,
    at: i64,
) -> Result<usize, StoreError> {
    let placeholders = vec!["?"; purposes.len().max(1)].join(", ");
    let sql = format!(
        "SELECT p.root_id, c.status FROM consents c JOIN profiles p ON p.id = c.profile_id
         WHERE c.workspace_id = ?1 AND c.channel IN ('email', '*') AND c.purpose IN ({placeholders})
         ORDER BY p.root_id, c.seq"
    );
    let mut select = conn.prepare(&sql)?;
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&ws];
    for purpose in purposes {
        values.push(purpose);
    }
    let mut rows = select.query(values.as_slice())?;
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO email_outbox (id, workspace_id, idempotency_key, profile_id, template_id, kind, vars, source, next_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'marketing', '{}', ?6, ?7, ?7)",
    )?;
    let source = format!("broadcast:{key}");
    let mut queued = 0;
    // Rows come grouped by person in ledger order: the last one wins.
    let mut current: Option<(String, bool)> = None;
    let mut flush = |person: Option<(String, bool)>| -> Result<(), StoreError> {
        if let Some((root, true)) = person
            && only.is_none_or(|only| only.contains(&root))
        {
            queued += insert.execute(params![
                new_id("eml_"),
                ws,
                format!("{key}:{root}"),
                root,
                template,
                source,
                at
            ])?;
        }
        Ok(())
    };
    while let Some(row) = rows.next()? {
        let root: String = row.get(0)?;
        let given = row.get::<_, String>(1)? == "given";
        match &mut current {
            Some((person, state)) if *person == root => *state = given,
            _ => flush(current.replace((root, given)))?,
        }
    }
    flush(current)?;
    Ok(queued)
}
