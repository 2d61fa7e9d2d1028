//! `POST /v1/decide` and `POST /v1/outcomes`: next-best-action decisions on
//! the active bundle, logged with their probabilities, and their outcomes.

use crate::AppState;
use crate::computed::Wanted;
use crate::error::{HttpError, parse_body};
use allele_engine::decide::Identity;
use allele_engine::{
    ConsentRecord, ConsentStatus, CustomerCaps, DecisionInput, DecisionRequest, ProfileView,
};
use allele_privacy::limits::CustomerLimits;
use allele_store::bundles::{self, LoggedAction, LoggedDecision};
use allele_store::{Role, StoreError, now_ms, read};
use allele_types::Code;
use allele_types::profile_ref::ProfileRef;
use allele_types::segment::{Message, RequestMeta, parse_message};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecideBody {
    user_id: Option<String>,
    anonymous_id: Option<String>,
    touchpoint: String,
    channel: String,
    #[serde(default)]
    context: Map<String, Value>,
    #[serde(default)]
    limit: Option<usize>,
    /// Fixes the random draws (replays, tests); random when absent.
    #[serde(default)]
    seed: Option<u64>,
}

fn millis(text: Option<&str>) -> Option<i64> {
    text.and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_millisecond())
}

/// The profile as rules see it, and the contact history caps count.
/// The customer's stored limits (JSON) and their past marketing contacts.
pub type Limits = (Option<String>, Vec<i64>);
/// What a decision reads about a known person.
type PersonInput = (ProfileView, BTreeMap<String, Vec<i64>>, Limits);

/// The profile as rules see it, segments evaluated.
pub fn engine_profile(
    conn: &allele_store::Connection,
    ws: &str,
    root: &str,
) -> Result<ProfileView, StoreError> {
    engine_view(conn, ws, root, read::profile(conn, root)?)
}

/// The profile as segments see it: memberships exact, but only the
/// computed traits the workspace's segments read are computed (the rest
/// cost event scans nobody needs here).
pub fn segment_profile(
    conn: &allele_store::Connection,
    ws: &str,
    root: &str,
) -> Result<ProfileView, StoreError> {
    engine_view_wanted(
        conn,
        ws,
        root,
        read::profile(conn, root)?,
        Wanted::default(),
    )
}

/// The same, from a profile already read (so callers that also answer the
/// stored view do not fold the profile twice).
pub(crate) fn engine_view(
    conn: &allele_store::Connection,
    ws: &str,
    root: &str,
    view: read::ProfileView,
) -> Result<ProfileView, StoreError> {
    engine_view_wanted(conn, ws, root, view, Wanted::All)
}

/// The profile with only the computed traits in `wanted` (plus those the
/// workspace's segments read, so memberships stay exact).
fn engine_view_wanted(
    conn: &allele_store::Connection,
    ws: &str,
    root: &str,
    view: read::ProfileView,
    mut wanted: Wanted,
) -> Result<ProfileView, StoreError> {
    let consent = read::consent_ledger(conn, root)?
        .into_iter()
        .filter_map(|record| {
            let status = match record.status.as_str() {
                "given" => ConsentStatus::Given,
                "withdrawn" => ConsentStatus::Withdrawn,
                "refused" => ConsentStatus::Refused,
                _ => return None,
            };
            Some(ConsentRecord {
                purpose: record.purpose,
                channel: record.channel,
                status,
            })
        })
        .collect();
    let mut profile = ProfileView {
        id: view.id,
        traits: view.traits,
        computed: view.computed,
        segments: Vec::new(),
        consent,
        identities: view
            .identities
            .into_iter()
            .map(|i| Identity {
                kind: i.kind,
                value: i.value,
            })
            .collect(),
        event_count: view.event_count.max(0) as u64,
        first_seen: millis(view.first_seen.as_deref()),
        last_seen: millis(view.last_seen.as_deref()),
    };
    let now = now_ms();
    let started = std::time::Instant::now();
    let segments = crate::segments::definitions(conn, ws)?;
    for (_, compiled) in segments.iter() {
        wanted.add_slots(&compiled.1);
    }
    profile.computed =
        crate::computed::computed_wanted(conn, root, profile.last_seen, now, &wanted)?;
    let computed_at = std::time::Instant::now();
    profile.segments = crate::segments::members_of(&segments, &profile, now);
    metrics::histogram!("allele_profile_stage_seconds", "stage" => "computed")
        .record((computed_at - started).as_secs_f64());
    metrics::histogram!("allele_profile_stage_seconds", "stage" => "segments")
        .record(computed_at.elapsed().as_secs_f64());
    Ok(profile)
}

