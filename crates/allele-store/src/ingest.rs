//! Applying a batch of messages inside the writer's transaction: dedupe,
//! identity resolution, profile state, consent signals, the event row.

use crate::StoreError;
use crate::identity::{Found, Resolver, cause_of, new_id, trait_identities};
use allele_types::segment::{Message, MessageType};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestSummary {
    pub accepted: usize,
    pub duplicates: usize,
}

/// GPC is recorded as this purpose refused on every channel.
pub const GPC_PURPOSE: &str = "dpv:SellDataToThirdParties";

/// A message with its stored JSON, serialised before it reaches the writer
/// so the single writer thread spends its time only on the database.
pub struct Prepared {
    pub message: Message,
    pub body: String,
}

impl Prepared {
    pub fn new(message: Message) -> Result<Prepared, StoreError> {
        let body = serde_json::to_string(&message.body)?;
        Ok(Prepared { message, body })
    }
}

pub fn apply(
    resolver: &mut Resolver,
    mut messages: Vec<Prepared>,
) -> Result<IngestSummary, StoreError> {
    let mut summary = IngestSummary::default();
    let mut seen = HashSet::with_capacity(messages.len());
    messages.retain(|m| {
        let first = seen.insert(m.message.message_id.clone());
        if !first {
            summary.duplicates += 1;
        }
        first
    });
    // Event time, then id: the same batch resolves the same way in any order.
    messages.sort_by(|a, b| {
        (a.message.timestamp, &a.message.message_id)
            .cmp(&(b.message.timestamp, &b.message.message_id))
    });
    // Counts and first/last seen, written once per profile per request.
    let mut activity: HashMap<String, (i64, i64, i64)> = HashMap::new();
    let mut facts = crate::facts::FactCache::default();
    for Prepared { message, body } in messages {
        // Resolving a duplicate again is harmless: its identities are
        // already linked. The unique index on messageId decides below.
        let owner = resolve_owner(resolver, &message)?;
        let Some(seq) = insert_event(resolver.conn, resolver.ws, &owner, &message, &body)? else {
            summary.duplicates += 1;
            continue;
        };
        let ts = message.timestamp.as_millisecond();
        let event = crate::facts::EventFact {
            owner: &owner,
            name: message.name.as_deref(),
            ts,
            seq,
            body: &message.body,
        };
        crate::facts::record(resolver.conn, resolver.ws, &mut facts, &event)?;
        let entry = activity.entry(owner.clone()).or_insert((0, ts, ts));
        entry.0 += 1;
        entry.1 = entry.1.min(ts);
        entry.2 = entry.2.max(ts);
        if message.kind == MessageType::Identify && !message.traits.is_empty() {
            update_traits(resolver.conn, &owner, &message, seq)?;
            remember_trait_keys(resolver.conn, resolver.ws, &message.traits)?;
        }
        if message.kind == MessageType::Track {
            record_outcome(resolver.conn, resolver.ws, &message)?;
        }
        if message.gpc {
            record_gpc(resolver, &owner)?;
        }
        if let Some(tc) = tc_string(&message.body) {
            record_tcf(resolver, &owner, tc)?;
        }
        summary.accepted += 1;
    }
    let mut update = resolver.conn.prepare_cached(
        "UPDATE profiles SET event_count = event_count + ?2,
             first_seen = MIN(COALESCE(first_seen, ?3), ?3),
             last_seen = MAX(COALESCE(last_seen, ?4), ?4)
         WHERE id = ?1",
    )?;
    for (owner, (count, first, last)) in activity {
        update.execute(params![owner, count, first, last])?;
    }
    metrics::counter!("allele_ingest_events_total").increment(summary.accepted as u64);
    metrics::counter!("allele_ingest_duplicates_total").increment(summary.duplicates as u64);
    Ok(summary)
}

/// The profile owning an identity, created if no one has it yet.
fn ensure(resolver: &mut Resolver, kind: &str, value: &str) -> Result<Found, StoreError> {
    if let Some(found) = resolver.lookup(kind, value)? {
        return Ok(found);
    }
    let id = resolver.create_profile()?;
    resolver.claim_fresh(kind, value, &id)?;
    Ok(Found {
        owner: id.clone(),
        root: id,
    })
}

