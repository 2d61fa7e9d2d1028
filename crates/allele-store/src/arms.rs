//! What learning propensities learn from, kept current by the writes that
//! change it: for every action a decision returned outside the holdout, per
//! touchpoint, how many times it was offered and how many of those offers
//! have an outcome (`arm_counts`), and for offers logged with a contextual
//! feature vector the ridge regression's sufficient statistics per feature
//! key (`linear_stats`: n, `Σ x xᵀ`, `Σ r x`).
//!
//! Reading them is a handful of rows however long the decision log grows;
//! aggregating the log on read cost a full scan of it per refresh.
//! Three writes move them, each in the transaction that makes the change:
//! a logged decision adds its offers ([`offered`]), the first outcome of a
//! decision adds a win to each of its offers ([`first_outcome`]), and an
//! erasure takes the erased person's offers back out ([`forget_profile`]).

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;

/// `(touchpoint, action, offers, offers with an outcome)`.
pub fn counts(conn: &Connection, ws: &str) -> Result<Vec<(String, String, u64, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT touchpoint, action_id, offers, wins FROM arm_counts
         WHERE workspace_id = ?1 AND offers > 0",
    )?;
    let rows = stmt
        .query_map(params![ws], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?.max(0) as u64,
                row.get::<_, i64>(3)?.max(0) as u64,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Sufficient statistics of one action's contextual offers under one
/// feature key, as [`linear`] returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRow {
    pub touchpoint: String,
    pub action: String,
    pub key: String,
    pub n: u64,
    /// `Σ x xᵀ`, row-major.
    pub xtx: Vec<f64>,
    /// `Σ r x`.
    pub xty: Vec<f64>,
}

/// Every contextual model's statistics in the workspace.
pub fn linear(conn: &Connection, ws: &str) -> Result<Vec<LinearRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT touchpoint, action_id, key, n, xtx, xty FROM linear_stats
         WHERE workspace_id = ?1 AND n > 0",
    )?;
    let rows = stmt
        .query_map(params![ws], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(touchpoint, action, key, n, xtx, xty)| {
            Ok(LinearRow {
                touchpoint,
                action,
                key,
                n: n.max(0) as u64,
                xtx: serde_json::from_str(&xtx)?,
                xty: serde_json::from_str(&xty)?,
            })
        })
        .collect()
}

/// One offer as the statistics see it.
struct Offer {
    touchpoint: String,
    action: String,
    features: Option<String>,
}

#[derive(Deserialize)]
struct Features {
    key: String,
    x: Vec<f64>,
}

/// A decision was logged: count its offers (`won` when an outcome for it
/// arrived before the decision itself, as uploads from an edge may). The
/// caller hands over what it just wrote rather than have it read back.
pub fn offered(
    conn: &Connection,
    decision: &crate::bundles::LoggedDecision,
) -> Result<(), StoreError> {
    if decision.holdout {
        return Ok(());
    }
    // The touchpoint as `json_extract(request, '$.touchpoint')` reads it.
    let touchpoint = serde_json::from_str::<serde_json::Value>(decision.request)
        .ok()
        .and_then(|request| request.get("touchpoint")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let won = has_outcome(conn, decision.ws, decision.id)?;
    for action in &decision.actions {
        let offer = Offer {
            touchpoint: touchpoint.clone(),
            action: action.action_id.clone(),
            features: action.features.clone(),
        };
        apply(conn, decision.ws, &offer, 1, i64::from(won))?;
    }
    Ok(())
}

/// Counts the offers of a decision already in the log (the rebuild).
fn offered_logged(conn: &Connection, ws: &str, decision_id: &str) -> Result<(), StoreError> {
    let won = has_outcome(conn, ws, decision_id)?;
    for offer in offers_of(conn, ws, decision_id)? {
        apply(conn, ws, &offer, 1, i64::from(won))?;
    }
    Ok(())
}

/// An outcome was recorded for `decision_id`: if it is the decision's
/// first, each of its offers now has an outcome.
pub fn first_outcome(conn: &Connection, ws: &str, decision_id: &str) -> Result<(), StoreError> {
    let outcomes: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM outcomes WHERE decision_id = ?1 AND workspace_id = ?2",
        )?
        .query_row(params![decision_id, ws], |row| row.get(0))?;
    if outcomes != 1 {
        return Ok(());
    }
    for offer in offers_of(conn, ws, decision_id)? {
        apply(conn, ws, &offer, 0, 1)?;
    }
    Ok(())
}

