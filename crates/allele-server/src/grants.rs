//! Customer data grants over HTTP. The customer manages them at
//! `/v1/me/grants` and sees what they earned at `/v1/me/earnings`; an
//! operator reads for a grantee at `GET /v1/profiles/{ref}/granted`, which
//! answers only the fields the customer's Cedar policies allow, logs the read
//! in the Merkle access log and settles every priced grant that allowed it.

use crate::AppState;
use crate::error::HttpError;
use crate::intents;
use allele_privacy::consent::{ConsentRecord, ConsentSource, ConsentStatus};
use allele_privacy::grants::{Grant, GrantPolicies, Price, refused_purposes};
use allele_store::grants::{self as store, Settlement, StoredGrant};
use allele_store::{Role, StoreError, access, now_ms, read};
use allele_types::Code;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// RFC 3339 text of a millisecond timestamp.
pub(crate) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(allele_types::segment::format_time)
        .unwrap_or_default()
}

/// Milliseconds of an RFC 3339 timestamp, or a clear error naming `field`.
pub(crate) fn parse_time(text: &str, field: &str) -> Result<i64, HttpError> {
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| {
            HttpError::new(
                Code::InvalidBody,
                format!("`{field}` must be an rfc 3339 time such as `2027-01-31T00:00:00Z`, got `{text}`: {e}"),
            )
        })
}

/// A grant as the customer and the portal see it.
pub(crate) fn grant_json(stored: &StoredGrant, now: i64) -> Value {
    let status = if stored.withdrawn_at.is_some() {
        "withdrawn"
    } else if now >= stored.grant.expires_at {
        "expired"
    } else {
        "active"
    };
    json!({
        "id": stored.grant.id,
        "grantee": stored.grant.grantee,
        "fields": stored.grant.fields,
        "purpose": stored.grant.purpose,
        "expires_at": rfc3339(stored.grant.expires_at),
        "price": stored.grant.price,
        "status": status,
        "created_at": rfc3339(stored.created_at),
        "withdrawn_at": stored.withdrawn_at.map(rfc3339),
        "policy": allele_privacy::grants::grant_policy_text(&stored.grant),
    })
}

/// Totals per currency, in minor units.
pub(crate) fn totals(settlements: &[Settlement]) -> Vec<Value> {
    let mut by_currency: BTreeMap<&str, u64> = BTreeMap::new();
    for settlement in settlements {
        let total = by_currency.entry(&settlement.currency).or_default();
        *total = total.saturating_add(settlement.amount);
    }
    by_currency
        .into_iter()
        .map(|(currency, amount)| json!({"currency": currency, "amount": amount}))
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    grantee: String,
    fields: Vec<String>,
    purpose: String,
    expires_at: String,
    #[serde(default)]
    price: Option<Price>,
}

fn non_empty(text: &str, field: &str) -> Result<(), HttpError> {
    if text.trim().is_empty() || text.len() > 200 {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!("`{field}` must be between 1 and 200 characters"),
        ));
    }
    Ok(())
}

fn validate(body: GrantBody, now: i64) -> Result<Grant, HttpError> {
    non_empty(&body.grantee, "grantee")?;
    if !body.purpose.starts_with("dpv:") || body.purpose.len() < 5 {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!(
                "`purpose` must be a dpv purpose id such as `dpv:CommercialResearch`, got `{}`",
                body.purpose
            ),
        ));
    }
    if body.fields.is_empty() || body.fields.len() > 100 {
        return Err(HttpError::new(
            Code::InvalidBody,
            "`fields` must list 1 to 100 trait names (or `*` for every field)",
        ));
    }
    for field in &body.fields {
        non_empty(field, "fields")?;
    }
    let expires_at = parse_time(&body.expires_at, "expires_at")?;
    if expires_at <= now {
        return Err(HttpError::new(
            Code::InvalidBody,
            format!("`expires_at` `{}` is not in the future", body.expires_at),
        ));
    }
    if let Some(price) = &body.price {
        let code = &price.currency;
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(HttpError::new(
                Code::InvalidBody,
                format!("`price.currency` must be an iso 4217 code such as `EUR`, got `{code}`"),
            ));
        }
    }
    Ok(Grant {
        id: allele_store::identity::new_id("grant_"),
        grantee: body.grantee,
        fields: body.fields,
        purpose: body.purpose,
        expires_at,
        price: body.price.filter(|price| price.amount > 0),
    })
}

