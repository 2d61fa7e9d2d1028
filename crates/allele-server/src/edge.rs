//! The centre's side of edge agents (`allele edge`), all under `/v1/edge/`
//! with a `decide` or `admin` key:
//!
//! - `GET snapshot?since=CURSOR`: consent-ledger and customer-limit changes
//!   since a cursor, as whole per-person states (applying one twice is
//!   harmless), so an edge can gate consent without the centre;
//! - `POST events`: events an edge acknowledged, stored through ingest and
//!   deduplicated by messageId like any other;
//! - `POST decisions`: decisions an edge made, stored in the same decision
//!   log (marked with the edge), deduplicated by decision id;
//! - `POST leases`: a share of a customer's contact cap, so a cap holds when
//!   several edges decide for the same person.

use crate::AppState;
use crate::error::{HttpError, parse_body};
use allele_store::bundles::{self, LoggedAction, LoggedDecision};
use allele_store::edge::{self as store_edge, LeaseRequest, SnapshotCursor};
use allele_store::{Role, now_ms, read};
use allele_types::Code;
use allele_types::profile_ref::ProfileRef;
use allele_types::segment::{Message, RequestMeta, parse_message};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Changes sent per snapshot page.
const SNAPSHOT_PAGE: usize = 1_000;
/// How long a lease holds its budget; an edge stops using it a little earlier.
pub const LEASE_TTL_MS: i64 = 15 * 60 * 1_000;

#[derive(Debug, Deserialize)]
pub struct SnapshotQuery {
    #[serde(default)]
    since: Option<String>,
}

/// `GET /v1/edge/snapshot?since=CURSOR`.
pub async fn snapshot(
    State(state): State<Arc<AppState>>,
    Query(query): Query<SnapshotQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state
        .require(&headers, &[Role::Decide, Role::Admin])
        .await?;
    let since_text = query.since.unwrap_or_default();
    let since = SnapshotCursor::decode(&since_text).ok_or_else(|| {
        HttpError::new(
            Code::InvalidQuery,
            format!("`since` is not a cursor this server issued: `{since_text}`"),
        )
    })?;
    let ws = principal.workspace.clone();
    let at = now_ms();
    let (subjects, next, complete) = state
        .store
        .read(move |conn| store_edge::snapshot(conn, &ws, &since, SNAPSHOT_PAGE))
        .await?;
    Ok(Json(json!({
        "workspace": principal.workspace,
        "cursor": next.encode(),
        "complete": complete,
        "at": at,
        "subjects": subjects,
    })))
}

/// One event as an edge accepted it: the normalised body and its GPC signal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeEvent {
    #[serde(default)]
    pub gpc: bool,
    pub event: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsBody {
    edge_id: String,
    events: Vec<EdgeEvent>,
}

/// Re-read an event the edge already normalised: its time was corrected
/// there, so `sentAt` is dropped and the edge's `receivedAt` kept.
fn edge_message(event: &EdgeEvent) -> Result<Message, allele_types::ApiError> {
    let mut body = event.event.clone();
    body.remove("sentAt");
    let received_at = body
        .get("receivedAt")
        .and_then(Value::as_str)
        .and_then(allele_types::segment::parse_time)
        .unwrap_or_else(jiff::Timestamp::now);
    let meta = RequestMeta {
        received_at,
        gpc: event.gpc,
        max_batch_bytes: usize::MAX,
    };
    parse_message(body, None, meta)
}

/// `POST /v1/edge/events`: all or nothing, acknowledged once durable.
pub async fn events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state
        .require(&headers, &[Role::Decide, Role::Admin])
        .await?;
    let request: EventsBody = parse_body(&body, "body must be `{edge_id, events}`")?;
    let mut messages = Vec::with_capacity(request.events.len());
    for (index, event) in request.events.iter().enumerate() {
        messages.push(edge_message(event).map_err(|e| HttpError(e.at_index(index)))?);
    }
    let count = messages.len();
    if count > 0 {
        state.store.ingest(&principal.workspace, messages).await?;
    }
    metrics::counter!("allele_edge_events_total").increment(count as u64);
    tracing::debug!(edge = %request.edge_id, count, "edge events stored");
    Ok(Json(json!({"success": true, "events": count})))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeAction {
    pub action_id: String,
    pub probability: f64,
    pub marketing: bool,
    /// The contextual model's input, so the centre learns from edge offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<allele_engine::Features>,
}