/// Before `profile`'s decisions are erased: take their offers back out, so
/// the statistics stay what the remaining log says.
pub fn forget_profile(conn: &Connection, ws: &str, profile: &str) -> Result<(), StoreError> {
    let ids = conn
        .prepare_cached(
            "SELECT id FROM decisions WHERE profile_id = ?1 AND workspace_id = ?2 AND holdout = 0",
        )?
        .query_map(params![profile, ws], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    for id in ids {
        let won = has_outcome(conn, ws, &id)?;
        for offer in offers_of(conn, ws, &id)? {
            apply(conn, ws, &offer, -1, -i64::from(won))?;
        }
    }
    Ok(())
}

/// Rebuilds both tables from the decision log (the migration that created
/// them; tests compare it with the incremental upkeep).
pub fn rebuild(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("DELETE FROM arm_counts; DELETE FROM linear_stats;")?;
    let decisions = conn
        .prepare("SELECT workspace_id, id FROM decisions WHERE holdout = 0")?
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (ws, id) in decisions {
        offered_logged(conn, &ws, &id)?;
    }
    Ok(())
}

fn has_outcome(conn: &Connection, ws: &str, decision_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outcomes WHERE decision_id = ?1 AND workspace_id = ?2)",
        )?
        .query_row(params![decision_id, ws], |row| row.get(0))?)
}

/// The offers of a decision outside the holdout (none for a holdout one).
fn offers_of(conn: &Connection, ws: &str, decision_id: &str) -> Result<Vec<Offer>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(json_extract(d.request, '$.touchpoint'), ''), a.action_id, a.features
         FROM decision_actions a JOIN decisions d ON d.id = a.decision_id
         WHERE a.decision_id = ?1 AND d.workspace_id = ?2 AND d.holdout = 0",
    )?;
    let rows = stmt
        .query_map(params![decision_id, ws], |row| {
            Ok(Offer {
                touchpoint: row.get(0)?,
                action: row.get(1)?,
                features: row.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Adds `offers` offers and `wins` outcomes of one offer's kind: the counts
/// move by those amounts, and a contextual offer's statistics by
/// `offers · x xᵀ` and `wins · x` (so a later outcome adds `x` to `Σ r x`
/// alone, and an erasure subtracts what the offer had added).
fn apply(
    conn: &Connection,
    ws: &str,
    offer: &Offer,
    offers: i64,
    wins: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO arm_counts (workspace_id, touchpoint, action_id, offers, wins) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workspace_id, touchpoint, action_id)
         DO UPDATE SET offers = offers + excluded.offers, wins = wins + excluded.wins",
    )?
    .execute(params![ws, offer.touchpoint, offer.action, offers, wins])?;
    let Some(features) = &offer.features else {
        return Ok(());
    };
    // A vector that does not parse or is not finite never reached a model.
    let Ok(features) = serde_json::from_str::<Features>(features) else {
        return Ok(());
    };
    if features.x.is_empty() || !features.x.iter().all(|v| v.is_finite()) {
        return Ok(());
    }
    let d = features.x.len();
    let stored = conn
        .prepare_cached(
            "SELECT n, xtx, xty FROM linear_stats
             WHERE workspace_id = ?1 AND touchpoint = ?2 AND action_id = ?3 AND key = ?4",
        )?
        .query_row(
            params![ws, offer.touchpoint, offer.action, features.key],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?;
    let (mut n, mut xtx, mut xty) = match stored {
        Some((n, xtx, xty)) => (
            n,
            serde_json::from_str::<Vec<f64>>(&xtx)?,
            serde_json::from_str::<Vec<f64>>(&xty)?,
        ),
        None => (0, vec![0.0; d * d], vec![0.0; d]),
    };
    // The key names the feature expressions, so the size always matches;
    // a stored row that does not is left alone rather than mixed.
    if xtx.len() != d * d || xty.len() != d {
        return Ok(());
    }
    let (count, reward) = (offers as f64, wins as f64);
    for (i, xi) in features.x.iter().enumerate() {
        for (j, xj) in features.x.iter().enumerate() {
            if let Some(cell) = xtx.get_mut(i * d + j) {
                *cell += count * xi * xj;
            }
        }
        if let Some(cell) = xty.get_mut(i) {
            *cell += reward * xi;
        }
    }
    n += offers;
    conn.prepare_cached(
        "INSERT INTO linear_stats (workspace_id, touchpoint, action_id, key, n, xtx, xty)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (workspace_id, touchpoint, action_id, key)
         DO UPDATE SET n = excluded.n, xtx = excluded.xtx, xty = excluded.xty",
    )?
    .execute(params![
        ws,
        offer.touchpoint,
        offer.action,
        features.key,
        n,
        serde_json::to_string(&xtx)?,
        serde_json::to_string(&xty)?
    ])?;
    Ok(())
}

#[cfg(test)]
#[path = "arms_tests.rs"]
mod tests;
