//! The TC string decoder.
//!
//! Core segment layout (TCF v2.2, bits, most significant first):
//!
//! ```text
//! Version 6 | Created 36 | LastUpdated 36 | CmpId 12 | CmpVersion 12
//! ConsentScreen 6 | ConsentLanguage 12 | VendorListVersion 12
//! TcfPolicyVersion 6 | IsServiceSpecific 1 | UseNonStandardTexts 1
//! SpecialFeatureOptIns 12 | PurposesConsent 24 | PurposesLITransparency 24
//! PurposeOneTreatment 1 | PublisherCC 12
//! vendor section (consent) | vendor section (legitimate interest)
//! NumPubRestrictions 12, each: PurposeId 6 | RestrictionType 2 | range list
//!
//! vendor section: MaxVendorId 16 | IsRangeEncoding 1 |
//!                 (BitField MaxVendorId bits | range list)
//! range list:     NumEntries 12, each: IsARange 1 | StartOrOnlyVendorId 16 |
//!                 (EndVendorId 16 if IsARange)
//! ```
//!
//! Bits after the publisher restrictions are padding and ignored.

use super::bits::BitReader;
use super::{
    MAX_INPUT_BYTES, PublisherRestriction, RestrictionType, TcString, TcfError, VendorRange,
    VendorSet,
};

/// Decodes a TC string (see the module docs and [`super`] for what is refused).
pub fn decode(input: &str) -> Result<TcString, TcfError> {
    // Refuse before looking at the content: the cost of a hostile input must
    // not depend on what it holds.
    if input.len() > MAX_INPUT_BYTES {
        return Err(TcfError::TooLong { len: input.len() });
    }
    let input = input.trim();
    if input.is_empty() {
        return Err(TcfError::Empty);
    }
    let mut segments = input.split('.');
    let core = segments.next().unwrap_or_default();
    let mut optional_segments = Vec::new();
    for (offset, segment) in segments.enumerate() {
        let index = offset + 1;
        if segment.is_empty() {
            return Err(TcfError::EmptySegment { segment: index });
        }
        let mut reader = BitReader::from_base64url(segment, index)?;
        let segment_type = reader.read_u8(3, "SegmentType")?;
        if !(1..=3).contains(&segment_type) {
            return Err(TcfError::BadSegmentType {
                segment: index,
                segment_type,
            });
        }
        optional_segments.push(segment_type);
    }
    if core.is_empty() {
        return Err(TcfError::EmptySegment { segment: 0 });
    }
    let mut r = BitReader::from_base64url(core, 0)?;
    let version = r.read_u8(6, "Version")?;
    if version != 2 {
        return Err(TcfError::WrongVersion { version });
    }
    let created = r.read(36, "Created")?;
    let last_updated = r.read(36, "LastUpdated")?;
    let cmp_id = r.read_u16(12, "CmpId")?;
    let cmp_version = r.read_u16(12, "CmpVersion")?;
    let consent_screen = r.read_u8(6, "ConsentScreen")?;
    let consent_language = read_letters(&mut r, "ConsentLanguage")?;
    let vendor_list_version = r.read_u16(12, "VendorListVersion")?;
    let tcf_policy_version = r.read_u8(6, "TcfPolicyVersion")?;
    if tcf_policy_version < 2 {
        return Err(TcfError::PolicyTooOld {
            version: tcf_policy_version,
        });
    }
    let is_service_specific = r.read_bool("IsServiceSpecific")?;
    let use_non_standard_texts = r.read_bool("UseNonStandardTexts")?;
    let special_feature_opt_ins = read_flags(&mut r, 12, "SpecialFeatureOptIns")?;
    let purposes_consent = read_flags(&mut r, 24, "PurposesConsent")?;
    let purposes_li_transparency = read_flags(&mut r, 24, "PurposesLITransparency")?;
    let purpose_one_treatment = r.read_bool("PurposeOneTreatment")?;
    let publisher_cc = read_letters(&mut r, "PublisherCC")?;
    let vendor_consents = read_vendor_section(&mut r, "vendor consent section")?;
    let vendor_legitimate_interests =
        read_vendor_section(&mut r, "vendor legitimate interest section")?;
    let publisher_restrictions = read_publisher_restrictions(&mut r)?;
    Ok(TcString {
        version,
        created,
        last_updated,
        cmp_id,
        cmp_version,
        consent_screen,
        consent_language,
        vendor_list_version,
        tcf_policy_version,
        is_service_specific,
        use_non_standard_texts,
        special_feature_opt_ins,
        purposes_consent,
        purposes_li_transparency,
        purpose_one_treatment,
        publisher_cc,
        vendor_consents,
        vendor_legitimate_interests,
        publisher_restrictions,
        optional_segments,
    })
}

