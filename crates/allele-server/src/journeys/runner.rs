//! The journey runner, a background task. Each tick it
//! 1. reads events past its cursor and turns them into entries (trigger
//!    event, segment entry) and exits (the exit goal), committed together
//!    with the new cursor, so a restart neither loses nor repeats one;
//! 2. at most once a minute per date-trait journey, enters the people whose
//!    anniversary is due (see `dates`), each keyed by its year;
//! 3. advances every due run with the step machine and commits the new
//!    state together with the run's effects (outbox rows keyed
//!    `journey:{run}:{step}`, trait updates as identify events with
//!    message id `jrn-{run}-{step}`, webhook deliveries) in one
//!    transaction, so a step's effects happen once or not at all.
//!
//! A decide step calls the decision engine before that commit; if the
//! process dies in between, the step runs again and logs a second decision,
//! but nothing reaches the person twice.

use super::dates;
use crate::AppState;
use allele_campaigns::journey::Kind;
use allele_campaigns::{Effect, Env, JourneyDef, RunState, RunStatus, advance, parse_duration};
use allele_store::journeys::{self, Run};
use allele_store::{StoreError, bundles, now_ms, outbox, webhooks};
use allele_types::segment::{RequestMeta, parse_message};
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Journey {
    pub(super) ws: String,
    pub(super) id: String,
    pub(super) def: JourneyDef,
    kinds: Vec<Kind>,
}

fn load(conn: &allele_store::Connection) -> Result<Vec<Journey>, StoreError> {
    Ok(journeys::all(conn)?
        .into_iter()
        .filter_map(|(ws, id, text)| {
            let def: JourneyDef = serde_json::from_str(&text).ok()?;
            let kinds = def.validate().ok()?;
            Some(Journey { ws, id, def, kinds })
        })
        .collect())
}

pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut scans = dates::Scans::default();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Err(error) = tick(&state, &mut scans).await {
                tracing::warn!(%error, "journey runner tick failed; retrying");
            }
        }
    });
}

async fn tick(state: &Arc<AppState>, scans: &mut dates::Scans) -> Result<(), StoreError> {
    let journeys = Arc::new(state.store.read(load).await?);
    if journeys.is_empty() {
        return Ok(());
    }
    enter_and_exit(state, &journeys).await?;
    dates::enter_due(state, &journeys, scans).await?;
    let due = state
        .store
        .read(|conn| journeys::due(conn, now_ms(), 100))
        .await?;
    for run in due {
        let Some(journey) = journeys
            .iter()
            .find(|j| j.ws == run.ws && j.id == run.journey_id)
        else {
            continue;
        };
        if let Err(error) = step(state, journey, run).await {
            tracing::warn!(%error, "a journey run could not advance; it stays due");
        }
    }
    Ok(())
}

enum Change {
    Enter { journey: usize, root: String },
    Exit { journey: usize, root: String },
    SegmentLeft { journey: usize, root: String },
}

async fn enter_and_exit(state: &AppState, all: &Arc<Vec<Journey>>) -> Result<(), StoreError> {
    let list = Arc::clone(all);
    let (changes, last) = state
        .store
        .read(move |conn| {
            let events = journeys::events_after(conn, journeys::cursor(conn)?, 500)?;
            let mut changes = Vec::new();
            // Memberships now (not as of each event), so one batched read
            // per workspace for every person a segment trigger looks at.
            let mut wanted: HashMap<&str, Vec<&str>> = HashMap::new();
            for event in &events {
                if list
                    .iter()
                    .any(|j| j.ws == event.ws && j.def.trigger.segment.is_some())
                {
                    wanted.entry(&event.ws).or_default().push(&event.root);
                }
            }
            let mut memberships: HashMap<(&str, String), Vec<String>> = HashMap::new();
            for (ws, mut roots) in wanted {
                roots.sort_unstable();
                roots.dedup();
                for (root, segments) in crate::segments::memberships_of(conn, ws, &roots)? {
                    memberships.insert((ws, root), segments);
                }
            }
            for event in &events {
                for (index, journey) in list.iter().enumerate().filter(|(_, j)| j.ws == event.ws) {
                    let named = |wanted: &str| {
                        event.kind == "track" && event.name.as_deref() == Some(wanted)
                    };
                    if journey
                        .def
                        .exit
                        .as_ref()
                        .is_some_and(|exit| named(&exit.event))
                    {
                        changes.push(Change::Exit {
                            journey: index,
                            root: event.root.clone(),
                        });
                    }
                    if journey.def.trigger.event.as_deref().is_some_and(named) {
                        changes.push(Change::Enter {
                            journey: index,
                            root: event.root.clone(),
                        });
                    }
                    if let Some(segment) = &journey.def.trigger.segment {
                        // A person with no profile left is in no segment.
                        let member = memberships
                            .get(&(event.ws.as_str(), event.root.clone()))
                            .is_some_and(|s| s.contains(segment));
                        changes.push(if member {
                            Change::Enter {
                                journey: index,
                                root: event.root.clone(),
                            }
                        } else {
                            Change::SegmentLeft {
                                journey: index,
                                root: event.root.clone(),
                            }
                        });
                    }
                }
            }
            Ok((changes, events.last().map(|e| e.seq)))
        })
        .await?;
    let Some(last) = last else { return Ok(()) };
    let list = Arc::clone(all);
    state
        .store
        .write(1 + changes.len(), move |conn| {
            let now = now_ms();
            for change in changes {
                match change {
                    Change::Exit { journey, root } => {
                        if let Some(j) = list.get(journey) {
                            journeys::exit_runs(conn, &j.ws, &j.id, &root, now)?;
                        }
                    }
                    Change::SegmentLeft { journey, root } => {
                        if let Some(j) = list.get(journey)
                            && let Some(segment) = &j.def.trigger.segment
                        {
                            journeys::segment_left(conn, &j.ws, segment, &root)?;
                        }
                    }
                    Change::Enter { journey, root } => {
                        let Some(j) = list.get(journey) else { continue };
                        if let Some(segment) = &j.def.trigger.segment
                            && !journeys::segment_entered(conn, &j.ws, segment, &root)?
                        {
                            continue; // still a member: not an entry
                        }
                        enter(conn, j, &root, now)?;
                    }
                }
            }
            journeys::set_cursor(conn, last)
        })
        .await
}