fn profile_input(
    conn: &allele_store::Connection,
    ws: &str,
    root: &str,
    channel: &str,
    wanted: Wanted,
) -> Result<PersonInput, StoreError> {
    let profile = engine_view_wanted(conn, ws, root, read::profile(conn, root)?, wanted)?;
    let mut history: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (action, at) in bundles::contact_history(conn, root)? {
        history.entry(action).or_default().push(at);
    }
    let limits = (
        bundles::customer_limits(conn, root)?,
        bundles::marketing_contacts(conn, root, channel)?,
    );
    Ok((profile, history, limits))
}

/// The customer's own limits as the engine takes them: quiet hours now,
/// the strictest cap on this channel, and channels they did not choose.
pub fn customer_caps(limits: Limits, channel: &str, now: i64) -> Option<CustomerCaps> {
    let (Some(text), contacts) = limits else {
        return None;
    };
    let limits: CustomerLimits = serde_json::from_str(&text).ok()?;
    let quiet_now = match (
        &limits.quiet_hours,
        allele_privacy::limits::time_zone(&limits.timezone),
    ) {
        (Some(quiet), Ok(tz)) => allele_privacy::limits::is_quiet(now, quiet, &tz).unwrap_or(false),
        _ => false,
    };
    let strictest = limits
        .caps
        .iter()
        .filter(|cap| cap.applies_to(channel))
        .min_by_key(|cap| cap.count);
    let unchosen = !limits.preferred_channels.is_empty()
        && !limits.preferred_channels.iter().any(|c| c == channel);
    let (max, window) = match (unchosen, strictest) {
        (true, _) => (Some(0), 0),
        (false, Some(cap)) => (Some(cap.count), cap.window_ms.max(0) as u64),
        (false, None) => (None, 0),
    };
    Some(CustomerCaps {
        max_marketing_contacts: max,
        window_ms: window,
        marketing_contacts: contacts,
        quiet_now,
    })
}

pub async fn decide(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state
        .require(&headers, &[Role::Decide, Role::Admin])
        .await?;
    let request: DecideBody = parse_body(
        &body,
        "decide body must be `{user_id|anonymous_id, touchpoint, channel, context, limit}`",
    )?;
    decide_as(&state, &principal, request).await.map(Json)
}

impl DecideBody {
    /// A decision asked for by the server itself (a journey's decide step).
    pub(crate) fn internal(
        user_id: Option<String>,
        anonymous_id: Option<String>,
        touchpoint: String,
        channel: String,
    ) -> DecideBody {
        DecideBody {
            user_id,
            anonymous_id,
            touchpoint,
            channel,
            context: Map::new(),
            limit: Some(1),
            seed: None,
        }
    }
}

