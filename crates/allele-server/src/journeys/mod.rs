//! Journeys: `PUT /v1/journeys/{id}` stores a checked definition (see
//! `allele_campaigns::journey` for the format); the runner enters people
//! when their events, segment entries or date-trait anniversaries match a
//! trigger and advances each run durably. Branch conditions are CEL, compiled by the engine's
//! compiler and checked when the journey is saved.

mod dates;
pub mod runner;

use crate::AppState;
use crate::error::HttpError;
use allele_campaigns::JourneyDef;
use allele_campaigns::journey::Kind;
use allele_store::{Role, journeys, now_ms, outbox};
use allele_types::Code;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

fn invalid(message: impl Into<String>) -> HttpError {
    HttpError::new(Code::InvalidJourney, message)
}

/// `PUT /v1/journeys/{id}`: JSON or YAML.
pub async fn put(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let valid_id = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid_id {
        return Err(invalid(format!(
            "journey id `{id}` must be 1–64 letters, digits, `_` or `-`"
        )));
    }
    let source = std::str::from_utf8(&body).map_err(|_| invalid("the definition is not utf-8"))?;
    let (def, kinds) = JourneyDef::parse(source).map_err(invalid)?;
    for (step, kind) in def.steps.iter().zip(&kinds) {
        if let Kind::Branch { condition, .. } = kind {
            crate::segments::compile(condition)
                .map_err(|e| invalid(format!("step `{}`: {e}", step.id)))?;
        }
    }
    let ws = principal.workspace.clone();
    let templates: Vec<String> = kinds
        .iter()
        .filter_map(|k| match k {
            Kind::SendEmail(send) => Some(send.template.clone()),
            _ => None,
        })
        .collect();
    let missing = state
        .store
        .read(move |conn| {
            for template in templates {
                if outbox::template(conn, &ws, &template)?.is_none() {
                    return Ok(Some(template));
                }
            }
            Ok(None)
        })
        .await?;
    if let Some(template) = missing {
        return Err(invalid(format!(
            "no email template `{template}`; `PUT /v1/templates/{template}` first"
        )));
    }
    let text = serde_json::to_string(&def).map_err(|e| invalid(e.to_string()))?;
    let (ws, key) = (principal.workspace.clone(), id.clone());
    state
        .store
        .write(1, move |conn| {
            journeys::put(conn, &ws, &key, &text, now_ms())
        })
        .await?;
    Ok(Json(json!({"id": id, "journey": def})))
}

async fn stored(state: &AppState, ws: &str, id: &str) -> Result<JourneyDef, HttpError> {
    let (ws, key) = (ws.to_string(), id.to_string());
    let all = state.store.read(journeys::all).await?;
    all.into_iter()
        .find(|(w, j, _)| *w == ws && *j == key)
        .and_then(|(_, _, text)| serde_json::from_str(&text).ok())
        .ok_or_else(|| HttpError::new(Code::JourneyNotFound, format!("no journey `{id}`")))
}

/// `GET /v1/journeys/{id}`.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let def = stored(&state, &principal.workspace, &id).await?;
    Ok(Json(json!({"id": id, "journey": def})))
}

#[derive(Deserialize, Default)]
pub struct RunParams {
    limit: Option<usize>,
}

/// `GET /v1/journeys/{id}/runs`: every run, oldest first.
pub async fn runs(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<RunParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    stored(&state, &principal.workspace, &id).await?;
    let (ws, limit) = (
        principal.workspace.clone(),
        params.limit.unwrap_or(1_000).clamp(1, 10_000),
    );
    let runs = state
        .store
        .read(move |conn| journeys::runs(conn, &ws, &id, limit))
        .await?;
    let runs: Vec<Value> = runs
        .into_iter()
        .map(|r| {
            json!({"id": r.id, "profile_id": r.profile_id, "status": r.status, "step": r.step,
                   "next_at": r.next_at, "entered_at": r.entered_at})
        })
        .collect();
    Ok(Json(json!({"runs": runs})))
}
