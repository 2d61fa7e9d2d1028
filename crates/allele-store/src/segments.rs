//! Segment definitions and the profiles they are evaluated over.

use crate::StoreError;
use crate::read::text;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bumped by every write to `segments`: readers that keep compiled
/// definitions compare it to the value they loaded them at, so a changed
/// definition is seen by the next evaluation without reading the table on
/// every one.
static VERSION: AtomicU64 = AtomicU64::new(0);

/// The current definitions version (see [`VERSION`]).
pub fn version() -> u64 {
    VERSION.load(Ordering::Acquire)
}

/// Moves the definitions version. [`put`] calls it inside its transaction
/// and the caller again once the write has committed: an evaluation that
/// read the version between the two loaded the table as it was before the
/// commit, and must not keep it.
pub fn changed() {
    VERSION.fetch_add(1, Ordering::AcqRel);
}

pub fn put(
    conn: &Connection,
    ws: &str,
    id: &str,
    definition: &str,
    description: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO segments (workspace_id, id, definition, description, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workspace_id, id) DO UPDATE SET definition = excluded.definition,
             description = excluded.description, updated_at = excluded.updated_at",
    )?
    .execute(params![ws, id, definition, description, now])?;
    changed();
    Ok(())
}

pub fn get(conn: &Connection, ws: &str, id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT definition FROM segments WHERE workspace_id = ?1 AND id = ?2")?
        .query_row(params![ws, id], |row| row.get(0))
        .optional()?)
}

/// Every `(id, definition)` of the workspace, by id.
pub fn all(conn: &Connection, ws: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, definition FROM segments WHERE workspace_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([ws], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Root profiles after `after` (by id), with their first userId.
pub fn roots_after(
    conn: &Connection,
    ws: &str,
    after: &str,
    limit: usize,
) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, (SELECT i.value FROM identities i JOIN profiles m ON m.id = i.profile_id
                       WHERE m.root_id = p.id AND i.kind = 'user_id' ORDER BY i.created_at LIMIT 1)
         FROM profiles p WHERE p.workspace_id = ?1 AND p.merged_into IS NULL AND p.id > ?2 ORDER BY p.id LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![ws, after, limit as i64], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The root's oldest `user_id` identity, from any of its members.
pub fn first_user_id(conn: &Connection, root: &str) -> Result<Option<String>, StoreError> {
    first_identity(conn, root, "user_id")
}

/// The merged person's oldest identity of `kind`.
pub fn first_identity(
    conn: &Connection,
    root: &str,
    kind: &str,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT i.value FROM identities i JOIN profiles m ON m.id = i.profile_id
             WHERE m.root_id = ?1 AND i.kind = ?2 ORDER BY i.created_at LIMIT 1",
        )?
        .query_row([root, kind], |row| row.get(0))
        .optional()?)
}

/// What a segment reads beyond the profile rows themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    pub traits: bool,
    pub identities: bool,
    pub consent: bool,
}

/// A person as a segment sees them: the folded member rows and, when asked
/// for, identities (oldest first) and the consent ledger `(purpose,
/// channel, status)` in ledger order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Person {
    pub root: String,
    pub folded: crate::read::Folded,
    pub identities: Vec<(String, String)>,
    pub consent: Vec<(String, String, String)>,
}

