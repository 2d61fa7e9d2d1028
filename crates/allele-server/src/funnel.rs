//! `GET /v1/reports/funnel?steps=A,B,C&window_hours=H`: how many people
//! took each step in order (each step after the previous one, within the
//! window of their first step), conversion between steps, and the median
//! time from the first step.

use crate::AppState;
use crate::error::HttpError;
use allele_store::{Role, reports};
use allele_types::Code;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct FunnelParams {
    steps: Option<String>,
    window_hours: Option<f64>,
}

/// For each person, how far they got and when: (steps reached, ms to each).
fn progress(
    events: &[(String, i64, usize)],
    steps: usize,
    window_ms: i64,
) -> HashMap<&str, (usize, Vec<i64>)> {
    let mut state: HashMap<&str, (usize, i64, Vec<i64>)> = HashMap::new();
    for (who, ts, step) in events {
        let entry = state.entry(who.as_str()).or_insert((0, 0, Vec::new()));
        let (reached, started, times) = entry;
        if *reached >= steps || *step != *reached {
            continue;
        }
        if *reached == 0 {
            *started = *ts;
        } else if *ts - *started > window_ms {
            continue;
        }
        times.push(*ts - *started);
        *reached += 1;
    }
    state
        .into_iter()
        .map(|(who, (reached, _, times))| (who, (reached, times)))
        .collect()
}

fn median(mut values: Vec<i64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) as f64 / 2.0
    } else {
        values[mid] as f64
    })
}

pub async fn funnel(
    State(state): State<Arc<AppState>>,
    Query(params): Query<FunnelParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let steps: Vec<String> = params
        .steps
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if !(2..=20).contains(&steps.len()) {
        return Err(HttpError::new(
            Code::InvalidQuery,
            "`steps` must name 2 to 20 events, comma-separated",
        ));
    }
    let window_ms = match params.window_hours {
        Some(hours) if hours.is_finite() && hours > 0.0 => (hours * 3_600_000.0) as i64,
        Some(hours) => {
            return Err(HttpError::new(
                Code::InvalidQuery,
                format!("`window_hours` must be positive, got `{hours}`"),
            ));
        }
        None => i64::MAX,
    };
    let (ws, names) = (principal.workspace.clone(), steps.clone());
    let events = state
        .store
        .read(move |conn| reports::step_events(conn, &ws, &names))
        .await?;
    let people = progress(&events, steps.len(), window_ms);
    let mut out = Vec::with_capacity(steps.len());
    for (index, name) in steps.iter().enumerate() {
        let reached: Vec<&(usize, Vec<i64>)> =
            people.values().filter(|(n, _)| *n > index).collect();
        let previous = if index == 0 {
            reached.len()
        } else {
            people.values().filter(|(n, _)| *n >= index).count()
        };
        let times: Vec<i64> = reached
            .iter()
            .filter_map(|(_, t)| t.get(index).copied())
            .collect();
        out.push(json!({
            "step": name,
            "people": reached.len(),
            "conversion_from_previous": if previous == 0 { Value::Null } else { json!(reached.len() as f64 / previous as f64) },
            "median_ms_from_first_step": median(times),
        }));
    }
    Ok(Json(json!({"steps": out})))
}
