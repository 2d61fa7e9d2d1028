//! Email over SMTP: settings, Liquid templates checked at save time, a
//! durable outbox with idempotency keys, a dispatcher that re-checks
//! consent, quiet hours and caps when it sends, RFC 8058 one-click
//! unsubscribe into the consent ledger, click tracking and bounces.

pub mod dispatch;
pub mod links;
pub mod settings;

use crate::AppState;
use crate::error::HttpError;
use allele_campaigns::EmailTemplate;
use allele_store::{Role, bundles, now_ms, outbox};
use allele_types::Code;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use settings::SmtpSettings;
use std::collections::HashSet;
use std::sync::Arc;

fn bad_body(what: &str, err: impl std::fmt::Display) -> HttpError {
    HttpError::new(Code::InvalidBody, format!("{what}: {err}"))
}

fn valid_id(id: &str) -> Result<(), HttpError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(HttpError::new(
            Code::InvalidBody,
            format!("id `{id}` must be 1–64 letters, digits, `_` or `-`"),
        ))
    }
}

/// `PUT /v1/channels/email`: the workspace's SMTP settings.
pub async fn put_settings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let settings: SmtpSettings = serde_json::from_slice(&body).map_err(|e| {
        bad_body(
            "body must be `{host, port, tls, username, password, from, public_url}`",
            e,
        )
    })?;
    settings
        .validate()
        .map_err(|e| HttpError::new(Code::InvalidBody, e))?;
    let (ws, text) = (
        principal.workspace.clone(),
        serde_json::to_string(&settings).map_err(|e| bad_body("settings", e))?,
    );
    state
        .store
        .write(1, move |conn| {
            outbox::put_settings(conn, &ws, "email", &text, now_ms())
        })
        .await?;
    Ok(Json(settings.redacted()))
}

/// `GET /v1/channels/email`: the settings, password left out.
pub async fn get_settings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let ws = principal.workspace.clone();
    let stored = state
        .store
        .read(move |conn| outbox::settings(conn, &ws, "email"))
        .await?;
    let settings: Option<SmtpSettings> = stored.and_then(|t| serde_json::from_str(&t).ok());
    match settings {
        Some(settings) => Ok(Json(settings.redacted())),
        None => Err(HttpError::new(
            Code::RouteNotFound,
            "email is not configured; `PUT /v1/channels/email` first",
        )),
    }
}

/// `PUT /v1/templates/{id}`: check a template against every variable a
/// send can supply and store it; a name nothing supplies is a 400.
pub async fn put_template(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    valid_id(&id)?;
    let template: EmailTemplate = serde_json::from_slice(&body)
        .map_err(|e| bad_body("body must be `{subject, html, text}`", e))?;
    let ws = principal.workspace.clone();
    let known = state
        .store
        .read(move |conn| bundles::known_traits(conn, &ws))
        .await?;
    allele_campaigns::template::check(&template, &known)
        .map_err(|e| HttpError::new(Code::InvalidTemplate, e.to_string()))?;
    let (ws, key, text) = (
        principal.workspace.clone(),
        id.clone(),
        serde_json::to_string(&template).map_err(|e| bad_body("template", e))?,
    );
    state
        .store
        .write(1, move |conn| {
            outbox::put_template(conn, &ws, &key, &text, now_ms())
        })
        .await?;
    Ok(Json(json!({"id": id, "template": template})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    /// A profile reference: `user_id:U`, `email:E`, … or a profile id.
    to: String,
    template: String,
    idempotency_key: String,
    #[serde(default)]
    kind: Option<String>,
    /// Decision variables for the template (`decision.*`).
    #[serde(default)]
    decision: Option<Value>,
}

/// `POST /v1/emails`: queue one message. The same idempotency key always
/// answers the same message and never queues a second.
pub async fn send(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let request: SendBody = serde_json::from_slice(&body).map_err(|e| {
        bad_body(
            "body must be `{to, template, idempotency_key, kind, decision}`",
            e,
        )
    })?;
    let kind = request.kind.clone().unwrap_or_else(|| "marketing".into());
    if !matches!(kind.as_str(), "marketing" | "transactional") {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!("kind `{kind}` must be `marketing` or `transactional`"),
        ));
    }
    if request.idempotency_key.is_empty() || request.idempotency_key.len() > 200 {
        return Err(HttpError::new(
            Code::InvalidBody,
            "`idempotency_key` must be 1–200 bytes",
        ));
    }
    let root = crate::profiles::root(&state, &principal.workspace, &request.to).await?;
    let (ws, template_id) = (principal.workspace.clone(), request.template.clone());
    let exists = state
        .store
        .read(move |conn| outbox::template(conn, &ws, &template_id))
        .await?
        .is_some();
    if !exists {
        return Err(HttpError::new(
            Code::TemplateNotFound,
            format!("no template `{}`", request.template),
        ));
    }
    let vars = json!({"decision": request.decision}).to_string();
    let ws = principal.workspace.clone();
    let (id, created) = state
        .store
        .write(1, move |conn| {
            outbox::enqueue(
                conn,
                &outbox::NewEmail {
                    ws: &ws,
                    idempotency_key: &request.idempotency_key,
                    profile_id: &root,
                    template_id: &request.template,
                    kind: &kind,
                    vars: &vars,
                    source: "api",
                    at: now_ms(),
                },
            )
        })
        .await?;
    Ok(Json(json!({"id": id, "created": created})))
}

