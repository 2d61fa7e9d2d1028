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

pub(crate) fn json_path(property: &str) -> String {
    // Quoted so any property key (spaces, dots) is one path step.
    format!("$.properties.\"{}\"", property.replace('"', "\\\""))
}

/// People a readout follows, each from a threshold time on: the merged
/// root's key → its slot, with slot-indexed threshold times.
pub(crate) struct Cohort {
    /// Root key → slot, dense for ordinary profile numbers.
    dense: Vec<u32>,
    /// Roots outside `dense` (profiles without a number, huge numbers).
    sparse: HashMap<i64, u32>,
    pub(crate) since: Vec<(i64, i64)>,
    /// Profile number → root key, for merged profiles only.
    roots: HashMap<i64, i64>,
    /// By slot: whether the person has merged profiles (rows of several
    /// profile numbers), set by [`Cohort::mark_shared`].
    shared: Vec<bool>,
}

const NO_SLOT: u32 = u32::MAX;
/// A dense index costs 4 bytes per profile number; beyond this, a map.
const DENSE_LIMIT: i64 = 1 << 25;

impl Cohort {
    pub(crate) fn new(conn: &Connection, ws: &str) -> Result<Cohort, StoreError> {
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
            shared: Vec::new(),
        })
    }

    /// Flag the slots of people with merged profiles, once all are added.
    pub(crate) fn mark_shared(&mut self) {
        let mut shared = vec![false; self.since.len()];
        for root in self.roots.values() {
            if let Some(flag) = self.slot(*root).and_then(|slot| shared.get_mut(slot)) {
                *flag = true;
            }
        }
        self.shared = shared;
    }

    fn is_shared(&self, slot: usize) -> bool {
        self.shared.get(slot).copied().unwrap_or(false)
    }

    /// A profile number splitting the dense range in halves (everything is
    /// below it when there is no dense range).
    fn split_at(&self) -> i64 {
        match self.dense.len() {
            0 => i64::MAX,
            len => (len / 2) as i64,
        }
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
    pub(crate) fn insert(&mut self, key: i64, at: (i64, i64)) -> usize {
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
pub(crate) const ROOT_KEY: &str = "COALESCE(r.num, -r.rowid)";

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

/// What a metric scan adds to one person: a run of one profile's rows, or
/// a single row for a person with merged profiles (whose value sum must
/// take its rows in scan order across profiles, so that the figures do not
/// depend on how the scan was split).
#[derive(Debug, Clone, Copy)]
struct Hit {
    slot: u32,
    converted: bool,
    value: f64,
    pre: f64,
}

impl Hit {
    fn apply(&self, users: &mut [ExposedUser]) {
        let Some(user) = users.get_mut(self.slot as usize) else {
            return;
        };
        user.converted |= self.converted;
        if self.value != 0.0 {
            user.value += self.value;
        }
        if self.pre != 0.0
            && let Some(covariate) = user.covariate.as_mut()
        {
            *covariate += self.pre;
        }
    }
}

/// One metric scan over the profile numbers in `range`: at or after a
/// member's threshold a conversion with its `value` property added; before
/// it, one more on the covariate when `pre`.
fn scan_metric(
    conn: &Connection,
    name_id: i64,
    range: (i64, i64),
    cohort: &Cohort,
    value: Option<&[u8]>,
    pre: bool,
) -> Result<Vec<Hit>, StoreError> {
    // Rows come in (profile, ts, seq) order, so a profile's rows are one run.
    let sql = match value.is_some() && !pre {
        true => {
            "SELECT profile, ts, numbers FROM event_facts WHERE name_id = ?1 AND profile >= ?2 AND profile < ?3"
        }
        false => {
            "SELECT profile, ts FROM event_facts WHERE name_id = ?1 AND profile >= ?2 AND profile < ?3"
        }
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params![name_id, range.0, range.1])?;
    let mut hits = Vec::new();
    // The run being summed: (profile, slot, threshold, shared).
    let mut run: Option<(i64, u32, i64, bool)> = None;
    let mut hit: Option<Hit> = None;
    while let Some(row) = rows.next()? {
        let profile: i64 = row.get(0)?;
        if run.is_none_or(|r| r.0 != profile) {
            hits.extend(hit.take());
            run = cohort.slot(cohort.root(profile)).and_then(|slot| {
                let (since, _) = cohort.since.get(slot)?;
                Some((profile, slot as u32, *since, cohort.is_shared(slot)))
            });
            let Some((_, slot, _, _)) = run else {
                // Remember the miss so the profile's other rows skip fast.
                run = Some((profile, NO_SLOT, 0, false));
                continue;
            };
            hit = Some(Hit {
                slot,
                converted: false,
                value: 0.0,
                pre: 0.0,
            });
        }
        let (Some((_, slot, since, shared)), Some(current)) = (run, hit.as_mut()) else {
            continue;
        };
        let ts: i64 = row.get(1)?;
        if pre {
            if ts < since {
                current.pre += 1.0;
            }
        } else if ts >= since {
            current.converted = true;
            // The numbers column is selected only when a value is asked for.
            if let Some(key) = value
                && let rusqlite::types::ValueRef::Blob(numbers) = row.get_ref(2)?
            {
                current.value += facts::number_in(numbers, key);
            }
        }
        if shared {
            hits.push(*current);
            *current = Hit {
                slot,
                converted: false,
                value: 0.0,
                pre: 0.0,
            };
        }
    }
    hits.extend(hit);
    Ok(hits)
}

/// The whole range of profile numbers and keys.
const ALL: (i64, i64) = (i64::MIN, i64::MAX);

/// Fold the `metric` events of every cohort member into `users` (by slot),
/// in one scan on `conn`.
pub(crate) fn fold_metric(
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
    let value = value.map(str::as_bytes);
    for hit in scan_metric(conn, name_id, ALL, cohort, value, pre)? {
        hit.apply(users);
    }
    Ok(())
}

/// Exposures, in one snapshot: the cohort, each slot's variation index,
/// and the variation names.
struct Exposed {
    cohort: Cohort,
    variation_of: Vec<u32>,
    variations: Vec<String>,
}

fn exposed(conn: &Connection, ws: &str, experiment_id: &str) -> Result<Exposed, StoreError> {
    let mut cohort = Cohort::new(conn, ws)?;
    let mut variations: Vec<String> = Vec::new();
    let mut variation_of: Vec<u32> = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT profile, ts, seq, variation FROM exposures WHERE workspace_id = ?1 AND experiment_id = ?2",
    )?;
    let mut rows = stmt.query(params![ws, experiment_id])?;
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
    cohort.mark_shared();
    Ok(Exposed {
        cohort,
        variation_of,
        variations,
    })
}

/// Users by variation name, in slot order.
fn by_variation(exposed: &Exposed, users: Vec<ExposedUser>) -> BTreeMap<String, Vec<ExposedUser>> {
    let mut groups: Vec<Vec<ExposedUser>> = vec![Vec::new(); exposed.variations.len()];
    for (user, variation) in users.into_iter().zip(&exposed.variation_of) {
        if let Some(group) = groups.get_mut(*variation as usize) {
            group.push(user);
        }
    }
    exposed.variations.iter().cloned().zip(groups).collect()
}

fn new_users(exposed: &Exposed, query: &ExperimentQuery) -> Vec<ExposedUser> {
    vec![
        ExposedUser {
            covariate: query.pre_metric.map(|_| 0.0),
            ..ExposedUser::default()
        };
        exposed.cohort.since.len()
    ]
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
    let exposed = exposed(&tx, ws, query.experiment_id)?;
    if exposed.cohort.since.is_empty() {
        return Ok(None);
    }
    let mut users = new_users(&exposed, query);
    let (metric, value) = (query.metric, query.value);
    fold_metric(&tx, ws, &exposed.cohort, metric, value, false, &mut users)?;
    if let Some(pre_metric) = query.pre_metric {
        fold_metric(&tx, ws, &exposed.cohort, pre_metric, None, true, &mut users)?;
    }
    Ok(Some(by_variation(&exposed, users)))
}

/// [`experiment`] on two read connections: the second scans the upper half
/// of the profile numbers of each metric while the first reads exposures
/// and then the lower half. The figures are the same as [`experiment`]'s.
///
/// The two connections read two snapshots taken together at the start:
/// exposures and roots come from the first, the upper half of the metric
/// events from the second, so an event committed in between may count in
/// one half and not the other — as if the readout had run a moment later.
pub fn experiment_split(
    first: &mut Connection,
    second: &mut Connection,
    ws: &str,
    query: &ExperimentQuery,
) -> Result<Option<BTreeMap<String, Vec<ExposedUser>>>, StoreError> {
    let tx = first.unchecked_transaction()?;
    let metric_id = name_id(&tx, ws, query.metric)?;
    let pre_id = match query.pre_metric {
        Some(pre) => name_id(&tx, ws, pre)?,
        None => None,
    };
    let (cohort_tx, cohort_rx) = std::sync::mpsc::channel::<std::sync::Arc<Exposed>>();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let value = query.value.map(str::as_bytes);
    std::thread::scope(|scope| {
        // Dropped on every return, so the second thread never waits forever.
        let cohort_tx = cohort_tx;
        let upper = scope.spawn(move || -> Result<(Vec<Hit>, Vec<Hit>), StoreError> {
            let conn: &Connection = second;
            let tx = conn.unchecked_transaction()?;
            // Opens this connection's snapshot before the exposures scan.
            let _ = name_id(&tx, ws, query.metric)?;
            let _ = started_tx.send(());
            let Ok(exposed) = cohort_rx.recv() else {
                return Ok((Vec::new(), Vec::new()));
            };
            let half = (exposed.cohort.split_at(), i64::MAX);
            let metric = match metric_id {
                Some(id) => scan_metric(&tx, id, half, &exposed.cohort, value, false)?,
                None => Vec::new(),
            };
            let pre = match pre_id {
                Some(id) => scan_metric(&tx, id, half, &exposed.cohort, None, true)?,
                None => Vec::new(),
            };
            Ok((metric, pre))
        });
        // The first snapshot starts once the second has (or has failed).
        let _ = started_rx.recv();
        let exposed = std::sync::Arc::new(exposed(&tx, ws, query.experiment_id)?);
        if exposed.cohort.since.is_empty() {
            return Ok(None);
        }
        let _ = cohort_tx.send(std::sync::Arc::clone(&exposed));
        let half = (i64::MIN, exposed.cohort.split_at());
        let lower_metric = match metric_id {
            Some(id) => scan_metric(&tx, id, half, &exposed.cohort, value, false)?,
            None => Vec::new(),
        };
        let lower_pre = match pre_id {
            Some(id) => scan_metric(&tx, id, half, &exposed.cohort, None, true)?,
            None => Vec::new(),
        };
        let (upper_metric, upper_pre) = upper.join().map_err(|_| StoreError::Closed)??;
        let mut users = new_users(&exposed, query);
        // Lower half first: the order of a single scan.
        for hit in lower_metric.iter().chain(&upper_metric) {
            hit.apply(&mut users);
        }
        for hit in lower_pre.iter().chain(&upper_pre) {
            hit.apply(&mut users);
        }
        Ok(Some(by_variation(&exposed, users)))
    })
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

#[cfg(test)]
#[path = "reports_split_tests.rs"]
mod split_tests;