/// The profile that owns this event: the owner of its userId, else of its
/// anonymousId. Links and merges identities along the way.
fn resolve_owner(resolver: &mut Resolver, message: &Message) -> Result<String, StoreError> {
    let kind = message.kind.as_str();
    let id = &message.message_id;
    if message.kind == MessageType::Alias
        && let (Some(user), Some(previous)) = (&message.user_id, &message.previous_id)
    {
        let cause = cause_of(id, kind, "alias");
        let target = ensure(resolver, "user_id", user)?;
        let previous_found = match resolver.lookup("user_id", previous)? {
            Some(found) => Some(found),
            None => resolver.lookup("anonymous_id", previous)?,
        };
        match previous_found {
            Some(found) if found.root != target.root => {
                resolver.merge(&found.root, &target.root, &cause)?
            }
            Some(_) => {}
            None => {
                resolver.claim("anonymous_id", previous, &target.owner, &cause)?;
            }
        }
        link_traits(resolver, message, &target.owner)?;
        return Ok(target.owner);
    }

    let owner = match (&message.user_id, &message.anonymous_id) {
        (Some(user), anonymous) => {
            let cause = cause_of(id, kind, "user_id");
            let by_user = resolver.lookup("user_id", user)?;
            let by_anonymous = match anonymous {
                Some(anon) => resolver.lookup("anonymous_id", anon)?,
                None => None,
            };
            match (by_user, by_anonymous) {
                (Some(found_user), Some(found_anon)) => {
                    if found_user.root != found_anon.root {
                        let cause = cause_of(id, kind, "anonymous_id");
                        resolver.merge_implicit(&found_anon.root, &found_user.root, &cause)?;
                    }
                    found_user.owner
                }
                (Some(found_user), None) => {
                    if let Some(anon) = anonymous {
                        resolver.claim("anonymous_id", anon, &found_user.owner, &cause)?;
                    }
                    found_user.owner
                }
                (None, Some(found_anon)) => {
                    if resolver.user_ids(&found_anon.root)?.is_empty() {
                        resolver.claim("user_id", user, &found_anon.owner, &cause)?;
                        found_anon.owner
                    } else {
                        // The device belongs to someone else: a new person, no merge.
                        let created = resolver.create_profile()?;
                        resolver.claim_fresh("user_id", user, &created)?;
                        resolver.refuse(
                            &created,
                            Some(&found_anon.root),
                            "both profiles carry a different user_id",
                            &cause_of(id, kind, "anonymous_id"),
                        )?;
                        created
                    }
                }
                (None, None) => {
                    let created = resolver.create_profile()?;
                    resolver.claim_fresh("user_id", user, &created)?;
                    if let Some(anon) = anonymous {
                        resolver.claim_fresh("anonymous_id", anon, &created)?;
                    }
                    created
                }
            }
        }
        (None, Some(anon)) => ensure(resolver, "anonymous_id", anon)?.owner,
        (None, None) => {
            return Err(StoreError::Invalid(
                "event has neither `userId` nor `anonymousId`".into(),
            ));
        }
    };
    link_traits(resolver, message, &owner)?;
    Ok(owner)
}

/// Identity traits (email, phone) link or merge profiles.
fn link_traits(resolver: &mut Resolver, message: &Message, owner: &str) -> Result<(), StoreError> {
    let traits = if message.kind == MessageType::Identify {
        &message.traits
    } else {
        &Map::new()
    };
    for (kind, value) in trait_identities(traits, &message.context_traits) {
        let cause = cause_of(&message.message_id, message.kind.as_str(), &kind);
        match resolver.lookup(&kind, &value)? {
            None => {
                resolver.claim(&kind, &value, owner, &cause)?;
            }
            Some(found) => {
                let root = resolver
                    .root_of(owner)?
                    .unwrap_or_else(|| owner.to_string());
                if found.root != root {
                    resolver.merge_implicit(&found.root, &root, &cause)?;
                }
            }
        }
    }
    Ok(())
}

/// Insert the event unless its messageId was seen: `None` for a duplicate.
fn insert_event(
    conn: &Connection,
    ws: &str,
    owner: &str,
    message: &Message,
    body: &str,
) -> Result<Option<i64>, StoreError> {
    let seq = conn
        .prepare_cached(
            "INSERT INTO events (workspace_id, message_id, profile_id, type, name, ts, received_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING seq",
        )?
        .query_row(
            params![
                ws,
                message.message_id,
                owner,
                message.kind.as_str(),
                message.name,
                message.timestamp.as_millisecond(),
                message.received_at.as_millisecond(),
                body
            ],
            |row| row.get(0),
        )
        .optional()?;
    Ok(seq)
}

