//! Computed traits, derived when a profile is read: event counts per name
//! over 1, 7 and 30 days and all time, revenue over 30 days and all time,
//! per event name the summed, smallest and largest revenue over 30 days,
//! the newest event's revenue and the days since it, an RFM score of
//! `Order Completed`, days since last seen and its recency bucket (all
//! from rollups kept at write time, so a read costs the same however long
//! the history), and the mean sentiment of
//! the person's own social posts over 30 days, their influence (PageRank
//! score and two-hop reach from the last scheduled run) and their activity
//! on the ideas board, and the stated intents the customer shows to the
//! workspace's own decisions (grantee `self`, purpose
//! `dpv:ServicePersonalisation`, unexpired). Rules and segments read them
//! as `profile.computed.*`, e.g.
//! `profile.computed.count_7d["Product Viewed"] >= 3 && !("Order Completed" in profile.computed.count_7d)`.
//!
//! A decision computes only the traits its bundle and the workspace's
//! segments can read ([`Wanted`]); everything else computes them all.

use allele_engine::cel::{Root, SlotTable};
use allele_store::{StoreError, read};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

const DAY_MS: i64 = 86_400_000;

/// Which computed traits a reader can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    All,
    /// Only these keys of `profile.computed` (possibly none).
    Keys(BTreeSet<String>),
}

impl Default for Wanted {
    fn default() -> Self {
        Wanted::Keys(BTreeSet::new())
    }
}

impl Wanted {
    fn wants(&self, key: &str) -> bool {
        match self {
            Wanted::All => true,
            Wanted::Keys(keys) => keys.contains(key),
        }
    }

    fn wants_any(&self, keys: &[&str]) -> bool {
        keys.iter().any(|key| self.wants(key))
    }

