//! Reads: resolving references, the merged profile view, the timeline.

use crate::StoreError;
use allele_types::profile_ref::ProfileRef;
use allele_types::segment::format_time;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentRecord {
    pub purpose: String,
    pub channel: String,
    pub status: String,
    pub updated_at: String,
    pub source: String,
    pub receipt_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileView {
    pub id: String,
    pub identities: Vec<Identity>,
    pub traits: Map<String, Value>,
    pub computed: Map<String, Value>,
    pub segments: Vec<String>,
    /// purpose → channel → the newest record.
    pub consent: Map<String, Value>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub event_count: i64,
    /// Profiles merged into this one (their ids keep resolving here).
    pub merged: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPage {
    pub events: Vec<Value>,
    pub next_before: Option<String>,
}

/// `[ts, seq]` as stored in `trait_times`.
pub fn trait_time(value: &Value) -> Option<(i64, i64)> {
    let pair = value.as_array()?;
    Some((pair.first()?.as_i64()?, pair.get(1)?.as_i64()?))
}

fn millis_to_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(format_time)
        .unwrap_or_default()
}

/// Column `index` as borrowed text (no copy).
pub(crate) fn text<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<&'r str, StoreError> {
    row.get_ref(index)?.as_str().map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(err))
            .into()
    })
}

/// A person's merged state: each trait's value with the newest
/// `trait_times` entry (a key without one is skipped; nulls are dropped at
/// the end), the earliest first and latest last seen, and the event total.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Folded {
    pub traits: Map<String, Value>,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub event_count: i64,
}

/// Folds member rows, in `created_at, id` order, into [`Folded`]: the one
/// definition of the merged view, shared by profile reads and segment scans.
#[derive(Debug, Default)]
pub struct Fold {
    folded: Folded,
    members: usize,
    /// The first member's trait times: most people have one member, so the
    /// map of winning times is built only when a second one arrives.
    first_times: Map<String, Value>,
    winning: std::collections::HashMap<String, (i64, i64)>,
}

impl Fold {
    /// Adds one member; `traits` is `(traits, trait_times)` as stored, or
    /// `None` when the reader needs no trait.
    pub fn add(
        &mut self,
        traits: Option<(&str, &str)>,
        first_seen: Option<i64>,
        last_seen: Option<i64>,
        event_count: i64,
    ) -> Result<(), StoreError> {
        if let Some((traits, times)) = traits {
            let member_traits: Map<String, Value> = serde_json::from_str(traits)?;
            let member_times: Map<String, Value> = serde_json::from_str(times)?;
            if self.members == 0 {
                // Every trait with a time wins: nothing to compare against.
                for (key, value) in member_traits {
                    if member_times.get(&key).and_then(trait_time).is_some() {
                        self.folded.traits.insert(key, value);
                    }
                }
                self.first_times = member_times;
            } else {
                if self.members == 1 {
                    for key in self.folded.traits.keys() {
                        if let Some(time) = self.first_times.get(key).and_then(trait_time) {
                            self.winning.insert(key.clone(), time);
                        }
                    }
                }
                for (key, value) in member_traits {
                    let Some(time) = member_times.get(&key).and_then(trait_time) else {
                        continue;
                    };
                    if self
                        .winning
                        .get(&key)
                        .is_none_or(|existing| time > *existing)
                    {
                        self.winning.insert(key.clone(), time);
                        self.folded.traits.insert(key, value);
                    }
                }
            }
        }
        self.members += 1;
        let folded = &mut self.folded;
        if let Some(seen) = first_seen {
            folded.first_seen = Some(folded.first_seen.map_or(seen, |f| f.min(seen)));
        }
        if let Some(seen) = last_seen {
            folded.last_seen = Some(folded.last_seen.map_or(seen, |l| l.max(seen)));
        }
        folded.event_count += event_count;
        Ok(())
    }

    pub fn finish(mut self) -> Folded {
        self.folded.traits.retain(|_, value| !value.is_null());
        self.folded
    }
}

/// The root profile a reference resolves to, following merges.
pub fn resolve(
    conn: &Connection,
    ws: &str,
    profile_ref: &ProfileRef,
) -> Result<Option<String>, StoreError> {
    let root = match profile_ref {
        ProfileRef::Id(id) => conn
            .prepare_cached("SELECT root_id FROM profiles WHERE id = ?1 AND workspace_id = ?2")?
            .query_row(params![id, ws], |row| row.get(0))
            .optional()?,
        ProfileRef::Identity { kind, value } => {
            let value = crate::identity::normalise_identity(kind, &Value::String(value.clone()))
                .unwrap_or_else(|| value.clone());
            conn.prepare_cached(
                "SELECT p.root_id FROM identities i JOIN profiles p ON p.id = i.profile_id
                 WHERE i.workspace_id = ?1 AND i.kind = ?2 AND i.value = ?3",
            )?
            .query_row(params![ws, kind, value], |row| row.get(0))
            .optional()?
        }
    };
    Ok(root)
}

