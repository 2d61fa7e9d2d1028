//! Sense-making over the decision log (`GET /v1/reports/heterogeneity`):
//! where does context change an action's results, and which rule change
//! would follow from it?
//!
//! Every logged decision that offered `action` first is split by each
//! context feature — touchpoint, channel, UTC time of day, each segment,
//! each low-cardinality trait and context field — and the outcome rate
//! inside a cell is compared with the rest (pooled two-proportion z-test,
//! Newcombe interval of the difference). Benjamini–Hochberg q-values keep
//! the false discoveries among all cells at 5 %. Each significant cell that
//! a rule can express becomes a proposal: the active policy with the
//! action's applicability narrowed (to the cell when it does better, away
//! from it when it does worse), shown as a diff of the policy file and
//! scored off-policy (IPS/SNIPS/DR) on the same log next to the active
//! version. Nothing is published; a marketer publishes the proposal's
//! `policy` with `PUT /v1/policies`.

use crate::AppState;
use crate::error::HttpError;
use crate::ope::{Logged, parse_log, score};
use allele_stats::proportions::{newcombe_difference_interval, two_proportion_ztest};
use allele_stats::{Proportion, benjamini_hochberg};
use allele_store::{Role, bundles};
use allele_types::Code;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A feature with more distinct values than this is not split on.
const MAX_LEVELS: usize = 12;
const MAX_PROPOSALS: usize = 5;

#[derive(Debug, Deserialize, Default)]
pub struct HeterogeneityParams {
    action: Option<String>,
    value: Option<String>,
    min_n: Option<u64>,
}

/// `(feature, value)` pairs a logged decision falls in. `feature` names
/// the CEL path when one exists (`context.touchpoint`, `profile.traits["k"]`).
fn features(entry: &Logged) -> Vec<(String, Value)> {
    let request = &entry.request;
    let mut out = Vec::new();
    for key in ["touchpoint", "channel"] {
        if let Some(value) = request[key].as_str() {
            out.push((format!("context.{key}"), json!(value)));
        }
    }
    if let Some(ms) = request["now_ms"].as_i64() {
        let hour = ms.rem_euclid(86_400_000) / 3_600_000;
        let part = ["night", "morning", "afternoon", "evening"][(hour / 6) as usize % 4];
        out.push(("time_of_day".into(), json!(part)));
    }
    for segment in &entry.profile.segments {
        out.push(("segment".into(), json!(segment)));
    }
    for (key, value) in &entry.profile.traits {
        if value.is_string() || value.is_boolean() || value.is_i64() {
            out.push((format!("profile.traits[{}]", json!(key)), value.clone()));
        }
    }
    if let Some(context) = request["context"].as_object() {
        for (key, value) in context {
            if value.is_string() || value.is_boolean() || value.is_i64() {
                out.push((format!("context[{}]", json!(key)), value.clone()));
            }
        }
    }
    out
}

/// One context cell of an action's log against the rest.
#[derive(Debug, Clone)]
pub struct Cell {
    pub feature: String,
    pub value: Value,
    pub inside: Proportion,
    pub rest: Proportion,
    pub p: f64,
    pub z: f64,
    pub interval: Option<[f64; 2]>,
    /// Benjamini–Hochberg q-value over every cell compared.
    pub q: f64,
}

/// The CEL clause keeping (or, `keep == false`, excluding) a cell.
fn clause(feature: &str, value: &Value, keep: bool) -> Option<String> {
    let literal = value.to_string();
    match feature {
        "time_of_day" => None,
        "segment" => Some(if keep {
            format!("{literal} in profile.segments")
        } else {
            format!("!({literal} in profile.segments)")
        }),
        path => Some(format!(
            "{path} {} {literal}",
            if keep { "==" } else { "!=" }
        )),
    }
}

/// The policy source with `clause` added to `action`'s applicability, in
/// the canonical YAML layout, next to the canonical original.
fn narrowed(source: &str, action: &str, clause: &str) -> Option<(String, String)> {
    let original: serde_yaml_ng::Value = serde_yaml_ng::from_str(source).ok()?;
    let mut changed = original.clone();
    let actions = changed.get_mut("actions")?.as_sequence_mut()?;
    let target = actions
        .iter_mut()
        .find(|a| a.get("id").and_then(|id| id.as_str()) == Some(action))?;
    let rule = match target.get("applicability").and_then(|a| a.as_str()) {
        Some(existing) => format!("({existing}) && {clause}"),
        None => clause.to_string(),
    };
    target
        .as_mapping_mut()?
        .insert("applicability".into(), serde_yaml_ng::Value::String(rule));
    Some((
        serde_yaml_ng::to_string(&original).ok()?,
        serde_yaml_ng::to_string(&changed).ok()?,
    ))
}

