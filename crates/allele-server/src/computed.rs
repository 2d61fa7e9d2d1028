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

use allele_store::{StoreError, read};
use serde_json::{Map, Value, json};

const DAY_MS: i64 = 86_400_000;

pub fn computed(
    conn: &allele_store::Connection,
    root: &str,
    last_seen_ms: Option<i64>,
    now: i64,
) -> Result<Map<String, Value>, StoreError> {
    let mut out = Map::new();
    for (key, days) in [
        ("count_1d", Some(1)),
        ("count_7d", Some(7)),
        ("count_30d", Some(30)),
        ("count_all", None),
    ] {
        let rows = read::event_counts(conn, root, days.map(|d| now - d * DAY_MS))?;
        let counts: Map<String, Value> = rows
            .iter()
            .map(|(name, count, _)| (name.clone(), json!(count)))
            .collect();
        if key == "count_30d" {
            out.insert(
                "revenue_30d".into(),
                json!(
                    rows.iter()
                        .map(|(_, _, revenue)| revenue)
                        .fold(0.0, |sum, r| sum + r)
                ),
            );
        }
        if key == "count_all" {
            out.insert(
                "revenue_all".into(),
                json!(
                    rows.iter()
                        .map(|(_, _, revenue)| revenue)
                        .fold(0.0, |sum, r| sum + r)
                ),
            );
        }
        out.insert(key.into(), Value::Object(counts));
    }
    if let Some(last) = last_seen_ms {
        out.insert(
            "days_since_last_seen".into(),
            json!((now - last).max(0) / DAY_MS),
        );
    }
    let posts = read::own_texts(conn, root, "Social Post Observed", now - 30 * DAY_MS)?;
    if !posts.is_empty() {
        let scores = allele_listen::polarity_scores_many(posts.iter().map(String::as_str));
        let mean = scores.iter().map(|s| s.compound).sum::<f64>() / scores.len() as f64;
        out.insert("sentiment_30d".into(), json!(mean));
        out.insert("posts_30d".into(), json!(posts.len()));
    }
    if let Some((score, reach)) = allele_store::listen::influence_of(conn, root)? {
        out.insert("influence_score".into(), json!(score));
        out.insert("influence_reach".into(), json!(reach));
    }
    // Stated intents the customer lets the workspace's own decisions see.
    let stored = allele_store::grants::intents(conn, root)?;
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
    let (ideas, votes, comments) = allele_store::listen::ideas_activity(conn, root)?;
    if ideas + votes + comments > 0 {
        out.insert("ideas_posted".into(), json!(ideas));
        out.insert("ideas_votes".into(), json!(votes));
        out.insert("ideas_comments".into(), json!(comments));
    }
    Ok(out)
}
