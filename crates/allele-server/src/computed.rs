//! Computed traits, derived from the event log when a profile is read:
//! event counts per name over 1, 7 and 30 days and all time, revenue over
//! 30 days and all time, days since last seen, and the mean sentiment of
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
    ]) {
        counts(conn, root, now, &mut out)?;
    }
    if let Some(last) = last_seen_ms
        && wanted.wants("days_since_last_seen")
    {
        out.insert(
            "days_since_last_seen".into(),
            json!((now - last).max(0) / DAY_MS),
        );
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

/// `count_1d` … `count_all`, `revenue_30d` and `revenue_all`, from one
/// pass over the person's named events.
fn counts(
    conn: &allele_store::Connection,
    root: &str,
    now: i64,
    out: &mut Map<String, Value>,
) -> Result<(), StoreError> {
    let rows = read::event_windows(
        conn,
        root,
        [now - DAY_MS, now - 7 * DAY_MS, now - 30 * DAY_MS],
    )?;
    let mut windows: [Map<String, Value>; 4] = Default::default();
    let (mut revenue_30d, mut revenue_all) = (0.0, 0.0);
    for row in rows {
        for (window, count) in windows.iter_mut().zip(row.counts) {
            if count > 0 {
                window.insert(row.name.clone(), json!(count));
            }
        }
        revenue_30d += row.revenue_30d;
        revenue_all += row.revenue_all;
    }
    let [day, week, month, all] = windows;
    out.insert("count_1d".into(), Value::Object(day));
    out.insert("count_7d".into(), Value::Object(week));
    out.insert("revenue_30d".into(), json!(revenue_30d));
    out.insert("count_30d".into(), Value::Object(month));
    out.insert("revenue_all".into(), json!(revenue_all));
    out.insert("count_all".into(), Value::Object(all));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Wanted;
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
}
