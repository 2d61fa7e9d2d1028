//! The marketer's console: server-rendered HTML (askama templates under
//! `templates/`) that works without JavaScript; htmx boosts links and forms
//! and uPlot draws time series from the tables the pages already carry.
//!
//! Login with an admin key opens a session (an `HttpOnly`, `SameSite=Strict`
//! cookie); every page needs it (no session → `/login`). Every state-changing
//! form is a same-origin POST carrying the session's CSRF token. Pages reuse
//! the JSON API's handlers: the session keeps the admin key it was opened
//! with and calls them with it, so the console can never do more than that
//! key, and a revoked key closes the console too.

mod assets;
mod charts;
mod decisions;
mod edges;
mod experiments;
mod ideas;
mod learning;
mod overview;
mod policies;
mod privacy;
mod profiles;
mod reports;
mod segments;

pub use assets::asset;
pub use decisions::decisions;
pub use edges::edges;
pub use experiments::experiments;
pub use ideas::{ideas, moderate};
pub use learning::learning;
pub use overview::overview;
pub use policies::{activate, policies, post_policy};
pub use privacy::privacy;
pub use profiles::{profiles, unmerge};
pub use reports::{attribution, funnels, listening};
pub use segments::segments;

use crate::AppState;
use crate::error::HttpError;
use allele_store::{Role, now_ms};
use allele_types::Code;
use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CONSOLE_COOKIE: &str = "allele_console";
const SESSION_MS: i64 = 8 * 3_600_000;

/// One open console session.
#[derive(Clone)]
struct Session {
    workspace: String,
    /// The admin key the session was opened with; API handlers get it.
    key: String,
    /// Sent back with every state-changing form.
    csrf: String,
    expires: i64,
}

/// Console sessions by random id. In memory: a restart logs marketers out,
/// which is the safe direction.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
}

fn random_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == CONSOLE_COOKIE).then(|| value.to_string())
    })
}

/// The logged-in marketer, extracted from the session cookie; without a
/// live session the request is answered with a redirect to `/login`.
pub struct Console {
    pub workspace: String,
    key: String,
    csrf: String,
}

impl FromRequestParts<Arc<AppState>> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let found = session_id(&parts.headers).and_then(|id| {
            let live = state.sessions.live.lock().ok()?;
            live.get(&id).filter(|s| s.expires > now_ms()).cloned()
        });
        match found {
            Some(session) => Ok(Console {
                workspace: session.workspace,
                key: session.key,
                csrf: session.csrf,
            }),
            None => Err(Redirect::to("/login").into_response()),
        }
    }
}

impl Console {
    /// Headers that authenticate a call to a JSON API handler as this
    /// session's admin key.
    pub fn api_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", self.key)) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    /// Refuse a state-changing post that lacks this session's token or
    /// comes from another site.
    pub fn check_csrf(&self, headers: &HeaderMap, token: &str) -> Result<(), HttpError> {
        let matches = token.len() == self.csrf.len()
            && token
                .bytes()
                .zip(self.csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !matches || !crate::portal::same_origin(headers) {
            return Err(HttpError::new(
                Code::CsrfRejected,
                "the form was not posted from this console session; reload the page and try again",
            ));
        }
        Ok(())
    }

    /// What every page's layout needs.
    pub fn chrome(&self, title: &str, current: &'static str) -> Chrome {
        Chrome {
            title: title.to_string(),
            current,
            csrf: self.csrf.clone(),
            logged_in: true,
        }
    }
}

/// The shared layout's fields: title, which nav entry is current, the CSRF
/// token for the logout form.
pub struct Chrome {
    pub title: String,
    pub current: &'static str,
    pub csrf: String,
    pub logged_in: bool,
}

/// The navigation: one real link per page.
pub const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/profiles", "Profiles"),
    ("/segments", "Segments"),
    ("/policies", "Policies"),
    ("/decisions", "Decisions"),
    ("/experiments", "Experiments"),
    ("/learning", "Learning"),
    ("/edges", "Edges"),
    ("/attribution", "Attribution"),
    ("/funnels", "Funnels"),
    ("/listening", "Listening"),
    ("/ideas", "Ideas"),
    ("/privacy", "Consent & access"),
];

/// Render a template as a page with headers that keep it out of caches and
/// frames and keep inline script from running.
pub fn render(template: &impl Template) -> Result<Response, HttpError> {
    let body = template
        .render()
        .map_err(|err| HttpError::new(Code::Internal, format!("page rendering failed: {err}")))?;
    let mut response = Html(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// A report that could not be computed is shown on the page, not as a
/// JSON error: the form stays to correct it.
pub fn message_of(err: &HttpError) -> String {
    err.0.message.clone()
}

/// An empty form field means "not given".
pub fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Milliseconds since the epoch as an RFC 3339 UTC time to the second.
pub fn time_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: Chrome,
}

/// `GET /login`: the form.
pub async fn login_form() -> Result<Response, HttpError> {
    render(&LoginPage {
        page: Chrome {
            title: "Log in".into(),
            current: "",
            csrf: String::new(),
            logged_in: false,
        },
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    key: String,
}

/// `POST /login`: an admin key (and nothing else) opens a session. There is
/// no session yet to hold a token, so login CSRF is refused by origin.
pub async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, HttpError> {
    if !crate::portal::same_origin(&headers) {
        return Err(HttpError::new(
            Code::CsrfRejected,
            "cross-site form posts are refused",
        ));
    }
    let principal = state.principal(&form.key).await?;
    if principal.role != Role::Admin {
        return Err(HttpError::new(
            Code::WrongRole,
            "only admin keys open the console",
        ));
    }
    let id = random_token() + &random_token();
    if let Ok(mut live) = state.sessions.live.lock() {
        live.retain(|_, session| session.expires > now_ms());
        live.insert(
            id.clone(),
            Session {
                workspace: principal.workspace,
                key: form.key,
                csrf: random_token(),
                expires: now_ms() + SESSION_MS,
            },
        );
    }
    let mut response = Redirect::to("/").into_response();
    let cookie = format!(
        "{CONSOLE_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_MS / 1000
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: end the session.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    console: Console,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, HttpError> {
    console.check_csrf(&headers, &form.csrf)?;
    if let (Some(id), Ok(mut live)) = (session_id(&headers), state.sessions.live.lock()) {
        live.remove(&id);
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("allele_console=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}
