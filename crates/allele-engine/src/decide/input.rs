//! What a decision reads: the profile view, the request, the clock, the seed
//! and the counters the caller keeps. Also the [`Resolver`] that binds rule
//! slots to this input.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::cel::access::Access;
use crate::cel::value::MapKey;
use crate::cel::value::NANOS_PER_MILLI;
use crate::cel::{Resolver, Root, SlotPath, SlotValue, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentStatus {
    Given,
    Withdrawn,
    Refused,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::Given => "given",
            ConsentStatus::Withdrawn => "withdrawn",
            ConsentStatus::Refused => "refused",
        }
    }
}

/// One consent ledger record; `channel` `*` applies to every channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRecord {
    pub purpose: String,
    pub channel: String,
    pub status: ConsentStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// The profile as rules see it (`profile.*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileView {
    pub id: String,
    #[serde(default)]
    pub traits: Map<String, Json>,
    #[serde(default)]
    pub computed: Map<String, Json>,
    #[serde(default)]
    pub segments: Vec<String>,
    /// The consent ledger in ledger order, oldest first: the newest matching
    /// record wins.
    #[serde(default)]
    pub consent: Vec<ConsentRecord>,
    #[serde(default)]
    pub identities: Vec<Identity>,
    #[serde(default)]
    pub event_count: u64,
    /// Unix milliseconds.
    #[serde(default)]
    pub first_seen: Option<i64>,
    #[serde(default)]
    pub last_seen: Option<i64>,
}

fn default_limit() -> usize {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub touchpoint: String,
    pub channel: String,
    #[serde(default)]
    pub context: Map<String, Json>,
    /// How many actions to return (default 1).
    #[serde(default = "default_limit")]
    pub limit: usize,
}

/// The customer's own limits on marketing, as the caller knows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerCaps {
    /// At most this many marketing contacts on the decision's channel…
    #[serde(default)]
    pub max_marketing_contacts: Option<u32>,
    /// …within this many milliseconds before now.
    #[serde(default)]
    pub window_ms: u64,
    /// Unix ms of past marketing contacts on the decision's channel.
    #[serde(default)]
    pub marketing_contacts: Vec<i64>,
    /// The caller's verdict on quiet hours right now.
    #[serde(default)]
    pub quiet_now: bool,
}

/// Observed outcomes of an action, for Beta-Bernoulli models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmStats {
    pub successes: f64,
    pub failures: f64,
}

/// Everything one decision depends on: `decide` is a pure function of the
/// bundle and this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub profile: ProfileView,
    pub request: DecisionRequest,
    /// Unix milliseconds; rules see it as `now`.
    pub now_ms: i64,
    pub seed: u64,
    #[serde(default)]
    pub workspace_salt: String,
    /// Per action id: unix ms of past decisions that returned it to this
    /// customer.
    #[serde(default)]
    pub contact_history: BTreeMap<String, Vec<i64>>,
    #[serde(default)]
    pub customer_caps: Option<CustomerCaps>,
    /// Per action id: outcomes for Beta models (default: the prior alone).
    #[serde(default)]
    pub arm_stats: BTreeMap<String, ArmStats>,
    /// Per action id: logged offers for contextual models.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub linear_stats: BTreeMap<String, crate::linear::LinearStats>,
}

/// Binds slot paths to a [`DecisionInput`].
pub struct InputResolver<'a> {
    pub input: &'a DecisionInput,
}

fn string_key(key: &str) -> MapKey {
    MapKey::String(Arc::from(key))
}

fn json_object(map: &Map<String, Json>) -> Value {
    Value::Map(Arc::new(
        map.iter()
            .map(|(k, v)| (string_key(k), Value::from_json(v)))
            .collect(),
    ))
}

fn walk_value<'k>(mut value: Value, keys: impl Iterator<Item = &'k Arc<str>>) -> Option<Value> {
    for key in keys {
        let Value::Map(map) = value else { return None };
        value = map.get(&MapKey::String(key.clone()))?.clone();
    }
    Some(value)
}