/// The profile a reference names directly (not its root): used by unmerge.
pub fn resolve_owner(
    conn: &Connection,
    ws: &str,
    profile_ref: &ProfileRef,
) -> Result<Option<String>, StoreError> {
    match profile_ref {
        ProfileRef::Id(id) => Ok(conn
            .prepare_cached("SELECT id FROM profiles WHERE id = ?1 AND workspace_id = ?2")?
            .query_row(params![id, ws], |row| row.get(0))
            .optional()?),
        ProfileRef::Identity { kind, value } => {
            let value = crate::identity::normalise_identity(kind, &Value::String(value.clone()))
                .unwrap_or_else(|| value.clone());
            Ok(conn
                .prepare_cached("SELECT profile_id FROM identities WHERE workspace_id = ?1 AND kind = ?2 AND value = ?3")?
                .query_row(params![ws, kind, value], |row| row.get(0))
                .optional()?)
        }
    }
}

pub fn members(conn: &Connection, root: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM profiles WHERE root_id = ?1 ORDER BY created_at, id")?;
    let ids = stmt
        .query_map([root], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(ids)
}

/// Fold the members of a merged profile into one view.
pub fn profile(conn: &Connection, root: &str) -> Result<ProfileView, StoreError> {
    let mut fold = Fold::default();
    let mut member_ids = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT id, traits, trait_times, first_seen, last_seen, event_count FROM profiles
         WHERE root_id = ?1 ORDER BY created_at, id",
    )?;
    let mut rows = stmt.query([root])?;
    while let Some(row) = rows.next()? {
        fold.add(
            Some((text(row, 1)?, text(row, 2)?)),
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
        )?;
        member_ids.push(row.get::<_, String>(0)?);
    }
    if member_ids.is_empty() {
        return Err(StoreError::ProfileNotFound);
    }
    let Folded {
        traits,
        first_seen,
        last_seen,
        event_count,
    } = fold.finish();
    let identities = identities(conn, root)?;
    let consent = consent_state(conn, root)?;
    let merged = member_ids.into_iter().filter(|id| id != root).collect();
    Ok(ProfileView {
        id: root.to_string(),
        identities,
        traits,
        computed: Map::new(),
        segments: Vec::new(),
        consent,
        first_seen: first_seen.map(millis_to_text),
        last_seen: last_seen.map(millis_to_text),
        event_count,
        merged,
    })
}

