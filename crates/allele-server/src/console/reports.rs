//! `GET /attribution`, `/funnels` and `/listening`: forms in front of the
//! JSON report handlers, answered as tables (and, for the daily sentiment
//! series, a chart drawn from its table).

use super::{Chrome, Console, given, message_of, render};
use crate::AppState;
use crate::error::HttpError;
use allele_types::Code;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;

/// A report handler's query parameters, built from the console's fields.
fn params<T: DeserializeOwned>(value: Value) -> Result<Query<T>, HttpError> {
    serde_json::from_value(value)
        .map(Query)
        .map_err(|e| HttpError::new(Code::Internal, e.to_string()))
}

fn f(value: &Value, digits: usize) -> String {
    value
        .as_f64()
        .map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

#[derive(Deserialize, Default)]
pub struct AttributionForm {
    conversion: Option<String>,
    model: Option<String>,
    value: Option<String>,
}

pub const MODELS: &[&str] = &["last", "first", "linear", "time_decay", "markov", "shapley"];

#[derive(Template)]
#[template(path = "attribution.html")]
struct AttributionPage {
    page: Chrome,
    conversion: String,
    model: String,
    value: String,
    problem: Option<String>,
    summary: Option<String>,
    /// channel, conversions credited, value credited
    rows: Vec<(String, String, String)>,
}

pub async fn attribution(
    State(state): State<Arc<AppState>>,
    console: Console,
    Query(form): Query<AttributionForm>,
) -> Result<Response, HttpError> {
    let mut page = AttributionPage {
        page: console.chrome("Attribution", "/attribution"),
        conversion: given(&form.conversion).unwrap_or_default(),
        model: given(&form.model).unwrap_or_else(|| "last".into()),
        value: given(&form.value).unwrap_or_default(),
        problem: None,
        summary: None,
        rows: Vec::new(),
    };
    if !page.conversion.is_empty() {
        let query = params(
            json!({"conversion": page.conversion, "model": page.model, "value": given(&form.value)}),
        )?;
        match crate::reports::attribution(State(state), query, console.api_headers()).await {
            Ok(axum::Json(report)) => {
                page.summary = Some(format!(
                    "{} conversions worth {:.2}; {} with no touch in the window.",
                    report.total_conversions, report.total_value, report.unattributed_conversions
                ));
                page.rows = report
                    .channels
                    .iter()
                    .map(|c| {
                        (
                            c.channel.clone(),
                            format!("{:.2}", c.conversions),
                            format!("{:.2}", c.value),
                        )
                    })
                    .collect();
            }
            Err(err) => page.problem = Some(message_of(&err)),
        }
    }
    render(&page)
}

#[derive(Deserialize, Default)]
pub struct FunnelForm {
    steps: Option<String>,
    window_hours: Option<String>,
    /// The paths report: where people go after (or came from before) this.
    step: Option<String>,
    direction: Option<String>,
}

#[derive(Template)]
#[template(path = "funnels.html")]
struct FunnelPage {
    page: Chrome,
    steps: String,
    window_hours: String,
    problem: Option<String>,
    /// step, people, conversion from previous, median minutes from first
    rows: Vec<(String, String, String, String)>,
    path_step: String,
    previous: bool,
    path_problem: Option<String>,
    /// sessions and occurrences of the step, then (step, count, share)
    path_totals: Option<(String, String)>,
    path_rows: Vec<(String, String, String)>,
}

pub async fn funnels(
    State(state): State<Arc<AppState>>,
    console: Console,
    Query(form): Query<FunnelForm>,
) -> Result<Response, HttpError> {
    let mut page = FunnelPage {
        page: console.chrome("Funnels", "/funnels"),
        steps: given(&form.steps).unwrap_or_default(),
        window_hours: given(&form.window_hours).unwrap_or_default(),
        problem: None,
        rows: Vec::new(),
        path_step: given(&form.step).unwrap_or_default(),
        previous: given(&form.direction).as_deref() == Some("previous"),
        path_problem: None,
        path_totals: None,
        path_rows: Vec::new(),
    };
    if !page.path_step.is_empty() {
        let direction = if page.previous { "previous" } else { "next" };
        let query = params(json!({"step": page.path_step, "direction": direction, "limit": 20}))?;
        match crate::paths::report(State(state.clone()), query, console.api_headers()).await {
            Ok(axum::Json(report)) => {
                page.path_totals = Some((
                    report["sessions"].to_string(),
                    report["occurrences"].to_string(),
                ));
                page.path_rows = report["steps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        (
                            s["step"].as_str().unwrap_or_default().to_string(),
                            s["count"].to_string(),
                            f(&s["share"], 3),
                        )
                    })
                    .collect();
            }
            Err(err) => page.path_problem = Some(message_of(&err)),
        }
    }
    if !page.steps.is_empty() {
        let window = match given(&form.window_hours) {
            None => None,
            Some(text) => match text.parse::<f64>() {
                Ok(hours) => Some(hours),
                Err(_) => {
                    page.problem =
                        Some(format!("The window must be a number of hours, not {text}."));
                    return render(&page);
                }
            },
        };
        let query = params(json!({"steps": page.steps, "window_hours": window}))?;
        match crate::funnel::funnel(State(state), query, console.api_headers()).await {
            Ok(axum::Json(report)) => {
                for step in report["steps"].as_array().into_iter().flatten() {
                    let minutes = step["median_ms_from_first_step"]
                        .as_f64()
                        .map(|ms| json!(ms / 60_000.0));
                    page.rows.push((
                        text(&step["step"]),
                        text(&step["people"]),
                        f(&step["conversion_from_previous"], 3),
                        f(&minutes.unwrap_or(Value::Null), 1),
                    ));
                }
            }
            Err(err) => page.problem = Some(message_of(&err)),
        }
    }
    render(&page)
}

