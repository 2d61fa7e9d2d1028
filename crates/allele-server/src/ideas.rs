//! The ideas and reviews board: customers post, vote once each and comment;
//! ranking is by the Wilson lower bound of the up-vote share; admins hide,
//! flag and set a status customers can see. An idea is shown to other
//! customers only when its author chose to make it public.

use crate::AppState;
use crate::error::HttpError;
use allele_store::ideas::{self, Idea, NewIdea};
use allele_store::{Role, now_ms};
use allele_types::Code;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

const STATUSES: &[&str] = &["open", "planned", "shipped", "declined"];

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8], shape: &str) -> Result<T, HttpError> {
    serde_json::from_slice(bytes)
        .map_err(|err| HttpError::new(Code::InvalidBody, format!("body must be `{shape}`: {err}")))
}

fn ranked(mut list: Vec<Idea>) -> Vec<Value> {
    let score =
        |idea: &Idea| allele_listen::wilson_lower_bound(idea.up, idea.votes, 0.95).unwrap_or(0.0);
    list.sort_by(|a, b| {
        score(b)
            .total_cmp(&score(a))
            .then_with(|| b.created_at.cmp(&a.created_at))
    });
    list.into_iter()
        .map(|idea| {
            let mut value = serde_json::to_value(&idea).unwrap_or(Value::Null);
            if let Some(object) = value.as_object_mut() {
                object.insert("score".into(), json!(score(&idea)));
            }
            value
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewIdeaBody {
    #[serde(default = "default_kind")]
    kind: String,
    title: String,
    body: String,
    #[serde(default)]
    public: bool,
}

fn default_kind() -> String {
    "idea".into()
}

pub async fn post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let request: NewIdeaBody = body(&bytes, "{\"kind\",\"title\",\"body\",\"public\"}")?;
    if !matches!(request.kind.as_str(), "idea" | "review") {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!("`kind` must be idea or review, got `{}`", request.kind),
        ));
    }
    if request.title.trim().is_empty() || request.title.len() > 200 || request.body.len() > 10_000 {
        return Err(HttpError::new(
            Code::InvalidBody,
            "a title of 1–200 bytes and a body of at most 10,000 bytes",
        ));
    }
    let id = allele_store::identity::new_id("idea_");
    let (ws, author, idea_id) = (
        customer.workspace.clone(),
        customer.root.clone(),
        id.clone(),
    );
    state
        .store
        .write(1, move |conn| {
            let idea = NewIdea {
                id: &idea_id,
                author: &author,
                kind: &request.kind,
                title: &request.title,
                body: &request.body,
                public: request.public,
            };
            ideas::post(conn, &ws, &idea, now_ms())
        })
        .await?;
    Ok(Json(json!({"id": id})))
}

async fn require_idea(state: &AppState, ws: &str, id: &str) -> Result<(), HttpError> {
    let (ws, id_owned) = (ws.to_string(), id.to_string());
    if state
        .store
        .read(move |conn| ideas::exists(conn, &ws, &id_owned))
        .await?
    {
        return Ok(());
    }
    Err(HttpError::new(
        Code::RouteNotFound,
        format!("no idea `{id}`"),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteBody {
    up: bool,
}

pub async fn vote(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let request: VoteBody = body(&bytes, "{\"up\": true|false}")?;
    require_idea(&state, &customer.workspace, &id).await?;
    let voter = customer.root.clone();
    state
        .store
        .write(1, move |conn| ideas::vote(conn, &id, &voter, request.up))
        .await?;
    Ok(Json(json!({"success": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    body: String,
}

pub async fn comment(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let request: CommentBody = body(&bytes, "{\"body\"}")?;
    if request.body.trim().is_empty() || request.body.len() > 5_000 {
        return Err(HttpError::new(
            Code::InvalidBody,
            "a comment of 1–5,000 bytes",
        ));
    }
    require_idea(&state, &customer.workspace, &id).await?;
    let author = customer.root.clone();
    state
        .store
        .write(1, move |conn| {
            ideas::comment(conn, &id, &author, &request.body, now_ms())
        })
        .await?;
    Ok(Json(json!({"success": true})))
}

/// `GET /v1/ideas` (customer): public, visible ideas and the customer's own.
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let ws = customer.workspace.clone();
    let all = state.store.read(move |conn| ideas::list(conn, &ws)).await?;
    let visible = all
        .into_iter()
        .filter(|idea| (idea.public && !idea.hidden) || idea.author == customer.root)
        .collect();
    Ok(Json(json!({"ideas": ranked(visible)})))
}

/// `GET /v1/reports/ideas` (admin): every idea, ranked, with counts by status.
pub async fn report(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let ws = principal.workspace.clone();
    let all = state.store.read(move |conn| ideas::list(conn, &ws)).await?;
    let mut by_status = serde_json::Map::new();
    for status in STATUSES {
        by_status.insert(
            (*status).into(),
            json!(all.iter().filter(|i| i.status == *status).count()),
        );
    }
    Ok(Json(
        json!({"total": all.len(), "by_status": by_status, "ideas": ranked(all)}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModerateBody {
    hidden: Option<bool>,
    flagged: Option<bool>,
    status: Option<String>,
}

/// `POST /v1/ideas/{id}/moderate` (admin): hide, flag, set the status.
pub async fn moderate(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let request: ModerateBody = body(&bytes, "{\"hidden\",\"flagged\",\"status\"}")?;
    if let Some(status) = &request.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!("status `{status}` is not one of {}", STATUSES.join(", ")),
        ));
    }
    let ws = principal.workspace.clone();
    let found = state
        .store
        .write(1, move |conn| {
            ideas::moderate(
                conn,
                &ws,
                &id,
                request.hidden,
                request.flagged,
                request.status.as_deref(),
            )
        })
        .await?;
    if !found {
        return Err(HttpError::new(Code::RouteNotFound, "no idea has this id"));
    }
    Ok(Json(json!({"success": true})))
}
