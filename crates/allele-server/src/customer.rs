//! Customer control over HTTP: the consent ledger (admin and customer
//! faces), customer tokens, and the customer's own `/v1/me` endpoints.
//! A customer token only ever reaches its own profile; admin keys never act
//! as a customer.

use crate::AppState;
use crate::error::HttpError;
use allele_store::consent::{self, ConsentChange};
use allele_store::{Role, StoreError, now_ms, read};
use allele_types::Code;
use allele_types::profile_ref::ProfileRef;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Customer tokens live this long unless the request asks for less.
pub const TOKEN_TTL_MS: i64 = 15 * 60 * 1000;
pub const SESSION_COOKIE: &str = "allele_me";

#[derive(Debug, Clone)]
pub struct Customer {
    pub workspace: String,
    /// The merged profile the token speaks for, resolved now.
    pub root: String,
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE).then(|| value.to_string())
    })
}

impl AppState {
    /// Authenticate a customer by bearer token or portal session cookie.
    pub async fn customer(&self, headers: &HeaderMap) -> Result<Customer, HttpError> {
        let token = match crate::auth::header_key(headers)? {
            Some(token) => token,
            None => cookie_token(headers).ok_or_else(|| {
                HttpError::new(
                    Code::MissingAuth,
                    "send a customer token as `Authorization: Bearer <token>`",
                )
            })?,
        };
        if !token.starts_with("ct_") {
            // A valid API key of any role is the wrong kind of credential here.
            if self.principal(&token).await.is_ok() {
                return Err(HttpError::new(
                    Code::WrongRole,
                    "api keys cannot act as a customer",
                ));
            }
            return Err(HttpError::new(
                Code::InvalidKey,
                "the customer token is unknown or expired",
            ));
        }
        let found = self
            .store
            .read(move |conn| {
                let Some((ws, profile)) = consent::token_subject(conn, &token, now_ms())? else {
                    return Ok(None);
                };
                let root = read::resolve(conn, &ws, &ProfileRef::Id(profile))?;
                Ok(root.map(|root| (ws, root)))
            })
            .await?;
        let Some((workspace, root)) = found else {
            return Err(HttpError::new(
                Code::InvalidKey,
                "the customer token is unknown or expired",
            ));
        };
        Ok(Customer { workspace, root })
    }
}

pub(crate) async fn admin_root(
    state: &AppState,
    headers: &HeaderMap,
    reference: &str,
) -> Result<(String, String), HttpError> {
    let principal = state.require(headers, &[Role::Admin]).await?;
    let profile_ref = ProfileRef::parse(reference).ok_or_else(|| {
        HttpError::new(
            Code::InvalidRef,
            format!("`{reference}` is not a profile reference"),
        )
    })?;
    let ws = principal.workspace.clone();
    let root = state
        .store
        .read(move |conn| read::resolve(conn, &ws, &profile_ref))
        .await?
        .ok_or_else(|| {
            HttpError::new(
                Code::ProfileNotFound,
                format!("no profile answers to `{reference}`"),
            )
        })?;
    Ok((principal.workspace, root))
}

#[derive(Debug, Deserialize, Default)]
pub struct ConsentQuery {
    history: Option<String>,
}

async fn consent_state(
    state: &AppState,
    root: String,
    history: bool,
) -> Result<Json<Value>, HttpError> {
    let ledger = state
        .store
        .read(move |conn| read::consent_ledger(conn, &root))
        .await?;
    let consents: Vec<_> = if history {
        ledger
    } else {
        // Newest in ledger order per purpose × channel.
        let mut latest: Vec<read::ConsentRecord> = Vec::new();
        for record in ledger {
            latest.retain(|r| !(r.purpose == record.purpose && r.channel == record.channel));
            latest.push(record);
        }
        latest
    };
    Ok(Json(json!({ "consents": consents })))
}

