//! `/v1/profiles/{ref}`: the merged 360° view, its timeline, and unmerge.

use crate::AppState;
use crate::error::HttpError;
use allele_store::{Role, StoreError, read};
use allele_types::Code;
use allele_types::profile_ref::ProfileRef;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

const MAX_PAGE: usize = 1_000;
const DEFAULT_PAGE: usize = 100;

fn parse_ref(text: &str) -> Result<ProfileRef, HttpError> {
    ProfileRef::parse(text).ok_or_else(|| {
        HttpError::new(
            Code::InvalidRef,
            format!("`{text}` is not a profile reference; use `user_id:U`, `anonymous_id:A`, `email:E` or a profile id"),
        )
    })
}

pub(crate) async fn root(state: &AppState, ws: &str, text: &str) -> Result<String, HttpError> {
    let profile_ref = parse_ref(text)?;
    let ws = ws.to_string();
    state
        .store
        .read(move |conn| read::resolve(conn, &ws, &profile_ref))
        .await?
        .ok_or_else(|| {
            HttpError::new(
                Code::ProfileNotFound,
                format!("no profile answers to `{text}`"),
            )
        })
}

pub async fn get_profile(
    State(state): State<Arc<AppState>>,
    Path(reference): Path<String>,
    headers: HeaderMap,
) -> Result<Json<read::ProfileView>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let root = root(&state, &principal.workspace, &reference).await?;
    state
        .log_access(
            &principal.workspace,
            principal.actor(),
            "read_profile",
            "dpv:ServiceProvision",
            root.clone(),
        )
        .await?;
    let ws = principal.workspace.clone();
    let view = state
        .store
        .read(move |conn| {
            let mut view = read::profile(conn, &root)?;
            let engine = crate::decisions::engine_view(conn, &ws, &root, view.clone())?;
            view.segments = engine.segments;
            view.computed = engine.computed;
            Ok(view)
        })
        .await?;
    Ok(Json(view))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    limit: Option<String>,
    before: Option<String>,
}

pub async fn get_events(
    State(state): State<Arc<AppState>>,
    Path(reference): Path<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Json<read::EventPage>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let limit = match query.limit.as_deref() {
        None | Some("") => DEFAULT_PAGE,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(HttpError::new(
                    Code::InvalidQuery,
                    format!("`limit` must be an integer from 1 to {MAX_PAGE}, got `{text}`"),
                ));
            }
        },
    };
    let before = match query.before.as_deref() {
        None | Some("") => None,
        Some(text) => Some(read::decode_cursor(text).ok_or_else(|| {
            HttpError::new(
                Code::InvalidCursor,
                format!("`{text}` is not a cursor from this server"),
            )
        })?),
    };
    let root = root(&state, &principal.workspace, &reference).await?;
    state
        .log_access(
            &principal.workspace,
            principal.actor(),
            "read_events",
            "dpv:ServiceProvision",
            root.clone(),
        )
        .await?;
    let page = state
        .store
        .read(move |conn| read::events(conn, &root, limit, before))
        .await?;
    Ok(Json(page))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UnmergeBody {
    merge_id: Option<i64>,
}

/// Undo one merge: the ref's own merge when it names a merged-away profile,
/// else the newest merge into it; `{"merge_id"}` picks one explicitly.
pub async fn unmerge(
    State(state): State<Arc<AppState>>,
    Path(reference): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let request: UnmergeBody = if body.iter().all(u8::is_ascii_whitespace) {
        UnmergeBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|err| {
            HttpError::new(
                Code::InvalidBody,
                format!("unmerge body must be `{{\"merge_id\": n}}`: {err}"),
            )
        })?
    };
    let profile_ref = parse_ref(&reference)?;
    let outcome = state
        .store
        .write_resolving(&principal.workspace, 1, move |resolver| {
            let owner = read::resolve_owner(resolver.conn, resolver.ws, &profile_ref)?
                .ok_or(StoreError::ProfileNotFound)?;
            let merge_id = match request.merge_id {
                Some(id) => id,
                None => resolver.merge_to_undo(&owner)?.ok_or(StoreError::MergeNotFound)?,
            };
            let (from, into) = resolver.unmerge(merge_id)?;
            let into_root = resolver.root_of(&into)?.unwrap_or(into);
            Ok(json!({
                "merge_id": merge_id,
                "profiles": [read::profile(resolver.conn, &from)?, read::profile(resolver.conn, &into_root)?],
            }))
        })
        .await?;
    Ok(Json(outcome))
}
