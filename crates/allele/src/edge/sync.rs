//! What flows between an edge and the centre besides the bundle: the
//! consent/limits snapshot coming in, and the outbox going out.
//!
//! The outbox is drained in order, decisions before events (so an outcome
//! never reaches the centre before its decision), in batches; an item is
//! deleted only after the centre answered 200, and the centre stores each
//! decision id and messageId once, so a retry after a lost answer (or a
//! `kill -9` between upload and delete) never duplicates anything.

use super::Edge;
use allele_store::edge::{self as store_edge, Subject};
use allele_store::now_ms;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const SNAPSHOT_CURSOR: &str = "snapshot_cursor";
const SNAPSHOT_AT: &str = "snapshot_at";
/// Items and bytes per upload (the centre takes up to 2 MB bodies).
const EVENTS_PER_BATCH: usize = 2_500;
const DECISIONS_PER_BATCH: usize = 500;
const BATCH_BYTES: usize = 1 << 20;

/// Exponential backoff with jitter: 250 ms doubling to 30 s.
pub fn backoff(failures: u32) -> Duration {
    let base = 250u64.saturating_mul(1u64 << failures.min(7)).min(30_000);
    let jitter = rand::random::<u64>() % (base / 4 + 1);
    Duration::from_millis(base + jitter)
}

/// Restore when the snapshot was last complete (staleness survives restarts).
pub async fn load(edge: &Arc<Edge>) -> Result<(), String> {
    let at = edge
        .store
        .read(|conn| store_edge::state_get(conn, SNAPSHOT_AT))
        .await
        .map_err(|err| err.to_string())?;
    if let Some(at) = at.and_then(|t| t.parse::<i64>().ok()) {
        edge.snapshot_at.store(at, Ordering::Relaxed);
    }
    Ok(())
}

/// Fetch snapshot pages until the centre says the edge is up to date.
async fn snapshot_once(edge: &Edge) -> Result<usize, String> {
    let mut applied = 0usize;
    loop {
        let cursor = edge
            .store
            .read(|conn| store_edge::state_get(conn, SNAPSHOT_CURSOR))
            .await
            .map_err(|err| err.to_string())?
            .unwrap_or_default();
        let asked_at = now_ms();
        let response = edge
            .http
            .get(edge.url("/v1/edge/snapshot"))
            .query(&[("since", cursor.as_str())])
            .bearer_auth(&edge.key)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|err| format!("cannot reach the centre: {err}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the centre answered {} for the snapshot",
                response.status()
            ));
        }
        let page: Value = response.json().await.map_err(|err| err.to_string())?;
        let subjects: Vec<Subject> = serde_json::from_value(page["subjects"].clone())
            .map_err(|err| format!("snapshot subjects unreadable: {err}"))?;
        let next = page["cursor"].as_str().unwrap_or_default().to_string();
        let complete = page["complete"].as_bool().unwrap_or(false);
        applied += subjects.len();
        edge.store
            .write(subjects.len().max(1), move |conn| {
                store_edge::apply_subjects(conn, &subjects)?;
                store_edge::state_set(conn, SNAPSHOT_CURSOR, &next)?;
                if complete {
                    store_edge::state_set(conn, SNAPSHOT_AT, &asked_at.to_string())?;
                }
                Ok(())
            })
            .await
            .map_err(|err| err.to_string())?;
        if complete {
            // Fresh as of when the request left, not when it came back.
            edge.snapshot_at.store(asked_at, Ordering::Relaxed);
            return Ok(applied);
        }
    }
}

pub async fn snapshot_loop(edge: Arc<Edge>) {
    let every = Duration::from_millis(edge.snapshot_every_ms.max(10) as u64);
    let mut failures = 0u32;
    loop {
        match snapshot_once(&edge).await {
            Ok(applied) => {
                failures = 0;
                if applied > 0 {
                    tracing::debug!(applied, "consent snapshot applied");
                }
                tokio::time::sleep(every).await;
            }
            Err(err) => {
                failures += 1;
                tracing::warn!(error = %err, failures, "snapshot sync failed; retrying");
                tokio::time::sleep(backoff(failures).min(every.max(Duration::from_secs(1)))).await;
            }
        }
    }
}

