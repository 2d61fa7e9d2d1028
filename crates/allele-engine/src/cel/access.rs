//! How each slot is fetched from a [`DecisionInput`], decided once when the
//! slot is interned rather than on every resolution.
//!
//! A slot path's field names (`traits`, `segments`, `touchpoint`, …) are
//! matched here, at compile time, into an [`Access`]; resolving the slot is
//! then one `match` on the plan and, for a trait or a context key, a lookup
//! of the key in the JSON object. Every plan gives exactly what walking the
//! owned value of the path's root gives (`tests` checks this path by path),
//! so borrowed and owned resolution never disagree.

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::compile::{Root, SlotPath};
use super::slot::{SlotValue, same_text};
use crate::decide::DecisionInput;
use crate::decide::InputResolver;

/// The plan for one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `context.touchpoint`: the request's own field wins over a context key
    /// of that name.
    Touchpoint,
    /// `context.channel`, likewise.
    Channel,
    /// `context.<key>.<rest>…`
    ContextKey {
        key: Arc<str>,
        rest: Box<[Arc<str>]>,
    },
    /// `profile.traits.<key>.<rest>…`
    Trait {
        key: Arc<str>,
        rest: Box<[Arc<str>]>,
    },
    /// `profile.computed.<key>.<rest>…`
    Computed {
        key: Arc<str>,
        rest: Box<[Arc<str>]>,
    },
    /// `profile.id`
    ProfileId,
    /// `profile.segments`
    Segments,
    /// `profile.consent[purpose][channel]`: the newest record's status.
    Consent {
        purpose: Arc<str>,
        channel: Arc<str>,
    },
    /// A key below a string or list (`profile.id.x`): never present.
    Missing,
    /// Anything else (`context`, `profile`, `profile.traits`,
    /// `profile.event_count`, …): the owned value, built from the path.
    Owned,
}

impl Access {
    /// The plan for `path`.
    pub fn plan(path: &SlotPath) -> Access {
        let keys = path.keys.as_slice();
        let rest = |keys: &[Arc<str>]| keys.to_vec().into_boxed_slice();
        match (path.root, keys) {
            (Root::Context, [key, tail @ ..]) => match (&**key, tail) {
                ("touchpoint", []) => Access::Touchpoint,
                ("channel", []) => Access::Channel,
                ("touchpoint" | "channel", _) => Access::Missing,
                _ => Access::ContextKey {
                    key: key.clone(),
                    rest: rest(tail),
                },
            },
            (Root::Profile, [field, tail @ ..]) => match (&**field, tail) {
                ("traits", [key, tail @ ..]) => Access::Trait {
                    key: key.clone(),
                    rest: rest(tail),
                },
                ("computed", [key, tail @ ..]) => Access::Computed {
                    key: key.clone(),
                    rest: rest(tail),
                },
                ("id", []) => Access::ProfileId,
                ("segments", []) => Access::Segments,
                ("id" | "segments", _) => Access::Missing,
                ("consent", [purpose, channel]) => Access::Consent {
                    purpose: purpose.clone(),
                    channel: channel.clone(),
                },
                _ => Access::Owned,
            },
            (_, []) => Access::Owned,
        }
    }

    /// The slot's value in `input`; `path` is the one this plan was made
    /// from (only [`Access::Owned`] reads it). `None`: the path is missing.
    #[inline(always)]
    pub fn fetch<'i>(&self, input: &'i DecisionInput, path: &SlotPath) -> Option<SlotValue<'i>> {
        let request = &input.request;
        let profile = &input.profile;
        match self {
            Access::Trait { key, rest } => walk(object_get(&profile.traits, key)?, rest),
            Access::Consent { purpose, channel } => profile
                .consent
                .iter()
                .rev()
                .find(|record| *record.purpose == **purpose && *record.channel == **channel)
                .map(|record| SlotValue::Consent(record.status)),
            Access::Segments => Some(SlotValue::Strings(&profile.segments)),
            Access::Touchpoint => Some(SlotValue::Str(&request.touchpoint)),
            Access::Channel => Some(SlotValue::Str(&request.channel)),
            Access::ContextKey { key, rest } => walk(object_get(&request.context, key)?, rest),
            Access::Computed { key, rest } => walk(object_get(&profile.computed, key)?, rest),
            Access::ProfileId => Some(SlotValue::Str(&profile.id)),
            Access::Missing => None,
            Access::Owned => InputResolver { input }
                .resolve_owned(path)
                .map(SlotValue::from_value),
        }
    }
}

