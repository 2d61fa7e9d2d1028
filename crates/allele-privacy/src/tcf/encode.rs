//! A core-segment encoder, the inverse of [`super::decode::decode`] for the
//! fields it reads (optional segments are not written).

use super::bits::BitWriter;
use super::{PublisherRestriction, RestrictionType, TcString, TcfError, VendorRange, VendorSet};

/// How to write vendor sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorEncoding {
    /// One bit per vendor id up to `MaxVendorId`.
    BitField,
    /// A list of single ids and ranges.
    Ranges,
}

/// Encodes the core segment of `tc` as base64url without padding.
pub fn encode(tc: &TcString, vendor_encoding: VendorEncoding) -> Result<String, TcfError> {
    let mut w = BitWriter::new();
    w.write(u64::from(tc.version), 6);
    write_checked(&mut w, tc.created, 36, "Created")?;
    write_checked(&mut w, tc.last_updated, 36, "LastUpdated")?;
    write_checked(&mut w, u64::from(tc.cmp_id), 12, "CmpId")?;
    write_checked(&mut w, u64::from(tc.cmp_version), 12, "CmpVersion")?;
    write_checked(&mut w, u64::from(tc.consent_screen), 6, "ConsentScreen")?;
    write_letters(&mut w, &tc.consent_language, "ConsentLanguage")?;
    write_checked(
        &mut w,
        u64::from(tc.vendor_list_version),
        12,
        "VendorListVersion",
    )?;
    write_checked(
        &mut w,
        u64::from(tc.tcf_policy_version),
        6,
        "TcfPolicyVersion",
    )?;
    w.write_bool(tc.is_service_specific);
    w.write_bool(tc.use_non_standard_texts);
    write_flags(
        &mut w,
        &tc.special_feature_opt_ins,
        12,
        "SpecialFeatureOptIns",
    )?;
    write_flags(&mut w, &tc.purposes_consent, 24, "PurposesConsent")?;
    write_flags(
        &mut w,
        &tc.purposes_li_transparency,
        24,
        "PurposesLITransparency",
    )?;
    w.write_bool(tc.purpose_one_treatment);
    write_letters(&mut w, &tc.publisher_cc, "PublisherCC")?;
    write_vendor_section(&mut w, &tc.vendor_consents, vendor_encoding)?;
    write_vendor_section(&mut w, &tc.vendor_legitimate_interests, vendor_encoding)?;
    write_restrictions(&mut w, &tc.publisher_restrictions)?;
    Ok(w.to_base64url())
}

fn write_checked(
    w: &mut BitWriter,
    value: u64,
    width: u32,
    field: &'static str,
) -> Result<(), TcfError> {
    if width < 64 && value >> width != 0 {
        return Err(TcfError::Unencodable {
            field,
            reason: format!("`{value}` does not fit in {width} bits"),
        });
    }
    w.write(value, width);
    Ok(())
}

fn write_letters(w: &mut BitWriter, letters: &str, field: &'static str) -> Result<(), TcfError> {
    let bytes = letters.as_bytes();
    if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_uppercase) {
        return Err(TcfError::Unencodable {
            field,
            reason: format!("`{letters}` is not two letters A–Z"),
        });
    }
    for byte in bytes {
        w.write(u64::from(byte - b'A'), 6);
    }
    Ok(())
}

fn write_flags(
    w: &mut BitWriter,
    ids: &[u8],
    width: u8,
    field: &'static str,
) -> Result<(), TcfError> {
    if let Some(bad) = ids.iter().find(|id| **id == 0 || **id > width) {
        return Err(TcfError::Unencodable {
            field,
            reason: format!("id `{bad}` is outside 1–{width}"),
        });
    }
    for id in 1..=width {
        w.write_bool(ids.contains(&id));
    }
    Ok(())
}

/// Runs of consecutive ids as ranges.
fn ranges_of(ids: &[u16]) -> Vec<VendorRange> {
    let mut out: Vec<VendorRange> = Vec::new();
    for &id in ids {
        match out.last_mut() {
            Some(last) if last.end.checked_add(1) == Some(id) => last.end = id,
            _ => out.push(VendorRange { start: id, end: id }),
        }
    }
    out
}

fn write_ranges(
    w: &mut BitWriter,
    ranges: &[VendorRange],
    field: &'static str,
) -> Result<(), TcfError> {
    write_checked(w, ranges.len() as u64, 12, field)?;
    for range in ranges {
        let is_range = range.start != range.end;
        w.write_bool(is_range);
        w.write(u64::from(range.start), 16);
        if is_range {
            w.write(u64::from(range.end), 16);
        }
    }
    Ok(())
}

fn write_vendor_section(
    w: &mut BitWriter,
    set: &VendorSet,
    encoding: VendorEncoding,
) -> Result<(), TcfError> {
    if let Some(bad) = set
        .ids
        .iter()
        .find(|id| **id == 0 || **id > set.max_vendor_id)
    {
        return Err(TcfError::Unencodable {
            field: "vendor section",
            reason: format!("vendor id `{bad}` is outside 1–{}", set.max_vendor_id),
        });
    }
    if !set
        .ids
        .windows(2)
        .all(|pair| matches!(pair, [a, b] if a < b))
    {
        return Err(TcfError::Unencodable {
            field: "vendor section",
            reason: "ids are not strictly ascending".to_owned(),
        });
    }
    w.write(u64::from(set.max_vendor_id), 16);
    match encoding {
        VendorEncoding::BitField => {
            w.write_bool(false);
            let mut next = set.ids.iter().peekable();
            for id in 1..=set.max_vendor_id {
                let present = next.peek() == Some(&&id);
                if present {
                    next.next();
                }
                w.write_bool(present);
            }
        }
        VendorEncoding::Ranges => {
            w.write_bool(true);
            write_ranges(w, &ranges_of(&set.ids), "NumEntries")?;
        }
    }
    Ok(())
}

fn write_restrictions(
    w: &mut BitWriter,
    restrictions: &[PublisherRestriction],
) -> Result<(), TcfError> {
    write_checked(w, restrictions.len() as u64, 12, "NumPubRestrictions")?;
    for restriction in restrictions {
        write_checked(w, u64::from(restriction.purpose_id), 6, "PurposeId")?;
        let code = match restriction.restriction_type {
            RestrictionType::NotAllowed => 0,
            RestrictionType::RequireConsent => 1,
            RestrictionType::RequireLegitimateInterest => 2,
        };
        w.write(code, 2);
        write_ranges(w, &restriction.vendors, "NumEntries")?;
    }
    Ok(())
}
