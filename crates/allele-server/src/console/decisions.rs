//! `GET /decisions?profile=…&action=…`: the newest decisions with what was
//! chosen, with which probability, whether the customer was held out, and
//! the explanation trace.

use super::{Chrome, Console, given, render, time_text};
use crate::AppState;
use crate::error::HttpError;
use allele_store::read;
use allele_types::profile_ref::ProfileRef;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

const SHOWN: usize = 50;

#[derive(Deserialize, Default)]
pub struct DecisionFilter {
    profile: Option<String>,
    action: Option<String>,
}

pub struct ChosenRow {
    pub action_id: String,
    pub score: String,
    pub propensity: String,
    pub probability: String,
}

pub struct TraceRow {
    pub action_id: String,
    pub stage: String,
    pub outcome: String,
    pub reason: String,
}

pub struct DecisionRow {
    pub id: String,
    pub when: String,
    pub profile_id: String,
    pub version: i64,
    pub holdout: bool,
    pub touchpoint: String,
    pub channel: String,
    pub chosen: Vec<ChosenRow>,
    pub trace: Vec<TraceRow>,
}

#[derive(Template)]
#[template(path = "decisions.html")]
struct DecisionsPage {
    page: Chrome,
    profile: String,
    action: String,
    problem: Option<String>,
    decisions: Vec<DecisionRow>,
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn number(value: &Value) -> String {
    value
        .as_f64()
        .map(|n| format!("{n:.4}"))
        .unwrap_or_default()
}

fn row_of(logged: allele_store::console::LoggedDecisionRow) -> DecisionRow {
    let result: Value = serde_json::from_str(&logged.result).unwrap_or(Value::Null);
    let request: Value = serde_json::from_str(&logged.request).unwrap_or(Value::Null);
    let list = |key: &str| result[key].as_array().cloned().unwrap_or_default();
    DecisionRow {
        id: logged.id,
        when: time_text(logged.at),
        profile_id: logged.profile_id.unwrap_or_default(),
        version: logged.bundle_version,
        holdout: logged.holdout,
        touchpoint: text(&request["touchpoint"]),
        channel: text(&request["channel"]),
        chosen: list("actions")
            .iter()
            .map(|a| ChosenRow {
                action_id: text(&a["action_id"]),
                score: number(&a["score"]),
                propensity: number(&a["propensity"]),
                probability: number(&a["probability"]),
            })
            .collect(),
        trace: list("trace")
            .iter()
            .map(|t| TraceRow {
                action_id: text(&t["action_id"]),
                stage: text(&t["stage"]),
                outcome: text(&t["outcome"]),
                reason: text(&t["reason"]),
            })
            .collect(),
    }
}

pub async fn decisions(
    State(state): State<Arc<AppState>>,
    console: Console,
    Query(filter): Query<DecisionFilter>,
) -> Result<Response, HttpError> {
    let (profile, action) = (given(&filter.profile), given(&filter.action));
    let mut page = DecisionsPage {
        page: console.chrome("Decisions", "/decisions"),
        profile: profile.clone().unwrap_or_default(),
        action: action.clone().unwrap_or_default(),
        problem: None,
        decisions: Vec::new(),
    };
    let reference = match &profile {
        None => None,
        Some(text) => match ProfileRef::parse(text) {
            Some(reference) => Some(reference),
            None => {
                page.problem = Some(format!(
                    "{text} is not a profile reference (user_id:U, email:E, anonymous_id:A or a profile id)."
                ));
                return render(&page);
            }
        },
    };
    let ws = console.workspace.clone();
    let found = state
        .store
        .read(move |conn| {
            let members = match reference {
                None => None,
                Some(reference) => match read::resolve(conn, &ws, &reference)? {
                    Some(root) => Some(read::members(conn, &root)?),
                    None => return Ok(None),
                },
            };
            Ok(Some(allele_store::console::recent_decisions(
                conn,
                &ws,
                members.as_deref(),
                action.as_deref(),
                SHOWN,
            )?))
        })
        .await?;
    match found {
        None => page.problem = Some(format!("No profile answers to {}.", page.profile)),
        Some(rows) => page.decisions = rows.into_iter().map(row_of).collect(),
    }
    render(&page)
}