impl From<&allele_store::bundles::LoggedAction> for EdgeAction {
    fn from(logged: &allele_store::bundles::LoggedAction) -> EdgeAction {
        EdgeAction {
            action_id: logged.action_id.clone(),
            probability: logged.probability,
            marketing: logged.marketing,
            features: logged
                .features
                .as_deref()
                .and_then(|f| serde_json::from_str(f).ok()),
        }
    }
}

/// A decision as an edge logged it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeDecision {
    pub decision_id: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub touchpoint: String,
    pub channel: String,
    pub bundle_version: u64,
    pub holdout: bool,
    /// The holdout salt of the bundle, naming the holdout experiment.
    pub holdout_salt: String,
    /// What the rules saw (as `/v1/decide` logs it).
    pub request: Value,
    /// What the edge answered.
    pub result: Value,
    pub at: i64,
    pub actions: Vec<EdgeAction>,
    /// The lease whose budget the marketing actions spent, if any.
    #[serde(default)]
    pub lease_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionsBody {
    edge_id: String,
    decisions: Vec<EdgeDecision>,
}

/// The `Experiment Viewed` event the centre records for its own decisions,
/// so edge decisions are measured the same way.
fn exposure(decision: &EdgeDecision) -> Result<Message, allele_types::ApiError> {
    let experiment = format!("holdout-{}", decision.holdout_salt);
    let variation = if decision.holdout {
        "holdout"
    } else {
        "treated"
    };
    let mut body = Map::new();
    body.insert("type".into(), json!("track"));
    body.insert("event".into(), json!(allele_store::reports::EXPOSURE_EVENT));
    body.insert("userId".into(), json!(decision.user_id));
    body.insert("anonymousId".into(), json!(decision.anonymous_id));
    body.insert(
        "messageId".into(),
        json!(format!("exp-{experiment}-{}", decision.decision_id)),
    );
    body.insert(
        "properties".into(),
        json!({"experiment_id": experiment, "variation_id": variation, "decision_id": decision.decision_id, "touchpoint": decision.touchpoint}),
    );
    let received_at =
        jiff::Timestamp::from_millisecond(decision.at).unwrap_or_else(|_| jiff::Timestamp::now());
    let meta = RequestMeta {
        received_at,
        gpc: false,
        max_batch_bytes: usize::MAX,
    };
    parse_message(body, None, meta)
}

/// `POST /v1/edge/decisions`: store each decision once, whatever the retries.
pub async fn decisions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state
        .require(&headers, &[Role::Decide, Role::Admin])
        .await?;
    let request: DecisionsBody = parse_body(&body, "body must be `{edge_id, decisions}`")?;
    let mut exposures = Vec::with_capacity(request.decisions.len());
    for (index, decision) in request.decisions.iter().enumerate() {
        if decision.user_id.is_none() && decision.anonymous_id.is_none() {
            return Err(HttpError::new(
                Code::MissingIdentity,
                format!("decision {index} has neither `user_id` nor `anonymous_id`"),
            ));
        }
        exposures.push(exposure(decision).map_err(|e| HttpError(e.at_index(index)))?);
    }
    let ws = principal.workspace.clone();
    let edge_id = request.edge_id.clone();
    let decisions = request.decisions;
    let weight = decisions.len() + exposures.len();
    let stored = state
        .store
        .write_ingest(&principal.workspace, weight, exposures, move |conn| {
            let mut stored = 0usize;
            for decision in &decisions {
                if store_edge::decision_exists(conn, &ws, &decision.decision_id)? {
                    continue;
                }
                let root = person_root(conn, &ws, &decision.user_id, &decision.anonymous_id)?;
                if let Some(root) = root.as_deref() {
                    let actor = format!("edge:{edge_id}");
                    allele_store::access::append(
                        conn,
                        &ws,
                        decision.at,
                        &actor,
                        "decide",
                        "dpv:Personalisation",
                        root,
                    )?;
                }
                let actions: Vec<LoggedAction> = decision
                    .actions
                    .iter()
                    .map(|a| LoggedAction {
                        action_id: a.action_id.clone(),
                        probability: a.probability,
                        marketing: a.marketing,
                        features: a
                            .features
                            .as_ref()
                            .and_then(|f| serde_json::to_string(f).ok()),
                    })
                    .collect();
                let marketing = actions.iter().filter(|a| a.marketing).count() as u32;
                bundles::log_decision(
                    conn,
                    &LoggedDecision {
                        id: &decision.decision_id,
                        ws: &ws,
                        profile_id: root.as_deref(),
                        bundle_version: decision.bundle_version,
                        holdout: decision.holdout,
                        request: &decision.request.to_string(),
                        result: &decision.result.to_string(),
                        at: decision.at,
                        actions,
                        channel: &decision.channel,
                    },
                )?;
                store_edge::mark_edge_decision(conn, &decision.decision_id, &edge_id)?;
                if let Some(lease) = &decision.lease_id
                    && marketing > 0
                {
                    store_edge::spend_lease(conn, &ws, lease, marketing)?;
                }
                stored += 1;
            }
            Ok(stored)
        })
        .await?;
    metrics::counter!("allele_edge_decisions_total").increment(stored as u64);
    Ok(Json(json!({"success": true, "stored": stored})))
}

