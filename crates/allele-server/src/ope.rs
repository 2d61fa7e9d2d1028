//! `GET /v1/reports/ope?version=N`: how a stored bundle version would have
//! done on the live decision log (IPS, SNIPS, DR; ESS), replaying its rules
//! on what each logged decision saw. The reward is 1 for a decision with an
//! outcome (or its summed revenue with `value=revenue`).

use crate::AppState;
use crate::error::HttpError;
use allele_engine::{DecisionInput, DecisionRequest, ProfileView, SignedBundle};
use allele_stats::ope::{LoggedTerm, OpeReport, evaluate};
use allele_store::{Role, bundles};
use allele_types::Code;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct OpeParams {
    version: Option<u64>,
    value: Option<String>,
}

pub async fn report(
    State(state): State<Arc<AppState>>,
    Query(params): Query<OpeParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let version = params.version.ok_or_else(|| {
        HttpError::new(
            Code::InvalidQuery,
            "`version` is required: the candidate bundle",
        )
    })?;
    let use_revenue = match params.value.as_deref() {
        None | Some("") => false,
        Some("revenue") => true,
        Some(other) => {
            return Err(HttpError::new(
                Code::InvalidQuery,
                format!("`value` may only be `revenue`, got `{other}`"),
            ));
        }
    };
    let ws = principal.workspace.clone();
    let (stored, secret, log) = state
        .store
        .read(move |conn| {
            Ok((
                bundles::get(conn, &ws, version)?,
                bundles::signing_key(conn, &ws)?,
                bundles::decision_log(conn, &ws)?,
            ))
        })
        .await?;
    let stored = stored.ok_or_else(|| {
        HttpError::new(
            Code::BundleNotFound,
            format!("no bundle has version {version}"),
        )
    })?;
    let signed = SignedBundle {
        version,
        signature: stored.signature,
        bundle: stored.bundle,
    };
    let candidate =
        allele_engine::verify(&signed, &allele_engine::public_key(&secret)).map_err(|err| {
            HttpError::new(
                Code::BundleRejected,
                format!("bundle {version} failed verification: {err}"),
            )
        })?;
    let (logged, skipped) = parse_log(&log, use_revenue);
    let report = score(&candidate, &logged, &principal.workspace);
    let mut body =
        serde_json::to_value(report).map_err(|e| HttpError::new(Code::Internal, e.to_string()))?;
    if let Some(object) = body.as_object_mut() {
        object.insert("candidate_version".into(), json!(version));
        object.insert("skipped".into(), json!(skipped));
        object.insert(
            "reward".into(),
            json!(if use_revenue {
                "revenue"
            } else {
                "any outcome"
            }),
        );
    }
    Ok(Json(body))
}

/// One usable logged decision: the first action offered, the probability it
/// was chosen with, the reward that followed, and what the rules saw.
pub struct Logged {
    pub action: String,
    pub probability: f64,
    pub reward: f64,
    pub profile: ProfileView,
    pub request: Value,
}

/// The logged decisions an evaluation can use, and how many it cannot
/// (unreadable, or nothing offered: no propensity to weight by).
pub fn parse_log(log: &[bundles::LoggedOutcome], use_revenue: bool) -> (Vec<Logged>, usize) {
    let mut logged = Vec::new();
    let mut skipped = 0usize;
    for entry in log {
        let (Ok(request), Ok(result)) = (
            serde_json::from_str::<Value>(&entry.request),
            serde_json::from_str::<Value>(&entry.result),
        ) else {
            skipped += 1;
            continue;
        };
        let chosen = &result["actions"][0];
        let (Some(action), Some(probability)) =
            (chosen["action_id"].as_str(), chosen["probability"].as_f64())
        else {
            skipped += 1;
            continue;
        };
        let Ok(profile) = serde_json::from_value::<ProfileView>(request["profile"].clone()) else {
            skipped += 1;
            continue;
        };
        let reward = if use_revenue {
            entry.revenue
        } else {
            f64::from(u8::from(entry.outcomes > 0))
        };
        logged.push(Logged {
            action: action.to_string(),
            probability,
            reward,
            profile,
            request,
        });
    }
    (logged, skipped)
}

/// IPS, SNIPS and DR of `candidate` replayed on the logged decisions; the
/// direct-method model is each action's mean logged reward.
pub fn score(candidate: &allele_engine::Bundle, logged: &[Logged], ws: &str) -> OpeReport {
    let mut totals: HashMap<&str, (f64, f64)> = HashMap::new();
    for entry in logged {
        let total = totals.entry(&entry.action).or_default();
        total.0 += entry.reward;
        total.1 += 1.0;
    }
    let q = |action: &str| totals.get(action).map_or(0.0, |(sum, n)| sum / n);
    let terms: Vec<LoggedTerm> = logged
        .iter()
        .filter(|entry| entry.probability > 0.0)
        .map(|entry| {
            let request = &entry.request;
            let input = DecisionInput {
                profile: entry.profile.clone(),
                request: DecisionRequest {
                    touchpoint: request["touchpoint"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    channel: request["channel"].as_str().unwrap_or_default().to_string(),
                    context: request["context"]
                        .as_object()
                        .cloned()
                        .unwrap_or_else(Map::new),
                    limit: 1,
                },
                now_ms: request["now_ms"].as_i64().unwrap_or_default(),
                seed: request["seed"].as_u64().unwrap_or_default(),
                workspace_salt: ws.to_string(),
                contact_history: BTreeMap::new(),
                customer_caps: None,
                arm_stats: serde_json::from_value(request["arm_stats"].clone()).unwrap_or_default(),
                linear_stats: serde_json::from_value(request["linear_stats"].clone())
                    .unwrap_or_default(),
            };
            let pi: HashMap<String, f64> = allele_engine::decide(candidate, &input)
                .candidates
                .into_iter()
                .map(|c| (c.action_id, c.probability))
                .collect();
            LoggedTerm {
                weight: pi.get(&entry.action).copied().unwrap_or(0.0) / entry.probability,
                reward: entry.reward,
                q_logged: q(&entry.action),
                v_candidate: pi.iter().map(|(a, p)| p * q(a)).sum(),
            }
        })
        .collect();
    evaluate(&terms, 0.05)
}
