//! The marketer's console: server-rendered HTML that works without
//! JavaScript. Login with an admin key sets a session cookie; every page
//! needs it (no session → `/login`); every form post is same-origin only;
//! every customer-supplied string is escaped.

use crate::AppState;
use crate::error::HttpError;
use crate::portal::escape;
use allele_store::{Role, now_ms, read};
use allele_types::Code;
use allele_types::profile_ref::ProfileRef;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CONSOLE_COOKIE: &str = "allele_console";
const SESSION_MS: i64 = 8 * 3_600_000;

/// Console sessions: random id → (workspace, expiry). In memory: a restart
/// logs marketers out, which is the safe direction.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, (String, i64)>>,
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == CONSOLE_COOKIE).then(|| value.to_string())
    })
}

impl AppState {
    fn console_workspace(&self, headers: &HeaderMap) -> Option<String> {
        let id = session_id(headers)?;
        let live = self.sessions.live.lock().ok()?;
        let (ws, expires) = live.get(&id)?;
        (*expires > now_ms()).then(|| ws.clone())
    }
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · allele</title><style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem}}\
         nav a{{margin-right:1rem}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}}\
         .n{{font-size:1.6rem;font-weight:600}}pre{{white-space:pre-wrap;word-break:break-word}}</style></head><body>\
         <nav><a href=\"/\">Overview</a><a href=\"/profiles\">Profiles</a><a href=\"/docs/errors\">Errors</a></nav>{body}</body></html>",
        title = escape(title)
    ))
}

/// `GET /login`: the form.
pub async fn login_form() -> Html<String> {
    page(
        "Log in",
        "<h1>Log in</h1><form method=\"post\" action=\"/login\"><label>Admin key <input name=\"key\" type=\"password\" autocomplete=\"off\"></label> <button>Log in</button></form>",
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    key: String,
}

/// `POST /login`: an admin key (and nothing else) opens a session.
pub async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, HttpError> {
    if !crate::portal::same_origin(&headers) {
        return Err(HttpError::new(
            Code::WrongRole,
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
    let id = allele_store::identity::new_id("") + &format!("{:032x}", rand::random::<u128>());
    if let Ok(mut live) = state.sessions.live.lock() {
        live.retain(|_, (_, expires)| *expires > now_ms());
        live.insert(id.clone(), (principal.workspace, now_ms() + SESSION_MS));
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

/// `GET /`: the overview.
pub async fn overview(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let Some(ws) = state.console_workspace(&headers) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let counts = state
        .store
        .read(move |conn| {
            let count = |sql: &str| conn.query_row(sql, [&ws], |r| r.get::<_, i64>(0));
            Ok([
                ("events", count("SELECT COUNT(*) FROM events WHERE workspace_id = ?1")?),
                ("profiles", count("SELECT COUNT(*) FROM profiles WHERE workspace_id = ?1 AND merged_into IS NULL")?),
                ("decisions", count("SELECT COUNT(*) FROM decisions WHERE workspace_id = ?1")?),
                ("outcomes", count("SELECT COUNT(*) FROM outcomes WHERE workspace_id = ?1")?),
                ("consent records", count("SELECT COUNT(*) FROM consents WHERE workspace_id = ?1")?),
            ])
        })
        .await?;
    let mut cells = String::new();
    for (label, value) in counts {
        cells.push_str(&format!(
            "<tr><th>{label}</th><td class=\"n\">{value}</td></tr>"
        ));
    }
    let body = format!("<h1>Overview</h1><table>{cells}</table>");
    Ok(page("Overview", &body).into_response())
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    q: Option<String>,
}

/// `GET /profiles?q=…`: find a profile by any identity and show it.
pub async fn profiles(
    State(state): State<Arc<AppState>>,
    Query(query): Query<SearchQuery>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let Some(ws) = state.console_workspace(&headers) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let q = query.q.unwrap_or_default();
    let form = format!(
        "<h1>Profiles</h1><form method=\"get\" action=\"/profiles\"><label>Find <input name=\"q\" value=\"{}\" placeholder=\"user_id:U, email:E, anonymous_id:A\"></label> <button>Search</button></form>",
        escape(&q)
    );
    if q.is_empty() {
        return Ok(page("Profiles", &form).into_response());
    }
    let reference = if q.contains(':') || q.starts_with("prf_") {
        q.clone()
    } else {
        format!("user_id:{q}")
    };
    let Some(profile_ref) = ProfileRef::parse(&reference) else {
        return Ok(page(
            "Profiles",
            &format!("{form}<p>Not a profile reference.</p>"),
        )
        .into_response());
    };
    let ws_read = ws.clone();
    let found = state
        .store
        .read(move |conn| {
            let Some(root) = read::resolve(conn, &ws_read, &profile_ref)? else {
                return Ok(None);
            };
            Ok(Some((
                read::profile(conn, &root)?,
                read::events(conn, &root, 50, None)?,
            )))
        })
        .await?;
    let Some((profile, events)) = found else {
        return Ok(page(
            "Profiles",
            &format!(
                "{form}<p>No profile answers to <code>{}</code>.</p>",
                escape(&q)
            ),
        )
        .into_response());
    };
    state
        .log_access(
            &ws,
            "console".into(),
            "read_profile",
            "dpv:ServiceProvision",
            profile.id.clone(),
        )
        .await?;
    let mut identities = String::new();
    for identity in &profile.identities {
        identities.push_str(&format!(
            "<li>{}: <code>{}</code></li>",
            escape(&identity.kind),
            escape(&identity.value)
        ));
    }
    let mut traits = String::new();
    for (key, value) in &profile.traits {
        traits.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(key),
            escape(&value.to_string())
        ));
    }
    let mut timeline = String::new();
    for event in &events.events {
        let name = event["event"]
            .as_str()
            .or(event["name"].as_str())
            .unwrap_or("");
        timeline.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            escape(event["timestamp"].as_str().unwrap_or("")),
            escape(event["type"].as_str().unwrap_or("")),
            escape(name),
            escape(&event["properties"].to_string()),
        ));
    }
    let body = format!(
        "{form}<h2>Profile <code>{id}</code></h2><p>{count} events · first seen {first} · last seen {last}</p>\
         <h3>Identities</h3><ul>{identities}</ul><h3>Traits</h3><table>{traits}</table>\
         <h3>Timeline</h3><table><thead><tr><th>When</th><th>Type</th><th>Event</th><th>Properties</th></tr></thead><tbody>{timeline}</tbody></table>",
        id = escape(&profile.id),
        count = profile.event_count,
        first = escape(profile.first_seen.as_deref().unwrap_or("")),
        last = escape(profile.last_seen.as_deref().unwrap_or("")),
    );
    Ok(page("Profile", &body).into_response())
}