fn person_root(
    conn: &allele_store::Connection,
    ws: &str,
    user_id: &Option<String>,
    anonymous_id: &Option<String>,
) -> Result<Option<String>, allele_store::StoreError> {
    for (kind, value) in [("user_id", user_id), ("anonymous_id", anonymous_id)] {
        let Some(value) = value else { continue };
        let reference = ProfileRef::Identity {
            kind: kind.into(),
            value: value.clone(),
        };
        if let Some(root) = read::resolve(conn, ws, &reference)? {
            return Ok(Some(root));
        }
    }
    Ok(None)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaseBody {
    edge_id: String,
    profile_id: String,
    channel: String,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

/// `POST /v1/edge/leases`: grant up to `count` contacts of the customer's
/// cap on `channel` (none when the cap is used up or held by other edges).
pub async fn leases(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state
        .require(&headers, &[Role::Decide, Role::Admin])
        .await?;
    let request: LeaseBody = parse_body(
        &body,
        "body must be `{edge_id, profile_id, channel, count}`",
    )?;
    if request.count == 0 || request.count > 1_000 {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!("`count` must be 1 to 1000, got {}", request.count),
        ));
    }
    let ws = principal.workspace.clone();
    let now = now_ms();
    let granted = state
        .store
        .write(1, move |conn| {
            let reference = ProfileRef::Id(request.profile_id.clone());
            let Some(root) = read::resolve(conn, &ws, &reference)? else {
                return Ok(None);
            };
            let limits = bundles::customer_limits(conn, &root)?;
            let caps = crate::decisions::customer_caps((limits, Vec::new()), &request.channel, now);
            let Some((cap, window)) =
                caps.and_then(|c| c.max_marketing_contacts.map(|m| (m, c.window_ms)))
            else {
                return Ok(Some((None, request.count, None)));
            };
            let (id, granted) = store_edge::grant_lease(
                conn,
                &LeaseRequest {
                    ws: &ws,
                    edge_id: &request.edge_id,
                    root: &root,
                    channel: &request.channel,
                    cap,
                    window_ms: window as i64,
                    requested: request.count,
                    now,
                    ttl_ms: LEASE_TTL_MS,
                },
            )?;
            Ok(Some((
                (granted > 0).then_some(id),
                granted,
                Some((cap, window)),
            )))
        })
        .await?;
    let Some((lease_id, granted, cap)) = granted else {
        return Err(HttpError::new(
            Code::ProfileNotFound,
            "no profile answers to this reference",
        ));
    };
    Ok(Json(json!({
        "lease_id": lease_id,
        "granted": granted,
        "expires_at": now + LEASE_TTL_MS,
        "cap": cap.map(|(count, window_ms)| json!({"count": count, "window_ms": window_ms})),
    })))
}
