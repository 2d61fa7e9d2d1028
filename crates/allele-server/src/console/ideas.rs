//! `GET /ideas`: the ideas and reviews board as moderators see it (every
//! idea, ranked); `POST /ideas/moderate` hides, flags and sets the status.

use super::{Chrome, Console, render, time_text};
use crate::AppState;
use crate::error::HttpError;
use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub const STATUSES: &[&str] = &["open", "planned", "shipped", "declined"];

pub struct IdeaRow {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub status: String,
    pub hidden: bool,
    pub flagged: bool,
    pub up: String,
    pub votes: String,
    pub comments: String,
    pub score: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "ideas.html")]
struct IdeasPage {
    page: Chrome,
    total: String,
    by_status: Vec<(String, String)>,
    ideas: Vec<IdeaRow>,
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn ideas(
    State(state): State<Arc<AppState>>,
    console: Console,
) -> Result<Response, HttpError> {
    let report = crate::ideas::report(State(state), console.api_headers())
        .await?
        .0;
    let by_status = STATUSES
        .iter()
        .map(|s| ((*s).to_string(), text(&report["by_status"][*s])))
        .collect();
    let ideas = report["ideas"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|idea| IdeaRow {
            id: text(&idea["id"]),
            kind: text(&idea["kind"]),
            title: text(&idea["title"]),
            body: text(&idea["body"]),
            status: text(&idea["status"]),
            hidden: idea["hidden"].as_bool().unwrap_or(false),
            flagged: idea["flagged"].as_bool().unwrap_or(false),
            up: text(&idea["up"]),
            votes: text(&idea["votes"]),
            comments: text(&idea["comments"]),
            score: idea["score"]
                .as_f64()
                .map(|s| format!("{s:.3}"))
                .unwrap_or_default(),
            created: time_text(idea["created_at"].as_i64().unwrap_or_default()),
        })
        .collect();
    render(&IdeasPage {
        page: console.chrome("Ideas", "/ideas"),
        total: text(&report["total"]),
        by_status,
        ideas,
    })
}

#[derive(Deserialize)]
pub struct ModerateForm {
    #[serde(default)]
    csrf: String,
    id: String,
    /// Checkboxes: present when ticked.
    hidden: Option<String>,
    flagged: Option<String>,
    status: String,
}

pub async fn moderate(
    State(state): State<Arc<AppState>>,
    console: Console,
    headers: HeaderMap,
    Form(form): Form<ModerateForm>,
) -> Result<Response, HttpError> {
    console.check_csrf(&headers, &form.csrf)?;
    let body = json!({
        "hidden": form.hidden.is_some(),
        "flagged": form.flagged.is_some(),
        "status": form.status,
    });
    let _moderated = crate::ideas::moderate(
        State(state),
        Path(form.id),
        console.api_headers(),
        Bytes::from(body.to_string()),
    )
    .await?;
    Ok(Redirect::to("/ideas").into_response())
}