    /// Add what the compiled expressions over `slots` can read: a path that
    /// stops at `profile` or `profile.computed` (a whole-map read, a macro,
    /// a dynamic index) wants every trait; `profile.computed.k…` wants `k`.
    pub fn add_slots(&mut self, slots: &SlotTable) {
        for path in slots.paths() {
            if path.root != Root::Profile {
                continue;
            }
            match path.keys.as_slice() {
                [] => *self = Wanted::All,
                [field] if &**field == "computed" => *self = Wanted::All,
                [field, key, ..] if &**field == "computed" => {
                    if let Wanted::Keys(keys) = self {
                        keys.insert(key.to_string());
                    }
                }
                _ => {}
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Wanted::Keys(keys) if keys.is_empty())
    }
}

/// Every computed trait.
pub fn computed(
    conn: &allele_store::Connection,
    root: &str,
    last_seen_ms: Option<i64>,
    now: i64,
) -> Result<Map<String, Value>, StoreError> {
    computed_wanted(conn, root, last_seen_ms, now, &Wanted::All)
}

/// The computed traits in `wanted`, each source queried only when one of
/// its traits is wanted.
pub fn computed_wanted(
    conn: &allele_store::Connection,
    root: &str,
    last_seen_ms: Option<i64>,
    now: i64,
    wanted: &Wanted,
) -> Result<Map<String, Value>, StoreError> {
    let mut out = Map::new();
    if wanted.wants_any(&[
        "count_1d",
        "count_7d",
        "count_30d",
        "count_all",
        "revenue_30d",
        "revenue_all",
        "rfm",
    ]) || wanted.wants_any(&PER_NAME)
    {
        counts(conn, root, now, &mut out)?;
    }
    if let Some(last) = last_seen_ms {
        let days = days_between(last, now);
        if wanted.wants("days_since_last_seen") {
            out.insert("days_since_last_seen".into(), json!(days));
        }
        if wanted.wants("recency") {
            out.insert("recency".into(), json!(recency(days)));
        }
    }
    if wanted.wants_any(&["sentiment_30d", "posts_30d"]) {
        let posts = read::own_texts(conn, root, "Social Post Observed", now - 30 * DAY_MS)?;
        if !posts.is_empty() {
            let scores = allele_listen::polarity_scores_many(posts.iter().map(String::as_str));
            let mean = scores.iter().map(|s| s.compound).sum::<f64>() / scores.len() as f64;
            out.insert("sentiment_30d".into(), json!(mean));
            out.insert("posts_30d".into(), json!(posts.len()));
        }
    }
    if wanted.wants_any(&["influence_score", "influence_reach"])
        && let Some((score, reach)) = allele_store::listen::influence_of(conn, root)?
    {
        out.insert("influence_score".into(), json!(score));
        out.insert("influence_reach".into(), json!(reach));
    }
    // Stated intents the customer lets the workspace's own decisions see.
    let stored = if wanted.wants("intents") {
        allele_store::grants::intents(conn, root)?
    } else {
        None
    };
    if stored.is_some() {
        let ledger = crate::grants::privacy_ledger(read::consent_ledger(conn, root)?);
        let refused = allele_privacy::grants::refused_purposes(&ledger);
        let visible = crate::intents::visible_to(
            stored.as_deref(),
            allele_privacy::intents::SELF_GRANTEE,
            allele_privacy::intents::DECISION_PURPOSE,
            &refused,
            now,
        );
        if !visible.is_empty() {
            out.insert("intents".into(), Value::Array(visible));
        }
    }
    if wanted.wants_any(&["ideas_posted", "ideas_votes", "ideas_comments"]) {
        let (ideas, votes, comments) = allele_store::listen::ideas_activity(conn, root)?;
        if ideas + votes + comments > 0 {
            out.insert("ideas_posted".into(), json!(ideas));
            out.insert("ideas_votes".into(), json!(votes));
            out.insert("ideas_comments".into(), json!(comments));
        }
    }
    Ok(out)
}

/// The event that RFM scores read.
const ORDER_EVENT: &str = "Order Completed";

/// `count_1d` … `count_all`, `revenue_30d` and `revenue_all`, the per-name
/// revenue figures and `days_since`, and the RFM score, from the person's
/// rollups (a bounded read: `allele_store::rollups`).
fn counts(
    conn: &allele_store::Connection,
    root: &str,
    now: i64,
    out: &mut Map<String, Value>,
) -> Result<(), StoreError> {
    let names = allele_store::rollups::of_person(conn, root, now)?;
    let mut windows: [Map<String, Value>; 4] = Default::default();
    let mut per_name: [Map<String, Value>; 5] = Default::default();
    let (mut revenue_30d, mut revenue_all) = (0.0, 0.0);
    for (name, rollup) in &names {
        for (window, count) in windows.iter_mut().zip(rollup.counts) {
            if count > 0 {
                window.insert(name.clone(), json!(count));
            }
        }
        revenue_30d += rollup.revenue[2];
        revenue_all += rollup.revenue[3];
        let [sum, min, max, last, since] = &mut per_name;
        if let (Some(low), Some(high)) = (rollup.revenue_min, rollup.revenue_max) {
            sum.insert(name.clone(), json!(rollup.revenue[2]));
            min.insert(name.clone(), json!(low));
            max.insert(name.clone(), json!(high));
        }
        if let Some(revenue) = rollup.last_revenue {
            last.insert(name.clone(), json!(revenue));
        }
        since.insert(name.clone(), json!(days_between(rollup.last_ts, now)));
    }
    if let Some(orders) = names.get(ORDER_EVENT) {
        out.insert(
            "rfm".into(),
            rfm(
                days_between(orders.last_ts, now),
                orders.counts[3],
                orders.revenue[3],
            ),
        );
    }
    let [day, week, month, all] = windows;
    out.insert("count_1d".into(), Value::Object(day));
    out.insert("count_7d".into(), Value::Object(week));
    out.insert("revenue_30d".into(), json!(revenue_30d));
    out.insert("count_30d".into(), Value::Object(month));
    out.insert("revenue_all".into(), json!(revenue_all));
    out.insert("count_all".into(), Value::Object(all));
    for (key, map) in PER_NAME.iter().zip(per_name) {
        out.insert((*key).into(), Value::Object(map));
    }
    Ok(())
}

/// Per event name: summed, smallest and largest revenue over 30 days (names
/// with revenue only), the newest event's revenue, and whole days since it.
const PER_NAME: [&str; 5] = [
    "revenue_sum_30d",
    "revenue_min_30d",
    "revenue_max_30d",
    "revenue_last",
    "days_since",
];

fn days_between(then: i64, now: i64) -> i64 {
    (now - then).max(0) / DAY_MS
}

/// `days_since_last_seen` as a bucket segments can name.
fn recency(days: i64) -> &'static str {
    [(7, "active_7d"), (30, "active_30d"), (90, "lapsing_90d")]
        .into_iter()
        .find(|(last, _)| days <= *last)
        .map_or("dormant", |(_, bucket)| bucket)
}