/// `GET /v1/me/grants`: every grant (withdrawn ones too) with its Cedar
/// policy, and the money earned so far.
pub async fn me_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let root = customer.root.clone();
    let (grants, settlements) = state
        .store
        .read(move |conn| {
            Ok((
                store::grants(conn, &root)?,
                store::settlements(conn, &root)?,
            ))
        })
        .await?;
    let now = now_ms();
    Ok(Json(json!({
        "grants": grants.iter().map(|g| grant_json(g, now)).collect::<Vec<_>>(),
        "earned": totals(&settlements),
    })))
}

/// `PUT /v1/me/grants`: grant `grantee` read access to `fields` for
/// `purpose` until `expires_at`, optionally at `price` per read. Replaces the
/// active grant to the same grantee for the same purpose.
pub async fn me_put(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let body: GrantBody = serde_json::from_slice(&body).map_err(|err| {
        HttpError::new(
            Code::InvalidBody,
            format!("a grant is `{{\"grantee\",\"fields\":[…],\"purpose\",\"expires_at\",\"price\":{{\"amount\",\"currency\"}}}}`: {err}"),
        )
    })?;
    let now = now_ms();
    let grant = validate(body, now)?;
    // Compile before storing: a grant Cedar cannot read is never kept.
    GrantPolicies::new(std::slice::from_ref(&grant), &[])
        .map_err(|e| HttpError::new(Code::InvalidBody, e.to_string()))?;
    let (ws, root) = (customer.workspace.clone(), customer.root.clone());
    let stored = StoredGrant {
        grant: grant.clone(),
        created_at: now,
        withdrawn_at: None,
    };
    let replaced = state
        .store
        .write(1, move |conn| {
            store::put_grant(conn, &ws, &root, &grant, now)
        })
        .await?;
    let mut answer = grant_json(&stored, now);
    answer["replaced"] = json!(replaced);
    Ok(Json(answer))
}

/// `DELETE /v1/me/grants/{id}`: withdraw a grant; reads under it stop at once.
pub async fn me_delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    withdraw(&state, &customer.root, id).await
}

pub(crate) async fn withdraw(
    state: &AppState,
    root: &str,
    id: String,
) -> Result<Json<Value>, HttpError> {
    let now = now_ms();
    let (root, grant_id) = (root.to_string(), id.clone());
    let withdrawn = state
        .store
        .write(1, move |conn| {
            store::withdraw_grant(conn, &root, &grant_id, now)
        })
        .await?;
    if !withdrawn {
        return Err(HttpError::new(
            Code::GrantNotFound,
            format!("you have no active grant `{id}`"),
        ));
    }
    Ok(Json(
        json!({"id": id, "status": "withdrawn", "withdrawn_at": rfc3339(now)}),
    ))
}

/// `GET /v1/me/earnings`: the settlement ledger and totals per currency.
pub async fn me_earnings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let customer = state.customer(&headers).await?;
    let root = customer.root.clone();
    let settlements = state
        .store
        .read(move |conn| store::settlements(conn, &root))
        .await?;
    Ok(Json(json!({
        "totals": totals(&settlements),
        "settlements": settlements.iter().map(|s| {
            json!({"id": s.id, "grant_id": s.grant_id, "grantee": s.grantee, "purpose": s.purpose,
                   "fields": s.fields, "amount": s.amount, "currency": s.currency,
                   "access_index": s.access_index, "at": rfc3339(s.at)})
        }).collect::<Vec<_>>(),
    })))
}

