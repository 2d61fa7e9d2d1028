//! What Beta-Bernoulli propensities (`propensity: { model: thompson }`)
//! learn from: per touchpoint, each action's offers and the offers that
//! led to an outcome, from the decision log. Each touchpoint learns on its
//! own (a store and a website may favour different actions), as edges do.
//!
//! The counts are a workspace-wide aggregate, so they are cached for
//! [`FRESH_MS`] and recomputed on the next decision after that: an outcome
//! moves the posterior within two seconds, and a burst of decisions costs
//! one aggregate query, not one each. Bundles with no Beta propensity skip
//! all of this.

use crate::AppState;
use crate::error::HttpError;
use allele_engine::bundle::PropensityDoc;
use allele_engine::{ArmStats, Bundle};
use allele_store::{arms, now_ms};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

pub const FRESH_MS: i64 = 2_000;

/// touchpoint → action → counts.
type Table = BTreeMap<String, BTreeMap<String, ArmStats>>;

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

impl AppState {
    /// The counts a decision at `touchpoint` under `bundle` learns from.
    pub async fn arm_stats(
        &self,
        ws: &str,
        touchpoint: &str,
        bundle: &Bundle,
    ) -> Result<BTreeMap<String, ArmStats>, HttpError> {
        if !learns(bundle) {
            return Ok(BTreeMap::new());
        }
        let now = now_ms();
        let cached = self
            .arms
            .by_workspace
            .lock()
            .ok()
            .and_then(|map| map.get(ws).cloned())
            .filter(|(at, _)| now - at < FRESH_MS);
        let table = match cached {
            Some((_, table)) => table,
            None => {
                let workspace = ws.to_owned();
                let rows = self
                    .store
                    .read(move |conn| arms::counts(conn, &workspace))
                    .await?;
                let mut table = Table::new();
                for (point, action, offers, wins) in rows {
                    table.entry(point).or_default().insert(
                        action,
                        ArmStats {
                            successes: wins as f64,
                            failures: offers.saturating_sub(wins) as f64,
                        },
                    );
                }
                let table = Arc::new(table);
                if let Ok(mut map) = self.arms.by_workspace.lock() {
                    map.insert(ws.to_owned(), (now, Arc::clone(&table)));
                }
                table
            }
        };
        Ok(table.get(touchpoint).cloned().unwrap_or_default())
    }
}
