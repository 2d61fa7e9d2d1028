//! `/v1/decide` at the edge: the same engine and the same answer shape as
//! the centre, on the local bundle, with what the edge knows locally:
//!
//! - the profile from events this edge ingested, but keyed by the centre's
//!   profile id when the snapshot knows the person (the holdout hash and
//!   `profile.id` then agree with the centre);
//! - consent from the snapshot; when the snapshot is older than
//!   `--max-staleness`, every `given` record is ignored, so marketing fails
//!   closed while refusals still block transactional actions;
//! - a customer cap is enforced with a budget leased from the centre: the
//!   decision is first made without the cap; if it picks marketing actions,
//!   the edge spends (or leases) budget for them and decides again with the
//!   cap set to what it holds. No lease, no marketing.

use super::{Edge, LOCAL_WS};
use crate::edge::serve::{EdgeError, require_edge_key};
use allele_engine::decide::{Outcome, Stage, TraceEntry};
use allele_engine::{
    ConsentRecord, ConsentStatus, DecisionInput, DecisionRequest, Kind, ProfileView,
};
use allele_server::edge::{EdgeAction, EdgeDecision};
use allele_store::bundles::{self, LoggedDecision};
use allele_store::edge as store_edge;
use allele_store::{now_ms, read};
use allele_types::Code;
use allele_types::profile_ref::ProfileRef;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    user_id: Option<String>,
    anonymous_id: Option<String>,
    touchpoint: String,
    channel: String,
    #[serde(default)]
    context: Map<String, Value>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    seed: Option<u64>,
}

/// What the edge's store knows about the person.
struct Known {
    local_root: Option<String>,
    profile: ProfileView,
    history: BTreeMap<String, Vec<i64>>,
    subject: Option<store_edge::KnownSubject>,
}

fn ids(body: &DecideBody) -> Vec<(&'static str, String)> {
    [
        ("user_id", &body.user_id),
        ("anonymous_id", &body.anonymous_id),
    ]
    .into_iter()
    .filter_map(|(kind, value)| value.as_ref().map(|v| (kind, v.clone())))
    .collect()
}

