//! `GET /`: headline counts and events per hour over the last 48 hours.

use super::{Chrome, Console, render, time_text};
use crate::AppState;
use crate::error::HttpError;
use allele_store::now_ms;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Arc;

const HOUR_MS: i64 = 3_600_000;
const HOURS: i64 = 48;

/// One hour of the series: its start (for the chart, unix seconds), its
/// label, its count.
pub struct HourRow {
    pub x: i64,
    pub label: String,
    pub events: i64,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    page: Chrome,
    counts: Vec<(&'static str, String)>,
    hours: Vec<HourRow>,
}

/// Every hour of the window, zeros included, so the chart and table show
/// quiet hours as quiet rather than skipping them.
fn fill_hours(found: &[(i64, i64)], now: i64) -> Vec<HourRow> {
    let by_hour: HashMap<i64, i64> = found.iter().copied().collect();
    let last = (now / HOUR_MS) * HOUR_MS;
    (0..HOURS)
        .rev()
        .map(|back| {
            let start = last - back * HOUR_MS;
            HourRow {
                x: start / 1000,
                label: time_text(start),
                events: by_hour.get(&start).copied().unwrap_or(0),
            }
        })
        .collect()
}

pub async fn overview(
    State(state): State<Arc<AppState>>,
    console: Console,
) -> Result<Response, HttpError> {
    let now = now_ms();
    let since = (now / HOUR_MS - (HOURS - 1)) * HOUR_MS;
    let ws = console.workspace.clone();
    let (counts, hours) = state
        .store
        .read(move |conn| {
            Ok((
                allele_store::console::counts(conn, &ws)?,
                allele_store::console::events_per_hour(conn, &ws, since)?,
            ))
        })
        .await?;
    render(&OverviewPage {
        page: console.chrome("Overview", "/"),
        counts: vec![
            ("events", counts.events.to_string()),
            ("profiles", counts.profiles.to_string()),
            ("decisions", counts.decisions.to_string()),
            ("outcomes", counts.outcomes.to_string()),
            ("revenue", format!("{:.2}", counts.revenue)),
            ("consent records", counts.consent_records.to_string()),
        ],
        hours: fill_hours(&hours, now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hour_of_the_window_is_present_oldest_first() {
        let now = 100 * HOUR_MS + 5;
        let rows = fill_hours(&[(99 * HOUR_MS, 7), (60 * HOUR_MS, 1)], now);
        assert_eq!(rows.len(), 48);
        assert_eq!(rows.first().map(|r| r.x), Some(53 * 3600));
        assert_eq!(rows.last().map(|r| (r.x, r.events)), Some((100 * 3600, 0)));
        assert_eq!(rows.iter().map(|r| r.events).sum::<i64>(), 8);
    }
}
