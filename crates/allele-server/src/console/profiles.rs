//! `GET /profiles?q=…`: find a profile by any identity and show its 360°
//! view (identities, traits, computed traits, segments, consent, timeline,
//! merges); `POST /profiles/unmerge` undoes a merge.

use super::{Chrome, Console, render};
use crate::AppState;
use crate::error::HttpError;
use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    q: Option<String>,
}

pub struct EventRow {
    pub when: String,
    pub kind: String,
    pub name: String,
    pub body: String,
}

pub struct ConsentRow {
    pub purpose: String,
    pub channel: String,
    pub status: String,
    pub updated_at: String,
}

#[derive(Template)]
#[template(path = "profiles.html")]
struct ProfilesPage {
    page: Chrome,
    q: String,
    problem: Option<String>,
    profile: Option<allele_store::ProfileView>,
    traits: Vec<(String, String)>,
    computed: Vec<(String, String)>,
    consent: Vec<ConsentRow>,
    events: Vec<EventRow>,
}

/// A search term as a profile reference: typed refs and profile ids as
/// they are, a bare word as a user id.
fn reference_of(q: &str) -> String {
    if q.contains(':') || q.starts_with("prf_") {
        q.to_string()
    } else {
        format!("user_id:{q}")
    }
}

fn text_of(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub async fn profiles(
    State(state): State<Arc<AppState>>,
    console: Console,
    Query(query): Query<SearchQuery>,
) -> Result<Response, HttpError> {
    let q = query.q.unwrap_or_default().trim().to_string();
    let mut page = ProfilesPage {
        page: console.chrome("Profiles", "/profiles"),
        q: q.clone(),
        problem: None,
        profile: None,
        traits: Vec::new(),
        computed: Vec::new(),
        consent: Vec::new(),
        events: Vec::new(),
    };
    if q.is_empty() {
        return render(&page);
    }
    let reference = reference_of(&q);
    let found = crate::profiles::get_profile(
        State(state.clone()),
        Path(reference.clone()),
        console.api_headers(),
    )
    .await;
    let profile = match found {
        Ok(axum::Json(profile)) => profile,
        Err(err) if err.0.code == "profile_not_found" => {
            page.problem = Some(format!("No profile answers to {q}."));
            return render(&page);
        }
        Err(err) => {
            page.problem = Some(super::message_of(&err));
            return render(&page);
        }
    };
    let events = crate::profiles::get_events(
        State(state),
        Path(profile.id.clone()),
        Query(
            serde_json::from_value(serde_json::json!({"limit": "50"}))
                .map_err(|e| HttpError::new(allele_types::Code::Internal, e.to_string()))?,
        ),
        console.api_headers(),
    )
    .await?
    .0;
    page.traits = profile
        .traits
        .iter()
        .map(|(k, v)| (k.clone(), text_of(v)))
        .collect();
    page.computed = profile
        .computed
        .iter()
        .map(|(k, v)| (k.clone(), text_of(v)))
        .collect();
    for (purpose, channels) in &profile.consent {
        for (channel, record) in channels.as_object().into_iter().flatten() {
            page.consent.push(ConsentRow {
                purpose: purpose.clone(),
                channel: channel.clone(),
                status: text_of(&record["status"]),
                updated_at: text_of(&record["updated_at"]),
            });
        }
    }
    page.events = events
        .events
        .iter()
        .map(|event| EventRow {
            when: text_of(&event["timestamp"]),
            kind: text_of(&event["type"]),
            name: event["event"]
                .as_str()
                .or(event["name"].as_str())
                .unwrap_or("")
                .to_string(),
            body: if event["properties"].is_null() {
                event["traits"].to_string()
            } else {
                event["properties"].to_string()
            },
        })
        .collect();
    page.page.title = format!("Profile {}", profile.id);
    page.profile = Some(profile);
    render(&page)
}

#[derive(Deserialize)]
pub struct UnmergeForm {
    #[serde(default)]
    csrf: String,
    /// The merged-away profile whose merge is undone.
    reference: String,
    /// The search to return to.
    #[serde(default)]
    back: String,
}

pub async fn unmerge(
    State(state): State<Arc<AppState>>,
    console: Console,
    headers: HeaderMap,
    Form(form): Form<UnmergeForm>,
) -> Result<Response, HttpError> {
    console.check_csrf(&headers, &form.csrf)?;
    let _unmerged = crate::profiles::unmerge(
        State(state),
        Path(form.reference.clone()),
        console.api_headers(),
        Bytes::new(),
    )
    .await?;
    let back = if form.back.is_empty() {
        form.reference
    } else {
        form.back
    };
    let target = format!(
        "/profiles?q={}",
        utf8_percent_encode(&back, NON_ALPHANUMERIC)
    );
    Ok(Redirect::to(&target).into_response())
}