/// Two 6-bit letters, 0 = `A`.
fn read_letters(r: &mut BitReader, field: &'static str) -> Result<String, TcfError> {
    let mut out = String::with_capacity(2);
    for _ in 0..2 {
        let value = r.read_u8(6, field)?;
        if value > 25 {
            return Err(TcfError::BadLetter { field, value });
        }
        out.push(char::from(b'A' + value));
    }
    Ok(out)
}

/// A fixed-width bit field; bit `i` (from the left) is id `i + 1`.
fn read_flags(r: &mut BitReader, width: u8, field: &'static str) -> Result<Vec<u8>, TcfError> {
    let mut ids = Vec::new();
    for id in 1..=width {
        if r.read_bool(field)? {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A range list: `NumEntries 12`, then entries. Every id must be ≥ 1 and
/// each range ascending; `max_vendor_id` bounds ends when given.
fn read_ranges(
    r: &mut BitReader,
    section: &'static str,
    max_vendor_id: Option<u16>,
) -> Result<Vec<VendorRange>, TcfError> {
    let count = r.read_u16(12, "NumEntries")?;
    // No pre-allocation from the count: a short string could claim 4095.
    let mut ranges = Vec::new();
    for _ in 0..count {
        let is_range = r.read_bool("IsARange")?;
        let start = r.read_u16(16, "StartOrOnlyVendorId")?;
        let end = if is_range {
            r.read_u16(16, "EndVendorId")?
        } else {
            start
        };
        let too_big = max_vendor_id.is_some_and(|max| end > max);
        if start == 0 || start > end || too_big {
            return Err(TcfError::BadRange {
                section,
                start,
                end,
                max_vendor_id: max_vendor_id.unwrap_or(u16::MAX),
            });
        }
        ranges.push(VendorRange { start, end });
    }
    Ok(ranges)
}

/// A vendor section, as a bit field or a range list.
fn read_vendor_section(r: &mut BitReader, section: &'static str) -> Result<VendorSet, TcfError> {
    let max_vendor_id = r.read_u16(16, "MaxVendorId")?;
    let is_range_encoding = r.read_bool("IsRangeEncoding")?;
    // One bit per possible id, 8 KiB at most; ranges are set a word at a time
    // so 4095 overlapping full-width ranges stay cheap.
    let mut words = vec![0u64; usize::from(max_vendor_id) / 64 + 1];
    if is_range_encoding {
        for range in read_ranges(r, section, Some(max_vendor_id))? {
            set_range(&mut words, range.start, range.end);
        }
    } else {
        if usize::from(max_vendor_id) > r.remaining() {
            return Err(TcfError::Truncated {
                field: "BitField",
                bit: r.position(),
            });
        }
        for id in 1..=max_vendor_id {
            if r.read_bool("BitField")? {
                set_range(&mut words, id, id);
            }
        }
    }
    let mut ids = Vec::new();
    for id in 1..=max_vendor_id {
        let word = words.get(usize::from(id) / 64).copied().unwrap_or(0);
        if (word >> (id % 64)) & 1 == 1 {
            ids.push(id);
        }
    }
    Ok(VendorSet { max_vendor_id, ids })
}

fn set_range(words: &mut [u64], start: u16, end: u16) {
    let (start, end) = (usize::from(start), usize::from(end));
    let mut id = start;
    while id <= end {
        let Some(word) = words.get_mut(id / 64) else {
            return;
        };
        let low = id % 64;
        let high = (end - (id - low)).min(63);
        // Bits low..=high of this word.
        let span = high - low + 1;
        let mask = if span == 64 {
            u64::MAX
        } else {
            ((1u64 << span) - 1) << low
        };
        *word |= mask;
        id += span;
    }
}

fn read_publisher_restrictions(r: &mut BitReader) -> Result<Vec<PublisherRestriction>, TcfError> {
    let count = r.read_u16(12, "NumPubRestrictions")?;
    let mut out = Vec::new();
    for _ in 0..count {
        let purpose_id = r.read_u8(6, "PurposeId")?;
        if purpose_id == 0 {
            return Err(TcfError::BadRestrictionPurpose {
                purpose: purpose_id,
            });
        }
        let restriction_type = match r.read_u8(2, "RestrictionType")? {
            0 => RestrictionType::NotAllowed,
            1 => RestrictionType::RequireConsent,
            2 => RestrictionType::RequireLegitimateInterest,
            other => {
                return Err(TcfError::BadRestrictionType {
                    restriction_type: other,
                });
            }
        };
        let vendors = read_ranges(r, "publisher restrictions", None)?;
        out.push(PublisherRestriction {
            purpose_id,
            restriction_type,
            vendors,
        });
    }
    Ok(out)
}
