//! The customer's portal at `/me`: plain HTML that works without
//! JavaScript. `login_url` (single use) trades its code for a session
//! cookie; every form post is checked for same-origin (CSRF).

use crate::AppState;
use crate::customer::{Customer, SESSION_COOKIE, TOKEN_TTL_MS};
use crate::error::HttpError;
use allele_store::consent::{self, ConsentChange};
use allele_store::{now_ms, read};
use allele_types::Code;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::Arc;

/// Text for HTML: every customer-supplied string goes through here.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[derive(Deserialize)]
pub struct LoginQuery {
    code: String,
}

/// `GET /me/login?code=…`: spend the code, set the session cookie, go to `/me`.
pub async fn login(
    State(state): State<Arc<AppState>>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, HttpError> {
    let now = now_ms();
    let session = state
        .store
        .write(1, move |conn| {
            let Some((ws, profile)) = consent::redeem_login(conn, &query.code, now)? else {
                return Ok(None);
            };
            Ok(Some(consent::issue_token(
                conn,
                &ws,
                &profile,
                "bearer",
                now + TOKEN_TTL_MS,
            )?))
        })
        .await?;
    let Some(token) = session else {
        return Err(HttpError::new(
            Code::InvalidKey,
            "this login link is unknown, expired or already used",
        ));
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}",
        TOKEN_TTL_MS / 1000
    );
    let mut response = Redirect::to("/me").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Form posts must come from this origin: `Sec-Fetch-Site: same-origin`, or
/// an `Origin` whose host is ours. SameSite cookies alone are not enough.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host),
        _ => false,
    }
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ccc;padding:.4rem;text-align:left}}\
         button{{font:inherit}}.vh{{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}}\
         fieldset{{border:1px solid #ccc}}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    ))
}

async fn render(state: &AppState, customer: &Customer) -> Result<Html<String>, HttpError> {
    state
        .log_access(
            &customer.workspace,
            "customer".into(),
            "read_portal",
            "dpv:ServiceProvision",
            customer.root.clone(),
        )
        .await?;
    let root = customer.root.clone();
    let (ledger, profile, limits) = state
        .store
        .read(move |conn| {
            Ok((
                read::consent_ledger(conn, &root)?,
                read::profile(conn, &root)?,
                allele_store::bundles::customer_limits(conn, &root)?,
            ))
        })
        .await?;
    let limits = crate::portal_limits::render(&crate::portal_limits::parse_stored(limits));
    let mut latest: Vec<read::ConsentRecord> = Vec::new();
    for record in ledger {
        latest.retain(|r| !(r.purpose == record.purpose && r.channel == record.channel));
        latest.push(record);
    }
    let mut rows = String::new();
    for record in &latest {
        let flip = if record.status == "given" {
            "withdrawn"
        } else {
            "given"
        };
        let label = if record.status == "given" {
            "Withdraw"
        } else {
            "Give consent"
        };
        rows.push_str(&format!(
            "<tr><td>{purpose}</td><td>{channel}</td><td>{status}</td><td>{updated}</td><td><form method=\"post\" action=\"/me/consent\">\
             <input type=\"hidden\" name=\"purpose\" value=\"{purpose}\"><input type=\"hidden\" name=\"channel\" value=\"{channel}\">\
             <input type=\"hidden\" name=\"status\" value=\"{flip}\"><button>{label}<span class=\"vh\"> {purpose} on {channel}</span></button></form></td></tr>",
            purpose = escape(&record.purpose),
            channel = escape(&record.channel),
            status = escape(&record.status),
            updated = escape(&record.updated_at),
        ));
    }
    if rows.is_empty() {
        rows.push_str(
            "<tr><td colspan=\"5\">No consent recorded: nobody may market to you.</td></tr>",
        );
    }
    let grants = crate::portal_grants::sections(state, customer).await?;
    let body = format!(
        "<h1>Your data</h1><p>Profile <code>{id}</code> · {events} events held.</p>\
         <h2>Consent</h2><table><thead><tr><th>Purpose</th><th>Channel</th><th>Status</th><th>Since</th><th>Change</th></tr></thead><tbody>{rows}</tbody></table>\
         <h2>Give consent</h2><form method=\"post\" action=\"/me/consent\"><label>Purpose <input name=\"purpose\" value=\"dpv:DirectMarketing\" required></label> \
         <label>Channel <select name=\"channel\"><option>email</option><option>sms</option><option>push</option><option>web</option><option>app</option>\
         <option>in_store</option><option>call_centre</option></select></label> <input type=\"hidden\" name=\"status\" value=\"given\"><button>Give</button></form>\
         {limits}{grants}<h2>Your rights</h2><ul><li><a href=\"/v1/me/export\">Download everything held about you</a></li>\
         <li><a href=\"/v1/me/access-log\">See who read your data (verifiable log)</a></li></ul>\
         <h2>Erase</h2><form method=\"post\" action=\"/me/erase\"><p><label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> \
         I understand that erasure removes everything held about me and cannot be undone</label></p><button>Erase me</button></form>",
        id = escape(&profile.id),
        events = profile.event_count,
    );
    Ok(page("Your data", &body))
}

/// `GET /me`: the portal (needs the session cookie from `login_url`).
pub async fn me(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let customer = state.customer(&headers).await?;
    Ok(render(&state, &customer).await?.into_response())
}

#[derive(Deserialize)]
pub struct ConsentForm {
    purpose: String,
    channel: String,
    status: String,
}

/// `POST /me/consent` from the portal's forms.
pub async fn post_consent(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Result<Response, HttpError> {
    if !same_origin(&headers) {
        return Err(HttpError::new(
            Code::WrongRole,
            "cross-site form posts are refused",
        ));
    }
    let customer = state.customer(&headers).await?;
    let change = ConsentChange {
        purpose: form.purpose,
        channel: form.channel,
        status: form.status,
        evidence: Some("portal".into()),
    };
    change
        .validate()
        .map_err(|reason| HttpError::new(Code::InvalidBody, reason))?;
    let (ws, root) = (customer.workspace.clone(), customer.root.clone());
    state
        .store
        .write(1, move |conn| {
            consent::record(conn, &ws, &root, &change, "customer", now_ms())
        })
        .await?;
    Ok(Redirect::to("/me").into_response())
}

/// `POST /me/erase` from the portal: the same erasure as `DELETE /v1/me`.
pub async fn post_erase(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, HttpError> {
    if !same_origin(&headers) {
        return Err(HttpError::new(
            Code::WrongRole,
            "cross-site form posts are refused",
        ));
    }
    // Erasure cannot be undone: one stray click must not do it.
    let confirmed = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .is_ok_and(|pairs| pairs.iter().any(|(k, v)| k == "confirm" && v == "yes"));
    if !confirmed {
        return Err(HttpError::new(
            Code::InvalidBody,
            "tick the box confirming that erasure cannot be undone",
        ));
    }
    let receipt = crate::customer::me_erase(State(state), headers).await?;
    let text = serde_json::to_string_pretty(&receipt.0).unwrap_or_default();
    let body = format!(
        "<h1>Erased</h1><p>Everything held about you was removed. Keep this signed receipt:</p><pre>{}</pre>",
        escape(&text)
    );
    Ok((StatusCode::OK, page("Erased", &body)).into_response())
}