/// One person by root id, read with one indexed query on the member rows
/// (plus one each for identities and consent when `reads` asks), or `None`
/// when no profile has this root.
pub fn person(conn: &Connection, root: &str, reads: Reads) -> Result<Option<Person>, StoreError> {
    // Sorted here rather than in SQL: a sorter per lookup costs more than
    // ordering the one or few rows a person has.
    let mut members = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT created_at, id, traits, trait_times, first_seen, last_seen, event_count FROM profiles
         WHERE root_id = ?1",
    )?;
    let mut rows = stmt.query([root])?;
    while let Some(row) = rows.next()? {
        members.push(member_row(row, reads.traits)?);
    }
    if members.is_empty() {
        return Ok(None);
    }
    let mut person = Person {
        root: root.to_string(),
        folded: fold(&mut members, reads.traits)?,
        ..Person::default()
    };
    if reads.identities {
        let mut stmt = conn.prepare_cached(
            "SELECT i.kind, i.value FROM identities i JOIN profiles p ON p.id = i.profile_id
             WHERE p.root_id = ?1 ORDER BY i.created_at, i.kind, i.value",
        )?;
        person.identities = stmt
            .query_map([root], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
    }
    if reads.consent {
        let mut stmt = conn.prepare_cached(
            "SELECT c.purpose, c.channel, c.status FROM consents c
             JOIN profiles p ON p.id = c.profile_id WHERE p.root_id = ?1 ORDER BY c.seq",
        )?;
        person.consent = stmt
            .query_map([root], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<_, _>>()?;
    }
    Ok(Some(person))
}

/// Several people by root id, in one query on their member rows (plus one
/// each for identities and consent when `reads` asks) whatever their
/// number: `roots` is passed as one JSON array. Roots with no profile are
/// left out; the others come back in root id order.
pub fn people(conn: &Connection, roots: &[&str], reads: Reads) -> Result<Vec<Person>, StoreError> {
    let roots = serde_json::to_string(roots)?;
    let mut profiles = conn.prepare_cached(
        "SELECT root_id, created_at, id, traits, trait_times, first_seen, last_seen, event_count
         FROM profiles WHERE root_id IN (SELECT value FROM json_each(?1)) ORDER BY root_id",
    )?;
    let rows = profiles.query([&roots])?;
    let mut identity_stmt = conn.prepare_cached(
        "SELECT p.root_id, i.kind, i.value, '' FROM identities i JOIN profiles p ON p.id = i.profile_id
         WHERE p.root_id IN (SELECT value FROM json_each(?1)) ORDER BY p.root_id, i.created_at, i.kind, i.value",
    )?;
    let identities = Grouped {
        rows: match reads.identities {
            true => Some(identity_stmt.query([&roots])?),
            false => None,
        },
        pending: None,
    };
    let mut consent_stmt = conn.prepare_cached(
        "SELECT p.root_id, c.purpose, c.channel, c.status FROM consents c JOIN profiles p ON p.id = c.profile_id
         WHERE p.root_id IN (SELECT value FROM json_each(?1)) ORDER BY p.root_id, c.seq",
    )?;
    let consent = Grouped {
        rows: match reads.consent {
            true => Some(consent_stmt.query([&roots])?),
            false => None,
        },
        pending: None,
    };
    let mut found = Vec::new();
    walk(rows, identities, consent, reads.traits, |person| {
        found.push(person);
        Ok(true)
    })?;
    Ok(found)
}

/// A member row as the scan reads it.
struct MemberRow {
    created_at: i64,
    id: String,
    traits: String,
    trait_times: String,
    first_seen: Option<i64>,
    last_seen: Option<i64>,
    event_count: i64,
}

/// Every person of the workspace whose root id is after `after`, in root id
/// order, handed to `visit` until it returns `false`: one pass over
/// `profiles` in `root_id` order, and one grouped query each for identities
/// and consent when `reads` asks, walked alongside it. No per-person query.
pub fn scan_people(
    conn: &Connection,
    ws: &str,
    after: &str,
    reads: Reads,
    visit: impl FnMut(Person) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut profiles = conn.prepare_cached(
        "SELECT root_id, created_at, id, traits, trait_times, first_seen, last_seen, event_count
         FROM profiles INDEXED BY profiles_root WHERE root_id > ?2 AND workspace_id = ?1 ORDER BY root_id",
    )?;
    let rows = profiles.query(params![ws, after])?;
    let mut identity_stmt = conn.prepare_cached(
        "SELECT p.root_id, i.kind, i.value, '' FROM identities i JOIN profiles p ON p.id = i.profile_id
         WHERE i.workspace_id = ?1 AND p.root_id > ?2 ORDER BY p.root_id, i.created_at, i.kind, i.value",
    )?;
    let identities = Grouped {
        rows: match reads.identities {
            true => Some(identity_stmt.query(params![ws, after])?),
            false => None,
        },
        pending: None,
    };
    let mut consent_stmt = conn.prepare_cached(
        "SELECT p.root_id, c.purpose, c.channel, c.status FROM consents c JOIN profiles p ON p.id = c.profile_id
         WHERE c.workspace_id = ?1 AND p.root_id > ?2 ORDER BY p.root_id, c.seq",
    )?;
    let consent = Grouped {
        rows: match reads.consent {
            true => Some(consent_stmt.query(params![ws, after])?),
            false => None,
        },
        pending: None,
    };
    walk(rows, identities, consent, reads.traits, visit)
}

/// Groups `rows` (member rows after a leading root id, in root order) into
/// people, with their identities and consent, handed to `visit` until it
/// returns `false`.
fn walk(
    mut rows: rusqlite::Rows<'_>,
    mut identities: Grouped<'_>,
    mut consent: Grouped<'_>,
    traits: bool,
    mut visit: impl FnMut(Person) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut root = String::new();
    let mut members: Vec<MemberRow> = Vec::new();
    loop {
        let row = rows.next()?;
        let next_root = match row {
            Some(row) => Some(text(row, 0)?),
            None => None,
        };
        if next_root != Some(root.as_str()) && !members.is_empty() {
            let mut person = Person {
                root: std::mem::take(&mut root),
                folded: fold(&mut members, traits)?,
                ..Person::default()
            };
            person.identities = identities
                .take(&person.root)?
                .into_iter()
                .map(|(kind, value, _)| (kind, value))
                .collect();
            person.consent = consent.take(&person.root)?;
            if !visit(person)? {
                return Ok(());
            }
        }
        let Some(row) = row else { break };
        if members.is_empty() {
            root = row.get(0)?;
        }
        members.push(member_row(row, traits)?);
    }
    Ok(())
}

/// A member row from columns `created_at, id, traits, trait_times,
/// first_seen, last_seen, event_count` (after any leading ones).
fn member_row(row: &rusqlite::Row<'_>, traits: bool) -> Result<MemberRow, StoreError> {
    let count = row.as_ref().column_count();
    let at = |offset: usize| count - 7 + offset;
    Ok(MemberRow {
        created_at: row.get(at(0))?,
        id: row.get(at(1))?,
        traits: if traits {
            row.get(at(2))?
        } else {
            String::new()
        },
        trait_times: if traits {
            row.get(at(3))?
        } else {
            String::new()
        },
        first_seen: row.get(at(4))?,
        last_seen: row.get(at(5))?,
        event_count: row.get(at(6))?,
    })
}

/// Folds one person's member rows in the order the profile read uses.
fn fold(members: &mut Vec<MemberRow>, traits: bool) -> Result<crate::read::Folded, StoreError> {
    members.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let mut fold = crate::read::Fold::default();
    for member in members.drain(..) {
        let pair = traits.then_some((member.traits.as_str(), member.trait_times.as_str()));
        fold.add(
            pair,
            member.first_seen,
            member.last_seen,
            member.event_count,
        )?;
    }
    Ok(fold.finish())
}

/// A query's rows `(root, a, b, c)` in root order, taken one root at a
/// time as the profile scan reaches it.
struct Grouped<'s> {
    rows: Option<rusqlite::Rows<'s>>,
    pending: Option<(String, (String, String, String))>,
}

impl Grouped<'_> {
    /// The rows of `root`, skipping those of roots before it (a row whose
    /// profile the scan did not visit, such as another workspace's).
    fn take(&mut self, root: &str) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut found = Vec::new();
        let Some(rows) = self.rows.as_mut() else {
            return Ok(found);
        };
        loop {
            if self.pending.is_none() {
                let Some(row) = rows.next()? else { break };
                self.pending = Some((row.get(0)?, (row.get(1)?, row.get(2)?, row.get(3)?)));
            }
            match &self.pending {
                Some((next, _)) if next.as_str() > root => break,
                _ => {}
            }
            if let Some((next, values)) = self.pending.take()
                && next == root
            {
                found.push(values);
            }
        }
        Ok(found)
    }
}
