//! Word of mouth: referral codes → attributed sign-ups and revenue
//! (`/v1/reports/referrals`), and the follow and referral edges the
//! influence graph adds to mentions and replies.
//!
//! A person owns a referral code through their `referral_code` trait. A
//! sign-up event (`Signed Up` by default) carrying `properties.referral_code`
//! is attributed to the code's owner; codes match case-insensitively. Only a
//! person's first sign-up counts, a code's owner cannot refer themselves, and
//! the referred person's metric events (`Order Completed` with
//! `properties.revenue` by default) count from their sign-up on, within
//! `window_days` when given.

use crate::AppState;
use crate::error::HttpError;
use allele_listen::Graph;
use allele_store::{Connection, Role, StoreError, listen};
use allele_types::Code;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub const SIGNUP_EVENT: &str = "Signed Up";
pub const FOLLOW_EVENT: &str = "User Followed";
const DAY_MS: i64 = 86_400_000;

/// One attributed sign-up: who was referred, by whom, when.
#[derive(Debug, Clone, PartialEq)]
pub struct Referral {
    pub referred: String,
    pub referrer: String,
    pub code: String,
    pub at: i64,
}

/// What the sign-ups of a workspace say about referrals.
#[derive(Debug, Default)]
pub struct Referrals {
    pub signups: usize,
    pub attributed: Vec<Referral>,
    pub unknown_codes: usize,
    pub self_referrals: usize,
}

pub fn referrals(conn: &Connection, ws: &str, signup: &str) -> Result<Referrals, StoreError> {
    let owners: HashMap<String, String> = listen::referral_codes(conn, ws)?
        .into_iter()
        .map(|(code, root)| (code.trim().to_lowercase(), root))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Referrals::default();
    for (referred, at, code) in listen::signups(conn, ws, signup)? {
        if !seen.insert(referred.clone()) {
            continue;
        }
        out.signups += 1;
        let Some(code) = code else { continue };
        match owners.get(&code.trim().to_lowercase()) {
            None => out.unknown_codes += 1,
            Some(owner) if *owner == referred => out.self_referrals += 1,
            Some(owner) => out.attributed.push(Referral {
                referred,
                referrer: owner.clone(),
                code,
                at,
            }),
        }
    }
    Ok(out)
}

/// The influence graph of a workspace: mentions and replies in `event`,
/// follows, and referrals (the referred person points at their referrer),
/// over user ids. Returns the graph and its edge count.
pub fn influence_graph(
    conn: &Connection,
    ws: &str,
    event: &str,
) -> Result<(Vec<(String, String)>, usize), StoreError> {
    let mut edges = listen::social_edges(conn, ws, event)?;
    edges.extend(listen::follow_edges(conn, ws, FOLLOW_EVENT)?);
    let mut user_ids: HashMap<String, Option<String>> = HashMap::new();
    for referral in referrals(conn, ws, SIGNUP_EVENT)?.attributed {
        let mut user = |root: &str| -> Result<Option<String>, StoreError> {
            if let Some(known) = user_ids.get(root) {
                return Ok(known.clone());
            }
            let found = listen::user_id_of(conn, root)?;
            user_ids.insert(root.to_owned(), found.clone());
            Ok(found)
        };
        if let (Some(from), Some(to)) = (user(&referral.referred)?, user(&referral.referrer)?) {
            edges.push((from, to));
        }
    }
    edges.retain(|(from, to)| from != to);
    let count = edges.len();
    Ok((edges, count))
}

/// Build the graph from edges, each of weight one.
pub fn graph(edges: Vec<(String, String)>) -> Result<Graph<String>, HttpError> {
    Graph::from_edges(edges.into_iter().map(|(from, to)| (from, to, 1.0)))
        .map_err(|err| HttpError::new(Code::InvalidReport, err.to_string()))
}

