//! `/v1/reports/*`: readouts computed from the event log by `allele-stats`.

use crate::AppState;
use crate::error::HttpError;
use allele_stats::{
    AttributionModel, AttributionOptions, ExperimentReadout, ReadoutInput, ReadoutOptions, Touch,
    UserPath, UserRecord, VariationRecords,
};
use allele_store::reports::{self, ExperimentQuery};
use allele_store::{Role, SqliteStore};
use allele_types::Code;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct ExperimentParams {
    pub metric: Option<String>,
    pub value: Option<String>,
    pub control: Option<String>,
    /// A pre-period event whose count before exposure is the CUPED covariate.
    pub cuped: Option<String>,
    /// Planned traffic split for the SRM check, one weight per variation in
    /// name order (`0.1,0.9`); equal when absent.
    pub split: Option<String>,
}

/// Compute an experiment readout; shared by HTTP and `allele report`.
pub async fn experiment_readout(
    store: &SqliteStore,
    ws: &str,
    experiment_id: &str,
    params: ExperimentParams,
) -> Result<ExperimentReadout, HttpError> {
    let metric = params.metric.filter(|m| !m.is_empty()).ok_or_else(|| {
        HttpError::new(
            Code::InvalidQuery,
            "`metric` is required: the conversion event name",
        )
    })?;
    let (ws, id, metric_name) = (ws.to_string(), experiment_id.to_string(), metric.clone());
    let (value, pre) = (
        params.value.clone().filter(|v| !v.is_empty()),
        params.cuped.clone().filter(|v| !v.is_empty()),
    );
    let (value_q, pre_q) = (value.clone(), pre.clone());
    let (groups, metric_seen) = store
        .read_pair(move |conn, second| {
            let query = ExperimentQuery {
                experiment_id: &id,
                metric: &metric_name,
                value: value_q.as_deref(),
                pre_metric: pre_q.as_deref(),
            };
            let groups = match second {
                Some(second) => reports::experiment_split(conn, second, &ws, &query)?,
                None => reports::experiment(conn, &ws, &query)?,
            };
            Ok((
                groups,
                allele_store::lift::event_name_exists(conn, &ws, &metric_name)?,
            ))
        })
        .await?;
    let Some(groups) = groups else {
        return Err(HttpError::new(
            Code::ExperimentNotFound,
            format!("no `Experiment Viewed` event names experiment `{experiment_id}`"),
        ));
    };
    if !metric_seen {
        return Err(HttpError::new(
            Code::MetricNotFound,
            format!("no `{metric}` event was ever received"),
        ));
    }
    let control = match params.control.filter(|c| !c.is_empty()) {
        Some(control) => control,
        // Without a named control, the alphabetically first variation is it.
        None => groups.keys().next().cloned().unwrap_or_default(),
    };
    let input = ReadoutInput {
        experiment_id: experiment_id.to_string(),
        metric,
        value,
        control,
        variations: groups
            .into_iter()
            .map(|(variation_id, users)| VariationRecords {
                variation_id,
                users: users
                    .into_iter()
                    .map(|u| UserRecord {
                        converted: u.converted,
                        value: u.value,
                        covariate: u.covariate,
                    })
                    .collect(),
            })
            .collect(),
    };
    let expected_split = match params.split.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            text.split(',')
                .map(|w| w.trim().parse::<f64>())
                .collect::<Result<Vec<f64>, _>>()
                .map_err(|_| {
                    HttpError::new(
                        Code::InvalidQuery,
                        format!("`split` must be comma-separated numbers, got `{text}`"),
                    )
                })?,
        ),
    };
    let options = ReadoutOptions {
        expected_split,
        ..ReadoutOptions::default()
    };
    allele_stats::experiment_readout(&input, &options)
        .map_err(|err| HttpError::new(Code::InvalidReport, err.to_string()))
}

pub async fn experiment(
    State(state): State<Arc<AppState>>,
    Path(experiment_id): Path<String>,
    Query(params): Query<ExperimentParams>,
    headers: HeaderMap,
) -> Result<Json<ExperimentReadout>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let readout =
        experiment_readout(&state.store, &principal.workspace, &experiment_id, params).await?;
    Ok(Json(readout))
}

#[derive(Debug, Deserialize, Default)]
pub struct LiftParams {
    metric: Option<String>,
    value: Option<String>,
    action: Option<String>,
}

