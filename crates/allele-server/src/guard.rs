//! The rollback guard of champion/challenger. A challenger started with a
//! `guardrail` is watched every `--guard-every` seconds: each arm's outcome
//! rate since the challenge began (decisions with an outcome, or with an
//! outcome of `guardrail.event`) is compared with the always-valid mSPRT of
//! `allele-stats`, which may be looked at on every run without inflating
//! its error rate. When both arms have `min_decisions` and the challenger is
//! significantly worse, the challenge stops by itself: every decision goes
//! back to the champion, a `challenger.rolled_back` alert is recorded and
//! webhooks subscribed to it are queued.

use crate::AppState;
use crate::error::HttpError;
use allele_stats::Proportion;
use allele_stats::sequential::{MsprtConfig, msprt_two_proportions};
use allele_store::{Role, StoreError, bundles, guard, listen, now_ms, webhooks};
use allele_types::Code;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

pub const ROLLED_BACK: &str = "challenger.rolled_back";

/// What the guard watches; stored with the challenger.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardrail {
    /// Only outcomes of this event count (default: any outcome).
    #[serde(default)]
    pub event: Option<String>,
    /// Decisions each arm needs before the guard may act.
    #[serde(default = "default_min")]
    pub min_decisions: u64,
    /// Error rate of the always-valid test.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
}

fn default_min() -> u64 {
    100
}

fn default_alpha() -> f64 {
    0.05
}

impl Guardrail {
    pub fn validate(&self) -> Result<(), HttpError> {
        if !(self.alpha > 0.0 && self.alpha < 0.5) {
            return Err(HttpError::new(
                Code::InvalidBody,
                format!("`guardrail.alpha` must be in (0, 0.5), got {}", self.alpha),
            ));
        }
        if self.min_decisions == 0 {
            return Err(HttpError::new(
                Code::InvalidBody,
                "`guardrail.min_decisions` must be at least 1",
            ));
        }
        Ok(())
    }
}

fn arm(n: u64, wins: u64) -> Value {
    json!({"decisions": n, "successes": wins, "rate": Proportion::new(wins, n).rate()})
}

/// The guard's reading of the current challenge, if it has a guardrail:
/// `(report, whether the challenger is significantly worse)`.
pub fn reading(
    conn: &allele_store::Connection,
    ws: &str,
) -> Result<Option<(Value, bool)>, StoreError> {
    let Some((version, started_at, raw)) = guard::guarded(conn, ws)? else {
        return Ok(None);
    };
    let guardrail: Guardrail = serde_json::from_str(&raw)?;
    let [(champion_n, champion_wins), (challenger_n, challenger_wins)] =
        guard::arms(conn, ws, version, started_at, guardrail.event.as_deref())?;
    let (challenger, champion) = (
        Proportion::new(challenger_wins, challenger_n),
        Proportion::new(champion_wins, champion_n),
    );
    let config = MsprtConfig {
        alpha: guardrail.alpha,
        tuned_at: guardrail.min_decisions.max(50) as f64,
    };
    let sequential = msprt_two_proportions(challenger, champion, &config);
    let enough = challenger_n >= guardrail.min_decisions && champion_n >= guardrail.min_decisions;
    let worse = challenger.rate() < champion.rate();
    let degraded = enough && worse && sequential.reject;
    let report = json!({
        "version": version,
        "guardrail": guardrail,
        "challenger": arm(challenger_n, challenger_wins),
        "champion": arm(champion_n, champion_wins),
        "sequential": sequential,
        "degraded": degraded,
    });
    Ok(Some((report, degraded)))
}

/// Check the workspace's challenge now; roll it back if it degraded.
pub async fn check(state: &AppState, ws: &str) -> Result<Option<Value>, HttpError> {
    let workspace = ws.to_owned();
    let now = now_ms();
    let result = state
        .store
        .write(1, move |conn| {
            let Some((mut report, degraded)) = reading(conn, &workspace)? else {
                return Ok(None);
            };
            if degraded {
                let payload = json!({"type": ROLLED_BACK, "data": report}).to_string();
                bundles::clear_challenger(conn, &workspace)?;
                listen::record_alert(conn, &workspace, ROLLED_BACK, &payload, now)?;
                webhooks::enqueue(conn, &workspace, ROLLED_BACK, &payload, now)?;
            }
            if let Some(object) = report.as_object_mut() {
                object.insert("rolled_back".into(), json!(degraded));
            }
            Ok::<_, StoreError>(Some((report, degraded)))
        })
        .await?;
    // Decisions read the challenger from the store, so the next one after
    // this commit already goes to the champion.
    if let Some((report, true)) = &result {
        tracing::warn!(workspace = %ws, version = %report["version"], "challenger rolled back by its guardrail");
    }
    Ok(result.map(|(report, _)| report))
}

/// Watch every workspace's challenge, forever; started with the server.
pub fn spawn(state: Arc<AppState>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Ok(workspaces) = state.store.read(listen::workspaces).await else {
                continue;
            };
            for ws in workspaces {
                if let Err(error) = check(&state, &ws).await {
                    tracing::warn!(workspace = %ws, error = %error.0.message, "rollback guard failed");
                }
            }
        }
    });
}

/// `GET /v1/bundles/challenger`: the running challenge and, with a
/// guardrail, the guard's current reading.
pub async fn get_challenger(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let ws = principal.workspace.clone();
    let (challenger, reading) = state
        .store
        .read(move |conn| Ok((bundles::challenger(conn, &ws)?, reading(conn, &ws)?)))
        .await?;
    let Some((version, share)) = challenger else {
        return Err(HttpError::new(
            Code::BundleNotFound,
            "no challenger is running",
        ));
    };
    Ok(Json(json!({
        "version": version,
        "share": share,
        "experiment_id": format!("challenger-v{version}"),
        "guard": reading.map(|(report, _)| report),
    })))
}