/// Decide, log and answer, for a caller already authorised.
pub(crate) async fn decide_as(
    state: &Arc<AppState>,
    principal: &crate::auth::Principal,
    request: DecideBody,
) -> Result<Value, HttpError> {
    if request.user_id.is_none() && request.anonymous_id.is_none() {
        return Err(HttpError::new(
            Code::MissingIdentity,
            "a decision needs `user_id` or `anonymous_id`",
        ));
    }
    let mut stages = Stages::start();
    // Held from reading the contact history until the decision is logged:
    // two decisions for the same person at once would otherwise both see
    // the history before either and together exceed a cap.
    let _person = state
        .decide_locks
        .lock(
            &principal.workspace,
            request.user_id.as_deref(),
            request.anonymous_id.as_deref(),
        )
        .await;
    stages.lap("lock");
    let Some(active) = state.active_bundle(&principal.workspace).await? else {
        return Err(HttpError::new(
            Code::NoActiveBundle,
            "no policy has been published yet; `PUT /v1/policies` first",
        ));
    };
    let ws = principal.workspace.clone();
    let refs: Vec<ProfileRef> = [
        ("user_id", &request.user_id),
        ("anonymous_id", &request.anonymous_id),
    ]
    .into_iter()
    .filter_map(|(kind, value)| {
        value.as_ref().map(|v| ProfileRef::Identity {
            kind: kind.into(),
            value: v.clone(),
        })
    })
    .collect();
    let channel = request.channel.clone();
    // Keyed by the identity the caller sent, which (unlike a profile id)
    // exists before the person's first event.
    let person = request
        .user_id
        .clone()
        .or(request.anonymous_id.clone())
        .unwrap_or_default();
    let (reader_state, active_for_read) = (Arc::clone(state), Arc::clone(&active));
    // One read: which bundle serves this person (champion/challenger), then
    // the profile with only the computed traits that bundle can read.
    let (arm, found) = state
        .store
        .read(move |conn| {
            // One read transaction: every query below sees the same
            // snapshot, and SQLite checks the WAL (and, when it moved,
            // drops its page cache) once instead of once per statement.
            let _snapshot = conn.unchecked_transaction()?;
            let arm = bundles::challenger(conn, &ws)?
                .filter(|(version, _)| *version != active_for_read.version)
                .map(|(version, share)| {
                    let experiment = format!("challenger-v{version}");
                    let challenged =
                        allele_engine::holdout::is_held_out(share, &ws, &experiment, &person);
                    (version, experiment, challenged)
                });
            let mut wanted = Wanted::default();
            match &arm {
                Some((version, _, true)) => match reader_state.bundles.version(&ws, *version) {
                    Some(serving) => wanted.add_slots(serving.bundle.slots()),
                    // Not loaded yet: read everything rather than guess.
                    None => wanted = Wanted::All,
                },
                _ => wanted.add_slots(active_for_read.bundle.slots()),
            }
            for profile_ref in &refs {
                if let Some(root) = read::resolve(conn, &ws, profile_ref)? {
                    let input = profile_input(conn, &ws, &root, &channel, wanted)?;
                    return Ok((arm, Some((root, input))));
                }
            }
            Ok((arm, None))
        })
        .await?;
    stages.lap("read");
    let (root, (mut profile, contact_history, limits)) = match found {
        Some((root, input)) => (Some(root), input),
        // Unknown visitor: an empty profile keyed by the id it will get.
        None => (
            None,
            (ProfileView::default(), BTreeMap::new(), (None, Vec::new())),
        ),
    };
    let now = now_ms();
    if root.is_none() {
        profile.id = request
            .user_id
            .clone()
            .or(request.anonymous_id.clone())
            .unwrap_or_default();
    }
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
        workspace_salt: principal.workspace.clone(),
        contact_history,
        customer_caps: customer_caps(limits, &request.channel, now),
        arm_stats: BTreeMap::new(),
        linear_stats: BTreeMap::new(),
    };
    // Champion/challenger: a stable share of people get the challenger.
    let mut active = active;
    let arm: Option<(String, &'static str)> = match arm {
        Some((version, experiment, challenged)) => {
            if challenged {
                active = state.bundle_version(&principal.workspace, version).await?;
            }
            Some((
                experiment,
                if challenged { "challenger" } else { "champion" },
            ))
        }
        None => None,
    };
    (input.arm_stats, input.linear_stats) = state
        .learned(&principal.workspace, &request.touchpoint, &active.bundle)
        .await?;
    let decision = allele_engine::decide(&active.bundle, &input);
    let decision_id = allele_store::identity::new_id("dec_");
    let response = json!({
        "decision_id": decision_id,
        "bundle_version": decision.bundle_version,
        "holdout": decision.holdout,
        "actions": decision.actions,
        "candidates": decision.candidates,
        "trace": decision.trace,
        "seed": seed,
    });
    // What the rules saw, so another policy can be replayed on it later
    // (identities left out: the log needs no more than the rules read; the
    // computed traits are those the bundle and the segments can read).
    input.profile.identities = Vec::new();
    let logged_request = serde_json::to_string(&LoggedRequest {
        user_id: &request.user_id,
        anonymous_id: &request.anonymous_id,
        touchpoint: &request.touchpoint,
        channel: &request.channel,
        context: &request.context,
        seed,
        now_ms: input.now_ms,
        profile: &input.profile,
        arm_stats: &input.arm_stats,
        linear_stats: &input.linear_stats,
    })
    .map_err(|e| HttpError::new(Code::Internal, e.to_string()))?;
    let result = response.to_string();
    let doc = active.bundle.doc();
    let actions = logged_actions(doc, &decision.actions);
    let channel = request.channel.clone();
    let (ws, holdout, version, at) = (
        principal.workspace.clone(),
        decision.holdout,
        decision.bundle_version,
        input.now_ms,
    );
    // The experiments this decision assigns its person to, the Segment way.
    let holdout_experiment = format!("holdout-{}", active.bundle.doc().holdout.salt);
    let held_variation = if decision.holdout {
        "holdout"
    } else {
        "treated"
    };
    let mut exposures = vec![exposure(
        &request,
        &holdout_experiment,
        held_variation,
        &response,
    )?];
    if let Some((experiment, variation)) = &arm {
        exposures.push(exposure(&request, experiment, variation, &response)?);
    }
    let actor = principal.actor();
    stages.lap("engine");
    // One durable job: the access-log leaf for reading the profile, the
    // decision log, and the exposures, committed together before answering.
    state
        .store
        .write_ingest(
            &principal.workspace,
            1 + exposures.len(),
            exposures,
            move |conn| {
                if let Some(root) = root.as_deref() {
                    allele_store::access::append(
                        conn,
                        &ws,
                        at,
                        &actor,
                        "decide",
                        "dpv:Personalisation",
                        root,
                    )?;
                }
                bundles::log_decision(
                    conn,
                    &LoggedDecision {
                        id: &decision_id,
                        ws: &ws,
                        profile_id: root.as_deref(),
                        bundle_version: version,
                        holdout,
                        request: &logged_request,
                        result: &result,
                        at,
                        actions,
                        channel: &channel,
                    },
                )
            },
        )
        .await?;
    stages.lap("write");
    stages.finish();
    metrics::counter!("allele_decisions_total").increment(1);
    Ok(response)
}

