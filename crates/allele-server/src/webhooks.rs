//! Outgoing webhooks signed per the Standard Webhooks spec
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64
//! HMAC-SHA256 of "id.timestamp.body">`), delivered by a background task
//! with exponential backoff; after five failed attempts a delivery is
//! `failed` (the dead-letter list, readable over HTTP). The first event
//! type is `sentiment.drop`, raised by `POST /v1/alerts/sentiment/check`.

use crate::AppState;
use crate::error::HttpError;
use crate::listen_jobs::SentimentCheck;
use allele_store::{Role, now_ms, webhooks};
use allele_types::Code;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const MAX_ATTEMPTS: i64 = 5;
pub const EVENT_TYPES: &[&str] = &["sentiment.drop", "challenger.rolled_back", "*"];

/// `v1,<base64 signature>` of `id.timestamp.body` under `secret` (`whsec_…`).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).ok()?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    url: String,
    events: Vec<String>,
}

/// `PUT /v1/webhooks/{id}`: subscribe a URL; answers the signing secret.
pub async fn put(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let request: WebhookBody = serde_json::from_slice(&body).map_err(|err| {
        HttpError::new(
            Code::InvalidBody,
            format!("body must be `{{\"url\", \"events\"}}`: {err}"),
        )
    })?;
    if !(request.url.starts_with("http://") || request.url.starts_with("https://")) {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!("`{}` is not an http(s) url", request.url),
        ));
    }
    if let Some(unknown) = request
        .events
        .iter()
        .find(|e| !EVENT_TYPES.contains(&e.as_str()))
    {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!(
                "unknown event type `{unknown}`; use {}",
                EVENT_TYPES.join(", ")
            ),
        ));
    }
    let secret = format!("whsec_{}", STANDARD.encode(rand::random::<[u8; 24]>()));
    let (ws, hook, url, events, key) = (
        principal.workspace.clone(),
        id.clone(),
        request.url.clone(),
        request.events.clone(),
        secret.clone(),
    );
    state
        .store
        .write(1, move |conn| {
            webhooks::put(conn, &ws, &hook, &url, &key, &events)
        })
        .await?;
    Ok(Json(
        json!({"id": id, "url": request.url, "events": request.events, "secret": secret}),
    ))
}

/// `GET /v1/webhooks/{id}/deliveries`: every delivery and its state.
pub async fn deliveries(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let ws = principal.workspace.clone();
    let list = state
        .store
        .read(move |conn| webhooks::deliveries(conn, &ws, &id))
        .await?;
    Ok(Json(json!({"deliveries": list})))
}

/// Deliver what is due, forever; started with the server.
pub fn spawn_dispatcher(state: Arc<AppState>) {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
        {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "webhook dispatcher could not start");
                return;
            }
        };
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let due = match state
                .store
                .read(|conn| webhooks::due(conn, now_ms(), 50))
                .await
            {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "webhook queue unreadable; retrying");
                    continue;
                }
            };
            for delivery in due {
                let timestamp = now_ms() / 1000;
                let outcome =
                    match sign(&delivery.secret, &delivery.id, timestamp, &delivery.payload) {
                        None => Err("the webhook secret is malformed".to_string()),
                        Some(signature) => client
                            .post(&delivery.url)
                            .header("content-type", "application/json")
                            .header("webhook-id", &delivery.id)
                            .header("webhook-timestamp", timestamp.to_string())
                            .header("webhook-signature", signature)
                            .body(delivery.payload.clone())
                            .send()
                            .await
                            .map_err(|err| format!("request failed: {err}"))
                            .and_then(|r| {
                                if r.status().is_success() {
                                    Ok(())
                                } else {
                                    Err(format!("answered {}", r.status()))
                                }
                            }),
                    };
                let id = delivery.id.clone();
                if let Err(error) = state
                    .store
                    .write(1, move |conn| {
                        webhooks::attempted(conn, &id, outcome, now_ms(), MAX_ATTEMPTS)
                    })
                    .await
                {
                    tracing::warn!(%error, "could not record a webhook attempt");
                }
            }
        }
    });
}

#[derive(Debug, Deserialize, Default)]
pub struct CheckParams {
    event: Option<String>,
    hours: Option<i64>,
    baseline_days: Option<i64>,
}

/// `POST /v1/alerts/sentiment/check`: compare the last `hours` of post
/// sentiment with the `baseline_days` before; a significant drop (Welch,
/// p < 0.05) queues a `sentiment.drop` webhook. The scheduler runs the same
/// check on its own (see `listen_jobs`).
pub async fn check_sentiment(
    State(state): State<Arc<AppState>>,
    Query(params): Query<CheckParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let defaults = SentimentCheck::default();
    let check = SentimentCheck {
        event: params.event.unwrap_or(defaults.event),
        hours: params.hours.unwrap_or(defaults.hours),
        baseline_days: params.baseline_days.unwrap_or(defaults.baseline_days),
    };
    let report =
        crate::listen_jobs::check_sentiment(&state, &principal.workspace, &check, false).await?;
    Ok(Json(report))
}
