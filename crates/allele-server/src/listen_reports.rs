//! `/v1/reports/sentiment` and `/v1/reports/influence`: what customers say,
//! day by day, and who the others listen to.

use crate::AppState;
use crate::error::HttpError;
use allele_listen::PageRankOptions;
use allele_store::{Role, listen};
use allele_types::Code;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct SentimentParams {
    event: Option<String>,
    property: Option<String>,
    /// Only posts about a brand or topic: the text contains it or a
    /// mention names it (case-insensitive, `@`/`#` ignored).
    topic: Option<String>,
    /// Only the posts of one person.
    user_id: Option<String>,
}

/// Whether a post is about `topic` (already lowercased, without `@`/`#`).
fn about(post: &listen::Post, topic: &str) -> bool {
    post.text.to_lowercase().contains(topic)
        || post
            .mentions
            .iter()
            .any(|m| m.trim_start_matches(['@', '#']).to_lowercase() == topic)
}

const SOCIAL_EVENT: &str = "Social Post Observed";

/// Daily VADER sentiment of the texts carried by an event, for everyone,
/// one topic or one person.
pub async fn sentiment(
    State(state): State<Arc<AppState>>,
    Query(params): Query<SentimentParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let event = params.event.unwrap_or_else(|| SOCIAL_EVENT.to_string());
    let property = params.property.unwrap_or_else(|| "text".to_string());
    let (ws, name, prop) = (principal.workspace.clone(), event.clone(), property.clone());
    let posts = state
        .store
        .read(move |conn| listen::posts(conn, &ws, &name, &prop))
        .await?;
    let topic = params
        .topic
        .as_deref()
        .map(|t| t.trim().trim_start_matches(['@', '#']).to_lowercase())
        .filter(|t| !t.is_empty());
    let user = params.user_id.clone();
    let scored = tokio::task::spawn_blocking(move || {
        posts
            .into_iter()
            .filter(|post| topic.as_deref().is_none_or(|t| about(post, t)))
            .filter(|post| user.is_none() || post.user_id == user)
            .map(|post| (post.ts, allele_listen::polarity_scores(&post.text).compound))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|err| HttpError::new(Code::Internal, format!("scoring failed: {err}")))?;
    // Per UTC day: posts, mean compound, and VADER's usual ±0.05 classes.
    let mut days: BTreeMap<String, (usize, f64, usize, usize)> = BTreeMap::new();
    for (ts, compound) in &scored {
        let day = jiff::Timestamp::from_millisecond(*ts)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let entry = days.entry(day).or_default();
        entry.0 += 1;
        entry.1 += compound;
        entry.2 += usize::from(*compound >= 0.05);
        entry.3 += usize::from(*compound <= -0.05);
    }
    let buckets: Vec<Value> = days
        .into_iter()
        .map(|(day, (posts, sum, positive, negative))| {
            json!({"date": day, "posts": posts, "mean_compound": sum / posts as f64, "positive": positive, "negative": negative})
        })
        .collect();
    let total: f64 = scored.iter().map(|(_, c)| c).sum();
    Ok(Json(json!({
        "event": event,
        "property": property,
        "topic": params.topic,
        "user_id": params.user_id,
        "posts": scored.len(),
        "mean_compound": if scored.is_empty() { Value::Null } else { json!(total / scored.len() as f64) },
        "days": buckets,
    })))
}

#[derive(Debug, Deserialize, Default)]
pub struct InfluenceParams {
    event: Option<String>,
    limit: Option<usize>,
}

/// PageRank over mentions, replies, follows and referrals, with each
/// person's two-hop audience.
pub async fn influence(
    State(state): State<Arc<AppState>>,
    Query(params): Query<InfluenceParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let event = params.event.unwrap_or_else(|| SOCIAL_EVENT.to_string());
    let limit = params.limit.unwrap_or(20).clamp(1, 1_000);
    let (ws, name) = (principal.workspace.clone(), event.clone());
    let (edges, edge_count) = state
        .store
        .read(move |conn| crate::referrals::influence_graph(conn, &ws, &name))
        .await?;
    let graph = crate::referrals::graph(edges)?;
    let mut ranked = graph
        .pagerank(&PageRankOptions::default())
        .map_err(|err| HttpError::new(Code::InvalidReport, err.to_string()))?;
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    // Reach: who mentions you, directly or through one other person.
    let audience = graph.reversed();
    let people: Vec<Value> = ranked
        .into_iter()
        .take(limit)
        .map(|(id, score)| json!({"user_id": id, "score": score, "reach": audience.reach(&id, 2)}))
        .collect();
    Ok(Json(
        json!({"event": event, "nodes": graph.node_count(), "edges": edge_count, "people": people}),
    ))
}
