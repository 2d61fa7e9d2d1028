//! IAB Europe Transparency & Consent Framework v2.2 TC strings.
//!
//! - [`decode::decode`] reads the core segment bit by bit and validates the
//!   optional segments after `.` (their base64 and segment type) without
//!   decoding their contents.
//! - [`encode::encode`] writes a core segment, so tests (and tools) can
//!   produce real strings.
//! - [`purposes`] maps TCF purposes 1–11 onto DPV purpose ids.
//!
//! Accepted: core `Version` 2 and `TcfPolicyVersion` ≥ 2 (TCF 2.0 used 2,
//! TCF 2.2 uses 4 and, since 2024, 5). Version 1 strings (the `B…` consent
//! strings of TCF v1) and policy versions 0–1 are refused: they predate the
//! v2 purpose definitions this crate maps.

pub mod bits;
pub mod decode;
pub mod encode;
pub mod purposes;

use serde::{Deserialize, Serialize};

/// Input longer than this is refused before any decoding.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

/// Why a TC string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcfError {
    /// The input exceeds [`MAX_INPUT_BYTES`].
    #[error("tc string is {len} bytes, over the {MAX_INPUT_BYTES}-byte limit")]
    TooLong { len: usize },
    /// Nothing to decode.
    #[error("tc string is empty")]
    Empty,
    /// A segment has a character outside the base64url alphabet.
    #[error(
        "invalid base64url character `{character}` at position {position} of segment {segment}"
    )]
    InvalidBase64 {
        segment: usize,
        position: usize,
        character: char,
    },
    /// A segment between dots is empty.
    #[error("segment {segment} is empty")]
    EmptySegment { segment: usize },
    /// The bits ran out inside a field.
    #[error("tc string is truncated: it ends inside `{field}` at bit {bit}")]
    Truncated { field: &'static str, bit: usize },
    /// Core `Version` is not 2.
    #[error("tc string version is `{version}`, only version 2 is supported")]
    WrongVersion { version: u8 },
    /// `TcfPolicyVersion` is below 2.
    #[error("tcf policy version `{version}` is older than tcf v2 (2)")]
    PolicyTooOld { version: u8 },
    /// A two-letter field has a value outside `A`–`Z`.
    #[error("`{field}` holds letter value `{value}`, outside A–Z")]
    BadLetter { field: &'static str, value: u8 },
    /// A vendor range is inverted, starts at 0, or passes `MaxVendorId`.
    #[error("bad vendor range `{start}`–`{end}` in {section} (max vendor id {max_vendor_id})")]
    BadRange {
        section: &'static str,
        start: u16,
        end: u16,
        max_vendor_id: u16,
    },
    /// A publisher restriction names purpose 0.
    #[error("publisher restriction names purpose `{purpose}`")]
    BadRestrictionPurpose { purpose: u8 },
    /// A publisher restriction has the reserved type 3.
    #[error("publisher restriction type `{restriction_type}` is reserved")]
    BadRestrictionType { restriction_type: u8 },
    /// An optional segment has type 0 or an undefined type.
    #[error("segment {segment} has unknown segment type `{segment_type}`")]
    BadSegmentType { segment: usize, segment_type: u8 },
    /// A value does not fit its field when encoding.
    #[error("cannot encode `{field}`: {reason}")]
    Unencodable { field: &'static str, reason: String },
}

/// A set of vendor ids with the `MaxVendorId` it was encoded against.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VendorSet {
    /// The largest vendor id the section covers.
    pub max_vendor_id: u16,
    /// Vendor ids in the set, ascending, each in `1..=max_vendor_id`.
    pub ids: Vec<u16>,
}

impl VendorSet {
    /// Whether `vendor_id` is in the set.
    pub fn contains(&self, vendor_id: u16) -> bool {
        self.ids.binary_search(&vendor_id).is_ok()
    }
}

/// A publisher restriction type (TCF v2 "RestrictionType").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionType {
    /// 0: the purpose is flatly not allowed for these vendors.
    NotAllowed,
    /// 1: these vendors need consent for the purpose.
    RequireConsent,
    /// 2: these vendors need legitimate interest for the purpose.
    RequireLegitimateInterest,
}

/// An inclusive range of vendor ids (`start == end` for a single id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VendorRange {
    /// First vendor id.
    pub start: u16,
    /// Last vendor id, inclusive.
    pub end: u16,
}

/// One publisher restriction. Vendors are kept as the ranges sent, not
/// expanded, so that a hostile string cannot make us allocate 4095 × 65535 ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherRestriction {
    /// The purpose restricted.
    pub purpose_id: u8,
    /// How.
    pub restriction_type: RestrictionType,
    /// Which vendors.
    pub vendors: Vec<VendorRange>,
}

/// A decoded core segment (plus which optional segments were present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcString {
    /// Always 2.
    pub version: u8,
    /// Creation time in deciseconds since the Unix epoch, as encoded.
    pub created: u64,
    /// Last update in deciseconds since the Unix epoch, as encoded.
    pub last_updated: u64,
    /// The CMP's IAB id.
    pub cmp_id: u16,
    /// The CMP's version.
    pub cmp_version: u16,
    /// Which CMP screen the choice was made on.
    pub consent_screen: u8,
    /// Two uppercase letters (ISO 639-1), e.g. `EN`.
    pub consent_language: String,
    /// Global Vendor List version.
    pub vendor_list_version: u16,
    /// TCF policy version (4 or 5 for TCF 2.2).
    pub tcf_policy_version: u8,
    /// Whether the string is specific to one service.
    pub is_service_specific: bool,
    /// Whether non-standard texts were shown.
    pub use_non_standard_texts: bool,
    /// Special features opted into, ids 1–12 ascending.
    pub special_feature_opt_ins: Vec<u8>,
    /// Purposes consented to, ids 1–24 ascending.
    pub purposes_consent: Vec<u8>,
    /// Purposes whose legitimate interest was disclosed, ids 1–24 ascending.
    pub purposes_li_transparency: Vec<u8>,
    /// Purpose 1 not disclosed (a jurisdiction treating it differently).
    pub purpose_one_treatment: bool,
    /// Publisher country, two uppercase letters.
    pub publisher_cc: String,
    /// Vendor consent section.
    pub vendor_consents: VendorSet,
    /// Vendor legitimate interest section.
    pub vendor_legitimate_interests: VendorSet,
    /// Publisher restrictions.
    pub publisher_restrictions: Vec<PublisherRestriction>,
    /// Types of the optional segments present after the core (1 disclosed
    /// vendors, 2 allowed vendors, 3 publisher TC), in order; not decoded.
    #[serde(default)]
    pub optional_segments: Vec<u8>,
}

impl TcString {
    /// Creation time in milliseconds since the Unix epoch.
    pub fn created_ms(&self) -> u64 {
        self.created.saturating_mul(100)
    }

    /// Last update in milliseconds since the Unix epoch.
    pub fn last_updated_ms(&self) -> u64 {
        self.last_updated.saturating_mul(100)
    }

    /// Whether purpose `id` has consent.
    pub fn purpose_consent(&self, id: u8) -> bool {
        self.purposes_consent.contains(&id)
    }

    /// Whether `vendor_id` has consent.
    pub fn vendor_consent(&self, vendor_id: u16) -> bool {
        self.vendor_consents.contains(vendor_id)
    }
}

#[cfg(test)]
mod tests;
