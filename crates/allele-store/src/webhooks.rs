//! Webhook subscriptions and the delivery queue.

use crate::StoreError;
use rusqlite::{Connection, params};
use serde::Serialize;

pub fn put(
    conn: &Connection,
    ws: &str,
    id: &str,
    url: &str,
    secret: &str,
    events: &[String],
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO webhooks (workspace_id, id, url, secret, events) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workspace_id, id) DO UPDATE SET url = excluded.url, secret = excluded.secret, events = excluded.events",
    )?
    .execute(params![ws, id, url, secret, serde_json::to_string(events)?])?;
    Ok(())
}

/// Queue `payload` for every webhook of the workspace subscribed to `event_type`.
pub fn enqueue(
    conn: &Connection,
    ws: &str,
    event_type: &str,
    payload: &str,
    now: i64,
) -> Result<usize, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, events FROM webhooks WHERE workspace_id = ?1")?;
    let hooks = stmt
        .query_map([ws], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut queued = 0;
    for (hook, events) in hooks {
        let events: Vec<String> = serde_json::from_str(&events)?;
        if !events.iter().any(|e| e == event_type || e == "*") {
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO webhook_deliveries (id, workspace_id, webhook_id, event_type, payload, next_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![crate::identity::new_id("msg_"), ws, hook, event_type, payload, now])?;
        queued += 1;
    }
    Ok(queued)
}

pub struct Due {
    pub id: String,
    pub url: String,
    pub secret: String,
    pub payload: String,
    pub attempts: i64,
}

pub fn due(conn: &Connection, now: i64, limit: usize) -> Result<Vec<Due>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, w.url, w.secret, d.payload, d.attempts FROM webhook_deliveries d
         JOIN webhooks w ON w.workspace_id = d.workspace_id AND w.id = d.webhook_id
         WHERE d.status = 'pending' AND d.next_at <= ?1 ORDER BY d.next_at LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![now, limit as i64], |row| {
            Ok(Due {
                id: row.get(0)?,
                url: row.get(1)?,
                secret: row.get(2)?,
                payload: row.get(3)?,
                attempts: row.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Record an attempt: delivered, retried later, or failed for good.
pub fn attempted(
    conn: &Connection,
    id: &str,
    outcome: Result<(), String>,
    now: i64,
    max_attempts: i64,
) -> Result<(), StoreError> {
    match outcome {
        Ok(()) => {
            conn.prepare_cached("UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?2 WHERE id = ?1")?
                .execute(params![id, now])?;
        }
        Err(error) => {
            let attempts: i64 = conn
                .prepare_cached("SELECT attempts FROM webhook_deliveries WHERE id = ?1")?
                .query_row([id], |r| r.get(0))?;
            let next = attempts + 1;
            let status = if next >= max_attempts {
                "failed"
            } else {
                "pending"
            };
            // Exponential backoff: 1 s, 2 s, 4 s, …
            let next_at = now + 1_000 * (1i64 << next.min(20));
            conn.prepare_cached(
                "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_at = ?4, last_error = ?5 WHERE id = ?1",
            )?
            .execute(params![id, status, next, next_at, error])?;
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Delivery {
    pub id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

pub fn deliveries(conn: &Connection, ws: &str, hook: &str) -> Result<Vec<Delivery>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, event_type, status, attempts, last_error FROM webhook_deliveries WHERE workspace_id = ?1 AND webhook_id = ?2 ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![ws, hook], |row| {
            Ok(Delivery {
                id: row.get(0)?,
                event_type: row.get(1)?,
                status: row.get(2)?,
                attempts: row.get(3)?,
                last_error: row.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