/// Identify traits, last write wins by (event time, ledger order).
fn update_traits(
    conn: &Connection,
    owner: &str,
    message: &Message,
    seq: i64,
) -> Result<(), StoreError> {
    let ts = message.timestamp.as_millisecond();
    let (traits_text, times_text): (String, String) = conn
        .prepare_cached("SELECT traits, trait_times FROM profiles WHERE id = ?1")?
        .query_row([owner], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let mut traits: Map<String, Value> = serde_json::from_str(&traits_text)?;
    let mut times: Map<String, Value> = serde_json::from_str(&times_text)?;
    for (key, value) in &message.traits {
        let newer = match times.get(key).and_then(crate::read::trait_time) {
            Some(existing) => (ts, seq) >= existing,
            None => true,
        };
        if newer {
            traits.insert(key.clone(), value.clone());
            times.insert(key.clone(), Value::from(vec![ts, seq]));
        }
    }
    conn.prepare_cached("UPDATE profiles SET traits = ?2, trait_times = ?3 WHERE id = ?1")?
        .execute(params![
            owner,
            serde_json::to_string(&traits)?,
            serde_json::to_string(&times)?
        ])?;
    Ok(())
}

/// `Sec-GPC: 1` is an opt-out of sale/sharing; recorded once per profile.
fn record_gpc(resolver: &mut Resolver, owner: &str) -> Result<(), StoreError> {
    let already: bool = resolver
        .conn
        .prepare_cached(
            "SELECT status = 'refused' AND source = 'gpc' FROM consents
             WHERE profile_id = ?1 AND purpose = ?2 AND channel = '*' ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![owner, GPC_PURPOSE], |row| row.get(0))
        .optional()?
        .unwrap_or(false);
    if already {
        return Ok(());
    }
    resolver
        .conn
        .prepare_cached(
            "INSERT INTO consents (workspace_id, profile_id, purpose, channel, status, source, receipt_id, at)
             VALUES (?1, ?2, ?3, '*', 'refused', 'gpc', ?4, ?5)",
        )?
        .execute(params![resolver.ws, owner, GPC_PURPOSE, new_id("rcpt_"), resolver.now])?;
    Ok(())
}

/// Trait keys ever seen, so rules can warn about a trait nobody sends.
fn remember_trait_keys(
    conn: &Connection,
    ws: &str,
    traits: &Map<String, Value>,
) -> Result<(), StoreError> {
    let mut insert = conn
        .prepare_cached("INSERT OR IGNORE INTO traits_seen (workspace_id, key) VALUES (?1, ?2)")?;
    for key in traits.keys() {
        insert.execute(params![ws, key])?;
    }
    Ok(())
}

/// A track event carrying `properties.decision_id` is an outcome of that
/// decision (and of `properties.action_id`, when given).
fn record_outcome(conn: &Connection, ws: &str, message: &Message) -> Result<(), StoreError> {
    // The exposure a decision records about itself is not its outcome.
    if message.name.as_deref() == Some(crate::reports::EXPOSURE_EVENT) {
        return Ok(());
    }
    let Some(properties) = message.body.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    let Some(decision_id) = properties.get("decision_id").and_then(Value::as_str) else {
        return Ok(());
    };
    let action_id = properties.get("action_id").and_then(Value::as_str);
    let revenue = properties
        .get("revenue")
        .and_then(Value::as_f64)
        .filter(|r| r.is_finite());
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO outcomes (message_id, workspace_id, decision_id, action_id, event, revenue, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
        message.message_id,
        ws,
        decision_id,
        action_id,
        message.name,
        revenue,
        message.timestamp.as_millisecond()
    ])?;
    if inserted == 1 {
        crate::arms::first_outcome(conn, ws, decision_id)?;
    }
    Ok(())
}

/// The IAB TCF consent string an event carries, if any
/// (`context.tcString`, or `context.consent.tcString`).
pub fn tc_string(body: &Map<String, Value>) -> Option<&str> {
    let context = body.get("context")?.as_object()?;
    context
        .get("tcString")
        .or_else(|| {
            context
                .get("consent")
                .and_then(Value::as_object)
                .and_then(|c| c.get("tcString"))
        })
        .and_then(Value::as_str)
}

/// Map a TC string onto the consent ledger (channel `web`, source `tcf`),
/// once per distinct string per profile: the string is the evidence.
fn record_tcf(resolver: &mut Resolver, owner: &str, tc: &str) -> Result<(), StoreError> {
    let seen: bool = resolver
        .conn
        .prepare_cached(
            "SELECT 1 FROM consents WHERE profile_id = ?1 AND source = 'tcf' AND evidence = ?2",
        )?
        .exists(params![owner, tc])?;
    if seen {
        return Ok(());
    }
    // Validated before the batch was accepted; a failure here is a bug, not input.
    let decoded = allele_privacy::tcf::decode::decode(tc)
        .map_err(|err| StoreError::Invalid(format!("tc string: {err}")))?;
    for (purpose, given) in allele_privacy::tcf::purposes::dpv_consents(&decoded) {
        resolver
            .conn
            .prepare_cached(
                "INSERT INTO consents (workspace_id, profile_id, purpose, channel, status, source, receipt_id, at, evidence)
                 VALUES (?1, ?2, ?3, 'web', ?4, 'tcf', ?5, ?6, ?7)",
            )?
            .execute(params![resolver.ws, owner, purpose, if given { "given" } else { "refused" }, new_id("rcpt_"), resolver.now, tc])?;
    }
    Ok(())
}