async fn change_consent(
    state: &AppState,
    ws: String,
    root: String,
    body: &[u8],
    source: &'static str,
) -> Result<Json<Value>, HttpError> {
    let change: ConsentChange = serde_json::from_slice(body).map_err(|err| {
        HttpError::new(
            Code::InvalidBody,
            format!("consent body must be `{{\"purpose\",\"channel\",\"status\"}}`: {err}"),
        )
    })?;
    change
        .validate()
        .map_err(|reason| HttpError::new(Code::InvalidBody, reason))?;
    let receipt = state
        .store
        .write(1, move |conn| {
            consent::record(conn, &ws, &root, &change, source, now_ms())
        })
        .await?;
    Ok(Json(serde_json::to_value(receipt).map_err(|e| {
        HttpError::new(Code::Internal, e.to_string())
    })?))
}

pub async fn admin_get_consent(
    State(state): State<Arc<AppState>>,
    Path(reference): Path<String>,
    Query(query): Query<ConsentQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let (_, root) = admin_root(&state, &headers, &reference).await?;
    consent_state(&state, root, query.history.as_deref() == Some("true")).await
}

pub async fn admin_put_consent(
    State(state): State<Arc<AppState>>,
    Path(reference): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let (ws, root) = admin_root(&state, &headers, &reference).await?;
    change_consent(&state, ws, root, &body, "admin").await
}

pub async fn me_get_consent(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ConsentQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    state
        .log_access(
            &customer.workspace,
            "customer".into(),
            "read_consent",
            "dpv:ServiceProvision",
            customer.root.clone(),
        )
        .await?;
    consent_state(
        &state,
        customer.root,
        query.history.as_deref() == Some("true"),
    )
    .await
}

pub async fn me_put_consent(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    change_consent(&state, customer.workspace, customer.root, &body, "customer").await
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    ttl_seconds: Option<i64>,
}

/// `POST /v1/profiles/{ref}/tokens`: a bearer for `/v1/me` and a single-use
/// login link for the portal, both expiring together.
pub async fn issue_token(
    State(state): State<Arc<AppState>>,
    Path(reference): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let (ws, root) = admin_root(&state, &headers, &reference).await?;
    let request: TokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TokenRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| HttpError::new(Code::InvalidBody, format!("token body: {e}")))?
    };
    let ttl = request
        .ttl_seconds
        .map_or(TOKEN_TTL_MS, |s| (s.clamp(1, 15 * 60)) * 1000);
    let expires_at = now_ms() + ttl;
    let (token, code) = state
        .store
        .write(1, move |conn| {
            Ok((
                consent::issue_token(conn, &ws, &root, "bearer", expires_at)?,
                consent::issue_token(conn, &ws, &root, "login", expires_at)?,
            ))
        })
        .await?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    Ok(Json(json!({
        "token": token,
        "expires_at": jiff::Timestamp::from_millisecond(expires_at).map(allele_types::segment::format_time).unwrap_or_default(),
        "login_url": format!("http://{host}/me/login?code={code}"),
    })))
}

/// `GET /v1/me/export`: everything held about the customer, and nobody else.
pub async fn me_export(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    state
        .log_access(
            &customer.workspace,
            "customer".into(),
            "export",
            "dpv:ServiceProvision",
            customer.root.clone(),
        )
        .await?;
    let root = customer.root.clone();
    let export = state
        .store
        .read(move |conn| {
            let profile = read::profile(conn, &root)?;
            let mut events = Vec::new();
            let mut before = None;
            loop {
                let page = read::events(conn, &root, 1_000, before)?;
                events.extend(page.events);
                match page.next_before.as_deref().and_then(read::decode_cursor) {
                    Some(cursor) => before = Some(cursor),
                    None => break,
                }
            }
            let consents = read::consent_ledger(conn, &root)?;
            let grants = allele_store::grants::grants(conn, &root)?;
            let settlements = allele_store::grants::settlements(conn, &root)?;
            let intents = allele_store::grants::intents(conn, &root)?;
            Ok::<_, StoreError>((
                json!({"profile": profile, "events": events, "consents": consents}),
                grants,
                settlements,
                intents,
            ))
        })
        .await?;
    let (mut export, grants, settlements, intents) = export;
    let now = now_ms();
    export["grants"] = json!(
        grants
            .iter()
            .map(|g| crate::grants::grant_json(g, now))
            .collect::<Vec<_>>()
    );
    export["settlements"] = json!(settlements);
    export["intents"] = json!(crate::intents::parse(intents.as_deref()));
    Ok(Json(export))
}

