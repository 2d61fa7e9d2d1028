//! Segment membership in bulk and for one changed person, without the full
//! profile read: a definition's slot paths say which parts of the profile
//! it can see, and only those are read. A full rebuild is one pass over
//! `profiles` in root order (identities and consent as one grouped query
//! each, only when named); one person's memberships are one indexed read of
//! their member rows.

use super::{Compiled, as_input_owned, is_member};
use crate::computed::Wanted;
use allele_engine::cel::{Root, SlotTable};
use allele_engine::decide::Identity;
use allele_engine::{ConsentRecord, ConsentStatus, DecisionInput, ProfileView};
use allele_store::segments::{Person, Reads};
use allele_store::{Connection, StoreError};
use serde_json::Map;
use std::collections::HashMap;

/// The parts of a profile a set of definitions can read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Needs {
    pub reads: Reads,
    pub computed: Wanted,
    /// Reads `profile.segments`: the person's memberships in every segment
    /// of the workspace, each evaluated with no memberships, as the profile
    /// read fills them in.
    pub segments: bool,
}

impl Needs {
    pub fn of(slots: &SlotTable) -> Needs {
        let mut needs = Needs::default();
        needs.add(slots);
        needs
    }

    /// Adds what expressions over `slots` read. A path that stops at
    /// `profile` (a whole-profile read) needs everything.
    pub fn add(&mut self, slots: &SlotTable) {
        self.computed.add_slots(slots);
        for path in slots.paths() {
            if path.root != Root::Profile {
                continue;
            }
            match path.keys.first().map(|key| &**key) {
                None => {
                    self.reads = Reads {
                        traits: true,
                        identities: true,
                        consent: true,
                    };
                    self.segments = true;
                }
                Some("traits") => self.reads.traits = true,
                Some("identities") => self.reads.identities = true,
                Some("consent") => self.reads.consent = true,
                Some("segments") => self.segments = true,
                // `computed` is in `self.computed`; id, counts and times come
                // with the rows.
                Some(_) => {}
            }
        }
    }
}

/// A time as the profile read hands it on (milliseconds through text and
/// back): out-of-range times read as absent.
fn seen(ms: Option<i64>) -> Option<i64> {
    ms.filter(|ms| jiff::Timestamp::from_millisecond(*ms).is_ok())
}

/// The engine's view of `person`, with the computed traits in `wanted`.
pub fn view(
    conn: &Connection,
    person: Person,
    wanted: &Wanted,
    now: i64,
) -> Result<ProfileView, StoreError> {
    let last_seen = seen(person.folded.last_seen);
    let computed = match wanted.is_empty() {
        true => Map::new(),
        false => crate::computed::computed_wanted(conn, &person.root, last_seen, now, wanted)?,
    };
    let consent = person
        .consent
        .into_iter()
        .filter_map(|(purpose, channel, status)| {
            let status = match status.as_str() {
                "given" => ConsentStatus::Given,
                "withdrawn" => ConsentStatus::Withdrawn,
                "refused" => ConsentStatus::Refused,
                _ => return None,
            };
            Some(ConsentRecord {
                purpose,
                channel,
                status,
            })
        })
        .collect();
    Ok(ProfileView {
        id: person.root,
        traits: person.folded.traits,
        computed,
        segments: Vec::new(),
        consent,
        identities: person
            .identities
            .into_iter()
            .map(|(kind, value)| Identity { kind, value })
            .collect(),
        event_count: person.folded.event_count.max(0) as u64,
        first_seen: seen(person.folded.first_seen),
        last_seen,
    })
}

/// Walks the members of one definition with root id after `after`, in root
/// id order, until `visit` returns `false`.
pub fn scan_members(
    conn: &Connection,
    ws: &str,
    compiled: &Compiled,
    after: &str,
    now: i64,
    mut visit: impl FnMut(&str) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let (expression, slots) = (&compiled.0, &compiled.1);
    let mut needs = Needs::of(slots);
    // Memberships the definition reads are evaluated first, so the scan
    // reads what every definition needs.
    let definitions = match needs.segments {
        true => super::definitions(conn, ws)?,
        false => Default::default(),
    };
    for (_, other) in definitions.iter() {
        needs.add(&other.1);
    }
    let mut input: DecisionInput = as_input_owned(ProfileView::default(), now);
    allele_store::segments::scan_people(conn, ws, after, needs.reads, |person| {
        input.profile = view(conn, person, &needs.computed, now)?;
        if !definitions.is_empty() {
            input.profile.segments = members_in(&definitions, &input, now);
        }
        if is_member(expression, slots, &input, now) {
            return visit(&input.profile.id);
        }
        Ok(true)
    })
}

/// The ids of `definitions` whose expression holds for `input`.
fn members_in(definitions: &[(String, Compiled)], input: &DecisionInput, now: i64) -> Vec<String> {
    definitions
        .iter()
        .filter(|(_, compiled)| is_member(&compiled.0, &compiled.1, input, now))
        .map(|(id, _)| id.clone())
        .collect()
}

/// Every member of `compiled` in the workspace, by root id.
pub fn all_members(
    conn: &Connection,
    ws: &str,
    compiled: &Compiled,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::new();
    scan_members(conn, ws, compiled, "", now, |root| {
        found.push(root.to_string());
        Ok(true)
    })?;
    Ok(found)
}

/// The ids of the workspace's segments `root` belongs to, re-evaluated
/// after a change to the person: their member rows in one indexed read,
/// identities, consent and computed traits only when a definition reads
/// them. `ProfileNotFound` when no profile has this root.
pub fn memberships(conn: &Connection, ws: &str, root: &str) -> Result<Vec<String>, StoreError> {
    let definitions = super::definitions(conn, ws)?;
    if definitions.is_empty() {
        return Ok(Vec::new());
    }
    let now = allele_store::now_ms();
    let needs = &definitions.needs;
    let Some(person) = allele_store::segments::person(conn, root, needs.reads)? else {
        return Err(StoreError::ProfileNotFound);
    };
    let input = as_input_owned(view(conn, person, &needs.computed, now)?, now);
    Ok(members_in(&definitions, &input, now))
}

/// [`memberships`] for several people of one workspace at once: their
/// member rows (and identities and consent when read) in one query each
/// whatever their number. A root with no profile is left out of the map.
pub fn memberships_of(
    conn: &Connection,
    ws: &str,
    roots: &[&str],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let definitions = super::definitions(conn, ws)?;
    let mut found = HashMap::with_capacity(roots.len());
    if definitions.is_empty() || roots.is_empty() {
        return Ok(found);
    }
    let now = allele_store::now_ms();
    let needs = &definitions.needs;
    let mut input: DecisionInput = as_input_owned(ProfileView::default(), now);
    for person in allele_store::segments::people(conn, roots, needs.reads)? {
        input.profile = view(conn, person, &needs.computed, now)?;
        let segments = members_in(&definitions, &input, now);
        found.insert(std::mem::take(&mut input.profile.id), segments);
    }
    Ok(found)
}
