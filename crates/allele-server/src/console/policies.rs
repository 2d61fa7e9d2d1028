//! `/policies`: the active policy and its source, an editor that runs the
//! same check as `PUT /v1/policies` (errors inline with line and column), a
//! line diff against the active version, publish, and rollback to any
//! earlier version.

use super::{Chrome, Console, render, time_text};
use crate::AppState;
use crate::error::HttpError;
use allele_engine::Diagnostic;
use allele_store::bundles;
use allele_store::console::PolicyVersion;
use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use similar::{ChangeTag, TextDiff};
use std::sync::Arc;

/// One line of the diff: `+`, `-` or ` `, and the line's text.
pub struct DiffLine {
    pub sign: char,
    pub class: &'static str,
    pub text: String,
}

/// A diagnostic as the page shows it.
pub struct Problem {
    pub place: String,
    pub message: String,
}

impl From<&Diagnostic> for Problem {
    /// Expression errors count lines and columns inside the expression;
    /// the place says so, naming the action and field it sits in.
    fn from(d: &Diagnostic) -> Problem {
        let position = match (d.line, d.column) {
            (Some(line), Some(column)) => Some(format!("line {line}, column {column}")),
            (Some(line), None) => Some(format!("line {line}")),
            _ => None,
        };
        let place = match (&d.action, &d.field, position) {
            (Some(action), Some(field), Some(position)) => {
                format!("{field} of {action}, {position}")
            }
            (_, _, Some(position)) => position,
            (Some(action), _, None) => format!("action {action}"),
            _ => String::new(),
        };
        Problem {
            place,
            message: d.message.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "policies.html")]
struct PoliciesPage {
    page: Chrome,
    active_version: Option<u64>,
    active_source: String,
    draft: String,
    notice: Option<String>,
    checked: bool,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    diff: Vec<DiffLine>,
    versions: Vec<(PolicyVersion, String)>,
}

#[derive(Deserialize, Default)]
pub struct Notice {
    published: Option<u64>,
    activated: Option<u64>,
}

fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|change| {
            let (sign, class) = match change.tag() {
                ChangeTag::Delete => ('-', "del"),
                ChangeTag::Insert => ('+', "add"),
                ChangeTag::Equal => (' ', "same"),
            };
            DiffLine {
                sign,
                class,
                text: change.value().trim_end_matches(['\n', '\r']).to_string(),
            }
        })
        .collect()
}

async fn base_page(state: &AppState, console: &Console) -> Result<PoliciesPage, HttpError> {
    let ws = console.workspace.clone();
    let (active, versions) = state
        .store
        .read(move |conn| {
            Ok((
                bundles::active(conn, &ws)?,
                allele_store::console::policy_versions(conn, &ws)?,
            ))
        })
        .await?;
    let active_source = active
        .as_ref()
        .map(|b| b.source.clone())
        .unwrap_or_default();
    Ok(PoliciesPage {
        page: console.chrome("Policies", "/policies"),
        active_version: active.map(|b| b.version),
        draft: active_source.clone(),
        active_source,
        notice: None,
        checked: false,
        errors: Vec::new(),
        warnings: Vec::new(),
        diff: Vec::new(),
        versions: versions
            .into_iter()
            .map(|v| {
                let when = time_text(v.created_at);
                (v, when)
            })
            .collect(),
    })
}

pub async fn policies(
    State(state): State<Arc<AppState>>,
    console: Console,
    Query(notice): Query<Notice>,
) -> Result<Response, HttpError> {
    let mut page = base_page(&state, &console).await?;
    page.notice = match (notice.published, notice.activated) {
        (Some(version), _) => Some(format!("Published version {version}; it is active.")),
        (None, Some(version)) => Some(format!("Version {version} is active again.")),
        _ => None,
    };
    render(&page)
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source: String,
    /// `check` (default) or `publish`.
    #[serde(default)]
    intent: String,
}

/// `POST /policies`: check the draft (and show the diff), or publish it.
pub async fn post_policy(
    State(state): State<Arc<AppState>>,
    console: Console,
    headers: HeaderMap,
    Form(form): Form<PolicyForm>,
) -> Result<Response, HttpError> {
    console.check_csrf(&headers, &form.csrf)?;
    // Browsers send textarea line ends as CRLF.
    let source = form.source.replace("\r\n", "\n");
    let mut page = base_page(&state, &console).await?;
    page.diff = diff_lines(&page.active_source, &source);
    page.draft = source.clone();
    page.checked = true;
    if form.intent == "publish" {
        let mut api = console.api_headers();
        api.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml"),
        );
        match crate::bundles::publish(State(state), api, Bytes::from(source)).await {
            Ok(axum::Json(answer)) => {
                let version = answer["version"].as_u64().unwrap_or_default();
                return Ok(Redirect::to(&format!("/policies?published={version}")).into_response());
            }
            Err(err) => {
                page.errors = problems_of(&err);
                return render(&page);
            }
        }
    }
    let ws = console.workspace.clone();
    let known = state
        .store
        .read(move |conn| bundles::known_traits(conn, &ws))
        .await?;
    match allele_engine::check(&source, &known) {
        Ok(report) => page.warnings = report.warnings.iter().map(Problem::from).collect(),
        Err(errors) => page.errors = errors.iter().map(Problem::from).collect(),
    }
    render(&page)
}

/// The diagnostics an API error carries, or its message alone.
fn problems_of(err: &HttpError) -> Vec<Problem> {
    let diagnostics: Vec<Diagnostic> = err
        .0
        .errors
        .as_deref()
        .and_then(|value| serde_json::from_value(value.clone()).ok())
        .unwrap_or_default();
    if diagnostics.is_empty() {
        return vec![Problem {
            place: String::new(),
            message: err.0.message.clone(),
        }];
    }
    diagnostics.iter().map(Problem::from).collect()
}

#[derive(Deserialize)]
pub struct ActivateForm {
    #[serde(default)]
    csrf: String,
    version: String,
}

/// `POST /policies/activate`: roll back (or forward) to a version.
pub async fn activate(
    State(state): State<Arc<AppState>>,
    console: Console,
    headers: HeaderMap,
    Form(form): Form<ActivateForm>,
) -> Result<Response, HttpError> {
    console.check_csrf(&headers, &form.csrf)?;
    let answer =
        crate::bundles::activate(State(state), Path(form.version), console.api_headers()).await?;
    let version = answer.0["version"].as_u64().unwrap_or_default();
    Ok(Redirect::to(&format!("/policies?activated={version}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_marks_removed_and_added_lines() {
        let lines = diff_lines("a: 1\nb: 2\n", "a: 1\nb: 3\n");
        let signs: String = lines.iter().map(|l| l.sign).collect();
        assert_eq!(signs, " -+");
        assert_eq!(lines.last().map(|l| l.text.as_str()), Some("b: 3"));
    }
}
