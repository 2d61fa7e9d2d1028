//! Listening on a schedule: every `--listen-every` seconds, for each
//! workspace, PageRank is recomputed over the influence graph and stored so
//! profiles carry `influence_score`/`influence_reach` as computed traits, and
//! post sentiment is compared with its baseline; a significant drop raises
//! one `sentiment.drop` alert (and webhook) per window, not one per run.

use crate::AppState;
use crate::error::HttpError;
use crate::referrals;
use allele_listen::PageRankOptions;
use allele_stats::{Moments, welch_test};
use allele_store::{StoreError, listen, now_ms, webhooks};
use allele_types::Code;
use serde_json::{Value, json};
use std::sync::Arc;

pub const SOCIAL_EVENT: &str = "Social Post Observed";
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// What a sentiment check compares: the last `hours` of `event` posts
/// against the `baseline_days` before them.
#[derive(Debug, Clone)]
pub struct SentimentCheck {
    pub event: String,
    pub hours: i64,
    pub baseline_days: i64,
}

impl Default for SentimentCheck {
    fn default() -> Self {
        SentimentCheck {
            event: SOCIAL_EVENT.into(),
            hours: 24,
            baseline_days: 7,
        }
    }
}

/// Run a check; when sentiment dropped significantly (Welch, p < 0.05)
/// record an alert and queue `sentiment.drop` webhooks — unless
/// `once_per_window` and an alert was already raised within `hours`.
pub async fn check_sentiment(
    state: &AppState,
    ws: &str,
    check: &SentimentCheck,
    once_per_window: bool,
) -> Result<Value, HttpError> {
    let now = now_ms();
    let recent_from = now - check.hours.clamp(1, 24 * 30) * HOUR_MS;
    let baseline_from = recent_from - check.baseline_days.clamp(1, 365) * DAY_MS;
    let (workspace, name) = (ws.to_owned(), check.event.clone());
    let posts = state
        .store
        .read(move |conn| listen::posts(conn, &workspace, &name, "text"))
        .await?;
    let (mut recent, mut baseline) = (Vec::new(), Vec::new());
    for post in posts.iter().filter(|p| p.ts >= baseline_from) {
        let compound = allele_listen::polarity_scores(&post.text).compound;
        if post.ts >= recent_from {
            recent.push(compound);
        } else {
            baseline.push(compound);
        }
    }
    let (recent_moments, baseline_moments) = (
        Moments::from_values(&recent),
        Moments::from_values(&baseline),
    );
    let test = welch_test(&recent_moments, &baseline_moments);
    let dropped = test
        .as_ref()
        .is_some_and(|t| t.difference < 0.0 && t.p < 0.05);
    let mut report = json!({
        "event": check.event,
        "recent": {"posts": recent.len(), "mean_compound": test.as_ref().map(|_| recent_moments.mean)},
        "baseline": {"posts": baseline.len(), "mean_compound": test.as_ref().map(|_| baseline_moments.mean)},
        "p": test.as_ref().map(|t| t.p),
        "dropped": dropped,
    });
    let (workspace, payload) = (
        ws.to_owned(),
        json!({"type": "sentiment.drop", "data": report}).to_string(),
    );
    let window_start = recent_from;
    let (raised, queued) = if dropped {
        state
            .store
            .write(1, move |conn| {
                if once_per_window
                    && listen::alerted_since(conn, &workspace, "sentiment.drop", window_start)?
                {
                    return Ok((false, 0));
                }
                listen::record_alert(conn, &workspace, "sentiment.drop", &payload, now)?;
                let queued = webhooks::enqueue(conn, &workspace, "sentiment.drop", &payload, now)?;
                Ok::<_, StoreError>((true, queued))
            })
            .await?
    } else {
        (false, 0)
    };
    if let Some(object) = report.as_object_mut() {
        object.insert("alert_raised".into(), json!(raised));
        object.insert("webhooks_queued".into(), json!(queued));
    }
    Ok(report)
}

/// Recompute and store the workspace's influence scores; returns how many
/// people were scored.
pub async fn recompute_influence(state: &AppState, ws: &str) -> Result<usize, HttpError> {
    let workspace = ws.to_owned();
    let (edges, _) = state
        .store
        .read(move |conn| referrals::influence_graph(conn, &workspace, SOCIAL_EVENT))
        .await?;
    let scores = tokio::task::spawn_blocking(move || -> Result<_, HttpError> {
        let graph = referrals::graph(edges)?;
        let ranked = graph
            .pagerank(&PageRankOptions::default())
            .map_err(|err| HttpError::new(Code::InvalidReport, err.to_string()))?;
        let audience = graph.reversed();
        Ok(ranked
            .into_iter()
            .map(|(id, score)| {
                let reach = audience.reach(&id, 2);
                (id, score, reach)
            })
            .collect::<Vec<_>>())
    })
    .await
    .map_err(|err| HttpError::new(Code::Internal, format!("influence job failed: {err}")))??;
    let (workspace, count) = (ws.to_owned(), scores.len());
    state
        .store
        .write(1, move |conn| {
            listen::store_influence(conn, &workspace, &scores, now_ms())
        })
        .await?;
    Ok(count)
}

/// Run both jobs for every workspace, every `every`; started with the server.
pub fn spawn(state: Arc<AppState>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let workspaces = match state.store.read(listen::workspaces).await {
                Ok(list) => list,
                Err(error) => {
                    tracing::warn!(%error, "listening jobs could not list workspaces");
                    continue;
                }
            };
            for ws in workspaces {
                if let Err(error) = recompute_influence(&state, &ws).await {
                    tracing::warn!(workspace = %ws, error = %error.0.message, "influence recompute failed");
                }
                let check = SentimentCheck::default();
                if let Err(error) = check_sentiment(&state, &ws, &check, true).await {
                    tracing::warn!(workspace = %ws, error = %error.0.message, "scheduled sentiment check failed");
                }
            }
        }
    });
}