enum Shipped {
    Nothing,
    Some(usize),
}

/// Upload one batch of `kind`; delete it locally once the centre has it.
async fn ship_kind(edge: &Edge, kind: &'static str) -> Result<Shipped, String> {
    let (path, limit, field) = match kind {
        "decision" => ("/v1/edge/decisions", DECISIONS_PER_BATCH, "decisions"),
        _ => ("/v1/edge/events", EVENTS_PER_BATCH, "events"),
    };
    let items = edge
        .store
        .read(move |conn| store_edge::outbox_take(conn, kind, limit, BATCH_BYTES))
        .await
        .map_err(|err| err.to_string())?;
    let Some(last) = items.last().map(|(seq, _)| *seq) else {
        return Ok(Shipped::Nothing);
    };
    // Bodies are stored as JSON text; splice them without re-parsing.
    let mut body =
        String::with_capacity(items.iter().map(|(_, b)| b.len() + 1).sum::<usize>() + 64);
    body.push_str(&format!(
        "{{\"edge_id\":{},\"{field}\":[",
        json!(edge.edge_id)
    ));
    for (index, (_, item)) in items.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str(item);
    }
    body.push_str("]}");
    let response = edge
        .http
        .post(edge.url(path))
        .bearer_auth(&edge.key)
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|err| format!("cannot reach the centre: {err}"))?;
    let status = response.status().as_u16();
    if status == 400 {
        // One item the centre can never take must not block the rest: set
        // it aside (kept in the outbox under another kind) and go on.
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if let Some(index) = answer["index"].as_u64()
            && let Some((seq, _)) = items.get(index as usize)
        {
            let seq = *seq;
            tracing::error!(kind, seq, reason = %answer["message"], "the centre refused an outbox item; set aside");
            edge.store
                .write(1, move |conn| {
                    conn.execute(
                        "UPDATE edge_outbox SET kind = 'refused_' || kind WHERE seq = ?1",
                        [seq],
                    )?;
                    Ok(())
                })
                .await
                .map_err(|err| err.to_string())?;
            return Ok(Shipped::Some(0));
        }
        return Err(format!("the centre refused the upload: {answer}"));
    }
    if status != 200 {
        return Err(format!("the centre answered {status} to the upload"));
    }
    let count = items.len();
    edge.store
        .write(1, move |conn| store_edge::outbox_ack(conn, kind, last))
        .await
        .map_err(|err| err.to_string())?;
    Ok(Shipped::Some(count))
}

pub async fn ship_loop(edge: Arc<Edge>) {
    let mut failures = 0u32;
    loop {
        let round = async {
            let mut shipped = 0usize;
            // Decisions first: an outcome event names its decision.
            loop {
                match ship_kind(&edge, "decision").await? {
                    Shipped::Nothing => break,
                    Shipped::Some(n) => shipped += n,
                }
            }
            if let Shipped::Some(n) = ship_kind(&edge, "event").await? {
                shipped += n.max(1);
            }
            Ok::<usize, String>(shipped)
        };
        match round.await {
            Ok(0) => {
                failures = 0;
                edge.central_up.store(true, Ordering::Relaxed);
                // Sleep until something is queued (or poll again shortly).
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), edge.outbox_ready.notified())
                        .await;
            }
            Ok(_) => {
                failures = 0;
                edge.central_up.store(true, Ordering::Relaxed);
            }
            Err(err) => {
                failures += 1;
                edge.central_up.store(false, Ordering::Relaxed);
                tracing::warn!(error = %err, failures, "outbox upload failed; retrying");
                tokio::time::sleep(backoff(failures)).await;
            }
        }
    }
}
