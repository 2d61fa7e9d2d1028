//! Consent semantics (DESIGN §7 "Consent", §8 "Consent semantics").
//!
//! # Purpose hierarchy
//!
//! A documented subset of the W3C Data Privacy Vocabulary (DPV) purposes, as
//! `child → parent` ([`PURPOSE_PARENTS`]). Purposes not in the table are flat.
//!
//! ```text
//! dpv:Marketing               ⊃ dpv:DirectMarketing, dpv:Advertising,
//!                               dpv:SocialMediaMarketing, dpv:PublicRelations
//! dpv:Advertising             ⊃ dpv:PersonalisedAdvertising
//! dpv:Personalisation         ⊃ dpv:ServicePersonalisation
//! dpv:ServiceOptimisation     ⊃ dpv:ServiceUsageAnalytics
//! dpv:ResearchAndDevelopment  ⊃ dpv:CommercialResearch
//! dpv:SellDataToThirdParties, dpv:ServiceProvision, dpv:Access: no parent
//! ```
//!
//! # Rules
//!
//! - A record applies to a query `(purpose, channel)` when its channel is the
//!   query's channel or `*`, and either its purpose is the queried purpose, or
//!   it is a `refused`/`withdrawn` record for an ancestor of that purpose.
//! - The newest applicable record in ledger order wins (DESIGN §8: ledger
//!   order, not timestamps).
//! - So a child never implies its parent, and a parent's `given` never implies
//!   its children: consent must be specific (GDPR Art. 4(11)). But refusing or
//!   withdrawing a parent refuses every descendant, overriding every older
//!   `given` of theirs; only a newer explicit `given` for the child reopens it.
//! - GPC is the record `{dpv:SellDataToThirdParties, *, refused, gpc}`
//!   ([`gpc_record`]); by the same rule an earlier opt-in never overrides it,
//!   only a newer explicit consent does.
//! - [`permits`]: a marketing action needs an effective `given`; a
//!   transactional action needs no record, but an effective `refused` or
//!   `withdrawn` for its purpose (its own or inherited) blocks it.

use serde::{Deserialize, Serialize};

/// `child → parent` edges of the supported DPV purpose hierarchy.
pub const PURPOSE_PARENTS: &[(&str, &str)] = &[
    ("dpv:DirectMarketing", "dpv:Marketing"),
    ("dpv:Advertising", "dpv:Marketing"),
    ("dpv:SocialMediaMarketing", "dpv:Marketing"),
    ("dpv:PublicRelations", "dpv:Marketing"),
    ("dpv:PersonalisedAdvertising", "dpv:Advertising"),
    ("dpv:ServicePersonalisation", "dpv:Personalisation"),
    ("dpv:ServiceUsageAnalytics", "dpv:ServiceOptimisation"),
    ("dpv:CommercialResearch", "dpv:ResearchAndDevelopment"),
];

/// The purpose GPC (`Sec-GPC: 1`) opts out of.
pub const GPC_PURPOSE: &str = "dpv:SellDataToThirdParties";

/// The channel that stands for every channel.
pub const ANY_CHANNEL: &str = "*";

/// The parent of a purpose, if it is in the hierarchy.
pub fn parent(purpose: &str) -> Option<&'static str> {
    PURPOSE_PARENTS
        .iter()
        .find(|(child, _)| *child == purpose)
        .map(|(_, parent)| *parent)
}

/// Every ancestor of a purpose, nearest first.
pub fn ancestors(purpose: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut current = parent(purpose);
    // The table is a tree; the length bound only guards against a future cycle.
    while let Some(p) = current {
        if out.contains(&p) || out.len() > PURPOSE_PARENTS.len() {
            break;
        }
        out.push(p);
        current = parent(p);
    }
    out
}

/// Whether `ancestor` is a strict ancestor of `purpose`.
pub fn is_ancestor(ancestor: &str, purpose: &str) -> bool {
    ancestors(purpose).contains(&ancestor)
}

/// The status a ledger record sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentStatus {
    /// Consent given.
    Given,
    /// Consent given before, now withdrawn.
    Withdrawn,
    /// Consent refused.
    Refused,
}

/// The effective status for a purpose on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// An applicable `given` is newest.
    Given,
    /// An applicable `withdrawn` is newest.
    Withdrawn,
    /// An applicable `refused` is newest.
    Refused,
    /// No record applies: no consent where consent is needed.
    Unset,
}

impl From<ConsentStatus> for Status {
    fn from(status: ConsentStatus) -> Self {
        match status {
            ConsentStatus::Given => Self::Given,
            ConsentStatus::Withdrawn => Self::Withdrawn,
            ConsentStatus::Refused => Self::Refused,
        }
    }
}

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentSource {
    /// The customer, through `/v1/me/consent` or the portal.
    Customer,
    /// An operator, through `/v1/profiles/{ref}/consent`.
    Admin,
    /// A `Sec-GPC: 1` header.
    Gpc,
    /// A decoded IAB TCF string.
    Tcf,
    /// A bulk import.
    Import,
}

/// One entry of the append-only consent ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// A DPV purpose id such as `dpv:DirectMarketing`.
    pub purpose: String,
    /// A channel such as `email`, or `*` for every channel.
    pub channel: String,
    /// What the record sets.
    pub status: ConsentStatus,
    /// Who set it.
    pub source: ConsentSource,
    /// When, milliseconds since the Unix epoch (informational: order is ledger order).
    #[serde(default)]
    pub updated_at: i64,
    /// The receipt issued for this record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_id: Option<String>,
}