/// The decision log's `request`: what was asked and what the rules saw, so
/// another policy can be replayed on it (serialised straight from borrows).
#[derive(serde::Serialize)]
struct LoggedRequest<'a> {
    user_id: &'a Option<String>,
    anonymous_id: &'a Option<String>,
    touchpoint: &'a str,
    channel: &'a str,
    context: &'a Map<String, Value>,
    seed: u64,
    now_ms: i64,
    profile: &'a ProfileView,
    /// The outcome counts Beta propensities used, so a replay draws the same.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    arm_stats: &'a BTreeMap<String, allele_engine::ArmStats>,
    /// The same for contextual models.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    linear_stats: &'a BTreeMap<String, allele_engine::linear::LinearStats>,
}

/// The decision-log rows of the chosen actions: marketing unless the
/// bundle says transactional, with the contextual features to learn from.
pub fn logged_actions(
    doc: &allele_engine::BundleDoc,
    chosen: &[allele_engine::ChosenAction],
) -> Vec<LoggedAction> {
    chosen
        .iter()
        .map(|a| LoggedAction {
            action_id: a.action_id.clone(),
            probability: a.probability,
            marketing: doc
                .actions
                .iter()
                .find(|d| d.id == a.action_id)
                .is_none_or(|d| d.kind != allele_engine::Kind::Transactional),
            features: a
                .features
                .as_ref()
                .and_then(|f| serde_json::to_string(f).ok()),
        })
        .collect()
}

/// Wall time of each stage of one decision, recorded as
/// `allele_decide_stage_seconds{stage}` (and `stage="total"`), so the
/// breakdown under load can be read off `/metrics`.
struct Stages {
    started: std::time::Instant,
    last: std::time::Instant,
}

impl Stages {
    fn start() -> Stages {
        let now = std::time::Instant::now();
        Stages {
            started: now,
            last: now,
        }
    }

