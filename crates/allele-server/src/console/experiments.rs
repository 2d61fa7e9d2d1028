//! `GET /experiments`: an experiment's readout (per variation, lift with
//! 95% intervals as an SVG chart and a table, p-values, SRM, the sequential
//! verdict) and the universal holdout's lift per action.

use super::charts::{IntervalChart, interval_chart};
use super::{Chrome, Console, given, message_of, render};
use crate::AppState;
use crate::error::HttpError;
use crate::reports::{ExperimentParams, experiment_readout};
use allele_stats::ExperimentReadout;
use allele_types::Code;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Deserialize, Default)]
pub struct ExperimentForm {
    experiment_id: Option<String>,
    metric: Option<String>,
    value: Option<String>,
    control: Option<String>,
    /// The conversion event for the holdout readout.
    holdout_metric: Option<String>,
}

/// Numbers as the page prints them.
fn n4(value: Option<f64>) -> String {
    value
        .map(|v| format!("{v:.4}"))
        .unwrap_or_else(|| "–".into())
}

fn ci4(interval: Option<[f64; 2]>) -> String {
    interval
        .map(|[lo, hi]| format!("[{lo:.4}, {hi:.4}]"))
        .unwrap_or_else(|| "–".into())
}

fn p_text(value: Option<f64>) -> String {
    value
        .map(|p| format!("{p:.4e}"))
        .unwrap_or_else(|| "–".into())
}

pub struct HoldoutRow {
    pub action: String,
    pub treated: String,
    pub holdout: String,
    pub lift: String,
    pub ci: String,
    pub p: String,
    pub contacts: String,
}

#[derive(Template)]
#[template(path = "experiments.html")]
struct ExperimentsPage {
    page: Chrome,
    experiment_id: String,
    metric: String,
    value: String,
    control: String,
    holdout_metric: String,
    problem: Option<String>,
    readout: Option<ExperimentReadout>,
    lift_chart: Option<IntervalChart>,
    holdout_problem: Option<String>,
    holdout: Vec<HoldoutRow>,
    holdout_chart: Option<IntervalChart>,
}

pub async fn experiments(
    State(state): State<Arc<AppState>>,
    console: Console,
    Query(form): Query<ExperimentForm>,
) -> Result<Response, HttpError> {
    let mut page = ExperimentsPage {
        page: console.chrome("Experiments", "/experiments"),
        experiment_id: given(&form.experiment_id).unwrap_or_default(),
        metric: given(&form.metric).unwrap_or_default(),
        value: given(&form.value).unwrap_or_default(),
        control: given(&form.control).unwrap_or_default(),
        holdout_metric: given(&form.holdout_metric).unwrap_or_default(),
        problem: None,
        readout: None,
        lift_chart: None,
        holdout_problem: None,
        holdout: Vec::new(),
        holdout_chart: None,
    };
    if !page.experiment_id.is_empty() {
        let params = ExperimentParams {
            metric: Some(page.metric.clone()),
            value: given(&form.value),
            control: given(&form.control),
            cuped: None,
            split: None,
        };
        match experiment_readout(
            &state.store,
            &console.workspace,
            &page.experiment_id,
            params,
        )
        .await
        {
            Ok(readout) => {
                let bars: Vec<(String, f64, [f64; 2])> = readout
                    .comparisons
                    .iter()
                    .filter_map(|c| Some((c.variation_id.clone(), c.lift_abs?, c.lift_abs_ci?)))
                    .collect();
                page.lift_chart = interval_chart(
                    &format!(
                        "Absolute lift in conversion rate against `{}`",
                        readout.control
                    ),
                    &bars,
                );
                page.readout = Some(readout);
            }
            Err(err) => page.problem = Some(message_of(&err)),
        }
    }
    if !page.holdout_metric.is_empty() {
        match holdout_rows(&state, &console, &page.holdout_metric).await {
            Ok((rows, bars)) => {
                page.holdout_chart =
                    interval_chart("Holdout lift in conversion rate per action", &bars);
                page.holdout = rows;
            }
            Err(err) => page.holdout_problem = Some(message_of(&err)),
        }
    }
    render(&page)
}

/// The lift report for every action of the active policy, plus all actions
/// together, through the same handler as `GET /v1/reports/lift`.
async fn holdout_rows(
    state: &Arc<AppState>,
    console: &Console,
    metric: &str,
) -> Result<(Vec<HoldoutRow>, Vec<(String, f64, [f64; 2])>), HttpError> {
    let mut actions: Vec<Option<String>> = vec![None];
    if let Some(active) = state.active_bundle(&console.workspace).await? {
        actions.extend(
            active
                .bundle
                .doc()
                .actions
                .iter()
                .map(|a| Some(a.id.clone())),
        );
    }
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for action in actions {
        let params = serde_json::from_value(json!({"metric": metric, "action": action}))
            .map_err(|e| HttpError::new(Code::Internal, e.to_string()))?;
        let lift: Value =
            crate::reports::lift(State(state.clone()), Query(params), console.api_headers())
                .await?
                .0;
        let label = action.unwrap_or_else(|| "all actions".into());
        let interval = lift["lift_abs_ci"]
            .as_array()
            .and_then(|pair| Some([pair.first()?.as_f64()?, pair.get(1)?.as_f64()?]));
        if let (Some(estimate), Some(interval)) = (lift["lift_abs"].as_f64(), interval) {
            bars.push((label.clone(), estimate, interval));
        }
        let group = |g: &Value| {
            format!(
                "{} of {} ({})",
                g["conversions"].as_u64().unwrap_or(0),
                g["n"].as_u64().unwrap_or(0),
                n4(g["rate"].as_f64())
            )
        };
        rows.push(HoldoutRow {
            action: label,
            treated: group(&lift["treated"]),
            holdout: group(&lift["holdout"]),
            lift: n4(lift["lift_abs"].as_f64()),
            ci: ci4(interval),
            p: p_text(lift["p"].as_f64()),
            contacts: lift["contacts"].to_string(),
        });
    }
    Ok((rows, bars))
}

/// Template helpers: askama calls these with the readout's fields.
pub mod fmt {
    pub fn n(value: &Option<f64>) -> String {
        super::n4(*value)
    }
    pub fn ci(value: &Option<[f64; 2]>) -> String {
        super::ci4(*value)
    }
    pub fn p(value: &Option<f64>) -> String {
        super::p_text(*value)
    }
}