/// The consent ledger in the shape `allele-privacy` reads.
pub(crate) fn privacy_ledger(records: Vec<read::ConsentRecord>) -> Vec<ConsentRecord> {
    records
        .into_iter()
        .filter_map(|record| {
            let status = match record.status.as_str() {
                "given" => ConsentStatus::Given,
                "withdrawn" => ConsentStatus::Withdrawn,
                "refused" => ConsentStatus::Refused,
                _ => return None,
            };
            Some(ConsentRecord::new(
                &record.purpose,
                &record.channel,
                status,
                ConsentSource::Customer,
                0,
            ))
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct GrantedQuery {
    grantee: Option<String>,
    purpose: Option<String>,
    /// Comma-separated fields; all must be allowed. Default: every trait.
    fields: Option<String>,
}

enum Outcome {
    /// Refused; names the refused fields only when the caller asked for them
    /// (never the names of traits the caller may not know exist).
    Refused(Vec<String>),
    Read(Value),
}

/// `GET /v1/profiles/{ref}/granted?grantee=&purpose=[&fields=a,b]` (admin
/// key): the fields (and stated intents) the customer lets `grantee` read
/// for `purpose`, and nothing else; `403 grant_required` when they let it
/// read nothing (or, with `fields`, not every field asked for).
pub async fn granted(
    State(state): State<Arc<AppState>>,
    Path(reference): Path<String>,
    Query(query): Query<GrantedQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let (Some(grantee), Some(purpose)) = (query.grantee, query.purpose) else {
        return Err(HttpError::new(
            Code::InvalidQuery,
            "`grantee` and `purpose` are both required",
        ));
    };
    non_empty(&grantee, "grantee").map_err(|e| HttpError::new(Code::InvalidQuery, e.0.message))?;
    let asked: Option<Vec<String>> = query.fields.map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect()
    });
    let (_, root) = crate::customer::admin_root(&state, &headers, &reference).await?;
    let ws = principal.workspace.clone();
    let actor = format!("grantee:{grantee} via {}", principal.actor());
    let now = now_ms();
    let outcome = state
        .store
        .write(1, move |conn| {
            let ledger = privacy_ledger(read::consent_ledger(conn, &root)?);
            let refused = refused_purposes(&ledger);
            let active = store::active_grants(conn, &root)?;
            let policies = GrantPolicies::new(&active, &refused)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let profile = read::profile(conn, &root)?;
            let candidates: Vec<String> = match &asked {
                Some(fields) => fields.clone(),
                None => {
                    let mut names: Vec<String> = profile.traits.keys().cloned().collect();
                    for grant in active.iter().filter(|g| g.grantee == grantee) {
                        names.extend(grant.fields.iter().filter(|f| *f != "*").cloned());
                    }
                    names.sort();
                    names.dedup();
                    names
                }
            };
            let decisions = policies
                .decide_fields(
                    &grantee,
                    candidates.iter().map(String::as_str),
                    &purpose,
                    now,
                )
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let stored_intents = store::intents(conn, &root)?;
            let visible =
                intents::visible_to(stored_intents.as_deref(), &grantee, &purpose, &refused, now);
            let denied = decisions.iter().any(|d| !d.allowed);
            let none = decisions.iter().all(|d| !d.allowed) && visible.is_empty();
            if none || (asked.is_some() && denied) {
                let named = if asked.is_some() {
                    decisions
                        .iter()
                        .filter(|d| !d.allowed)
                        .map(|d| d.field.clone())
                        .collect()
                } else {
                    Vec::new()
                };
                return Ok(Outcome::Refused(named));
            }
            let mut fields = serde_json::Map::new();
            for decision in decisions.iter().filter(|d| d.allowed) {
                if let Some(value) = profile.traits.get(&decision.field) {
                    fields.insert(decision.field.clone(), value.clone());
                }
            }
            let index = access::append(conn, &ws, now, &actor, "read_granted", &purpose, &root)?;
            // Each priced grant that allowed some field of this read is owed once.
            let mut billed: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for decision in decisions.iter().filter(|d| d.allowed) {
                for id in decision.grant_ids() {
                    billed.entry(id).or_default().push(decision.field.clone());
                }
            }
            let mut settled = Vec::new();
            for (grant_id, fields_read) in billed {
                let Some(grant) = active.iter().find(|g| g.id == grant_id) else {
                    continue;
                };
                let Some(price) = &grant.price else { continue };
                let settlement = Settlement {
                    id: allele_store::identity::new_id("settle_"),
                    grant_id: grant.id.clone(),
                    grantee: grant.grantee.clone(),
                    purpose: grant.purpose.clone(),
                    fields: fields_read,
                    amount: price.amount,
                    currency: price.currency.clone(),
                    access_index: index,
                    at: now,
                };
                store::settle(conn, &ws, &root, &settlement)?;
                settled.push(json!({"id": settlement.id, "grant_id": settlement.grant_id,
                    "amount": settlement.amount, "currency": settlement.currency}));
            }
            Ok(Outcome::Read(json!({
                "profile": root,
                "grantee": grantee,
                "purpose": purpose,
                "fields": fields,
                "intents": visible,
                "decisions": decisions,
                "access_index": index,
                "settlements": settled,
            })))
        })
        .await?;
    match outcome {
        Outcome::Read(answer) => Ok(Json(answer)),
        Outcome::Refused(refused) => {
            let mut error = allele_types::ApiError::new(
                Code::GrantRequired,
                "the customer has not granted this grantee these fields for this purpose",
            );
            error.errors = Some(Box::new(json!({ "refused_fields": refused })));
            Err(HttpError(error))
        }
    }
}