/// Start a run unless the re-entry rule forbids it; the holdout share is
/// recorded as `held_out` runs that take no step. A date trigger's entries
/// are keyed by year instead, so only a run still active holds it back.
pub(super) fn enter(
    conn: &allele_store::Connection,
    journey: &Journey,
    root: &str,
    now: i64,
) -> Result<(), StoreError> {
    if let Some((status, entered_at)) = journeys::latest_run(conn, &journey.ws, &journey.id, root)?
    {
        let allowed = status != "active"
            && (journey.def.trigger.date_trait.is_some()
                || match journey.def.reentry.as_str() {
                    "never" => false,
                    "after_exit" => true,
                    other => parse_duration(other).is_some_and(|d| now - entered_at >= d),
                });
        if !allowed {
            return Ok(());
        }
    }
    let held = allele_engine::holdout::is_held_out(
        journey.def.holdout,
        &journey.ws,
        &format!("journey-{}", journey.id),
        root,
    );
    let run = Run {
        id: allele_store::identity::new_id("run_"),
        ws: journey.ws.clone(),
        journey_id: journey.id.clone(),
        profile_id: root.to_string(),
        status: if held {
            RunStatus::HeldOut
        } else {
            RunStatus::Active
        }
        .as_str()
        .to_string(),
        step: 0,
        waiting: false,
        next_at: now,
        entered_at: now,
        updated_at: now,
        context: "{}".into(),
    };
    journeys::insert_run(conn, &run)
}

struct PersonEnv<'a> {
    input: allele_engine::DecisionInput,
    tz: TimeZone,
    now: i64,
    kinds: &'a [Kind],
}

impl Env for PersonEnv<'_> {
    fn condition(&mut self, _: usize, expression: &str) -> bool {
        crate::segments::compile(expression).is_ok_and(|(compiled, slots)| {
            crate::segments::is_member(&compiled, &slots, &self.input, self.now)
        })
    }
    fn time_zone(&self) -> TimeZone {
        self.tz.clone()
    }
}

