//! Policies and bundles over HTTP: publish (`PUT /v1/policies`), serve the
//! active signed bundle to edges (ETag + long-poll), and roll back.
//!
//! The active bundle of each workspace is held in memory as an `Arc` in the
//! engine's [`Registry`]: a publish swaps the pointer, so decisions already
//! running finish on the bundle they started with.

use crate::AppState;
use crate::error::HttpError;
use allele_engine::SignedBundle;
pub use allele_engine::{ActiveBundle, Registry};
use allele_store::bundles::{self, StoredBundle};
use allele_store::{Role, now_ms};
use allele_types::{ApiError, Code};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Long-poll waits at most this long, whatever `wait` asks.
const MAX_WAIT: Duration = Duration::from_secs(60);

impl AppState {
    /// The workspace's active bundle, loaded and verified on first use.
    pub async fn active_bundle(&self, ws: &str) -> Result<Option<Arc<ActiveBundle>>, HttpError> {
        if let Some(found) = self.bundles.active(ws) {
            return Ok(Some(found));
        }
        let ws_owned = ws.to_string();
        let loaded = self
            .store
            .read(move |conn| {
                Ok((
                    bundles::active(conn, &ws_owned)?,
                    bundles::signing_key(conn, &ws_owned)?,
                ))
            })
            .await?;
        let (Some(stored), key) = loaded else {
            return Ok(None);
        };
        let active = verify_stored(&stored, &key)?;
        Ok(Some(self.install(ws, Arc::new(active))))
    }

    fn install(&self, ws: &str, active: Arc<ActiveBundle>) -> Arc<ActiveBundle> {
        self.bundles.install(ws, Arc::clone(&active));
        self.bundle_changes.send_modify(|n| *n += 1);
        active
    }
}

fn verify_stored(stored: &StoredBundle, secret: &[u8; 32]) -> Result<ActiveBundle, HttpError> {
    let signed = SignedBundle {
        version: stored.version,
        signature: stored.signature.clone(),
        bundle: stored.bundle.clone(),
    };
    ActiveBundle::verified(signed, &allele_engine::public_key(secret)).map_err(|err| {
        tracing::error!(version = stored.version, error = %err, "stored bundle failed verification; not activated");
        HttpError::new(Code::BundleRejected, format!("bundle {} failed verification: {err}", stored.version))
    })
}

fn policy_error(diagnostics: Vec<allele_engine::Diagnostic>) -> HttpError {
    let first = diagnostics
        .first()
        .map(|d| d.message.clone())
        .unwrap_or_default();
    let mut error = ApiError::new(
        Code::InvalidPolicy,
        format!(
            "the policy has {} problem(s); first: {first}",
            diagnostics.len()
        ),
    );
    error.errors = serde_json::to_value(&diagnostics).ok().map(Box::new);
    HttpError(error)
}

/// `PUT /v1/policies`: compile, check, sign, store as version + 1, activate.
pub async fn publish(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        mime.as_str(),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" | "text/plain" | ""
    ) {
        return Err(HttpError::new(
            Code::UnsupportedMediaType,
            format!("send the policy as `application/yaml` or `text/plain`, not `{mime}`"),
        ));
    }
    let source = String::from_utf8(body.to_vec())
        .map_err(|_| HttpError::new(Code::InvalidBody, "the policy is not utf-8 text"))?;
    let ws = principal.workspace.clone();
    let outcome = state
        .store
        .write(1, move |conn| {
            let known = bundles::known_traits(conn, &ws)?;
            let version = bundles::next_version(conn, &ws)?;
            let compiled = match allele_engine::compile(&source, version, &known) {
                Ok(compiled) => compiled,
                Err(diagnostics) => return Ok(Err(diagnostics)),
            };
            let secret = bundles::signing_key(conn, &ws)?;
            let signed = allele_engine::sign(&compiled.bundle, &secret);
            let stored = StoredBundle {
                version,
                bundle: signed.bundle.clone(),
                signature: signed.signature.clone(),
                source,
            };
            bundles::publish(conn, &ws, &stored, now_ms())?;
            Ok(Ok((compiled, signed)))
        })
        .await?;
    let (compiled, signed) = outcome.map_err(policy_error)?;
    let version = signed.version;
    let active = ActiveBundle {
        version,
        bundle: compiled.bundle,
        signed,
    };
    state.install(&principal.workspace, Arc::new(active));
    Ok(Json(
        json!({"version": version, "active": true, "warnings": compiled.warnings}),
    ))
}

/// `POST /v1/bundles/{version}/activate`: roll back (or forward) to a version.
pub async fn activate(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let version: u64 = version.parse().map_err(|_| {
        HttpError::new(
            Code::InvalidQuery,
            format!("`{version}` is not a bundle version"),
        )
    })?;
    // Verified before switching: a tampered bundle never becomes active.
    let active = state.bundle_version(&principal.workspace, version).await?;
    let ws = principal.workspace.clone();
    state
        .store
        .write(1, move |conn| bundles::activate(conn, &ws, version))
        .await?;
    state.install(&principal.workspace, active);
    Ok(Json(json!({"version": version, "active": true})))
}

#[derive(Debug, Deserialize, Default)]
pub struct LatestQuery {
    wait: Option<String>,
}

fn etag(version: u64) -> String {
    format!("\"v{version}\"")
}

