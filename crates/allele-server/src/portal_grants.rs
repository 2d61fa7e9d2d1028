//! The portal's grants, earnings and intents sections, and their form posts.
//! Plain HTML forms (no JavaScript); every post passes the same-origin check.

use crate::AppState;
use crate::customer::Customer;
use crate::error::HttpError;
use crate::grants::{grant_json, rfc3339, totals};
use crate::portal::{escape, same_origin};
use allele_privacy::grants::Price;
use allele_privacy::intents::{self, Audience, Intent};
use allele_store::grants as store;
use allele_store::now_ms;
use allele_types::Code;
use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::Arc;

fn money(amount: u64, currency: &str) -> String {
    format!("{}.{:02} {}", amount / 100, amount % 100, escape(currency))
}

/// The HTML of the three sections for `customer`.
pub async fn sections(state: &AppState, customer: &Customer) -> Result<String, HttpError> {
    let root = customer.root.clone();
    let (grants, settlements, stored_intents) = state
        .store
        .read(move |conn| {
            Ok((
                store::grants(conn, &root)?,
                store::settlements(conn, &root)?,
                store::intents(conn, &root)?,
            ))
        })
        .await?;
    let now = now_ms();
    let mut rows = String::new();
    for stored in grants.iter().rev() {
        let view = grant_json(stored, now);
        let status = view["status"].as_str().unwrap_or_default();
        let earned: u64 = settlements
            .iter()
            .filter(|s| s.grant_id == stored.grant.id)
            .map(|s| s.amount)
            .sum();
        let price = stored.grant.price.as_ref().map_or("free".to_string(), |p| {
            format!("{} per read", money(p.amount, &p.currency))
        });
        let earned = stored
            .grant
            .price
            .as_ref()
            .map_or(String::new(), |p| money(earned, &p.currency));
        let action = if status == "active" {
            format!(
                "<form method=\"post\" action=\"/me/grants/withdraw\"><input type=\"hidden\" name=\"id\" value=\"{}\">\
                 <button>Withdraw</button></form>",
                escape(&stored.grant.id)
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr><td>{grantee}</td><td>{fields}</td><td>{purpose}</td><td>{expires}</td><td>{price}</td><td>{earned}</td><td>{status}</td><td>{action}</td></tr>",
            grantee = escape(&stored.grant.grantee),
            fields = escape(&stored.grant.fields.join(", ")),
            purpose = escape(&stored.grant.purpose),
            expires = escape(&rfc3339(stored.grant.expires_at)),
            status = escape(status),
        ));
    }
    if rows.is_empty() {
        rows.push_str(
            "<tr><td colspan=\"8\">You have granted nobody access to your data.</td></tr>",
        );
    }
    let total: Vec<String> = totals(&settlements)
        .iter()
        .map(|t| {
            money(
                t["amount"].as_u64().unwrap_or_default(),
                t["currency"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let total = if total.is_empty() {
        "nothing yet".to_string()
    } else {
        total.join(", ")
    };
    let mut intent_rows = String::new();
    for intent in crate::intents::parse(stored_intents.as_deref()) {
        let audience: Vec<String> = intent
            .visible_to
            .iter()
            .map(|a| format!("{} ({})", a.grantee, a.purpose))
            .collect();
        intent_rows.push_str(&format!(
            "<tr><td>{want}</td><td>{until}</td><td>{audience}</td><td><form method=\"post\" action=\"/me/intents\">\
             <input type=\"hidden\" name=\"remove\" value=\"{id}\"><button>Remove</button></form></td></tr>",
            want = escape(&intent.want),
            until = escape(&intent.until),
            audience = escape(&if audience.is_empty() { "only you".to_string() } else { audience.join(", ") }),
            id = escape(&intent.id),
        ));
    }
    if intent_rows.is_empty() {
        intent_rows.push_str("<tr><td colspan=\"4\">No intents stated.</td></tr>");
    }
    Ok(format!(
        "<h2 id=\"grants\">Grants</h2><p>Who may read which of your data, for what, until when, and at what price.</p>\
         <table><thead><tr><th>Grantee</th><th>Fields</th><th>Purpose</th><th>Until</th><th>Price</th><th>Earned</th><th>Status</th><th>Change</th></tr></thead>\
         <tbody>{rows}</tbody></table>\
         <h3>Grant access</h3><form method=\"post\" action=\"/me/grants\">\
         <label>Grantee <input name=\"grantee\" required></label> <label>Fields (comma-separated) <input name=\"fields\" required></label> \
         <label>Purpose <input name=\"purpose\" value=\"dpv:CommercialResearch\" required></label> \
         <label>Until <input type=\"date\" name=\"until\" required></label> \
         <label>Price per read (cents) <input type=\"number\" name=\"price\" min=\"0\" value=\"0\"></label> \
         <label>Currency <input name=\"currency\" value=\"EUR\" size=\"3\"></label> <button>Grant</button></form>\
         <h2 id=\"earnings\">Money earned</h2><p>Total: <strong>{total}</strong> from {count} paid reads (<a href=\"/v1/me/earnings\">ledger</a>).</p>\
         <h2 id=\"intents\">What you want</h2><table><thead><tr><th>Want</th><th>Until</th><th>Visible to</th><th>Change</th></tr></thead><tbody>{intent_rows}</tbody></table>\
         <h3>State an intent</h3><form method=\"post\" action=\"/me/intents\">\
         <label>I want <input name=\"want\" required></label> <label>Until <input type=\"date\" name=\"until\" required></label> \
         <label>Visible to <input name=\"grantee\" placeholder=\"self, a grantee, or *\"></label> \
         <label>For <input name=\"purpose\" value=\"dpv:ServicePersonalisation\"></label> <button>Add</button></form>",
        count = settlements.len(),
    ))
}

fn cross_site() -> HttpError {
    HttpError::new(Code::WrongRole, "cross-site form posts are refused")
}

/// A date from `<input type=date>` (`YYYY-MM-DD`, the end of that day in
/// UTC) or a full RFC 3339 time.
fn form_time(text: &str) -> Result<String, HttpError> {
    let text = text.trim();
    let full = if text.len() == 10 {
        format!("{text}T23:59:59Z")
    } else {
        text.to_string()
    };
    crate::grants::parse_time(&full, "until")?;
    Ok(full)
}

#[derive(Deserialize)]
pub struct GrantForm {
    grantee: String,
    fields: String,
    purpose: String,
    until: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    currency: String,
}

/// `POST /me/grants`: the same as `PUT /v1/me/grants`.
pub async fn post_grant(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<GrantForm>,
) -> Result<Response, HttpError> {
    if !same_origin(&headers) {
        return Err(cross_site());
    }
    // Authenticate before reading the form (me_put checks again).
    state.customer(&headers).await?;
    let amount: u64 = match form.price.trim() {
        "" => 0,
        text => text.parse().map_err(|_| {
            HttpError::new(
                Code::InvalidBody,
                format!("price `{text}` is not a whole number of cents"),
            )
        })?,
    };
    let body = serde_json::json!({
        "grantee": form.grantee.trim(),
        "fields": form.fields.split(',').map(str::trim).filter(|f| !f.is_empty()).collect::<Vec<_>>(),
        "purpose": form.purpose.trim(),
        "expires_at": form_time(&form.until)?,
        "price": (amount > 0).then(|| Price { amount, currency: form.currency.trim().to_uppercase() }),
    });
    let bytes = axum::body::Bytes::from(body.to_string());
    let _stored = crate::grants::me_put(State(state), headers, bytes).await?;
    Ok(Redirect::to("/me#grants").into_response())
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    id: String,
}

/// `POST /me/grants/withdraw`: the same as `DELETE /v1/me/grants/{id}`.
pub async fn post_withdraw(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<WithdrawForm>,
) -> Result<Response, HttpError> {
    if !same_origin(&headers) {
        return Err(cross_site());
    }
    let customer = state.customer(&headers).await?;
    let _withdrawn = crate::grants::withdraw(&state, &customer.root, form.id).await?;
    Ok(Redirect::to("/me#grants").into_response())
}

#[derive(Deserialize)]
pub struct IntentForm {
    #[serde(default)]
    remove: Option<String>,
    #[serde(default)]
    want: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    grantee: String,
    #[serde(default)]
    purpose: String,
}

/// `POST /me/intents`: add one intent, or remove one by id.
pub async fn post_intent(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<IntentForm>,
) -> Result<Response, HttpError> {
    if !same_origin(&headers) {
        return Err(cross_site());
    }
    let customer = state.customer(&headers).await?;
    let root = customer.root.clone();
    let stored = state
        .store
        .read(move |conn| store::intents(conn, &root))
        .await?;
    let mut list = crate::intents::parse(stored.as_deref());
    if let Some(id) = form.remove {
        list.retain(|intent| intent.id != id);
    } else {
        let grantee = form.grantee.trim();
        list.push(Intent {
            id: String::new(),
            want: form.want.trim().to_string(),
            category: None,
            max_price: None,
            until: form_time(&form.until)?,
            visible_to: if grantee.is_empty() {
                Vec::new()
            } else {
                vec![Audience {
                    grantee: grantee.to_string(),
                    purpose: form.purpose.trim().to_string(),
                }]
            },
        });
    }
    intents::validate(&mut list, || allele_store::identity::new_id("intent_"))
        .map_err(|e| HttpError::new(Code::InvalidBody, e.to_string()))?;
    crate::intents::store_intents(&state, &customer.workspace, &customer.root, &list).await?;
    Ok(Redirect::to("/me#intents").into_response())
}
