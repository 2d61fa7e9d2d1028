//! Entries for `date_trait` triggers. Nothing marks the passing of a date,
//! so the runner looks: at most once a minute per journey, it asks the
//! store for the people whose trait text names a day near today (a cheap
//! filter in SQL), checks each exactly in their own time zone, and enters
//! those whose anniversary is due. Each entry is keyed by the local year
//! and committed with the run, so a second look or a restart never enters
//! anyone twice. Values that are no date are skipped.

use super::runner::{Journey, enter, time_zone};
use crate::AppState;
use allele_campaigns::anniversary::{DEFAULT_AT, candidate_month_days, due_year};
use allele_campaigns::journey::parse_time_of_day;
use allele_store::{StoreError, bundles, journeys, now_ms};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a journey's people are looked over; a due anniversary enters
/// within this long after its time.
const EVERY: Duration = Duration::from_secs(60);

/// When each journey, by `(workspace, id)`, was last looked over. Kept in
/// memory only: after a restart the first look comes at once, and the year
/// keys make it harmless.
#[derive(Default)]
pub(super) struct Scans(HashMap<(String, String), Instant>);

pub(super) async fn enter_due(
    state: &AppState,
    all: &Arc<Vec<Journey>>,
    scans: &mut Scans,
) -> Result<(), StoreError> {
    for (index, journey) in all.iter().enumerate() {
        let Some(name) = journey.def.trigger.date_trait.clone() else {
            continue;
        };
        let key = (journey.ws.clone(), journey.id.clone());
        if scans.0.get(&key).is_some_and(|at| at.elapsed() < EVERY) {
            continue;
        }
        let at = journey
            .def
            .trigger
            .at
            .as_deref()
            .and_then(parse_time_of_day)
            .unwrap_or(DEFAULT_AT);
        let ws = journey.ws.clone();
        let due = state
            .store
            .read(move |conn| {
                let now = jiff::Timestamp::now();
                let days = candidate_month_days(now);
                let mut due = Vec::new();
                for root in journeys::date_candidates(conn, &ws, &name, &days)? {
                    let profile = crate::decisions::engine_profile(conn, &ws, &root)?;
                    let Some(value) = profile.traits.get(&name).and_then(Value::as_str) else {
                        continue;
                    };
                    let tz = time_zone(bundles::customer_limits(conn, &root)?, &profile.traits);
                    if let Some(year) = due_year(value, &tz, at, now) {
                        due.push((root, year));
                    }
                }
                Ok(due)
            })
            .await?;
        if !due.is_empty() {
            let list = Arc::clone(all);
            state
                .store
                .write(due.len(), move |conn| {
                    let Some(journey) = list.get(index) else {
                        return Ok(());
                    };
                    let now = now_ms();
                    for (root, year) in &due {
                        if journeys::occasion_entered(conn, &journey.ws, &journey.id, *year, root)?
                        {
                            enter(conn, journey, root, now)?;
                        }
                    }
                    Ok(())
                })
                .await?;
        }
        scans.0.insert(key, Instant::now());
    }
    Ok(())
}