fn read_known(
    conn: &allele_store::Connection,
    ids: &[(&'static str, String)],
) -> Result<Known, allele_store::StoreError> {
    let mut known = Known {
        local_root: None,
        profile: ProfileView::default(),
        history: BTreeMap::new(),
        subject: None,
    };
    for (kind, value) in ids {
        let reference = ProfileRef::Identity {
            kind: (*kind).into(),
            value: value.clone(),
        };
        if let Some(root) = read::resolve(conn, LOCAL_WS, &reference)? {
            known.profile = allele_server::decisions::engine_profile(conn, LOCAL_WS, &root)?;
            for (action, at) in bundles::contact_history(conn, &root)? {
                known.history.entry(action).or_default().push(at);
            }
            known.local_root = Some(root);
            break;
        }
    }
    for (kind, value) in ids {
        if let Some(found) = store_edge::subject_for(conn, kind, value)? {
            known.subject = Some(found);
            break;
        }
    }
    Ok(known)
}

fn status(text: &str) -> Option<ConsentStatus> {
    match text {
        "given" => Some(ConsentStatus::Given),
        "withdrawn" => Some(ConsentStatus::Withdrawn),
        "refused" => Some(ConsentStatus::Refused),
        _ => None,
    }
}

fn note(stage: Stage, reason: String) -> TraceEntry {
    TraceEntry {
        action_id: "*".into(),
        stage,
        outcome: Outcome::Excluded,
        reason,
    }
}

/// Ask the centre for `count` contacts of the customer's cap; `None` when
/// it cannot be reached or grants nothing.
async fn lease(
    edge: &Edge,
    profile: &str,
    channel: &str,
    count: u32,
) -> Option<(String, u32, i64)> {
    let response = edge
        .http
        .post(edge.url("/v1/edge/leases"))
        .bearer_auth(&edge.key)
        .json(&json!({"edge_id": edge.edge_id, "profile_id": profile, "channel": channel, "count": count}))
        .timeout(Duration::from_millis(1_500))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    let granted = body["granted"].as_u64()? as u32;
    let id = body["lease_id"].as_str()?.to_string();
    // Stop using it a minute early: its spend must reach the centre in time.
    let expires = body["expires_at"].as_i64()? - 60_000;
    (granted > 0).then_some((id, granted, expires))
}

pub async fn decide(
    State(edge): State<Arc<Edge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, EdgeError> {
    require_edge_key(&edge, &headers)?;
    let request: DecideBody = serde_json::from_slice(&body).map_err(|err| {
        EdgeError::new(
            Code::InvalidBody,
            format!("decide body must be `{{user_id|anonymous_id, touchpoint, channel, context, limit}}`: {err}"),
        )
    })?;
    let ids = ids(&request);
    if ids.is_empty() {
        return Err(EdgeError::new(
            Code::MissingIdentity,
            "a decision needs `user_id` or `anonymous_id`",
        ));
    }
    let Some(active) = edge.current_bundle() else {
        return Err(EdgeError::new(
            Code::NoActiveBundle,
            "this edge has no verified bundle yet; it is waiting for the centre",
        ));
    };
    let lookup = ids.clone();
    let known = edge
        .store
        .read(move |conn| read_known(conn, &lookup))
        .await?;
    let now = now_ms();
    let mut notes = Vec::new();
    let mut profile = known.profile;
    let (central_id, consents, limits) = match known.subject {
        Some((id, consents, limits)) => (Some(id), consents, limits),
        None => (None, Vec::new(), None),
    };
    profile.id = central_id
        .clone()
        .or(request.user_id.clone())
        .or(request.anonymous_id.clone())
        .unwrap_or_default();
    let stale = match edge.snapshot_age(now) {
        None => Some("no consent snapshot has been received from the centre".to_string()),
        Some(age) if age > edge.max_staleness_ms => Some(format!(
            "the consent snapshot is {}s old, over --max-staleness {}s",
            age / 1000,
            edge.max_staleness_ms / 1000
        )),
        Some(_) => None,
    };
    // The centre's ledger first, then signals this edge saw itself (GPC).
    let mut ledger: Vec<ConsentRecord> = consents
        .iter()
        .filter_map(|c| {
            Some(ConsentRecord {
                purpose: c.purpose.clone(),
                channel: c.channel.clone(),
                status: status(&c.status)?,
            })
        })
        .collect();
    ledger.append(&mut profile.consent);
    if let Some(reason) = &stale {
        ledger.retain(|r| r.status != ConsentStatus::Given);
        notes.push(note(
            Stage::Consent,
            format!(
                "{reason}: marketing actions fail closed; transactional actions are still allowed"
            ),
        ));
    }
    profile.consent = ledger;
    let caps = allele_server::decisions::customer_caps((limits, Vec::new()), &request.channel, now);
    let capped = caps
        .as_ref()
        .and_then(|c| c.max_marketing_contacts)
        .is_some_and(|max| max > 0);
    let seed = request.seed.unwrap_or_else(rand::random);
    let mut input = DecisionInput {
        profile,
        request: DecisionRequest {
            touchpoint: request.touchpoint.clone(),
            channel: request.channel.clone(),
            context: request.context.clone(),
            limit: request.limit.unwrap_or(1).clamp(1, 100),
        },
        now_ms: now,
        seed,
        workspace_salt: active.workspace.clone(),
        contact_history: known.history,
        customer_caps: caps.clone(),
        arm_stats: BTreeMap::new(),
        linear_stats: BTreeMap::new(),
    };
    (input.arm_stats, input.linear_stats) = edge
        .learning
        .learned(&edge.store, LOCAL_WS, &request.touchpoint, &active.bundle)
        .await?;
    let doc = active.bundle.doc();
    let is_marketing = |action: &str| {
        doc.actions
            .iter()
            .find(|d| d.id == action)
            .is_none_or(|d| d.kind != Kind::Transactional)
    };
    // The cap is held as a lease: decide without the count first.
    if capped && let Some(caps) = input.customer_caps.as_mut() {
        caps.max_marketing_contacts = None;
    }
    let mut decision = allele_engine::decide(&active.bundle, &input);
    let mut lease_used: Option<String> = None;
    let wanted = decision
        .actions
        .iter()
        .filter(|a| is_marketing(&a.action_id))
        .count() as u32;
    if capped && wanted > 0 {
        let profile_id = central_id.clone().unwrap_or_default();
        let channel = request.channel.clone();
        let held = edge
            .store
            .read(move |conn| store_edge::held_lease(conn, &profile_id, &channel, now))
            .await?;
        let mut budget = held.filter(|(_, left)| *left >= wanted);
        if budget.is_none()
            && let Some(central) = &central_id
            && let Some((id, granted, expires)) =
                lease(&edge, central, &request.channel, wanted).await
        {
            let (lease_id, profile_id, channel) =
                (id.clone(), central.clone(), request.channel.clone());
            edge.store
                .write(1, move |conn| {
                    store_edge::hold_lease(conn, &lease_id, &profile_id, &channel, granted, expires)
                })
                .await?;
            budget = Some((id, granted));
        }
        let left = budget.as_ref().map_or(0, |(_, left)| *left);
        if budget.is_none() {
            notes.push(note(
                Stage::CustomerCaps,
                format!(
                    "no contact budget leased from the centre for `{}`: marketing fails closed",
                    request.channel
                ),
            ));
        }
        if let Some(caps) = input.customer_caps.as_mut() {
            caps.max_marketing_contacts = Some(left);
            caps.window_ms = 0;
        }
        decision = allele_engine::decide(&active.bundle, &input);
        lease_used = budget.map(|(id, _)| id);
    }
    decision.trace.extend(notes);
    let decision_id = allele_store::identity::new_id("dec_");
    let response = json!({
        "decision_id": decision_id,
        "bundle_version": decision.bundle_version,
        "holdout": decision.holdout,
        "actions": decision.actions,
        "candidates": decision.candidates,
        "trace": decision.trace,
        "seed": seed,
        "edge_id": edge.edge_id,
    });
    let snapshot = ProfileView {
        identities: Vec::new(),
        ..input.profile.clone()
    };
    let logged_request = json!({
        "user_id": request.user_id, "anonymous_id": request.anonymous_id,
        "touchpoint": request.touchpoint, "channel": request.channel, "context": request.context, "seed": seed,
        "now_ms": now, "profile": snapshot, "arm_stats": input.arm_stats, "linear_stats": input.linear_stats,
    });
    let logged = allele_server::decisions::logged_actions(doc, &decision.actions);
    let actions: Vec<EdgeAction> = logged.iter().map(EdgeAction::from).collect();
    let spent = actions.iter().filter(|a| a.marketing).count() as u32;
    let upload = EdgeDecision {
        decision_id: decision_id.clone(),
        user_id: request.user_id.clone(),
        anonymous_id: request.anonymous_id.clone(),
        touchpoint: request.touchpoint.clone(),
        channel: request.channel.clone(),
        bundle_version: decision.bundle_version,
        holdout: decision.holdout,
        holdout_salt: doc.holdout.salt.clone(),
        request: logged_request.clone(),
        result: response.clone(),
        at: now,
        actions: actions.clone(),
        lease_id: lease_used.clone().filter(|_| spent > 0),
    };
    let upload = serde_json::to_string(&upload)
        .map_err(|e| EdgeError::new(Code::Internal, e.to_string()))?;
    let (result, request_text, channel, root) = (
        response.to_string(),
        logged_request.to_string(),
        request.channel.clone(),
        known.local_root,
    );
    let holdout = decision.holdout;
    let version = decision.bundle_version;
    // Logged locally (contact caps count it) and queued for the centre in
    // one durable commit, before the caller hears anything.
    edge.store
        .write(1, move |conn| {
            bundles::log_decision(
                conn,
                &LoggedDecision {
                    id: &decision_id,
                    ws: LOCAL_WS,
                    profile_id: root.as_deref(),
                    bundle_version: version,
                    holdout,
                    request: &request_text,
                    result: &result,
                    at: now,
                    actions: logged,
                    channel: &channel,
                },
            )?;
            if let Some(lease) = &lease_used
                && spent > 0
            {
                store_edge::use_held_lease(conn, lease, spent)?;
            }
            store_edge::outbox_push(conn, "decision", &upload, now)
        })
        .await?;
    edge.outbox_ready.notify_one();
    Ok(Json(response))
}
