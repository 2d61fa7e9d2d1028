//! What learning propensities learn from, per touchpoint, out of the
//! decision log: Beta-Bernoulli models (`model: thompson`) read each
//! action's offers and the offers that led to an outcome; contextual models
//! (`model: contextual`) read the feature vector logged with each offer.
//! Each touchpoint learns on its own (a store and a website may favour
//! different actions). The centre reads its workspace's log; an edge reads
//! its own, so it adapts to its touchpoint while the centre is away.
//!
//! The statistics are kept current at write time, so reading them is a few
//! rows; they are still cached for [`FRESH_MS`] and re-read on the next
//! decision after that: an outcome moves the posterior within two seconds,
//! and a burst of decisions costs one read, not one each. Bundles with no
//! learning propensity skip all of this.

use crate::AppState;
use crate::error::HttpError;
use allele_engine::bundle::{Propensity, PropensityDoc};
use allele_engine::linear::LinearStats;
use allele_engine::{ArmStats, Bundle};
use allele_store::{SqliteStore, StoreError, arms, now_ms};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

pub const FRESH_MS: i64 = 2_000;

/// What one touchpoint has learned.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Learned {
    /// Per action: Beta-Bernoulli counts.
    pub arms: BTreeMap<String, ArmStats>,
    /// Per action: contextual statistics, one per feature key seen.
    pub linear: BTreeMap<String, Vec<LinearStats>>,
}

impl Learned {
    /// The contextual statistics that match the bundle's feature keys.
    pub fn linear_for(&self, bundle: &Bundle) -> BTreeMap<String, LinearStats> {
        bundle
            .actions()
            .filter_map(|(doc, compiled)| {
                let Propensity::Linear { key, .. } = &compiled.propensity else {
                    return None;
                };
                let stats = self.linear.get(&doc.id)?.iter().find(|s| &s.key == key)?;
                Some((doc.id.clone(), stats.clone()))
            })
            .collect()
    }
}

/// touchpoint → what it learned.
pub type Table = BTreeMap<String, Learned>;

#[derive(Default)]
pub struct ArmCache {
    by_workspace: Mutex<HashMap<String, (i64, Arc<Table>)>>,
}

fn learns(bundle: &Bundle) -> bool {
    bundle
        .doc()
        .actions
        .iter()
        .any(|a| matches!(a.propensity, PropensityDoc::Model { .. }))
}

/// Reads the whole table: a few rows per touchpoint and action, kept
/// current by the writes that log decisions and outcomes
/// (`allele_store::arms`), so its cost does not grow with the log.
pub fn read_table(conn: &allele_store::Connection, ws: &str) -> Result<Table, StoreError> {
    let mut table = Table::new();
    for (point, action, offers, wins) in arms::counts(conn, ws)? {
        table.entry(point).or_default().arms.insert(
            action,
            ArmStats {
                successes: wins as f64,
                failures: offers.saturating_sub(wins) as f64,
            },
        );
    }
    for row in arms::linear(conn, ws)? {
        table
            .entry(row.touchpoint)
            .or_default()
            .linear
            .entry(row.action)
            .or_default()
            .push(LinearStats {
                key: row.key,
                n: row.n,
                xtx: row.xtx,
                xty: row.xty,
            });
    }
    Ok(table)
}

impl ArmCache {
    /// The whole table for `ws`, at most [`FRESH_MS`] old.
    pub async fn table(&self, store: &SqliteStore, ws: &str) -> Result<Arc<Table>, StoreError> {
        let now = now_ms();
        let cached = self
            .by_workspace
            .lock()
            .ok()
            .and_then(|map| map.get(ws).cloned())
            .filter(|(at, _)| now - at < FRESH_MS);
        if let Some((_, table)) = cached {
            return Ok(table);
        }
        let workspace = ws.to_owned();
        let table = Arc::new(store.read(move |conn| read_table(conn, &workspace)).await?);
        if let Ok(mut map) = self.by_workspace.lock() {
            map.insert(ws.to_owned(), (now, Arc::clone(&table)));
        }
        Ok(table)
    }

    /// What a decision at `touchpoint` under `bundle` learns from.
    pub async fn learned(
        &self,
        store: &SqliteStore,
        ws: &str,
        touchpoint: &str,
        bundle: &Bundle,
    ) -> Result<(BTreeMap<String, ArmStats>, BTreeMap<String, LinearStats>), StoreError> {
        if !learns(bundle) {
            return Ok((BTreeMap::new(), BTreeMap::new()));
        }
        let table = self.table(store, ws).await?;
        Ok(match table.get(touchpoint) {
            Some(learned) => (learned.arms.clone(), learned.linear_for(bundle)),
            None => (BTreeMap::new(), BTreeMap::new()),
        })
    }
}

impl AppState {
    /// What a decision at `touchpoint` under `bundle` learns from.
    pub async fn learned(
        &self,
        ws: &str,
        touchpoint: &str,
        bundle: &Bundle,
    ) -> Result<(BTreeMap<String, ArmStats>, BTreeMap<String, LinearStats>), HttpError> {
        Ok(self
            .arms
            .learned(&self.store, ws, touchpoint, bundle)
            .await?)
    }
}