/// `GET /v1/reports/lift`: universal holdout versus treated, from the
/// decision log; ROI uses the action's `cost` per contact from the active
/// bundle.
pub async fn lift(
    State(state): State<Arc<AppState>>,
    Query(params): Query<LiftParams>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let metric = params.metric.filter(|m| !m.is_empty()).ok_or_else(|| {
        HttpError::new(
            Code::InvalidQuery,
            "`metric` is required: the conversion event name",
        )
    })?;
    let cost_per_contact = match (
        &params.action,
        state.active_bundle(&principal.workspace).await?,
    ) {
        (Some(action), Some(active)) => active
            .bundle
            .doc()
            .actions
            .iter()
            .find(|a| &a.id == action)
            .map(|a| a.cost)
            .unwrap_or(0.0),
        _ => 0.0,
    };
    let (ws, metric_q, value, action) = (
        principal.workspace.clone(),
        metric.clone(),
        params.value.clone(),
        params.action.clone(),
    );
    let groups = state
        .store
        .read(move |conn| {
            allele_store::lift::lift_groups(
                conn,
                &ws,
                &metric_q,
                value.as_deref(),
                action.as_deref(),
            )
        })
        .await?;
    let to_records = |users: &[reports::ExposedUser]| -> Vec<UserRecord> {
        users
            .iter()
            .map(|u| UserRecord {
                converted: u.converted,
                value: u.value,
                covariate: None,
            })
            .collect()
    };
    let cost = cost_per_contact * groups.contacts as f64;
    let lift = allele_stats::holdout_lift(
        &to_records(&groups.treated),
        &to_records(&groups.holdout),
        cost,
        0.05,
    )
    .map_err(|err| HttpError::new(Code::InvalidReport, err.to_string()))?;
    let mut body =
        serde_json::to_value(lift).map_err(|e| HttpError::new(Code::Internal, e.to_string()))?;
    if let Some(object) = body.as_object_mut() {
        object.insert("metric".into(), metric.into());
        object.insert("action".into(), params.action.into());
        object.insert("contacts".into(), groups.contacts.into());
    }
    Ok(Json(body))
}

#[derive(Debug, Deserialize, Default)]
pub struct AttributionParams {
    model: Option<String>,
    conversion: Option<String>,
    value: Option<String>,
    window_days: Option<f64>,
    half_life_days: Option<f64>,
}

/// `GET /v1/reports/attribution?model=last|first|linear|time_decay|markov|shapley`:
/// credit for conversions over the campaign sources people touched.
pub async fn attribution(
    State(state): State<Arc<AppState>>,
    Query(params): Query<AttributionParams>,
    headers: HeaderMap,
) -> Result<Json<allele_stats::Attribution>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let conversion = params.conversion.filter(|c| !c.is_empty()).ok_or_else(|| {
        HttpError::new(
            Code::InvalidQuery,
            "`conversion` is required: the conversion event name",
        )
    })?;
    let half_life = params.half_life_days.unwrap_or(7.0) * 86_400.0;
    let model = match params.model.as_deref().unwrap_or("last") {
        "last" => AttributionModel::LastTouch,
        "first" => AttributionModel::FirstTouch,
        "linear" => AttributionModel::Linear,
        "time_decay" => AttributionModel::TimeDecay {
            half_life_seconds: half_life,
        },
        "markov" => AttributionModel::Markov,
        "shapley" => AttributionModel::Shapley,
        other => {
            return Err(HttpError::new(
                Code::InvalidQuery,
                format!(
                    "unknown model `{other}`; use last, first, linear, time_decay, markov or shapley"
                ),
            ));
        }
    };
    let window_seconds = match params.window_days {
        Some(days) if days.is_finite() && days > 0.0 => Some((days * 86_400.0) as i64),
        Some(days) => {
            return Err(HttpError::new(
                Code::InvalidQuery,
                format!("`window_days` must be positive, got `{days}`"),
            ));
        }
        None => None,
    };
    let (ws, value) = (principal.workspace.clone(), params.value.clone());
    let paths = state
        .store
        .read(move |conn| allele_store::lift::touch_paths(conn, &ws, &conversion, value.as_deref()))
        .await?
        .into_iter()
        .map(|path| UserPath {
            touches: path
                .touches
                .into_iter()
                .map(|(channel, at)| Touch { channel, at })
                .collect(),
            converted: path.conversion_at.is_some(),
            conversion_at: path.conversion_at,
            value: path.value,
        })
        .collect::<Vec<_>>();
    let report = allele_stats::attribute(&paths, model, &AttributionOptions { window_seconds })
        .map_err(|err| HttpError::new(Code::InvalidReport, err.to_string()))?;
    Ok(Json(report))
}
