//! `GET /v1/reports/paths?step=S&direction=next|previous`: where people go
//! after (or came from before) a step, within sessions.
//!
//! Steps are pages (by path), app screens and offline track events, so a
//! path can run from the website to the app to the store. A session ends
//! after `session_minutes` (default 30) without a step, or when a step
//! arrives from a different campaign (UTM source/name) than the session's
//! first — the usual web-analytics rule. Immediate repeats of a step (a
//! reload) count once. A session that ends right after the step counts as
//! `(exit)`; one that starts with it, as `(entrance)`.

use crate::AppState;
use crate::error::HttpError;
use allele_store::Role;
use allele_store::clickstream::{Step, steps};
use allele_types::Code;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct PathParams {
    step: Option<String>,
    direction: Option<String>,
    session_minutes: Option<i64>,
    limit: Option<usize>,
}

/// Sessions as lists of steps (reloads folded), in time order.
pub fn sessions(rows: &[Step], gap_ms: i64) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut current: Option<(&str, i64, &str)> = None;
    for (who, ts, step, campaign) in rows {
        let fresh = match current {
            Some((person, last, source)) => {
                person != who.as_str()
                    || ts - last > gap_ms
                    || (campaign != "/" && campaign.as_str() != source)
            }
            None => true,
        };
        if fresh {
            out.push(Vec::new());
            current = Some((who, *ts, campaign));
        }
        if let Some((_, last, _)) = current.as_mut() {
            *last = *ts;
        }
        if let Some(session) = out.last_mut()
            && session.last() != Some(&step.as_str())
        {
            session.push(step);
        }
    }
    out
}

pub async fn report(
    State(state): State<Arc<AppState>>,
    Query(params): Query<PathParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let step = params.step.filter(|s| !s.is_empty()).ok_or_else(|| {
        HttpError::new(
            Code::InvalidQuery,
            "`step` is required: a page path, screen or event name",
        )
    })?;
    let next = match params.direction.as_deref().unwrap_or("next") {
        "next" => true,
        "previous" => false,
        other => {
            return Err(HttpError::new(
                Code::InvalidQuery,
                format!("`direction` is `next` or `previous`, not `{other}`"),
            ));
        }
    };
    let minutes = params.session_minutes.unwrap_or(30);
    if !(1..=24 * 60).contains(&minutes) {
        return Err(HttpError::new(
            Code::InvalidQuery,
            format!("`session_minutes` must be between 1 and 1440, not `{minutes}`"),
        ));
    }
    let limit = params.limit.unwrap_or(10).clamp(1, 100);
    let ws = principal.workspace.clone();
    let rows = state.store.read(move |conn| steps(conn, &ws)).await?;
    let all = sessions(&rows, minutes * 60_000);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut occurrences = 0usize;
    for session in &all {
        for (i, here) in session.iter().enumerate() {
            if *here != step {
                continue;
            }
            occurrences += 1;
            let neighbour = if next {
                session.get(i + 1).copied().unwrap_or("(exit)")
            } else if i == 0 {
                "(entrance)"
            } else {
                session[i - 1]
            };
            *counts.entry(neighbour).or_default() += 1;
        }
    }
    let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let rows: Vec<Value> = ranked
        .into_iter()
        .take(limit)
        .map(|(name, count)| {
            json!({"step": name, "count": count, "share": count as f64 / occurrences.max(1) as f64})
        })
        .collect();
    Ok(Json(json!({
        "step": step,
        "direction": if next { "next" } else { "previous" },
        "session_minutes": minutes,
        "sessions": all.len(),
        "occurrences": occurrences,
        "steps": rows,
    })))
}
