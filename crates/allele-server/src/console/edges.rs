//! `GET /edges`: every edge's last report — when it was last heard from,
//! which bundle it decides with, how old its consent snapshot is (marketing
//! fails closed past `--max-staleness`), what waits in its outbox, and what
//! its learning propensities learned at each touchpoint.

use super::{Chrome, Console, render, time_text};
use crate::AppState;
use crate::error::HttpError;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

struct EdgeRow {
    edge_id: String,
    last_heard: String,
    age: String,
    stale: bool,
    bundle: String,
    behind: bool,
    snapshot: String,
    fails_closed: bool,
    outbox: i64,
    central_up: bool,
}

struct LearnedRow {
    edge_id: String,
    touchpoint: String,
    action: String,
    model: String,
    offers: String,
    estimate: String,
}

#[derive(Template)]
#[template(path = "edges.html")]
struct EdgesPage {
    page: Chrome,
    active: String,
    edges: Vec<EdgeRow>,
    learned: Vec<LearnedRow>,
}

fn seconds(ms: i64) -> String {
    if ms < 60_000 {
        format!("{} s", ms / 1_000)
    } else if ms < 3_600_000 {
        format!("{} min", ms / 60_000)
    } else {
        format!("{:.1} h", ms as f64 / 3_600_000.0)
    }
}

fn learned_rows(edge_id: &str, learned: &Value, rows: &mut Vec<LearnedRow>) {
    let Some(points) = learned.as_object() else {
        return;
    };
    for (touchpoint, actions) in points {
        for (action, model) in actions.as_object().into_iter().flatten() {
            let estimate = match model["coefficients"].as_object() {
                Some(named) => named
                    .iter()
                    .map(|(name, c)| format!("{name}: {:+.3}", c.as_f64().unwrap_or(0.0)))
                    .collect::<Vec<_>>()
                    .join("; "),
                None => format!("rate {:.3}", model["rate"].as_f64().unwrap_or(0.0)),
            };
            rows.push(LearnedRow {
                edge_id: edge_id.to_string(),
                touchpoint: touchpoint.clone(),
                action: action.clone(),
                model: model["model"].as_str().unwrap_or_default().to_string(),
                offers: model["offers"].to_string(),
                estimate,
            });
        }
    }
}

pub async fn edges(
    State(state): State<Arc<AppState>>,
    console: Console,
) -> Result<Response, HttpError> {
    let reports = crate::edge_status::list(&state, &console.workspace).await?;
    let active = state
        .active_bundle(&console.workspace)
        .await?
        .map(|a| a.bundle.version());
    let mut edges = Vec::with_capacity(reports.len());
    let mut learned = Vec::new();
    for report in &reports {
        let status = &report["status"];
        let edge_id = report["edge_id"].as_str().unwrap_or_default().to_string();
        let version = status["bundle_version"].as_u64();
        let snapshot_age = status["snapshot_age_ms"].as_i64();
        let max_staleness = status["max_staleness_ms"].as_i64().unwrap_or(i64::MAX);
        edges.push(EdgeRow {
            last_heard: time_text(report["reported_at"].as_i64().unwrap_or_default()),
            age: seconds(report["age_ms"].as_i64().unwrap_or_default()),
            stale: report["stale"].as_bool().unwrap_or(true),
            bundle: version.map_or("none".to_string(), |v| v.to_string()),
            behind: matches!((version, active), (Some(v), Some(a)) if v < a),
            snapshot: snapshot_age.map_or("never synced".to_string(), seconds),
            fails_closed: snapshot_age.is_none_or(|age| age > max_staleness),
            outbox: status["outbox"]
                .as_object()
                .map_or(0, |kinds| kinds.values().filter_map(Value::as_i64).sum()),
            central_up: status["central_up"].as_bool().unwrap_or(false),
            edge_id,
        });
        if let Some(row) = edges.last() {
            learned_rows(&row.edge_id, &status["learned"], &mut learned);
        }
    }
    render(&EdgesPage {
        page: console.chrome("Edges", "/edges"),
        active: active.map_or("none".to_string(), |v| v.to_string()),
        edges,
        learned,
    })
}