impl ConsentRecord {
    /// A record with no receipt.
    pub fn new(
        purpose: &str,
        channel: &str,
        status: ConsentStatus,
        source: ConsentSource,
        updated_at: i64,
    ) -> Self {
        Self {
            purpose: purpose.to_owned(),
            channel: channel.to_owned(),
            status,
            source,
            updated_at,
            receipt_id: None,
        }
    }
}

/// The GPC opt-out record for a request seen at `at` (ms).
pub fn gpc_record(at: i64) -> ConsentRecord {
    ConsentRecord::new(
        GPC_PURPOSE,
        ANY_CHANNEL,
        ConsentStatus::Refused,
        ConsentSource::Gpc,
        at,
    )
}

/// An effective status and the ledger index of the record that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Effective {
    /// The status.
    pub status: Status,
    /// Index into the ledger of the deciding record; `None` when unset.
    pub decided_by: Option<usize>,
}

fn channel_applies(record_channel: &str, channel: &str) -> bool {
    record_channel == ANY_CHANNEL || record_channel == channel
}

/// The effective status with the deciding record (see the module rules).
pub fn effective(ledger: &[ConsentRecord], purpose: &str, channel: &str) -> Effective {
    let lineage = ancestors(purpose);
    for (index, record) in ledger.iter().enumerate().rev() {
        if !channel_applies(&record.channel, channel) {
            continue;
        }
        let own = record.purpose == purpose;
        let inherited_refusal =
            record.status != ConsentStatus::Given && lineage.iter().any(|a| *a == record.purpose);
        if own || inherited_refusal {
            return Effective {
                status: record.status.into(),
                decided_by: Some(index),
            };
        }
    }
    Effective {
        status: Status::Unset,
        decided_by: None,
    }
}

/// The effective status of `purpose` on `channel` given a ledger, newest last.
pub fn effective_status(ledger: &[ConsentRecord], purpose: &str, channel: &str) -> Status {
    effective(ledger, purpose, channel).status
}

/// The kind of an action (DESIGN §7 policy `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Needs a `given` record.
    Marketing,
    /// Needs none; blocked by an explicit refusal or withdrawal.
    Transactional,
}

/// Whether an action of `kind` for `purpose` may reach the customer on `channel`.
pub fn permits(kind: ActionKind, ledger: &[ConsentRecord], purpose: &str, channel: &str) -> bool {
    let status = effective_status(ledger, purpose, channel);
    match kind {
        ActionKind::Marketing => status == Status::Given,
        ActionKind::Transactional => matches!(status, Status::Given | Status::Unset),
    }
}

/// The current state: the newest record per `(purpose, channel)`, in ledger
/// order of those records (what `GET …/consent` answers without `history`).
pub fn current_state(ledger: &[ConsentRecord]) -> Vec<&ConsentRecord> {
    let mut out: Vec<&ConsentRecord> = Vec::new();
    for (index, record) in ledger.iter().enumerate() {
        let superseded = ledger
            .iter()
            .skip(index + 1)
            .any(|later| later.purpose == record.purpose && later.channel == record.channel);
        if !superseded {
            out.push(record);
        }
    }
    out
}

/// One purpose in a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptPurpose {
    /// DPV purpose id.
    pub purpose: String,
    /// The status recorded for it.
    pub status: ConsentStatus,
}

/// A consent receipt modelled on ISO/IEC 27560 (consent record information
/// structure). Ids and times are supplied by the caller: this crate has no
/// clock or randomness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentReceipt {
    /// Unique id of this receipt.
    pub receipt_id: String,
    /// Version of the receipt format: [`RECEIPT_VERSION`].
    pub version: String,
    /// When the consent event happened, milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The controller (the workspace's organisation name or id).
    pub controller: String,
    /// Reference to the data subject (a profile id, never an email).
    pub subject: String,
    /// Purposes and what was recorded for each.
    pub purposes: Vec<ReceiptPurpose>,
    /// The channel, or `*`.
    pub channel: String,
    /// How the consent was expressed.
    pub source: ConsentSource,
    /// Evidence: e.g. a request id, a hash of a TC string, a form version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Jurisdiction placeholder, e.g. `EU` or `US-CA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
}

/// The receipt format version.
pub const RECEIPT_VERSION: &str = "allele-27560-1";

impl ConsentReceipt {
    /// The receipt for one ledger record.
    pub fn for_record(
        record: &ConsentRecord,
        receipt_id: &str,
        controller: &str,
        subject: &str,
    ) -> Self {
        Self {
            receipt_id: receipt_id.to_owned(),
            version: RECEIPT_VERSION.to_owned(),
            timestamp: record.updated_at,
            controller: controller.to_owned(),
            subject: subject.to_owned(),
            purposes: vec![ReceiptPurpose {
                purpose: record.purpose.clone(),
                status: record.status,
            }],
            channel: record.channel.clone(),
            source: record.source,
            evidence: None,
            jurisdiction: None,
        }
    }
}

#[cfg(test)]
#[path = "consent_tests.rs"]
mod tests;
