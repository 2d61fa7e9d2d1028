//! The edge's local HTTP API: `/v1/decide`, `/v1/outcomes`, the Segment
//! ingest endpoints, `/v1/edge/status`, `/healthz` and `/readyz`. Errors
//! are the same JSON body as the centre's.
//!
//! Every write answers only after the local commit that also queued the
//! item for the centre: an acknowledged event survives `kill -9`.

use super::{Edge, LOCAL_WS};
use allele_server::conn::Limits;
use allele_server::edge::EdgeEvent;
use allele_server::error::{self, HttpError};
use allele_server::ingest::{gpc, read_body};
use allele_store::edge as store_edge;
use allele_store::now_ms;
use allele_types::Code;
use allele_types::segment::{self, MAX_EVENT_BYTES, Message, MessageType, RequestMeta};
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub type EdgeError = HttpError;

pub fn router(edge: Arc<Edge>) -> Router {
    Router::new()
        .route("/v1/decide", post(super::decide::decide))
        .route("/v1/outcomes", post(outcome))
        .route("/v1/batch", post(batch))
        .route("/v1/import", post(batch))
        .route("/v1/{kind}", post(single))
        .route("/v1/edge/status", get(status))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(edge)
}

/// Serve with the same connection limits as the centre until SIGTERM or
/// Ctrl-C.
pub async fn serve(
    edge: Arc<Edge>,
    listener: tokio::net::TcpListener,
    limits: impl std::borrow::Borrow<Limits>,
) -> std::io::Result<()> {
    allele_server::conn::serve(
        listener,
        router(edge),
        limits.borrow(),
        allele_server::shutdown_signal(),
    )
    .await
}

fn presented_key(headers: &HeaderMap) -> Result<Option<String>, HttpError> {
    allele_server::auth::header_key(headers)
}

/// Decisions and status take the edge's own key as `Authorization: Bearer`.
pub fn require_edge_key(edge: &Edge, headers: &HeaderMap) -> Result<(), HttpError> {
    match presented_key(headers)? {
        None => Err(HttpError::new(
            Code::MissingAuth,
            "send the edge key as `Authorization: Bearer`",
        )),
        Some(key) if key == edge.key => Ok(()),
        Some(_) => Err(HttpError::new(Code::InvalidKey, "unknown key")),
    }
}

/// Ingest takes the edge key or one of `--write-key` (Basic or `writeKey`).
fn require_write_key(edge: &Edge, key: Option<&str>) -> Result<(), HttpError> {
    match key {
        None | Some("") => Err(HttpError::new(
            Code::MissingAuth,
            "send the write key as the basic-auth username or as `writeKey` in the body",
        )),
        Some(key) if key == edge.key || edge.write_keys.iter().any(|k| k == key) => Ok(()),
        Some(_) => Err(HttpError::new(Code::InvalidKey, "unknown key")),
    }
}

async fn ready(State(edge): State<Arc<Edge>>) -> Response {
    match edge.current_bundle() {
        Some(bundle) => {
            Json(json!({"status": "ready", "bundle_version": bundle.version})).into_response()
        }
        None => HttpError::new(Code::NotReady, "no verified bundle yet").into_response(),
    }
}

async fn status(
    State(edge): State<Arc<Edge>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    require_edge_key(&edge, &headers)?;
    Ok(Json(super::report::status(&edge).await?))
}

/// Commit events locally (profiles for local decisions) and queue them
/// for the centre, in one transaction; answer after it is durable.
async fn accept(edge: &Edge, messages: Vec<Message>, gpc: bool) -> Result<(), HttpError> {
    let queued: Vec<String> = messages
        .iter()
        .map(|m| {
            serde_json::to_string(&EdgeEvent {
                gpc,
                event: m.body.clone(),
            })
        })
        .collect::<Result<_, _>>()
        .map_err(|e| HttpError::new(Code::Internal, e.to_string()))?;
    let now = now_ms();
    edge.store
        .write_ingest(LOCAL_WS, messages.len(), messages, move |conn| {
            for item in &queued {
                store_edge::outbox_push(conn, "event", item, now)?;
            }
            Ok(())
        })
        .await?;
    edge.outbox_ready.notify_one();
    Ok(())
}

