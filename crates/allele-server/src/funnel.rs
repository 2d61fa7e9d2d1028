//! `GET /v1/reports/funnel?steps=A,B,C&window_hours=H`: how many people
//! took each step in order (each step after the previous one, within the
//! window of their first step), conversion between steps, and the median
//! time from the first step.

use crate::AppState;
use crate::error::HttpError;
use allele_store::{Role, StoreError, reports};
use allele_types::Code;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct FunnelParams {
    steps: Option<String>,
    window_hours: Option<f64>,
}

/// How many people reached each step, with the ms from their first step to
/// it. `steps` holds each step's `(person, ts)` sorted by person and time.
/// Per person: the first step is their earliest such event; each later
/// step is its earliest event at or after the previous step's, within the
/// window of the first (a step at the same instant as the one before it
/// counts, as it does in time order with ties broken by step).
fn progress(steps: &[Vec<(i64, i64)>], window_ms: i64) -> Vec<Vec<i64>> {
    let mut times: Vec<Vec<i64>> = vec![Vec::new(); steps.len()];
    let Some((first, later)) = steps.split_first() else {
        return times;
    };
    let mut cursors = vec![0_usize; later.len()];
    let mut index = 0;
    while let Some(&(person, started)) = first.get(index) {
        while first.get(index).is_some_and(|(p, _)| *p == person) {
            index += 1;
        }
        if let Some(slot) = times.first_mut() {
            slot.push(0);
        }
        let mut previous = started;
        for (step, events) in later.iter().enumerate() {
            let Some(cursor) = cursors.get_mut(step) else {
                break;
            };
            while events.get(*cursor).is_some_and(|(p, _)| *p < person) {
                *cursor += 1;
            }
            let mut at = *cursor;
            let next = loop {
                match events.get(at) {
                    Some(&(p, ts)) if p == person && ts < previous => at += 1,
                    Some(&(p, ts)) if p == person => break Some(ts),
                    _ => break None,
                }
            };
            match next {
                Some(ts) if ts - started <= window_ms => {
                    if let Some(slot) = times.get_mut(step + 1) {
                        slot.push(ts - started);
                    }
                    previous = ts;
                }
                _ => break,
            }
        }
    }
    times
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
    let ws = principal.workspace.clone();
    let report = state
        .store
        .read(move |conn| report(conn, &ws, &steps, window_ms))
        .await?;
    Ok(Json(report))
}

/// The funnel of `steps` in the workspace: the body of the report.
pub fn report(
    conn: &allele_store::Connection,
    ws: &str,
    steps: &[String],
    window_ms: i64,
) -> Result<Value, StoreError> {
    let events = reports::step_events(conn, ws, steps)?;
    let reached = progress(&events, window_ms);
    let mut out = Vec::with_capacity(steps.len());
    let mut previous = reached.first().map_or(0, Vec::len);
    for (name, times) in steps.iter().zip(reached) {
        let people = times.len();
        out.push(json!({
            "step": name,
            "people": people,
            "conversion_from_previous": if previous == 0 { Value::Null } else { json!(people as f64 / previous as f64) },
            "median_ms_from_first_step": median(times),
        }));
        previous = people;
    }
    Ok(json!({"steps": out}))
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The definition read literally: every event in time order (ties by
    /// step), each person moving one step at a time.
    fn in_time_order(steps: &[Vec<(i64, i64)>], window_ms: i64) -> Vec<Vec<i64>> {
        let mut all: Vec<(i64, i64, usize)> = steps
            .iter()
            .enumerate()
            .flat_map(|(step, events)| events.iter().map(move |(p, ts)| (*ts, *p, step)))
            .collect();
        all.sort_unstable();
        let mut state: BTreeMap<i64, (usize, i64)> = BTreeMap::new();
        let mut times = vec![Vec::new(); steps.len()];
        for (ts, person, step) in all {
            let (reached, started) = state.entry(person).or_insert((0, 0));
            if *reached >= steps.len() || step != *reached {
                continue;
            }
            if *reached == 0 {
                *started = ts;
            } else if ts - *started > window_ms {
                continue;
            }
            times[step].push(ts - *started);
            *reached += 1;
        }
        for list in &mut times {
            list.sort_unstable();
        }
        times
    }

    #[test]
    fn agrees_with_the_definition_in_time_order() {
        let mut seed = 1_u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((seed >> 33) % n) as i64
        };
        for round in 0..200 {
            let step_count = 2 + (round % 3);
            let mut steps: Vec<Vec<(i64, i64)>> = (0..step_count)
                .map(|_| (0..next(40)).map(|_| (next(8), next(20))).collect())
                .collect();
            for events in &mut steps {
                events.sort_unstable();
            }
            let window = 1 + next(20);
            let mut fast = progress(&steps, window);
            for list in &mut fast {
                list.sort_unstable();
            }
            assert_eq!(
                fast,
                in_time_order(&steps, window),
                "round {round}: {steps:?}"
            );
        }
    }
}