/// `GET /v1/emails/{id}`: one message and where it is.
pub async fn get_message(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let (ws, key) = (principal.workspace.clone(), id.clone());
    let message = state
        .store
        .read(move |conn| outbox::get(conn, &ws, &key))
        .await?
        .ok_or_else(|| HttpError::new(Code::MessageNotFound, format!("no email `{id}`")))?;
    Ok(Json(json!(message)))
}

#[derive(Deserialize, Default)]
pub struct ListParams {
    status: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/emails?status&after&limit`: the outbox, paged by id.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let limit = params.limit.unwrap_or(100).clamp(1, 1_000);
    let ws = principal.workspace.clone();
    let after = params.after.unwrap_or_default();
    let messages = state
        .store
        .read(move |conn| outbox::list(conn, &ws, params.status.as_deref(), &after, limit))
        .await?;
    let next_after = (messages.len() == limit)
        .then(|| messages.last().map(|m| m.id.clone()))
        .flatten();
    Ok(Json(
        json!({"messages": messages, "next_after": next_after}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BounceBody {
    reason: String,
}

/// `POST /v1/emails/{id}/bounce`: a provider reported a bounce after the
/// hand-off; the message becomes `bounced` and an `Email Bounced` event.
pub async fn bounce(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let request: BounceBody =
        serde_json::from_slice(&body).map_err(|e| bad_body("body must be `{reason}`", e))?;
    let (ws, key, reason) = (
        principal.workspace.clone(),
        id.clone(),
        request.reason.clone(),
    );
    let message = state
        .store
        .read(move |conn| outbox::get(conn, &ws, &key))
        .await?
        .ok_or_else(|| HttpError::new(Code::MessageNotFound, format!("no email `{id}`")))?;
    let (ws, key) = (principal.workspace.clone(), id.clone());
    let changed = state
        .store
        .write(1, move |conn| outbox::bounce(conn, &ws, &key, &reason))
        .await?;
    if !changed {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!(
                "email `{id}` is `{}`; only a sent email can bounce",
                message.status
            ),
        ));
    }
    links::record_event(
        &state,
        &principal.workspace,
        &message.profile_id,
        "Email Bounced",
        json!({"message_id": id, "reason": request.reason, "template": message.template_id}),
    )
    .await?;
    Ok(Json(json!({"id": id, "status": "bounced"})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BroadcastBody {
    template: String,
    idempotency_key: String,
    /// Only the segment's members now (still only those with consent).
    #[serde(default)]
    segment: Option<String>,
}

/// `POST /v1/broadcasts`: queue a marketing template for everyone with
/// email consent now (each re-checked when sent), or only for the members
/// of `segment` among them; the same key twice queues nobody twice.
pub async fn broadcast(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let request: BroadcastBody = serde_json::from_slice(&body)
        .map_err(|e| bad_body("body must be `{template, idempotency_key, segment?}`", e))?;
    valid_id(&request.idempotency_key)?;
    let (ws, template_id) = (principal.workspace.clone(), request.template.clone());
    if state
        .store
        .read(move |conn| outbox::template(conn, &ws, &template_id))
        .await?
        .is_none()
    {
        return Err(HttpError::new(
            Code::TemplateNotFound,
            format!("no template `{}`", request.template),
        ));
    }
    // The members are found on a reader, so the scan does not hold the
    // writer; someone joining between the two waits for the next broadcast.
    let members = match request.segment.clone() {
        None => None,
        Some(segment) => {
            let ws = principal.workspace.clone();
            let found = state
                .store
                .read(move |conn| crate::segments::rebuild(conn, &ws, &segment))
                .await?;
            let Some(found) = found else {
                return Err(HttpError::new(
                    Code::SegmentNotFound,
                    format!("no segment `{}`", request.segment.unwrap_or_default()),
                ));
            };
            Some(found.into_iter().collect::<HashSet<String>>())
        }
    };
    let ws = principal.workspace.clone();
    let (key, template) = (request.idempotency_key.clone(), request.template.clone());
    let queued = state
        .store
        .write(1, move |conn| {
            let mut purposes = vec!["dpv:DirectMarketing"];
            purposes.extend(allele_privacy::consent::ancestors("dpv:DirectMarketing"));
            outbox::plan_broadcast(
                conn,
                &ws,
                &key,
                &template,
                &purposes,
                members.as_ref(),
                now_ms(),
            )
        })
        .await?;
    Ok(Json(
        json!({"idempotency_key": request.idempotency_key, "queued": queued}),
    ))
}
