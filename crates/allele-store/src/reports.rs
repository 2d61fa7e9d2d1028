//! Reads behind the reports: who was exposed to what, and what they did
//! after. The statistics themselves live in `allele-stats`.

use crate::{StoreError, facts};
use rusqlite::{Connection, OptionalExtension, params};
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

/// People a readout follows, each from a threshold time on: the merged
/// root's key → its slot, with slot-indexed threshold times.
struct Cohort {
    /// Root key → slot, dense for ordinary profile numbers.
    dense: Vec<u32>,
    /// Roots outside `dense` (profiles without a number, huge numbers).
    sparse: HashMap<i64, u32>,
    since: Vec<(i64, i64)>,
    /// Profile number → root key, for merged profiles only.
    roots: HashMap<i64, i64>,
}

const NO_SLOT: u32 = u32::MAX;
/// A dense index costs 4 bytes per profile number; beyond this, a map.
const DENSE_LIMIT: i64 = 1 << 25;

impl Cohort {
    fn new(conn: &Connection, ws: &str) -> Result<Cohort, StoreError> {
        let max: Option<i64> = conn
            .prepare_cached("SELECT MAX(num) FROM profiles")?
            .query_row([], |row| row.get(0))?;
        let size = match max {
            Some(max) if (0..DENSE_LIMIT).contains(&max) => max as usize + 1,
            _ => 0,
        };
        Ok(Cohort {
            dense: vec![NO_SLOT; size],
            sparse: HashMap::new(),
            since: Vec::new(),
            roots: merged_roots(conn, ws)?,
        })
    }

    fn slot(&self, key: i64) -> Option<usize> {
        let slot = match usize::try_from(key).ok().and_then(|k| self.dense.get(k)) {
            Some(slot) => *slot,
            None => *self.sparse.get(&key)?,
        };
        (slot != NO_SLOT).then_some(slot as usize)
    }

    /// The root key of a profile number.
    fn root(&self, profile: i64) -> i64 {
        match self.roots.is_empty() {
            true => profile,
            false => self.roots.get(&profile).copied().unwrap_or(profile),
        }
    }

    /// The slot of `key`, added with threshold `at` if new.
    fn insert(&mut self, key: i64, at: (i64, i64)) -> usize {
        if let Some(slot) = self.slot(key) {
            return slot;
        }
        let slot = self.since.len();
        self.since.push(at);
        match usize::try_from(key)
            .ok()
            .and_then(|k| self.dense.get_mut(k))
        {
            Some(entry) => *entry = slot as u32,
            None => {
                self.sparse.insert(key, slot as u32);
            }
        }
        slot
    }
}

/// The key readouts use for a merged root: its number, or minus its rowid
/// for a profile never given one (stable within one read transaction).
const ROOT_KEY: &str = "COALESCE(r.num, -r.rowid)";

/// Profile number → root key, for merged profiles only (every other
/// profile is its own root).
fn merged_roots(conn: &Connection, ws: &str) -> Result<HashMap<i64, i64>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT p.num, {ROOT_KEY} FROM profiles p INDEXED BY profiles_merged_into JOIN profiles r ON r.id = p.root_id
         WHERE p.merged_into IS NOT NULL AND p.root_id <> p.id AND p.num IS NOT NULL AND p.workspace_id = ?1"
    ))?;
    let rows = stmt.query_map([ws], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn name_id(conn: &Connection, ws: &str, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM event_names WHERE workspace_id = ?1 AND name = ?2")?
        .query_row(params![ws, name], |row| row.get(0))
        .optional()?)
}

/// Fold the `metric` events of every cohort member into `users` (by slot):
/// at or after the member's threshold a conversion with its `value`
/// property added; before it, one more on the covariate when `pre`.
fn fold_metric(
    conn: &Connection,
    ws: &str,
    cohort: &Cohort,
    metric: &str,
    value: Option<&str>,
    pre: bool,
    users: &mut [ExposedUser],
) -> Result<(), StoreError> {
    let Some(name_id) = name_id(conn, ws, metric)? else {
        return Ok(());
    };
    let key = value.map(str::as_bytes);
    let mut stmt =
        conn.prepare_cached("SELECT profile, ts, numbers FROM event_facts WHERE name_id = ?1")?;
    let mut rows = stmt.query([name_id])?;
    while let Some(row) = rows.next()? {
        let profile: i64 = row.get(0)?;
        let Some(slot) = cohort.slot(cohort.root(profile)) else {
            continue;
        };
        let (Some(user), Some((since, _))) = (users.get_mut(slot), cohort.since.get(slot)) else {
            continue;
        };
        let ts: i64 = row.get(1)?;
        if pre {
            if ts < *since
                && let Some(covariate) = user.covariate.as_mut()
            {
                *covariate += 1.0;
            }
            continue;
        }
        if ts < *since {
            continue;
        }
        user.converted = true;
        if let (Some(key), rusqlite::types::ValueRef::Blob(numbers)) = (key, row.get_ref(2)?) {
            user.value += facts::number_in(numbers, key);
        }
    }
    Ok(())
}

