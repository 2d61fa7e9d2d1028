//! Edges report their status to the centre (`POST /v1/edge/status`, a
//! `decide` key) and marketers read every edge's last report
//! (`GET /v1/edges`, an `admin` key): bundle version, consent-snapshot age,
//! outbox depth, whether it reaches the centre, and what its learning
//! propensities learned at its touchpoints. `age_ms` says how long ago the
//! edge was last heard from; an edge that stopped reporting shows as stale.

use crate::AppState;
use crate::error::{HttpError, parse_body};
use allele_store::{Role, edge_status, now_ms};
use allele_types::Code;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use std::sync::Arc;

/// Larger reports are refused (a status is a few kilobytes).
const MAX_STATUS_BYTES: usize = 256 * 1024;
/// An edge not heard from for this long is shown as stale.
pub const STALE_AFTER_MS: i64 = 60_000;

/// `POST /v1/edge/status`.
pub async fn report(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state
        .require(&headers, &[Role::Decide, Role::Admin])
        .await?;
    if body.len() > MAX_STATUS_BYTES {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!(
                "an edge status is at most {MAX_STATUS_BYTES} bytes, got {}",
                body.len()
            ),
        ));
    }
    let status: Value = parse_body(&body, "body must be a JSON object with `edge_id`")?;
    let edge_id = status
        .get("edge_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.len() <= 64)
        .ok_or_else(|| {
            HttpError::new(
                Code::InvalidBody,
                "`edge_id` must be a string of 1 to 64 characters",
            )
        })?
        .to_string();
    let ws = principal.workspace.clone();
    let text = status.to_string();
    let at = now_ms();
    state
        .store
        .write(1, move |conn| {
            edge_status::put(conn, &ws, &edge_id, at, &text)
        })
        .await?;
    Ok(Json(json!({"success": true, "reported_at": at})))
}

/// Every edge's last report, most recently heard first.
pub async fn list(state: &AppState, ws: &str) -> Result<Vec<Value>, HttpError> {
    let workspace = ws.to_string();
    let rows = state
        .store
        .read(move |conn| edge_status::all(conn, &workspace))
        .await?;
    let now = now_ms();
    Ok(rows
        .into_iter()
        .map(|(edge_id, reported_at, status)| {
            let age = (now - reported_at).max(0);
            json!({
                "edge_id": edge_id,
                "reported_at": reported_at,
                "age_ms": age,
                "stale": age > STALE_AFTER_MS,
                "status": serde_json::from_str::<Value>(&status).unwrap_or(Value::Null),
            })
        })
        .collect())
}

/// `GET /v1/edges`.
pub async fn edges(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    Ok(Json(
        json!({"edges": list(&state, &principal.workspace).await?}),
    ))
}