fn success() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"success":true}"#,
    )
        .into_response()
}

async fn ingest(
    edge: &Edge,
    headers: &HeaderMap,
    body: Body,
    kind: Option<MessageType>,
) -> Result<Response, HttpError> {
    let received_at = jiff::Timestamp::now();
    let header = presented_key(headers)?;
    let limit = if kind.is_some() {
        MAX_EVENT_BYTES
    } else {
        segment::DEFAULT_MAX_BATCH_BYTES
    };
    let bytes = read_body(headers, body, limit).await?;
    let meta = RequestMeta {
        received_at,
        gpc: gpc(headers),
        max_batch_bytes: segment::DEFAULT_MAX_BATCH_BYTES,
    };
    let parsed = match kind {
        Some(kind) => segment::parse_single(&bytes, kind, meta)?,
        None => segment::parse_batch(&bytes, meta)?,
    };
    require_write_key(edge, header.as_deref().or(parsed.write_key.as_deref()))?;
    accept(edge, parsed.messages, meta.gpc).await?;
    Ok(success())
}

async fn single(
    State(edge): State<Arc<Edge>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let Some(kind) = MessageType::parse(&kind) else {
        return Err(HttpError::new(
            Code::RouteNotFound,
            format!("no endpoint `/v1/{kind}`"),
        ));
    };
    ingest(&edge, &headers, body, Some(kind)).await
}

async fn batch(
    State(edge): State<Arc<Edge>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    ingest(&edge, &headers, body, None).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    decision_id: String,
    action_id: Option<String>,
    #[serde(default = "default_event")]
    event: String,
    revenue: Option<f64>,
    #[serde(default)]
    properties: Map<String, Value>,
    /// Makes a retried outcome idempotent (generated when absent).
    #[serde(default)]
    message_id: Option<String>,
}

fn default_event() -> String {
    "Decision Outcome".to_string()
}

/// `POST /v1/outcomes`: a track event carrying the decision id, for the
/// person this edge decided for; queued like any event.
async fn outcome(
    State(edge): State<Arc<Edge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    require_edge_key(&edge, &headers)?;
    let outcome: OutcomeBody = serde_json::from_slice(&body).map_err(|err| {
        HttpError::new(
            Code::InvalidBody,
            format!("outcome body must be `{{decision_id, action_id, event, revenue}}`: {err}"),
        )
    })?;
    let id = outcome.decision_id.clone();
    let logged: Option<String> = edge
        .store
        .read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT request FROM decisions WHERE id = ?1",
                    [&id],
                    |row| row.get(0),
                )
                .ok())
        })
        .await?;
    let Some(logged) = logged else {
        return Err(HttpError::new(
            Code::DecisionNotFound,
            format!("no decision `{}` at this edge", outcome.decision_id),
        ));
    };
    let request: Value =
        serde_json::from_str(&logged).map_err(|e| HttpError::new(Code::Internal, e.to_string()))?;
    let mut properties = outcome.properties;
    properties.insert("decision_id".into(), json!(outcome.decision_id));
    if let Some(action) = &outcome.action_id {
        properties.insert("action_id".into(), json!(action));
    }
    if let Some(revenue) = outcome.revenue.filter(|r| r.is_finite()) {
        properties.insert("revenue".into(), json!(revenue));
    }
    let mut event = Map::new();
    event.insert("type".into(), json!("track"));
    event.insert("event".into(), json!(outcome.event));
    event.insert("userId".into(), request["user_id"].clone());
    event.insert("anonymousId".into(), request["anonymous_id"].clone());
    let message_id = outcome
        .message_id
        .unwrap_or_else(|| allele_store::identity::new_id("out_"));
    event.insert("messageId".into(), json!(message_id));
    event.insert("properties".into(), Value::Object(properties));
    let meta = RequestMeta {
        received_at: jiff::Timestamp::now(),
        gpc: false,
        max_batch_bytes: usize::MAX,
    };
    let message = segment::parse_message(event, None, meta)?;
    accept(&edge, vec![message], false).await?;
    Ok(Json(json!({"success": true, "message_id": message_id})))
}