    fn lap(&mut self, stage: &'static str) {
        let now = std::time::Instant::now();
        metrics::histogram!("allele_decide_stage_seconds", "stage" => stage)
            .record((now - self.last).as_secs_f64());
        self.last = now;
    }

    fn finish(self) {
        metrics::histogram!("allele_decide_stage_seconds", "stage" => "total")
            .record(self.started.elapsed().as_secs_f64());
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    decision_id: String,
    action_id: Option<String>,
    #[serde(default = "default_outcome_event")]
    event: String,
    revenue: Option<f64>,
    #[serde(default)]
    properties: Map<String, Value>,
}

fn default_outcome_event() -> String {
    "Decision Outcome".to_string()
}

/// `POST /v1/outcomes`: a convenience that records a track event carrying
/// the decision's id for the person the decision was made for.
pub async fn outcome(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state
        .require(&headers, &[Role::Decide, Role::Admin])
        .await?;
    let outcome: OutcomeBody = parse_body(
        &body,
        "outcome body must be `{decision_id, action_id, event, revenue}`",
    )?;
    let (ws, id) = (principal.workspace.clone(), outcome.decision_id.clone());
    let logged: Option<String> = state
        .store
        .read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT request FROM decisions WHERE id = ?1 AND workspace_id = ?2",
                    [&id, &ws],
                    |row| row.get(0),
                )
                .ok())
        })
        .await?;
    let Some(logged) = logged else {
        return Err(HttpError::new(
            Code::DecisionNotFound,
            format!("no decision `{}`", outcome.decision_id),
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
    let message_id = store_track(
        &state,
        &principal.workspace,
        &outcome.event,
        (request["user_id"].clone(), request["anonymous_id"].clone()),
        None,
        Value::Object(properties),
    )
    .await?;
    Ok(Json(json!({"success": true, "message_id": message_id})))
}

/// An `Experiment Viewed` event for one of the experiments a decision
/// assigns its person to: the universal holdout (`holdout-{salt}`) and,
/// while one runs, champion/challenger (`challenger-v{version}`). The
/// experiment readout then measures allele's own arms like any A/B test.
fn exposure(
    request: &DecideBody,
    experiment: &str,
    variation: &str,
    decision: &Value,
) -> Result<Message, HttpError> {
    let mut body = Map::new();
    body.insert("type".into(), json!("track"));
    body.insert("event".into(), json!(allele_store::reports::EXPOSURE_EVENT));
    body.insert("userId".into(), json!(request.user_id));
    body.insert("anonymousId".into(), json!(request.anonymous_id));
    body.insert(
        "messageId".into(),
        json!(format!(
            "exp-{experiment}-{}",
            decision["decision_id"].as_str().unwrap_or_default()
        )),
    );
    body.insert(
        "properties".into(),
        json!({"experiment_id": experiment, "variation_id": variation, "decision_id": decision["decision_id"]}),
    );
    let meta = RequestMeta {
        received_at: jiff::Timestamp::now(),
        gpc: false,
        max_batch_bytes: usize::MAX,
    };
    Ok(parse_message(body, None, meta)?)
}

/// Store a track event for a person, through the same path as ingest.
pub(crate) async fn store_track(
    state: &AppState,
    ws: &str,
    event: &str,
    (user_id, anonymous_id): (Value, Value),
    message_id: Option<String>,
    properties: Value,
) -> Result<String, HttpError> {
    let mut body = Map::new();
    body.insert("type".into(), json!("track"));
    body.insert("event".into(), json!(event));
    body.insert("userId".into(), user_id);
    body.insert("anonymousId".into(), anonymous_id);
    if let Some(id) = message_id {
        body.insert("messageId".into(), json!(id));
    }
    body.insert("properties".into(), properties);
    let meta = RequestMeta {
        received_at: jiff::Timestamp::now(),
        gpc: false,
        max_batch_bytes: usize::MAX,
    };
    let message = parse_message(body, None, meta)?;
    let id = message.message_id.clone();
    state.store.ingest(ws, vec![message]).await?;
    Ok(id)
}