/// Recency, frequency and monetary value of `Order Completed`, each scored
/// 1–5 on fixed cut points (days since the last order ≤ 7/30/90/180; orders
/// ≥ 10/5/3/2; order revenue ≥ 1000/500/200/50), and the three digits as
/// `score`. Fixed cut points keep it a read of one person's rollups; a
/// score relative to the whole base would need a pass over every profile.
fn rfm(days: i64, orders: i64, revenue: f64) -> Value {
    let score = |cuts: [bool; 4]| 1 + cuts.iter().filter(|cut| **cut).count() as i64;
    let r = score([days <= 180, days <= 90, days <= 30, days <= 7]);
    let f = score([orders >= 2, orders >= 3, orders >= 5, orders >= 10]);
    let m = score([
        revenue >= 50.0,
        revenue >= 200.0,
        revenue >= 500.0,
        revenue >= 1000.0,
    ]);
    json!({"recency": r, "frequency": f, "monetary": m, "score": format!("{r}{f}{m}")})
}

#[cfg(test)]
mod tests {
    use super::{Wanted, recency, rfm};
    use allele_engine::cel::{Expression, SlotTable};

    fn wanted(sources: &[&str]) -> Wanted {
        let mut slots = SlotTable::default();
        for source in sources {
            Expression::compile(source, &mut slots).expect("compiles");
        }
        let mut wanted = Wanted::default();
        wanted.add_slots(&slots);
        wanted
    }

    fn keys(names: &[&str]) -> Wanted {
        Wanted::Keys(names.iter().map(|n| n.to_string()).collect())
    }

    #[test]
    fn rules_over_traits_want_no_computed_trait() {
        let found = wanted(&[
            "profile.traits.age >= 18 && profile.traits.country in [\"GB\"]",
            "context.touchpoint == \"web\" && !(\"x\" in profile.segments)",
        ]);
        assert!(found.is_empty());
    }

    #[test]
    fn named_computed_traits_are_wanted_one_by_one() {
        let found = wanted(&[
            "profile.computed.count_7d[\"Product Viewed\"] >= 3",
            "has(profile.computed.sentiment_30d) && profile.computed[\"revenue_all\"] > 1.0",
        ]);
        assert_eq!(found, keys(&["count_7d", "revenue_all", "sentiment_30d"]));
        assert!(found.wants("count_7d") && !found.wants("count_1d"));
    }

    #[test]
    fn whole_map_reads_want_everything() {
        for source in [
            "\"influence_reach\" in profile.computed",
            "profile.computed.exists(k, k == \"posts_30d\")",
            "profile.computed[context.which] == 1",
            "size(profile) > 0",
        ] {
            assert_eq!(wanted(&[source]), Wanted::All, "{source}");
        }
    }

    #[test]
    fn rfm_scores_each_side_on_its_cut_points() {
        let digits = |days, orders, revenue| rfm(days, orders, revenue)["score"].clone();
        assert_eq!(digits(0, 1, 0.0), "511");
        assert_eq!(digits(7, 10, 1000.0), "555");
        assert_eq!(digits(8, 9, 999.99), "444");
        assert_eq!(digits(31, 4, 499.0), "333");
        assert_eq!(digits(91, 2, 50.0), "222");
        assert_eq!(digits(181, 1, 49.9), "111");
        assert_eq!(rfm(30, 5, 200.0)["frequency"], 4);
    }

    #[test]
    fn recency_buckets_close_at_their_last_day() {
        let buckets: Vec<_> = [0, 7, 8, 30, 31, 90, 91].map(recency).into();
        assert_eq!(
            buckets,
            [
                "active_7d",
                "active_7d",
                "active_30d",
                "active_30d",
                "lapsing_90d",
                "lapsing_90d",
                "dormant"
            ]
        );
    }
}