/// `DELETE /v1/me`: erase the customer's profile, events, identities,
/// consents, decisions and tokens, checkpoint the log so no deleted bytes
/// stay on disk, and answer a signed receipt of what was removed.
pub async fn me_erase(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let root = customer.root.clone();
    let erased = state
        .store
        .write_resolving(&customer.workspace, 1, move |resolver| {
            allele_store::erase::erase(resolver, &root)
        })
        .await?;
    // secure_delete zeroes freed pages; the checkpoint folds the WAL (which
    // still holds the old pages) back and truncates it.
    if let Err(err) = state.store.checkpoint() {
        tracing::warn!(error = %err, "checkpoint after erasure failed; retried by the background checkpointer");
    }
    let ws = customer.workspace.clone();
    let secret = state
        .store
        .read(move |conn| allele_store::bundles::signing_key(conn, &ws))
        .await?;
    let receipt = json!({
        "receipt_id": allele_store::identity::new_id("erase_"),
        "erased_at": jiff::Timestamp::now().to_string(),
        "workspace": customer.workspace,
        "erased": erased,
    });
    let signing = ed25519_dalek::SigningKey::from_bytes(&secret);
    let signature = ed25519_dalek::Signer::sign(&signing, receipt.to_string().as_bytes());
    use base64::Engine;
    Ok(Json(json!({
        "receipt": receipt.to_string(),
        "signature": base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
        "algorithm": "ed25519",
    })))
}

/// `GET /v1/me/caps`: the customer's own contact limits (empty when unset).
pub async fn me_get_caps(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let root = customer.root.clone();
    let stored = state
        .store
        .read(move |conn| allele_store::bundles::customer_limits(conn, &root))
        .await?;
    let limits: allele_privacy::limits::CustomerLimits = match stored {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| HttpError::new(Code::Internal, e.to_string()))?,
        None => allele_privacy::limits::CustomerLimits {
            timezone: "UTC".into(),
            ..Default::default()
        },
    };
    Ok(Json(serde_json::to_value(limits).map_err(|e| {
        HttpError::new(Code::Internal, e.to_string())
    })?))
}

/// `PUT /v1/me/caps`: caps per channel, quiet hours in the customer's own
/// time zone, preferred channels. Every later decision honours them.
pub async fn me_put_caps(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let limits: allele_privacy::limits::CustomerLimits = serde_json::from_slice(&body).map_err(|err| {
        HttpError::new(
            Code::InvalidBody,
            format!("limits must be `{{\"timezone\", \"quiet_hours\": {{\"start\",\"end\"}}, \"caps\": [{{\"channel\",\"count\",\"window_ms\"}}], \"preferred_channels\"}}`: {err}"),
        )
    })?;
    allele_privacy::limits::time_zone(&limits.timezone).map_err(|err| {
        HttpError::new(
            Code::InvalidBody,
            format!("timezone `{}`: {err}", limits.timezone),
        )
    })?;
    if let Some(cap) = limits.caps.iter().find(|cap| cap.window_ms <= 0) {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!("cap on `{}` needs a positive `window_ms`", cap.channel),
        ));
    }
    let text = serde_json::to_string(&limits)
        .map_err(|e| HttpError::new(Code::Internal, e.to_string()))?;
    let (ws, root) = (customer.workspace.clone(), customer.root.clone());
    state
        .store
        .write(1, move |conn| {
            allele_store::bundles::set_customer_limits(conn, &ws, &root, &text, now_ms())
        })
        .await?;
    Ok(Json(serde_json::to_value(limits).map_err(|e| {
        HttpError::new(Code::Internal, e.to_string())
    })?))
}