/// The person's time zone: their own setting, else a `timezone` trait, else UTC.
pub(super) fn time_zone(limits: Option<String>, traits: &Map<String, Value>) -> TimeZone {
    let from_limits = limits
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["timezone"].as_str().map(str::to_string));
    let name = from_limits.or_else(|| {
        traits
            .get("timezone")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    name.and_then(|n| TimeZone::get(&n).ok())
        .unwrap_or(TimeZone::UTC)
}

async fn step(state: &Arc<AppState>, journey: &Journey, run: Run) -> Result<(), StoreError> {
    let kinds = journey.kinds.clone();
    let for_read = run.clone();
    let (mut machine, effects, ids) = state
        .store
        .read(move |conn| {
            let now = now_ms();
            let profile =
                crate::decisions::engine_profile(conn, &for_read.ws, &for_read.profile_id)?;
            let tz = time_zone(
                bundles::customer_limits(conn, &for_read.profile_id)?,
                &profile.traits,
            );
            let find = |kind: &str| {
                profile
                    .identities
                    .iter()
                    .find(|i| i.kind == kind)
                    .map(|i| i.value.clone())
            };
            let ids = (find("user_id"), find("anonymous_id"));
            let mut env = PersonEnv {
                input: crate::segments::as_input(&profile, now),
                tz,
                now,
                kinds: &kinds,
            };
            let mut machine = RunState {
                step: usize::try_from(for_read.step).unwrap_or(usize::MAX),
                next_at: for_read.next_at,
                waiting: for_read.waiting,
                status: RunStatus::parse(&for_read.status).unwrap_or(RunStatus::Completed),
            };
            let effects = advance(env.kinds, &mut machine, now, &mut env);
            Ok((machine, effects, ids))
        })
        .await?;
    // Decisions first: later sends in this batch carry their variables.
    let mut context: Value = serde_json::from_str(&run.context).unwrap_or_else(|_| json!({}));
    for effect in &effects {
        if let Effect::Decide { decide, .. } = effect {
            let principal = crate::auth::Principal {
                workspace: run.ws.clone(),
                role: allele_store::Role::Admin,
                key_id: format!("journey:{}", journey.id),
            };
            let request = crate::decisions::DecideBody::internal(
                ids.0.clone(),
                ids.1.clone(),
                decide
                    .touchpoint
                    .clone()
                    .unwrap_or_else(|| "journey".into()),
                decide.channel.clone(),
            );
            match crate::decisions::decide_as(state, &principal, request).await {
                Ok(decision) => {
                    let top = &decision["actions"][0];
                    context["decision"] = json!({"decision_id": decision["decision_id"], "action_id": top["action_id"],
                        "score": top["score"], "bundle_version": decision["bundle_version"]});
                }
                Err(error) => {
                    tracing::warn!(error = %error.0.message, "a journey decide step got no decision")
                }
            }
        }
    }
    let mut messages = Vec::new();
    for effect in &effects {
        if let Effect::SetTrait { step, set } = effect {
            let mut traits = Map::new();
            traits.insert(set.name.clone(), set.value.clone());
            let mut body = Map::new();
            body.insert("type".into(), json!("identify"));
            body.insert("userId".into(), json!(ids.0));
            body.insert("anonymousId".into(), json!(ids.1));
            body.insert("messageId".into(), json!(format!("jrn-{}-{step}", run.id)));
            body.insert("traits".into(), Value::Object(traits));
            let meta = RequestMeta {
                received_at: jiff::Timestamp::now(),
                gpc: false,
                max_batch_bytes: usize::MAX,
            };
            match parse_message(body, None, meta) {
                Ok(message) => messages.push(message),
                Err(error) => tracing::warn!(%error, "a journey set_trait step made no event"),
            }
        }
    }
    if machine.status == RunStatus::Active && machine.next_at <= now_ms() {
        // Nothing is due any more in this pass; look again next tick.
        machine.next_at = now_ms();
    }
    let seen = run.updated_at;
    let now = now_ms();
    let saved = Run {
        status: machine.status.as_str().to_string(),
        step: i64::try_from(machine.step).unwrap_or(i64::MAX),
        waiting: machine.waiting,
        next_at: machine.next_at,
        updated_at: now.max(seen + 1),
        context: context.to_string(),
        ..run
    };
    let journey_id = journey.id.clone();
    let result = state
        .store
        .write_ingest(&saved.ws.clone(), 1 + effects.len(), messages, move |conn| {
            if !journeys::save_state(conn, &saved, seen)? {
                // An exit landed since the read: drop this pass entirely.
                return Err(StoreError::Invalid("the run changed while it advanced".into()));
            }
            for effect in &effects {
                match effect {
                    Effect::SendEmail { step, send } => {
                        let vars = json!({"decision": context.get("decision")}).to_string();
                        outbox::enqueue(conn, &outbox::NewEmail {
                            ws: &saved.ws,
                            idempotency_key: &format!("journey:{}:{step}", saved.id),
                            profile_id: &saved.profile_id,
                            template_id: &send.template,
                            kind: send.kind.as_deref().unwrap_or("marketing"),
                            vars: &vars,
                            source: &format!("journey:{journey_id}"),
                            at: now,
                        })?;
                    }
                    Effect::Webhook { step, hook } => {
                        let payload = json!({"type": hook.event, "data": {"journey_id": journey_id, "run_id": saved.id,
                            "step": step, "profile_id": saved.profile_id}})
                        .to_string();
                        webhooks::enqueue(conn, &saved.ws, &hook.event, &payload, now)?;
                    }
                    Effect::Decide { .. } | Effect::SetTrait { .. } => {}
                }
            }
            Ok(())
        })
        .await;
    match result {
        Err(StoreError::Invalid(_)) => Ok(()),
        other => other,
    }
}
