//! Reads behind the holdout-lift and attribution reports: the decision
//! log's treated and held-out people with what they did after their first
//! decision, and each person's marketing touches before converting.

use crate::StoreError;
use crate::reports::{Cohort, ExposedUser, ROOT_KEY, fold_metric, json_path};
use rusqlite::{Connection, params};
use std::collections::HashMap;

/// Whether any event of this name exists in the workspace.
pub fn event_name_exists(conn: &Connection, ws: &str, name: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM events WHERE workspace_id = ?1 AND name = ?2 LIMIT 1")?
        .exists(params![ws, name])?)
}

/// Holdout lift groups from the decision log: people held out versus people
/// treated (given `action`, when named), each with what they did after
/// their first decision. Also how many times the action was given.
pub struct LiftGroups {
    pub treated: Vec<ExposedUser>,
    pub holdout: Vec<ExposedUser>,
    pub contacts: u64,
}

pub fn lift_groups(
    conn: &Connection,
    ws: &str,
    metric: &str,
    value: Option<&str>,
    action: Option<&str>,
) -> Result<LiftGroups, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let mut cohort = Cohort::new(&tx, ws)?;
    // Slot → (root key, held out, given the action); the threshold is the
    // first decision.
    let mut people: Vec<(i64, bool, bool)> = Vec::new();
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {ROOT_KEY}, d.at, d.holdout,
                EXISTS (SELECT 1 FROM decision_actions a WHERE a.decision_id = d.id AND (?2 IS NULL OR a.action_id = ?2))
         FROM decisions d JOIN profiles p ON p.id = d.profile_id JOIN profiles r ON r.id = p.root_id
         WHERE d.workspace_id = ?1"
    ))?;
    let mut rows = stmt.query(params![ws, action])?;
    while let Some(row) = rows.next()? {
        let who: i64 = row.get(0)?;
        let at: i64 = row.get(1)?;
        let held: bool = row.get(2)?;
        let given: bool = row.get(3)?;
        let slot = cohort.insert(who, (at, 0));
        if let (Some(since), Some(person)) = (cohort.since.get_mut(slot), people.get_mut(slot)) {
            since.0 = since.0.min(at);
            person.1 |= held;
            person.2 |= given;
        } else {
            people.push((who, held, given));
        }
    }
    drop(rows);
    drop(stmt);
    let contacts: i64 = tx
        .prepare_cached(
            "SELECT COUNT(*) FROM decision_actions a JOIN decisions d ON d.id = a.decision_id
             WHERE d.workspace_id = ?1 AND (?2 IS NULL OR a.action_id = ?2)",
        )?
        .query_row(params![ws, action], |row| row.get(0))?;
    cohort.mark_shared();
    let mut outcomes = vec![ExposedUser::default(); people.len()];
    fold_metric(&tx, ws, &cohort, metric, value, false, &mut outcomes)?;
    // Sorted by root, so that sums (and so every figure) are the same on every run.
    let mut order: Vec<usize> = (0..people.len()).collect();
    order.sort_unstable_by_key(|slot| people.get(*slot).map(|p| p.0));
    let mut groups = LiftGroups {
        treated: Vec::new(),
        holdout: Vec::new(),
        contacts: contacts.max(0) as u64,
    };
    for slot in order {
        let (Some((_, held, given)), Some(user)) = (people.get(slot), outcomes.get(slot)) else {
            continue;
        };
        if *held {
            groups.holdout.push(*user);
        } else if *given || action.is_none() {
            groups.treated.push(*user);
        }
    }
    Ok(groups)
}

/// One person's marketing touches (campaign source of each event, in
/// seconds) and their first conversion.
pub struct TouchPath {
    pub touches: Vec<(String, i64)>,
    pub conversion_at: Option<i64>,
    pub value: f64,
}

pub fn touch_paths(
    conn: &Connection,
    ws: &str,
    conversion: &str,
    value: Option<&str>,
) -> Result<Vec<TouchPath>, StoreError> {
    let mut paths: HashMap<String, TouchPath> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT p.root_id, e.ts, COALESCE(json_extract(e.body, '$.context.campaign.source'), json_extract(e.body, '$.properties.channel'))
         FROM events e JOIN profiles p ON p.id = e.profile_id
         WHERE e.workspace_id = ?1
           AND COALESCE(json_extract(e.body, '$.context.campaign.source'), json_extract(e.body, '$.properties.channel')) IS NOT NULL
         ORDER BY e.ts, e.seq",
    )?;
    let mut rows = stmt.query(params![ws])?;
    while let Some(row) = rows.next()? {
        let who: String = row.get(0)?;
        let channel = match row.get_ref(2)? {
            rusqlite::types::ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
            _ => continue,
        };
        let path = paths.entry(who).or_insert(TouchPath {
            touches: Vec::new(),
            conversion_at: None,
            value: 0.0,
        });
        path.touches.push((channel, row.get::<_, i64>(1)? / 1000));
    }
    let value_path = value
        .map(json_path)
        .unwrap_or_else(|| "$.__none__".to_string());
    let mut stmt = conn.prepare_cached(
        "SELECT p.root_id, e.ts, json_extract(e.body, ?3) FROM events e JOIN profiles p ON p.id = e.profile_id
         WHERE e.workspace_id = ?1 AND e.name = ?2 ORDER BY e.ts, e.seq",
    )?;
    let mut rows = stmt.query(params![ws, conversion, value_path])?;
    while let Some(row) = rows.next()? {
        let who: String = row.get(0)?;
        let Some(path) = paths.get_mut(&who) else {
            continue;
        };
        if path.conversion_at.is_some() {
            continue;
        }
        let at = row.get::<_, i64>(1)? / 1000;
        path.conversion_at = Some(at);
        path.value = number(row.get_ref(2)?);
        // Touches after the conversion did not lead to it.
        path.touches.retain(|(_, touched)| *touched <= at);
    }
    let mut out: Vec<(String, TouchPath)> = paths.into_iter().collect();
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().map(|(_, path)| path).collect())
}

/// A JSON property read by `json_extract` as a finite number (0 otherwise).
fn number(value: rusqlite::types::ValueRef<'_>) -> f64 {
    match value {
        rusqlite::types::ValueRef::Integer(n) => n as f64,
        rusqlite::types::ValueRef::Real(x) if x.is_finite() => x,
        rusqlite::types::ValueRef::Text(text) => std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|x| x.is_finite())
            .unwrap_or(0.0),
        _ => 0.0,
    }
}
