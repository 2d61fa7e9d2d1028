//! `GET /v1/reports/ope?version=N`: how a stored bundle version would have
//! done on the live decision log (IPS, SNIPS, DR; ESS), replaying its rules
//! on what each logged decision saw. The reward is 1 for a decision with an
//! outcome (or its summed revenue with `value=revenue`).

use crate::AppState;
use crate::error::HttpError;
use allele_engine::{DecisionInput, DecisionRequest, ProfileView, SignedBundle};
use allele_stats::ope::{LoggedTerm, evaluate};
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
    // (logged action, its selection probability, reward, what the rules saw)
    let mut logged = Vec::new();
    let mut skipped = 0usize;
    for entry in &log {
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
            // Nothing was offered: no propensity to weight by.
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
        logged.push((action.to_string(), probability, reward, profile, request));
    }
    let mut totals: HashMap<String, (f64, f64)> = HashMap::new();
    for (action, _, reward, _, _) in &logged {
        let entry = totals.entry(action.clone()).or_default();
        entry.0 += reward;
        entry.1 += 1.0;
    }
    let q = |action: &str| totals.get(action).map_or(0.0, |(sum, n)| sum / n);
    let terms: Vec<LoggedTerm> = logged
        .into_iter()
        .filter(|(_, probability, _, _, _)| *probability > 0.0)
        .map(|(action, probability, reward, profile, request)| {
            let input = DecisionInput {
                profile,
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
                workspace_salt: principal.workspace.clone(),
                contact_history: BTreeMap::new(),
                customer_caps: None,
                arm_stats: BTreeMap::new(),
            };
            let pi: HashMap<String, f64> = allele_engine::decide(&candidate, &input)
                .candidates
                .into_iter()
                .map(|c| (c.action_id, c.probability))
                .collect();
            LoggedTerm {
                weight: pi.get(&action).copied().unwrap_or(0.0) / probability,
                reward,
                q_logged: q(&action),
                v_candidate: pi.iter().map(|(a, p)| p * q(a)).sum(),
            }
        })
        .collect();
    let report = evaluate(&terms, 0.05);
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
