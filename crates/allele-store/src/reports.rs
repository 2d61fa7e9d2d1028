//! Reads behind the reports: who was exposed to what, and what they did
//! after. The statistics themselves live in `allele-stats`.

use crate::StoreError;
use rusqlite::{Connection, params};
use std::collections::{BTreeMap, HashMap};

/// The Segment convention for experiment exposure.
pub const EXPOSURE_EVENT: &str = "Experiment Viewed";

/// One exposed person (merged profile) of a variation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExposedUser {
    pub converted: bool,
    /// Summed `value` property over conversions at or after first exposure.
    pub value: f64,
    /// Count of pre-period metric events (before first exposure), if asked.
    pub covariate: Option<f64>,
}

pub struct ExperimentQuery<'a> {
    pub experiment_id: &'a str,
    pub metric: &'a str,
    pub value: Option<&'a str>,
    pub pre_metric: Option<&'a str>,
}

fn json_path(property: &str) -> String {
    // Quoted so any property key (spaces, dots) is one path step.
    format!("$.properties.\"{}\"", property.replace('"', "\\\""))
}

/// Variation → exposed users, or `None` when nobody saw the experiment.
/// A person counts once, in the variation of their first exposure by event
/// time; conversions count only at or after that moment.
pub fn experiment(
    conn: &Connection,
    ws: &str,
    query: &ExperimentQuery,
) -> Result<Option<BTreeMap<String, Vec<ExposedUser>>>, StoreError> {
    let mut first: HashMap<String, (i64, i64, String)> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT p.root_id, e.ts, e.seq, json_extract(e.body, '$.properties.variation_id')
         FROM events e JOIN profiles p ON p.id = e.profile_id
         WHERE e.workspace_id = ?1 AND e.name = ?2 AND json_extract(e.body, '$.properties.experiment_id') = ?3",
    )?;
    let mut rows = stmt.query(params![ws, EXPOSURE_EVENT, query.experiment_id])?;
    while let Some(row) = rows.next()? {
        let who: String = row.get(0)?;
        let at = (row.get::<_, i64>(1)?, row.get::<_, i64>(2)?);
        let variation = match row.get_ref(3)? {
            rusqlite::types::ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
            rusqlite::types::ValueRef::Integer(n) => n.to_string(),
            rusqlite::types::ValueRef::Real(x) => x.to_string(),
            _ => continue,
        };
        let earlier = first.get(&who).is_none_or(|(ts, seq, _)| at < (*ts, *seq));
        if earlier {
            first.insert(who, (at.0, at.1, variation));
        }
    }
    if first.is_empty() {
        return Ok(None);
    }
    let mut users: HashMap<String, ExposedUser> = first
        .keys()
        .map(|who| {
            (
                who.clone(),
                ExposedUser {
                    covariate: query.pre_metric.map(|_| 0.0),
                    ..ExposedUser::default()
                },
            )
        })
        .collect();
    let value_path = query
        .value
        .map(json_path)
        .unwrap_or_else(|| "$.__none__".to_string());
    let mut stmt = conn.prepare_cached(
        "SELECT p.root_id, e.ts, json_extract(e.body, ?3) FROM events e JOIN profiles p ON p.id = e.profile_id
         WHERE e.workspace_id = ?1 AND e.name = ?2",
    )?;
    let mut rows = stmt.query(params![ws, query.metric, value_path])?;
    while let Some(row) = rows.next()? {
        let who: String = row.get(0)?;
        let Some((exposed_at, _, _)) = first.get(&who) else {
            continue;
        };
        if row.get::<_, i64>(1)? < *exposed_at {
            continue;
        }
        let value = number(row.get_ref(2)?);
        if let Some(user) = users.get_mut(&who) {
            user.converted = true;
            user.value += value;
        }
    }
    if let Some(pre_metric) = query.pre_metric {
        let mut stmt = conn.prepare_cached(
            "SELECT p.root_id, e.ts FROM events e JOIN profiles p ON p.id = e.profile_id WHERE e.workspace_id = ?1 AND e.name = ?2",
        )?;
        let mut rows = stmt.query(params![ws, pre_metric])?;
        while let Some(row) = rows.next()? {
            let who: String = row.get(0)?;
            let Some((exposed_at, _, _)) = first.get(&who) else {
                continue;
            };
            if row.get::<_, i64>(1)? >= *exposed_at {
                continue;
            }
            if let Some(covariate) = users.get_mut(&who).and_then(|u| u.covariate.as_mut()) {
                *covariate += 1.0;
            }
        }
    }
    let mut by_variation: BTreeMap<String, Vec<ExposedUser>> = BTreeMap::new();
    // Sorted, so that sums (and so every figure) are the same on every run.
    let mut exposed: Vec<(String, (i64, i64, String))> = first.into_iter().collect();
    exposed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (who, (_, _, variation)) in exposed {
        if let Some(user) = users.remove(&who) {
            by_variation.entry(variation).or_default().push(user);
        }
    }
    Ok(Some(by_variation))
}

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
    // person → (first decision time, held out, given the action)
    let mut people: HashMap<String, (i64, bool, bool)> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT p.root_id, d.at, d.holdout,
                EXISTS (SELECT 1 FROM decision_actions a WHERE a.decision_id = d.id AND (?2 IS NULL OR a.action_id = ?2))
         FROM decisions d JOIN profiles p ON p.id = d.profile_id WHERE d.workspace_id = ?1",
    )?;
    let mut rows = stmt.query(params![ws, action])?;
    while let Some(row) = rows.next()? {
        let who: String = row.get(0)?;
        let at: i64 = row.get(1)?;
        let held: bool = row.get(2)?;
        let given: bool = row.get(3)?;
        let entry = people.entry(who).or_insert((at, held, false));
        entry.0 = entry.0.min(at);
        entry.1 |= held;
        entry.2 |= given;
    }
    let contacts: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM decision_actions a JOIN decisions d ON d.id = a.decision_id
             WHERE d.workspace_id = ?1 AND (?2 IS NULL OR a.action_id = ?2)",
        )?
        .query_row(params![ws, action], |row| row.get(0))?;
    let mut outcomes: HashMap<String, ExposedUser> = HashMap::new();
    let value_path = value
        .map(json_path)
        .unwrap_or_else(|| "$.__none__".to_string());
    let mut stmt = conn.prepare_cached(
        "SELECT p.root_id, e.ts, json_extract(e.body, ?3) FROM events e JOIN profiles p ON p.id = e.profile_id
         WHERE e.workspace_id = ?1 AND e.name = ?2",
    )?;
    let mut rows = stmt.query(params![ws, metric, value_path])?;
    while let Some(row) = rows.next()? {
        let who: String = row.get(0)?;
        let Some((first, _, _)) = people.get(&who) else {
            continue;
        };
        if row.get::<_, i64>(1)? < *first {
            continue;
        }
        let amount = number(row.get_ref(2)?);
        let user = outcomes.entry(who).or_default();
        user.converted = true;
        user.value += amount;
    }
    let mut everyone: Vec<(String, (i64, bool, bool))> = people.into_iter().collect();
    everyone.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut groups = LiftGroups {
        treated: Vec::new(),
        holdout: Vec::new(),
        contacts: contacts.max(0) as u64,
    };
    for (who, (_, held, given)) in everyone {
        let user = outcomes.remove(&who).unwrap_or_default();
        if held {
            groups.holdout.push(user);
        } else if given || action.is_none() {
            groups.treated.push(user);
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

/// `(event time ms, text)` of every event named `event`, property `property`.
pub fn texts(
    conn: &Connection,
    ws: &str,
    event: &str,
    property: &str,
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT ts, json_extract(body, ?3) FROM events WHERE workspace_id = ?1 AND name = ?2 ORDER BY ts, seq",
    )?;
    let mut rows = stmt.query(params![ws, event, json_path(property)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        if let rusqlite::types::ValueRef::Text(text) = row.get_ref(1)? {
            out.push((row.get(0)?, String::from_utf8_lossy(text).into_owned()));
        }
    }
    Ok(out)
}

/// Mention and reply edges (`userId` → each of `properties.mentions`, and
/// → `properties.reply_to`) of every event named `event`. Mentions are a
/// JSON list or, as social tools export them to CSV, one string of handles
/// separated by spaces, commas or semicolons; a leading `@` is dropped.
pub fn social_edges(
    conn: &Connection,
    ws: &str,
    event: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(e.body, '$.userId'), m.value FROM events e, json_each(e.body, '$.properties.mentions') m
         WHERE e.workspace_id = ?1 AND e.name = ?2 AND json_extract(e.body, '$.userId') IS NOT NULL AND m.type = 'text'
         UNION ALL
         SELECT json_extract(e.body, '$.userId'), json_extract(e.body, '$.properties.reply_to') FROM events e
         WHERE e.workspace_id = ?1 AND e.name = ?2 AND json_extract(e.body, '$.userId') IS NOT NULL
           AND json_type(e.body, '$.properties.reply_to') = 'text'",
    )?;
    let rows = stmt
        .query_map(params![ws, event], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut edges = Vec::with_capacity(rows.len());
    for (from, to) in rows {
        for handle in handles(&to) {
            if handle != from {
                edges.push((from.clone(), handle.to_owned()));
            }
        }
    }
    Ok(edges)
}

/// The handles in one mention string: `"@ann, bob;@cy"` → ann, bob, cy.
pub fn handles(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|h| h.trim_start_matches('@'))
        .filter(|h| !h.is_empty())
}

/// Every event named in `names` as `(person, ts, index of its name)`, in
/// time order, for funnels.
pub fn step_events(
    conn: &Connection,
    ws: &str,
    names: &[String],
) -> Result<Vec<(String, i64, usize)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.root_id, e.ts FROM events e JOIN profiles p ON p.id = e.profile_id
         WHERE e.workspace_id = ?1 AND e.name = ?2",
    )?;
    let mut out = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let rows = stmt.query_map(params![ws, name], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (who, ts) = row?;
            out.push((who, ts, index));
        }
    }
    out.sort_by(|a, b| (a.1, &a.0, a.2).cmp(&(b.1, &b.0, b.2)));
    Ok(out)
}