/// `GET /v1/bundles/latest`: the active signed bundle; `If-None-Match`
/// answers 304, and with `?wait=SECONDS` holds until a newer one exists.
pub async fn latest(
    State(state): State<Arc<AppState>>,
    Query(query): Query<LatestQuery>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let principal = state
        .require(&headers, &[Role::Decide, Role::Admin])
        .await?;
    let wait = match query.wait.as_deref() {
        None | Some("") => Duration::ZERO,
        Some(text) => text
            .parse::<u64>()
            .map(|s| Duration::from_secs(s).min(MAX_WAIT))
            .map_err(|_| {
                HttpError::new(
                    Code::InvalidQuery,
                    format!("`wait` must be whole seconds, got `{text}`"),
                )
            })?,
    };
    let known = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut changes = state.bundle_changes.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let active = state.active_bundle(&principal.workspace).await?;
        let current_tag = active.as_ref().map(|a| etag(a.version));
        let unchanged = known.is_some() && known == current_tag;
        if let Some(active) = active.filter(|_| !unchanged) {
            return bundle_response(&state, &principal.workspace, &active).await;
        }
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero()
            || tokio::time::timeout(remaining, changes.changed())
                .await
                .is_err()
        {
            return match current_tag {
                Some(tag) => Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response()),
                None => Err(HttpError::new(
                    Code::NoActiveBundle,
                    "no policy has been published yet",
                )),
            };
        }
    }
}

async fn bundle_response(
    state: &AppState,
    ws: &str,
    active: &ActiveBundle,
) -> Result<Response, HttpError> {
    let ws_salt = ws.to_string();
    let ws = ws.to_string();
    let ws_owned = ws.clone();
    let secret = state
        .store
        .read(move |conn| bundles::signing_key(conn, &ws_owned))
        .await?;
    let body = json!({
        "version": active.version,
        "signature": active.signed.signature,
        "bundle": active.signed.bundle,
        "public_key": hex::encode(allele_engine::public_key(&secret)),
        "algorithm": "ed25519",
        // What edges pass as `workspace_salt` so their holdouts hash as the
        // server's do (outside the signature: it selects, never grants).
        "workspace_salt": ws_salt,
        "workspace": ws,
    });
    let mut response = Json(body).into_response();
    if let Ok(tag) = HeaderValue::from_str(&etag(active.version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    Ok(response)
}

/// `GET /v1/bundles/key`: the workspace's public key, for edges and browsers.
pub async fn public_key(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state
        .require(&headers, &[Role::Decide, Role::Admin])
        .await?;
    let ws = principal.workspace.clone();
    let secret = state
        .store
        .read(move |conn| bundles::signing_key(conn, &ws))
        .await?;
    Ok(Json(
        json!({"public_key": hex::encode(allele_engine::public_key(&secret)), "algorithm": "ed25519"}),
    ))
}

impl AppState {
    /// Any stored version, verified once and kept (challengers).
    pub async fn bundle_version(
        &self,
        ws: &str,
        version: u64,
    ) -> Result<Arc<ActiveBundle>, HttpError> {
        if let Some(found) = self.bundles.version(ws, version) {
            return Ok(found);
        }
        let ws_owned = ws.to_string();
        let (stored, secret) = self
            .store
            .read(move |conn| {
                Ok((
                    bundles::get(conn, &ws_owned, version)?,
                    bundles::signing_key(conn, &ws_owned)?,
                ))
            })
            .await?;
        let stored = stored.ok_or_else(|| {
            HttpError::new(
                Code::BundleNotFound,
                format!("no bundle has version {version}"),
            )
        })?;
        let verified = Arc::new(verify_stored(&stored, &secret)?);
        self.bundles.remember(ws, Arc::clone(&verified));
        Ok(verified)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengerBody {
    version: u64,
    share: f64,
    /// Stop the challenge by itself when it does significantly worse.
    #[serde(default)]
    guardrail: Option<crate::guard::Guardrail>,
}

/// `PUT /v1/bundles/challenger`: serve `version` to `share` of people (by a
/// stable hash of their profile), beside the active bundle; each decision
/// records which arm served it as the experiment `challenger-v{version}`.
pub async fn put_challenger(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let request: ChallengerBody = serde_json::from_slice(&body).map_err(|err| {
        HttpError::new(
            Code::InvalidBody,
            format!("body must be `{{\"version\", \"share\", \"guardrail\"?}}`: {err}"),
        )
    })?;
    if !(request.share > 0.0 && request.share < 1.0) {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!("`share` must be between 0 and 1, got {}", request.share),
        ));
    }
    if let Some(guardrail) = &request.guardrail {
        guardrail.validate()?;
    }
    state
        .bundle_version(&principal.workspace, request.version)
        .await?;
    let ws = principal.workspace.clone();
    let guardrail = request
        .guardrail
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|err| HttpError::new(Code::Internal, err.to_string()))?;
    state
        .store
        .write(1, move |conn| {
            bundles::set_challenger(conn, &ws, request.version, request.share, now_ms())?;
            allele_store::guard::set_guardrail(conn, &ws, guardrail.as_deref())
        })
        .await?;
    Ok(Json(
        json!({"version": request.version, "share": request.share, "experiment_id": format!("challenger-v{}", request.version), "guardrail": request.guardrail}),
    ))
}

/// `DELETE /v1/bundles/challenger`: stop the challenge (promote with
/// `POST /v1/bundles/{version}/activate`).
pub async fn delete_challenger(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let ws = principal.workspace.clone();
    let stopped = state
        .store
        .write(1, move |conn| bundles::clear_challenger(conn, &ws))
        .await?;
    Ok(Json(json!({"stopped": stopped})))
}