pub async fn heterogeneity(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HeterogeneityParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let principal = state.require(&headers, &[Role::Admin]).await?;
    let action = params
        .action
        .ok_or_else(|| HttpError::new(Code::InvalidQuery, "`action` is required"))?;
    let use_revenue = match params.value.as_deref() {
        None | Some("") => false,
        Some("revenue") => true,
        Some(other) => {
            return Err(HttpError::new(
                Code::InvalidQuery,
                format!("`value` may only be `revenue`, got `{other}`"),
            ));
        }
    };
    let min_n = params.min_n.unwrap_or(30).max(1);
    let ws = principal.workspace.clone();
    let (active, secret, log) = state
        .store
        .read(move |conn| {
            Ok((
                bundles::active(conn, &ws)?,
                bundles::signing_key(conn, &ws)?,
                bundles::decision_log(conn, &ws)?,
            ))
        })
        .await?;
    let (logged, _) = parse_log(&log, use_revenue);
    let mine: Vec<&Logged> = logged.iter().filter(|e| e.action == action).collect();
    if mine.is_empty() {
        return Err(HttpError::new(
            Code::InvalidReport,
            format!("no logged decision offered `{action}` first"),
        ));
    }
    let (total, ranked) = split(&mine, min_n);

    let proposals = match &active {
        Some(active) => {
            let public = allele_engine::public_key(&secret);
            let signed = allele_engine::SignedBundle {
                version: active.version,
                signature: active.signature.clone(),
                bundle: active.bundle.clone(),
            };
            let champion = allele_engine::verify(&signed, &public).map_err(|err| {
                HttpError::new(Code::BundleRejected, format!("active bundle: {err}"))
            })?;
            let baseline = score(&champion, &logged, &principal.workspace);
            let out = propose(
                (&active.source, active.version),
                &action,
                &ranked,
                &logged,
                &principal.workspace,
                baseline.snips.estimate,
            );
            json!({"active_version": active.version, "active_ope": baseline, "proposals": out})
        }
        None => json!({"active_version": null, "proposals": []}),
    };
    let rows: Vec<Value> = ranked
        .iter()
        .map(|cell| {
            json!({
                "feature": cell.feature,
                "value": cell.value,
                "n": cell.inside.trials,
                "successes": cell.inside.successes,
                "rate": cell.inside.rate(),
                "rest_n": cell.rest.trials,
                "rest_rate": cell.rest.rate(),
                "difference": cell.inside.rate().zip(cell.rest.rate()).map(|(a, b)| a - b),
                "interval": cell.interval,
                "z": cell.z,
                "p": cell.p,
                "q": cell.q,
                "significant": cell.q < 0.05,
            })
        })
        .collect();
    Ok(Json(json!({
        "action": action,
        "decisions": total.trials,
        "rate": total.rate(),
        "min_n": min_n,
        "cells": rows,
        "active_version": proposals["active_version"],
        "active_ope": proposals["active_ope"],
        "proposals": proposals["proposals"],
    })))
}

/// Split an action's logged decisions by every context cell; cells (and
/// their rest) smaller than `min_n` are left out. Sorted by q, then p.
pub fn split(mine: &[&Logged], min_n: u64) -> (Proportion, Vec<Cell>) {
    let success = |e: &Logged| e.reward > 0.0;
    let total = Proportion::new(
        mine.iter().filter(|e| success(e)).count() as u64,
        mine.len() as u64,
    );
    // Per cell: (decisions inside, successes inside).
    let mut counts: BTreeMap<(String, String), (Value, u64, u64)> = BTreeMap::new();
    let mut levels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in mine {
        for (feature, value) in features(entry) {
            levels
                .entry(feature.clone())
                .or_default()
                .insert(value.to_string());
            let cell = counts
                .entry((feature, value.to_string()))
                .or_insert((value, 0, 0));
            cell.1 += 1;
            cell.2 += u64::from(success(entry));
        }
    }
    let mut cells = Vec::new();
    for ((feature, _), (value, n, wins)) in counts {
        if levels.get(&feature).is_some_and(|l| l.len() > MAX_LEVELS) {
            continue;
        }
        let inside = Proportion::new(wins, n);
        let rest = Proportion::new(total.successes - wins, total.trials - n);
        if n < min_n || rest.trials < min_n {
            continue;
        }
        let Some(test) = two_proportion_ztest(inside, rest) else {
            continue;
        };
        cells.push(Cell {
            interval: newcombe_difference_interval(inside, rest, 0.05),
            feature,
            value,
            inside,
            rest,
            p: test.p,
            z: test.z,
            q: test.p,
        });
    }
    let p_values: Vec<f64> = cells.iter().map(|c| c.p).collect();
    if let Ok(q_values) = benjamini_hochberg(&p_values) {
        for (cell, q) in cells.iter_mut().zip(q_values) {
            cell.q = q;
        }
    }
    cells.sort_by(|a, b| a.q.total_cmp(&b.q).then(a.p.total_cmp(&b.p)));
    (total, cells)
}

/// Rule changes from the significant cells (at most five): the active
/// policy `(source, version)` with `action` narrowed, as a diff, with its
/// off-policy value on `logged` and the gain over `baseline_snips`.
pub fn propose(
    (source, version): (&str, u64),
    action: &str,
    cells: &[Cell],
    logged: &[Logged],
    ws: &str,
    baseline_snips: f64,
) -> Vec<Value> {
    let mut out = Vec::new();
    for cell in cells.iter().filter(|c| c.q < 0.05) {
        if out.len() >= MAX_PROPOSALS {
            break;
        }
        let better = cell.inside.rate() > cell.rest.rate();
        let Some(rule) = clause(&cell.feature, &cell.value, better) else {
            continue;
        };
        let Some((before, after)) = narrowed(source, action, &rule) else {
            continue;
        };
        let Ok(compiled) = allele_engine::compile(&after, 0, &[]) else {
            continue;
        };
        let evaluation = score(&compiled.bundle, logged, ws);
        let diff = similar::TextDiff::from_lines(&before, &after)
            .unified_diff()
            .header(&format!("policy v{version}"), "proposal")
            .to_string();
        out.push(json!({
            "summary": if better {
                format!("restrict `{action}` to {} = {}", cell.feature, cell.value)
            } else {
                format!("stop offering `{action}` where {} = {}", cell.feature, cell.value)
            },
            "clause": rule,
            "q": cell.q,
            "diff": diff,
            "policy": after,
            "ope": evaluation,
            "snips_gain": evaluation.snips.estimate - baseline_snips,
        }));
    }
    out
}