#[derive(Debug, Deserialize, Default)]
pub struct ReferralParams {
    signup: Option<String>,
    metric: Option<String>,
    value: Option<String>,
    window_days: Option<i64>,
    limit: Option<usize>,
}

#[derive(Default)]
struct Tally {
    code: String,
    signups: usize,
    converted: usize,
    revenue: f64,
}

/// `GET /v1/reports/referrals`: sign-ups and revenue per referrer.
pub async fn report(
    State(state): State<Arc<AppState>>,
    Query(params): Query<ReferralParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let signup = params.signup.unwrap_or_else(|| SIGNUP_EVENT.into());
    let metric = params.metric.unwrap_or_else(|| "Order Completed".into());
    let value = params.value.unwrap_or_else(|| "revenue".into());
    if let Some(days) = params.window_days
        && !(1..=3_650).contains(&days)
    {
        return Err(HttpError::new(
            Code::InvalidReport,
            format!("`window_days` must be between 1 and 3650, not `{days}`"),
        ));
    }
    let window = params.window_days.map(|d| d * DAY_MS);
    let limit = params.limit.unwrap_or(50).clamp(1, 1_000);
    let ws = principal.workspace.clone();
    let (signup_name, metric_name, value_name) = (signup.clone(), metric.clone(), value.clone());
    let (found, events, names) = state
        .store
        .read(move |conn| {
            let found = referrals(conn, &ws, &signup_name)?;
            let events = listen::valued_events(conn, &ws, &metric_name, &value_name)?;
            let mut names = BTreeMap::new();
            for referral in &found.attributed {
                if !names.contains_key(&referral.referrer) {
                    let user = listen::user_id_of(conn, &referral.referrer)?;
                    names.insert(referral.referrer.clone(), user);
                }
            }
            Ok::<_, StoreError>((found, events, names))
        })
        .await?;
    let mut by_person: HashMap<&str, Vec<(i64, f64)>> = HashMap::new();
    for (root, ts, amount) in &events {
        by_person.entry(root).or_default().push((*ts, *amount));
    }
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let (mut revenue_total, mut converted_total) = (0.0, 0);
    for referral in &found.attributed {
        let in_window = |ts: i64| ts >= referral.at && window.is_none_or(|w| ts < referral.at + w);
        let own: Vec<f64> = by_person
            .get(referral.referred.as_str())
            .map(|list| {
                list.iter()
                    .filter(|(ts, _)| in_window(*ts))
                    .map(|(_, v)| *v)
                    .collect()
            })
            .unwrap_or_default();
        let tally = tallies.entry(&referral.referrer).or_default();
        tally.code.clone_from(&referral.code);
        tally.signups += 1;
        if !own.is_empty() {
            tally.converted += 1;
            converted_total += 1;
        }
        let revenue: f64 = own.iter().sum();
        tally.revenue += revenue;
        revenue_total += revenue;
    }
    let mut referrers: Vec<(&str, Tally)> = tallies.into_iter().collect();
    referrers.sort_by(|a, b| {
        b.1.revenue
            .total_cmp(&a.1.revenue)
            .then(b.1.signups.cmp(&a.1.signups))
            .then(a.0.cmp(b.0))
    });
    let rows: Vec<Value> = referrers
        .into_iter()
        .take(limit)
        .map(|(root, tally)| {
            json!({
                "profile_id": root,
                "user_id": names.get(root).cloned().flatten(),
                "code": tally.code,
                "signups": tally.signups,
                "converted": tally.converted,
                "revenue": tally.revenue,
            })
        })
        .collect();
    Ok(Json(json!({
        "signup": signup,
        "metric": metric,
        "value": value,
        "window_days": params.window_days,
        "signups": found.signups,
        "referred_signups": found.attributed.len(),
        "unknown_codes": found.unknown_codes,
        "self_referrals": found.self_referrals,
        "referred_converted": converted_total,
        "referred_revenue": revenue_total,
        "referrers": rows,
    })))
}
