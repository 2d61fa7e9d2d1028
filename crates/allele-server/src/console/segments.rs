//! `GET /segments`: every segment's CEL definition and, for the one picked,
//! its members right now (segments are evaluated when read, so a profile
//! that changed a moment ago is already in or out). Members link to their
//! 360° view; the full list pages through `GET /v1/segments/{id}/members`.

use super::{Chrome, Console, given, message_of, render};
use crate::AppState;
use crate::error::HttpError;
use crate::segments::MembersQuery;
use allele_store::segments;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

/// Members shown on the page.
const SHOWN: usize = 50;

#[derive(Deserialize)]
pub struct SegmentForm {
    id: Option<String>,
}

struct Member {
    id: String,
    user_id: String,
}

#[derive(Template)]
#[template(path = "segments.html")]
struct SegmentsPage {
    page: Chrome,
    segments: Vec<(String, String)>,
    picked: String,
    members: Vec<Member>,
    more: bool,
    problem: Option<String>,
}

pub async fn segments(
    State(state): State<Arc<AppState>>,
    console: Console,
    Query(form): Query<SegmentForm>,
) -> Result<Response, HttpError> {
    let ws = console.workspace.clone();
    let all = state
        .store
        .read(move |conn| segments::all(conn, &ws))
        .await?;
    let picked = given(&form.id).unwrap_or_default();
    let mut page = SegmentsPage {
        page: console.chrome("Segments", "/segments"),
        segments: all,
        picked: picked.clone(),
        members: Vec::new(),
        more: false,
        problem: None,
    };
    if !picked.is_empty() {
        let query = MembersQuery::first(SHOWN);
        match crate::segments::members(
            State(state.clone()),
            Path(picked),
            Query(query),
            console.api_headers(),
        )
        .await
        {
            Ok(answer) => {
                let answer = answer.0;
                page.more = !answer["next_after"].is_null();
                page.members = answer["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| Member {
                        id: m["id"].as_str().unwrap_or_default().to_string(),
                        user_id: m["user_id"].as_str().unwrap_or_default().to_string(),
                    })
                    .collect();
            }
            Err(err) => page.problem = Some(message_of(&err)),
        }
    }
    render(&page)
}