#[derive(Deserialize, Default)]
pub struct ListeningForm {
    topic: Option<String>,
}

pub struct DayRow {
    pub x: i64,
    pub date: String,
    pub posts: String,
    pub mean: String,
    pub mean_raw: f64,
    pub positive: String,
    pub negative: String,
}

#[derive(Template)]
#[template(path = "listening.html")]
struct ListeningPage {
    page: Chrome,
    topic: String,
    problem: Option<String>,
    posts: String,
    mean: String,
    days: Vec<DayRow>,
    /// user id, score, reach
    people: Vec<(String, String, String)>,
}

pub async fn listening(
    State(state): State<Arc<AppState>>,
    console: Console,
    Query(form): Query<ListeningForm>,
) -> Result<Response, HttpError> {
    let topic = given(&form.topic);
    let mut page = ListeningPage {
        page: console.chrome("Listening", "/listening"),
        topic: topic.clone().unwrap_or_default(),
        problem: None,
        posts: String::new(),
        mean: String::new(),
        days: Vec::new(),
        people: Vec::new(),
    };
    let query = params(json!({"topic": topic}))?;
    match crate::listen_reports::sentiment(State(state.clone()), query, console.api_headers()).await
    {
        Ok(axum::Json(report)) => {
            page.posts = text(&report["posts"]);
            page.mean = f(&report["mean_compound"], 4);
            for day in report["days"].as_array().into_iter().flatten() {
                let date = text(&day["date"]);
                let x = jiff::civil::Date::strptime("%Y-%m-%d", &date)
                    .ok()
                    .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
                    .map(|z| z.timestamp().as_second())
                    .unwrap_or_default();
                page.days.push(DayRow {
                    x,
                    date,
                    posts: text(&day["posts"]),
                    mean: f(&day["mean_compound"], 4),
                    mean_raw: day["mean_compound"].as_f64().unwrap_or(0.0),
                    positive: text(&day["positive"]),
                    negative: text(&day["negative"]),
                });
            }
        }
        Err(err) => page.problem = Some(message_of(&err)),
    }
    let query = params(json!({"limit": 20}))?;
    match crate::listen_reports::influence(State(state), query, console.api_headers()).await {
        Ok(axum::Json(report)) => {
            for person in report["people"].as_array().into_iter().flatten() {
                page.people.push((
                    text(&person["user_id"]),
                    f(&person["score"], 4),
                    text(&person["reach"]),
                ));
            }
        }
        Err(err) => page.problem = Some(message_of(&err)),
    }
    render(&page)
}
