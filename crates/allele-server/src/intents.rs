//! Stated intents over HTTP: `GET|PUT /v1/me/intents` (the whole list is
//! replaced on PUT). Grantees see the intents meant for them through
//! `GET /v1/profiles/{ref}/granted`; decisions see those meant for
//! `self` / `dpv:ServicePersonalisation` as `profile.intents`.

use crate::AppState;
use crate::error::HttpError;
use allele_privacy::intents::{self, Intent};
use allele_store::grants as store;
use allele_store::now_ms;
use allele_types::Code;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The stored list; a corrupt one reads as empty rather than failing reads.
pub(crate) fn parse(stored: Option<&str>) -> Vec<Intent> {
    stored
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// The intents `grantee` may see for `purpose` now, as JSON.
pub(crate) fn visible_to(
    stored: Option<&str>,
    grantee: &str,
    purpose: &str,
    refused: &[String],
    now: i64,
) -> Vec<Value> {
    let all = parse(stored);
    intents::visible_to(&all, grantee, purpose, refused, now)
        .into_iter()
        .filter_map(|intent| {
            // The audience list is the customer's business, not the grantee's.
            let mut value = serde_json::to_value(intent).ok()?;
            if let Some(object) = value.as_object_mut() {
                object.remove("visible_to");
            }
            Some(value)
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentsBody {
    intents: Vec<Intent>,
}

/// `GET /v1/me/intents`.
pub async fn me_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let root = customer.root.clone();
    let stored = state
        .store
        .read(move |conn| store::intents(conn, &root))
        .await?;
    Ok(Json(json!({ "intents": parse(stored.as_deref()) })))
}

/// `PUT /v1/me/intents` `{"intents":[{"want","until","category"?,"max_price"?,"visible_to":[{"grantee","purpose"}]}]}`.
pub async fn me_put(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let body: IntentsBody = serde_json::from_slice(&body).map_err(|err| {
        HttpError::new(
            Code::InvalidBody,
            format!("intents are `{{\"intents\":[{{\"want\",\"until\",\"visible_to\":[{{\"grantee\",\"purpose\"}}]}}]}}`: {err}"),
        )
    })?;
    let mut list = body.intents;
    intents::validate(&mut list, || allele_store::identity::new_id("intent_"))
        .map_err(|e| HttpError::new(Code::InvalidBody, e.to_string()))?;
    store_intents(&state, &customer.workspace, &customer.root, &list).await?;
    Ok(Json(json!({ "intents": list })))
}

pub(crate) async fn store_intents(
    state: &AppState,
    ws: &str,
    root: &str,
    list: &[Intent],
) -> Result<(), HttpError> {
    let text =
        serde_json::to_string(list).map_err(|e| HttpError::new(Code::Internal, e.to_string()))?;
    let (ws, root) = (ws.to_string(), root.to_string());
    state
        .store
        .write(1, move |conn| {
            store::set_intents(conn, &ws, &root, &text, now_ms())
        })
        .await?;
    Ok(())
}
