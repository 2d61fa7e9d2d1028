//! `POST /v1/sentiment`: VADER scores, identical to `vaderSentiment` 3.3.2.

use crate::AppState;
use crate::error::HttpError;
use allele_store::Role;
use allele_types::Code;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub const MAX_TEXTS: usize = 1_000;
pub const MAX_BYTES: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SentimentBody {
    texts: Vec<String>,
}

pub async fn sentiment(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    state.require(&headers, &[Role::Admin]).await?;
    if body.len() > MAX_BYTES {
        return Err(HttpError::new(
            Code::BatchTooLarge,
            format!(
                "body is {} bytes, over the limit of {MAX_BYTES}",
                body.len()
            ),
        ));
    }
    let request: SentimentBody = serde_json::from_slice(&body).map_err(|err| {
        HttpError::new(
            Code::InvalidBody,
            format!("body must be `{{\"texts\": [\"…\"]}}`: {err}"),
        )
    })?;
    if request.texts.len() > MAX_TEXTS {
        return Err(HttpError::new(
            Code::TooManyEvents,
            format!(
                "{} texts, over the limit of {MAX_TEXTS} per request",
                request.texts.len()
            ),
        ));
    }
    // Scoring is pure CPU; keep it off the async workers for big requests.
    let scores = tokio::task::spawn_blocking(move || {
        allele_listen::polarity_scores_many(request.texts.iter().map(String::as_str))
    })
    .await
    .map_err(|err| HttpError::new(Code::Internal, format!("scoring failed: {err}")))?;
    Ok(Json(json!({ "scores": scores })))
}