/// Variation → exposed users, or `None` when nobody saw the experiment.
/// A person (merged root) counts once, in the variation of their first
/// exposure by event time; conversions count only at or after that moment.
/// Users are listed in the order the exposure rows first name them (by
/// profile number), so sums (and so every figure) are the same on every run.
pub fn experiment(
    conn: &Connection,
    ws: &str,
    query: &ExperimentQuery,
) -> Result<Option<BTreeMap<String, Vec<ExposedUser>>>, StoreError> {
    // One snapshot: roots, exposures and events as of the same moment.
    let tx = conn.unchecked_transaction()?;
    let mut cohort = Cohort::new(&tx, ws)?;
    let mut variations: Vec<String> = Vec::new();
    let mut variation_of: Vec<u32> = Vec::new();
    let mut stmt = tx.prepare_cached(
        "SELECT profile, ts, seq, variation FROM exposures WHERE workspace_id = ?1 AND experiment_id = ?2",
    )?;
    let mut rows = stmt.query(params![ws, query.experiment_id])?;
    while let Some(row) = rows.next()? {
        let profile: i64 = row.get(0)?;
        let root = cohort.root(profile);
        let at = (row.get::<_, i64>(1)?, row.get::<_, i64>(2)?);
        let variation = match row.get_ref(3)? {
            rusqlite::types::ValueRef::Text(text) => text,
            _ => continue,
        };
        let variation = match variations.iter().position(|v| v.as_bytes() == variation) {
            Some(index) => index as u32,
            None => {
                variations.push(String::from_utf8_lossy(variation).into_owned());
                (variations.len() - 1) as u32
            }
        };
        let slot = cohort.insert(root, at);
        match (cohort.since.get_mut(slot), variation_of.get_mut(slot)) {
            (Some(since), Some(of)) => {
                if at < *since {
                    *since = at;
                    *of = variation;
                }
            }
            _ => variation_of.push(variation),
        }
    }
    drop(rows);
    drop(stmt);
    if cohort.since.is_empty() {
        return Ok(None);
    }
    let mut users = vec![
        ExposedUser {
            covariate: query.pre_metric.map(|_| 0.0),
            ..ExposedUser::default()
        };
        cohort.since.len()
    ];
    let (metric, value) = (query.metric, query.value);
    fold_metric(&tx, ws, &cohort, metric, value, false, &mut users)?;
    if let Some(pre_metric) = query.pre_metric {
        fold_metric(&tx, ws, &cohort, pre_metric, None, true, &mut users)?;
    }
    let mut by_variation: BTreeMap<String, Vec<ExposedUser>> = BTreeMap::new();
    for (slot, user) in users.into_iter().enumerate() {
        let variation = variation_of
            .get(slot)
            .and_then(|v| variations.get(*v as usize));
        if let Some(variation) = variation {
            by_variation
                .entry(variation.clone())
                .or_default()
                .push(user);
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

/// For funnels: each step's events as `(person, ts)`, sorted by person and
/// then time. People are merged roots' integer keys, read from the narrow
/// `event_facts` rows (in that order already unless merges moved some),
/// so no event JSON is parsed and no profile id is compared as text.
pub fn step_events(
    conn: &Connection,
    ws: &str,
    names: &[String],
) -> Result<Vec<Vec<(i64, i64)>>, StoreError> {
    let roots = merged_roots(conn, ws)?;
    let mut stmt = conn.prepare_cached(
        "SELECT profile, ts FROM event_facts WHERE name_id = ?1 ORDER BY profile, ts, seq",
    )?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let mut events = Vec::new();
        if let Some(id) = name_id(conn, ws, name)? {
            let mut rows = stmt.query([id])?;
            while let Some(row) = rows.next()? {
                let profile: i64 = row.get(0)?;
                let root = roots.get(&profile).copied().unwrap_or(profile);
                events.push((root, row.get::<_, i64>(1)?));
            }
        }
        if !roots.is_empty() {
            events.sort_unstable();
        }
        out.push(events);
    }
    Ok(out)
}
