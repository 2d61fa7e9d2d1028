//! `/learning`: where context changes an action's results (the
//! heterogeneity report, cells with intervals and q-values) and the rule
//! changes it proposes, each as a diff with its off-policy score. A
//! proposal goes to the policy editor to be reviewed, or is accepted at once
//! (published as the next version) — both through `POST /policies`, so the
//! same check, CSRF token and rollback apply.

use super::{Chrome, Console, given, message_of, render};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Deserialize, Default)]
pub struct LearningForm {
    action: Option<String>,
    min_n: Option<String>,
}

pub struct CellRow {
    pub feature: String,
    pub value: String,
    pub n: String,
    pub rate: String,
    pub rest_rate: String,
    pub difference: String,
    pub interval: String,
    pub q: String,
    pub significant: bool,
}

pub struct ProposalRow {
    pub summary: String,
    pub q: String,
    pub snips: String,
    pub gain: String,
    pub diff: String,
    pub policy: String,
}

#[derive(Template)]
#[template(path = "learning.html")]
struct LearningPage {
    page: Chrome,
    action: String,
    min_n: String,
    actions: Vec<String>,
    problem: Option<String>,
    summary: Option<String>,
    cells: Vec<CellRow>,
    proposals: Vec<ProposalRow>,
}

fn n4(value: &Value) -> String {
    value
        .as_f64()
        .map(|v| format!("{v:.4}"))
        .unwrap_or_else(|| "–".into())
}

fn e2(value: &Value) -> String {
    value
        .as_f64()
        .map(|v| format!("{v:.2e}"))
        .unwrap_or_else(|| "–".into())
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string())
}

pub async fn learning(
    State(state): State<Arc<AppState>>,
    console: Console,
    Query(form): Query<LearningForm>,
) -> Result<Response, crate::error::HttpError> {
    let mut page = LearningPage {
        page: console.chrome("Learning", "/learning"),
        action: given(&form.action).unwrap_or_default(),
        min_n: given(&form.min_n).unwrap_or_else(|| "30".into()),
        actions: Vec::new(),
        problem: None,
        summary: None,
        cells: Vec::new(),
        proposals: Vec::new(),
    };
    if let Some(active) = state.active_bundle(&console.workspace).await? {
        page.actions = active
            .bundle
            .doc()
            .actions
            .iter()
            .map(|a| a.id.clone())
            .collect();
    }
    if page.action.is_empty() {
        return render(&page);
    }
    let params = serde_json::from_value(json!({
        "action": page.action,
        "min_n": page.min_n.parse::<u64>().unwrap_or(30),
    }))
    .map_err(|e| crate::error::HttpError::new(allele_types::Code::Internal, e.to_string()))?;
    let report = match crate::learning::heterogeneity(
        State(state.clone()),
        Query(params),
        console.api_headers(),
    )
    .await
    {
        Ok(report) => report.0,
        Err(err) => {
            page.problem = Some(message_of(&err));
            return render(&page);
        }
    };
    page.summary = Some(format!(
        "{} decisions offered `{}` first; outcome rate {}.",
        report["decisions"],
        page.action,
        n4(&report["rate"])
    ));
    for cell in report["cells"].as_array().into_iter().flatten() {
        let interval = cell["interval"]
            .as_array()
            .map(|pair| format!("[{}, {}]", n4(&pair[0]), n4(&pair[1])))
            .unwrap_or_else(|| "–".into());
        page.cells.push(CellRow {
            feature: text(&cell["feature"]),
            value: text(&cell["value"]),
            n: cell["n"].to_string(),
            rate: n4(&cell["rate"]),
            rest_rate: n4(&cell["rest_rate"]),
            difference: n4(&cell["difference"]),
            interval,
            q: e2(&cell["q"]),
            significant: cell["significant"].as_bool().unwrap_or(false),
        });
    }
    for proposal in report["proposals"].as_array().into_iter().flatten() {
        page.proposals.push(ProposalRow {
            summary: text(&proposal["summary"]),
            q: e2(&proposal["q"]),
            snips: n4(&proposal["ope"]["snips"]["estimate"]),
            gain: n4(&proposal["snips_gain"]),
            diff: text(&proposal["diff"]),
            policy: text(&proposal["policy"]),
        });
    }
    render(&page)
}