fn timestamp(ms: Option<i64>) -> Option<Value> {
    ms.map(|ms| Value::Timestamp(i128::from(ms) * NANOS_PER_MILLI))
}

impl InputResolver<'_> {
    /// `profile.consent`: purpose → channel → status of the newest record.
    fn consent_value(&self) -> Value {
        let mut by_purpose: std::collections::BTreeMap<
            MapKey,
            std::collections::BTreeMap<MapKey, Value>,
        > = std::collections::BTreeMap::new();
        for record in &self.input.profile.consent {
            by_purpose
                .entry(string_key(&record.purpose))
                .or_default()
                .insert(
                    string_key(&record.channel),
                    Value::string(record.status.as_str()),
                );
        }
        Value::Map(Arc::new(
            by_purpose
                .into_iter()
                .map(|(k, v)| (k, Value::Map(Arc::new(v))))
                .collect(),
        ))
    }

    fn context_value(&self) -> Value {
        let request = &self.input.request;
        let mut map: std::collections::BTreeMap<MapKey, Value> = request
            .context
            .iter()
            .map(|(k, v)| (string_key(k), Value::from_json(v)))
            .collect();
        map.insert(string_key("touchpoint"), Value::string(&request.touchpoint));
        map.insert(string_key("channel"), Value::string(&request.channel));
        Value::Map(Arc::new(map))
    }

    fn profile_field(&self, field: &str) -> Option<Value> {
        let profile = &self.input.profile;
        match field {
            "id" => Some(Value::string(&profile.id)),
            "traits" => Some(json_object(&profile.traits)),
            "computed" => Some(json_object(&profile.computed)),
            "segments" => Some(Value::List(
                profile.segments.iter().map(|s| Value::string(s)).collect(),
            )),
            "consent" => Some(self.consent_value()),
            "identities" => Some(Value::List(
                profile
                    .identities
                    .iter()
                    .map(|identity| {
                        Value::Map(Arc::new(
                            [
                                (string_key("type"), Value::string(&identity.kind)),
                                (string_key("value"), Value::string(&identity.value)),
                            ]
                            .into_iter()
                            .collect(),
                        ))
                    })
                    .collect(),
            )),
            "event_count" => Some(Value::Int(
                i64::try_from(profile.event_count).unwrap_or(i64::MAX),
            )),
            "first_seen" => timestamp(profile.first_seen),
            "last_seen" => timestamp(profile.last_seen),
            _ => None,
        }
    }
}

impl Resolver for InputResolver<'_> {
    fn resolve(&self, path: &SlotPath) -> Option<Value> {
        self.resolve_owned(path)
    }

    /// Decides the slot's [`Access`] plan on every call: callers that
    /// resolve the same slots repeatedly use [`crate::cel::Activation::for_input`],
    /// which plans once per slot table.
    fn resolve_borrowed(&self, path: &SlotPath) -> Option<SlotValue<'_>> {
        Access::plan(path).fetch(self.input, path)
    }
}

impl InputResolver<'_> {
    /// Builds the owned value of a path by walking the owned value of its
    /// root field: what every [`Access`] plan must agree with, and the plan
    /// itself for the whole profile, the whole context and the fields that
    /// are not stored as JSON or strings.
    pub(crate) fn resolve_owned(&self, path: &SlotPath) -> Option<Value> {
        let mut keys = path.keys.iter();
        if path.root == Root::Context {
            return walk_value(self.context_value(), keys);
        }
        let Some(field) = keys.next() else {
            let fields = [
                "id",
                "traits",
                "computed",
                "segments",
                "consent",
                "identities",
                "event_count",
                "first_seen",
                "last_seen",
            ];
            let map = fields
                .iter()
                .filter_map(|f| Some((string_key(f), self.profile_field(f)?)))
                .collect();
            return Some(Value::Map(Arc::new(map)));
        };
        walk_value(self.profile_field(field)?, keys)
    }
}
