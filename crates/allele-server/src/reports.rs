//! `/v1/reports/*`: readouts computed from the event log by `allele-stats`.

use crate::AppState;
use crate::error::HttpError;
use allele_stats::{ExperimentReadout, ReadoutInput, ReadoutOptions, UserRecord, VariationRecords};
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
        .read(move |conn| {
            let query = ExperimentQuery {
                experiment_id: &id,
                metric: &metric_name,
                value: value_q.as_deref(),
                pre_metric: pre_q.as_deref(),
            };
            Ok((
                reports::experiment(conn, &ws, &query)?,
                reports::event_name_exists(conn, &ws, &metric_name)?,
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
    allele_stats::experiment_readout(&input, &ReadoutOptions::default())
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
