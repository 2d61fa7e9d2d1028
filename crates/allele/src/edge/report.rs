//! What an edge tells about itself: its bundle, how fresh its consent
//! snapshot is, how much is waiting in its outbox, and what its learning
//! propensities learned from its own outcomes. Served locally at
//! `/v1/edge/status` and reported to the centre (`POST /v1/edge/status`)
//! every `--snapshot-every`, so the console shows every edge's staleness
//! and local parameters without reaching into the touchpoint's network.

use super::{Edge, LOCAL_WS};
use allele_engine::bundle::{Propensity, PropensityDoc};
use allele_server::arms::Table;
use allele_store::edge as store_edge;
use allele_store::{StoreError, now_ms};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The status document.
pub async fn status(edge: &Edge) -> Result<Value, StoreError> {
    let outbox = edge.store.read(store_edge::outbox_counts).await?;
    let mut queued = Map::new();
    for (kind, count) in outbox {
        queued.insert(kind, json!(count));
    }
    let table = edge.learning.table(&edge.store, LOCAL_WS).await?;
    let now = now_ms();
    let bundle = edge.current_bundle();
    Ok(json!({
        "edge_id": edge.edge_id,
        "bundle_version": bundle.as_ref().map(|b| b.version),
        "public_key": edge.public_key.read().ok().and_then(|k| k.map(hex::encode)),
        "snapshot_age_ms": edge.snapshot_age(now),
        "max_staleness_ms": edge.max_staleness_ms,
        "outbox": queued,
        "central_up": edge.central_up.load(Ordering::Relaxed),
        "learned": learned(&table, bundle.as_ref().map(|b| &b.bundle)),
    }))
}

/// Per touchpoint and action: offers, outcomes and the model's estimate
/// (a rate for Beta models, coefficients per feature for contextual ones).
fn learned(table: &Table, bundle: Option<&allele_engine::Bundle>) -> Value {
    let mut out = Map::new();
    for (touchpoint, learned) in table {
        let mut actions = Map::new();
        for (action, arm) in &learned.arms {
            let offers = arm.successes + arm.failures;
            // Every offered action has counts; only Beta models learn from them.
            let beta = bundle.is_some_and(|b| {
                b.actions().any(|(doc, c)| {
                    doc.id == *action && matches!(c.propensity, Propensity::Beta { .. })
                })
            });
            actions.insert(
                action.clone(),
                json!({
                    "model": if beta { "thompson" } else { "observed" },
                    "offers": offers as u64,
                    "outcomes": arm.successes as u64,
                    "rate": if offers > 0.0 { arm.successes / offers } else { 0.0 },
                }),
            );
        }
        let Some(bundle) = bundle else {
            out.insert(touchpoint.clone(), Value::Object(actions));
            continue;
        };
        let linear = learned.linear_for(bundle);
        for (doc, compiled) in bundle.actions() {
            let (Propensity::Linear { prior, .. }, PropensityDoc::Model { features, .. }) =
                (&compiled.propensity, &doc.propensity)
            else {
                continue;
            };
            let Some(stats) = linear.get(&doc.id) else {
                continue;
            };
            let coefficients = allele_engine::linear::coefficients(*prior, stats);
            let mut names = vec!["intercept".to_string()];
            names.extend(features.iter().cloned());
            let named: Map<String, Value> = names
                .into_iter()
                .zip(coefficients.unwrap_or_default())
                .map(|(name, c)| (name, json!(c)))
                .collect();
            actions.insert(
                doc.id.clone(),
                json!({"model": "contextual", "offers": stats.n, "coefficients": named}),
            );
        }
        out.insert(touchpoint.clone(), Value::Object(actions));
    }
    Value::Object(out)
}

pub async fn report_loop(edge: Arc<Edge>) {
    let every = Duration::from_millis(edge.snapshot_every_ms.max(1_000) as u64);
    loop {
        tokio::time::sleep(every).await;
        if let Err(error) = report_once(&edge).await {
            // The outbox shipper already says when the centre is away.
            tracing::debug!(%error, "status report not delivered");
        }
    }
}

pub async fn report_once(edge: &Edge) -> Result<(), String> {
    let body = status(edge).await.map_err(|err| err.to_string())?;
    let response = edge
        .http
        .post(edge.url("/v1/edge/status"))
        .bearer_auth(&edge.key)
        .json(&body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|err| format!("cannot reach the centre: {err}"))?;
    if !response.status().is_success() {
        return Err(format!("the centre answered {}", response.status()));
    }
    Ok(())
}