fn identities(conn: &Connection, root: &str) -> Result<Vec<Identity>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.kind, i.value FROM identities i JOIN profiles p ON p.id = i.profile_id
         WHERE p.root_id = ?1 ORDER BY i.created_at, i.kind, i.value",
    )?;
    let ids = stmt
        .query_map([root], |row| {
            Ok(Identity {
                kind: row.get(0)?,
                value: row.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

/// The consent ledger of a merged profile, oldest first.
pub fn consent_ledger(conn: &Connection, root: &str) -> Result<Vec<ConsentRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.purpose, c.channel, c.status, c.at, c.source, c.receipt_id FROM consents c
         JOIN profiles p ON p.id = c.profile_id WHERE p.root_id = ?1 ORDER BY c.seq",
    )?;
    let records = stmt
        .query_map([root], |row| {
            Ok(ConsentRecord {
                purpose: row.get(0)?,
                channel: row.get(1)?,
                status: row.get(2)?,
                updated_at: millis_to_text(row.get(3)?),
                source: row.get(4)?,
                receipt_id: row.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(records)
}

fn consent_state(conn: &Connection, root: &str) -> Result<Map<String, Value>, StoreError> {
    let mut state = Map::new();
    for record in consent_ledger(conn, root)? {
        let channels = state
            .entry(record.purpose.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(channels) = channels {
            channels.insert(record.channel.clone(), serde_json::to_value(&record)?);
        }
    }
    Ok(state)
}

fn encode_cursor(ts: i64, seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{ts}:{seq}"))
}

pub fn decode_cursor(text: &str) -> Option<(i64, i64)> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (ts, seq) = text.split_once(':')?;
    Some((ts.parse().ok()?, seq.parse().ok()?))
}

/// Newest first; `(ts, seq)` orders ties so paging never skips or repeats.
pub fn events(
    conn: &Connection,
    root: &str,
    limit: usize,
    before: Option<(i64, i64)>,
) -> Result<EventPage, StoreError> {
    let (before_ts, before_seq) = before.unwrap_or((i64::MAX, i64::MAX));
    let mut stmt = conn.prepare_cached(
        "SELECT e.ts, e.seq, e.body FROM events e
         WHERE e.profile_id IN (SELECT id FROM profiles WHERE root_id = ?1)
           AND (e.ts < ?2 OR (e.ts = ?2 AND e.seq < ?3))
         ORDER BY e.ts DESC, e.seq DESC LIMIT ?4",
    )?;
    let mut rows = stmt.query(params![root, before_ts, before_seq, (limit + 1) as i64])?;
    let mut events = Vec::with_capacity(limit);
    let mut last = None;
    let mut more = false;
    while let Some(row) = rows.next()? {
        if events.len() == limit {
            more = true;
            break;
        }
        let ts: i64 = row.get(0)?;
        let seq: i64 = row.get(1)?;
        let body: Map<String, Value> = serde_json::from_str(&row.get::<_, String>(2)?)?;
        events.push(timeline_entry(body));
        last = Some((ts, seq));
    }
    let next_before = if more {
        last.map(|(ts, seq)| encode_cursor(ts, seq))
    } else {
        None
    };
    Ok(EventPage {
        events,
        next_before,
    })
}

fn timeline_entry(mut body: Map<String, Value>) -> Value {
    let mut entry = Map::new();
    for key in [
        "messageId",
        "type",
        "event",
        "name",
        "userId",
        "anonymousId",
        "previousId",
        "groupId",
        "timestamp",
        "properties",
        "traits",
        "context",
    ] {
        if let Some(value) = body.remove(key) {
            entry.insert(key.to_string(), value);
        }
    }
    Value::Object(entry)
}

/// Texts of the profile's events named `event` (property `text`) since `since`.
pub fn own_texts(
    conn: &Connection,
    root: &str,
    event: &str,
    since: i64,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        // Through `event_facts` (keyed by name, profile, time) so that a
        // person's other events are never read.
        "SELECT json_extract(e.body, '$.properties.text')
         FROM event_facts f JOIN events e ON e.seq = f.seq
         WHERE f.name_id = (SELECT n.id FROM event_names n JOIN profiles p ON p.workspace_id = n.workspace_id
                            WHERE p.id = ?1 AND n.name = ?2)
           AND f.profile IN (SELECT num FROM profiles WHERE root_id = ?1) AND f.ts >= ?3
           AND json_type(e.body, '$.properties.text') = 'text'",
    )?;
    let rows = stmt
        .query_map(params![root, event, since], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::{Fold, trait_time};
    use serde_json::{Map, Value, json};

    /// The merged traits by the definition: every member compared against
    /// the newest time so far, no shortcut for the first.
    fn by_definition(members: &[(Value, Value)]) -> Map<String, Value> {
        let mut traits = Map::new();
        let mut winning = std::collections::HashMap::new();
        for (member_traits, member_times) in members {
            for (key, value) in member_traits.as_object().unwrap() {
                let Some(time) = member_times.get(key).and_then(trait_time) else {
                    continue;
                };
                if winning.get(key).is_none_or(|existing| time > *existing) {
                    winning.insert(key.clone(), time);
                    traits.insert(key.clone(), value.clone());
                }
            }
        }
        traits.retain(|_, value| !value.is_null());
        traits
    }

    #[test]
    fn fold_keeps_the_newest_time_across_members() {
        let mut state = 5_u64;
        let mut below = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        for _ in 0..2_000 {
            let members: Vec<(Value, Value)> = (0..1 + below(3))
                .map(|_| {
                    let (mut traits, mut times) = (Map::new(), Map::new());
                    for key in ["a", "b", "c"] {
                        if below(4) > 0 {
                            let value = match below(3) {
                                0 => Value::Null,
                                n => json!(n * 10 + below(10)),
                            };
                            traits.insert(key.into(), value);
                        }
                        if below(5) > 0 {
                            times.insert(key.into(), json!([below(3), below(3)]));
                        }
                    }
                    (Value::Object(traits), Value::Object(times))
                })
                .collect();
            let mut fold = Fold::default();
            for (traits, times) in &members {
                let (traits, times) = (traits.to_string(), times.to_string());
                fold.add(Some((&traits, &times)), None, None, 1).unwrap();
            }
            let folded = fold.finish();
            assert_eq!(folded.traits, by_definition(&members), "{members:?}");
            assert_eq!(folded.event_count, members.len() as i64);
        }
    }
}
