//! Links recipients follow: RFC 8058 one-click unsubscribe, which appends
//! a refusal of `dpv:DirectMarketing` on email to the consent ledger, and
//! click tracking, which records an `Email Link Clicked` track event and
//! redirects. Both carry tokens signed with a key derived from the
//! workspace's signing key, so they need no login and cannot be forged.

use crate::AppState;
use crate::error::HttpError;
use allele_campaigns::links::{Click, Unsubscribe};
use allele_store::consent::ConsentChange;
use allele_store::{StoreError, bundles, now_ms, read};
use allele_types::Code;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::sync::Arc;

/// The key email links are signed with: HMAC of a fixed label under the
/// workspace's own signing key (so it rotates with it and is never stored).
pub fn link_key(conn: &allele_store::Connection, ws: &str) -> Result<Vec<u8>, StoreError> {
    let signing = bundles::signing_key(conn, ws)?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&signing)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    mac.update(b"allele email links v1");
    Ok(mac.finalize().into_bytes().to_vec())
}

/// The workspace named in a token's (not yet verified) payload.
fn claimed_workspace(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split_once('.')?.0;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value["w"].as_str().map(str::to_string)
}

async fn key_for(state: &AppState, token: &str) -> Result<Vec<u8>, HttpError> {
    let invalid = || HttpError::new(Code::InvalidLinkToken, "this link is not valid");
    let ws = claimed_workspace(token).ok_or_else(invalid)?;
    state
        .store
        .read(move |conn| link_key(conn, &ws))
        .await
        .map_err(|_| invalid())
}

/// Record a track event for a stored profile, as ingest would.
pub async fn record_event(
    state: &AppState,
    ws: &str,
    profile_id: &str,
    event: &str,
    properties: Value,
) -> Result<(), HttpError> {
    let profile = profile_id.to_string();
    let ids = state
        .store
        .read(move |conn| {
            let root: Option<String> = conn
                .query_row(
                    "SELECT root_id FROM profiles WHERE id = ?1",
                    [&profile],
                    |r| r.get(0),
                )
                .ok();
            let Some(root) = root else {
                return Ok(None);
            };
            Ok(Some(read::profile(conn, &root)?.identities))
        })
        .await?;
    let Some(identities) = ids else {
        // The person was erased; nothing to attach the event to.
        return Ok(());
    };
    let find = |kind: &str| {
        identities
            .iter()
            .find(|i| i.kind == kind)
            .map_or(Value::Null, |i| json!(i.value))
    };
    let (user_id, anonymous_id) = (find("user_id"), find("anonymous_id"));
    if user_id.is_null() && anonymous_id.is_null() {
        return Ok(());
    }
    crate::decisions::store_track(state, ws, event, (user_id, anonymous_id), None, properties)
        .await?;
    Ok(())
}

/// `GET /v1/unsubscribe/{token}`: a page with one button, because mail
/// scanners follow GET links and must not unsubscribe anyone.
pub async fn unsubscribe_page(Path(token): Path<String>) -> Html<String> {
    let token: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head><body>\
         <form method=\"post\" action=\"/v1/unsubscribe/{token}\">\
         <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
         <button type=\"submit\">Unsubscribe from marketing email</button></form></body></html>"
    ))
}

/// `POST /v1/unsubscribe/{token}` (RFC 8058 one-click): refuse direct
/// marketing by email for the person the message went to.
pub async fn unsubscribe(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> Result<Json<Value>, HttpError> {
    let key = key_for(&state, &token).await?;
    let claims = Unsubscribe::verify(&key, &token).ok_or_else(|| {
        HttpError::new(Code::InvalidLinkToken, "this unsubscribe link is not valid")
    })?;
    let (ws, profile) = (claims.workspace.clone(), claims.profile_id.clone());
    let evidence = format!("one-click unsubscribe from email `{}`", claims.message_id);
    let receipt = state
        .store
        .write(1, move |conn| {
            let root: Option<String> = conn
                .query_row(
                    "SELECT root_id FROM profiles WHERE id = ?1 AND workspace_id = ?2",
                    [&profile, &ws],
                    |r| r.get(0),
                )
                .ok();
            let Some(root) = root else {
                return Err(StoreError::ProfileNotFound);
            };
            let change = ConsentChange {
                purpose: "dpv:DirectMarketing".into(),
                channel: "email".into(),
                status: "refused".into(),
                evidence: Some(evidence),
            };
            allele_store::consent::record(conn, &ws, &root, &change, "unsubscribe", now_ms())
        })
        .await?;
    Ok(Json(
        json!({"unsubscribed": true, "receipt_id": receipt.receipt_id}),
    ))
}

/// `GET /v1/click/{token}`: record the click and send the browser on.
pub async fn click(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> Result<Response, HttpError> {
    let key = key_for(&state, &token).await?;
    let claims = Click::verify(&key, &token)
        .ok_or_else(|| HttpError::new(Code::InvalidLinkToken, "this link is not valid"))?;
    let (ws, id) = (claims.workspace.clone(), claims.message_id.clone());
    let message = state
        .store
        .read(move |conn| allele_store::outbox::get(conn, &ws, &id))
        .await?;
    if let Some(message) = message {
        record_event(
            &state,
            &claims.workspace,
            &message.profile_id,
            "Email Link Clicked",
            json!({"message_id": message.id, "url": claims.url, "template": message.template_id}),
        )
        .await?;
    }
    Ok((StatusCode::FOUND, [(header::LOCATION, claims.url)]).into_response())
}