/// An activation's cache entry for one slot: `None` until resolved, then
/// what the plan or resolver gave (`Some(None)`: the path is missing). The
/// outer `Option` costs no space.
pub(super) type Entry<'i> = Option<Option<SlotValue<'i>>>;

impl Access {
    /// [`Access::fetch`] written straight into the slot's cache entry. Each
    /// arm stores its own variant: a value that comes out of a `match` or a
    /// call is assembled in a stack temporary with narrow stores and copied
    /// with one wide load, which waits for the stores to retire (a store
    /// forwarding stall, most of the cost of resolving a slot).
    #[inline(always)]
    pub(super) fn fetch_into<'i>(
        &self,
        input: &'i DecisionInput,
        path: &SlotPath,
        out: &mut Entry<'i>,
    ) {
        let request = &input.request;
        let profile = &input.profile;
        match self {
            Access::Trait { key, rest } => walk_into(object_get(&profile.traits, key), rest, out),
            Access::Segments => *out = Some(Some(SlotValue::Strings(&profile.segments))),
            Access::Touchpoint => *out = Some(Some(SlotValue::Str(&request.touchpoint))),
            Access::Channel => *out = Some(Some(SlotValue::Str(&request.channel))),
            Access::ProfileId => *out = Some(Some(SlotValue::Str(&profile.id))),
            Access::ContextKey { key, rest } => {
                walk_into(object_get(&request.context, key), rest, out);
            }
            Access::Computed { key, rest } => {
                walk_into(object_get(&profile.computed, key), rest, out);
            }
            Access::Missing => *out = Some(None),
            Access::Consent { .. } | Access::Owned => *out = Some(self.fetch(input, path)),
        }
    }
}

/// [`walk`] into a cache entry, one store per kind of leaf.
#[inline(always)]
fn walk_into<'j>(json: Option<&'j Json>, keys: &[Arc<str>], out: &mut Entry<'j>) {
    let leaf = json.and_then(|mut json| {
        for key in keys {
            json = object_get(json.as_object()?, key)?;
        }
        Some(json)
    });
    let Some(json) = leaf else {
        *out = Some(None);
        return;
    };
    match json {
        Json::String(s) => *out = Some(Some(SlotValue::Str(s))),
        Json::Array(_) | Json::Object(_) => *out = Some(Some(SlotValue::Json(json))),
        Json::Null => *out = Some(Some(SlotValue::Null)),
        Json::Bool(b) => *out = Some(Some(SlotValue::Bool(*b))),
        // as `SlotValue::from_json` (and `Value::from_json`) read numbers
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                *out = Some(Some(SlotValue::Int(i)));
            } else if let Some(u) = n.as_u64() {
                *out = Some(Some(SlotValue::Uint(u)));
            } else {
                *out = Some(Some(SlotValue::Double(n.as_f64().unwrap_or(f64::NAN))));
            }
        }
    }
}

/// A key of a JSON object. Trait maps are small, and a scan that compares
/// lengths first beats hashing the key; large maps use the index.
#[inline]
fn object_get<'j>(map: &'j Map<String, Json>, key: &str) -> Option<&'j Json> {
    if map.len() <= 16 {
        return map
            .iter()
            .find(|(name, _)| same_text(name, key))
            .map(|(_, value)| value);
    }
    map.get(key)
}

/// Walks the remaining keys through JSON objects, borrowing the leaf.
#[inline(always)]
fn walk<'j>(mut json: &'j Json, keys: &[Arc<str>]) -> Option<SlotValue<'j>> {
    for key in keys {
        json = object_get(json.as_object()?, key)?;
    }
    Some(SlotValue::from_json(json))
}

#[cfg(test)]
mod tests;
