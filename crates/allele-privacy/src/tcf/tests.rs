use proptest::prelude::*;

use super::bits::BitWriter;
use super::decode::decode;
use super::encode::{VendorEncoding, encode};
use super::purposes::{TCF_PURPOSES, dpv_consents, dpv_for_tcf_purpose};
use super::*;

/// The example string of the IAB TCF v2 spec and of the reference decoders.
const IAB_EXAMPLE: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";
/// The same with a disclosed-vendors segment (from the IAB C# SDK readme).
const IAB_EXAMPLE_WITH_SEGMENT: &str =
    "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAA";

fn sample() -> TcString {
    TcString {
        version: 2,
        created: 17_000_000_000,
        last_updated: 17_000_000_123,
        cmp_id: 300,
        cmp_version: 7,
        consent_screen: 2,
        consent_language: "FR".into(),
        vendor_list_version: 250,
        tcf_policy_version: 5,
        is_service_specific: true,
        use_non_standard_texts: false,
        special_feature_opt_ins: vec![1],
        purposes_consent: vec![1, 2, 3, 4, 7, 9, 10],
        purposes_li_transparency: vec![2, 7, 8],
        purpose_one_treatment: false,
        publisher_cc: "DE".into(),
        vendor_consents: VendorSet {
            max_vendor_id: 1004,
            ids: vec![1, 2, 755, 1000, 1001, 1002, 1003, 1004],
        },
        vendor_legitimate_interests: VendorSet {
            max_vendor_id: 32,
            ids: vec![32],
        },
        publisher_restrictions: vec![PublisherRestriction {
            purpose_id: 2,
            restriction_type: RestrictionType::RequireConsent,
            vendors: vec![
                VendorRange { start: 8, end: 8 },
                VendorRange { start: 20, end: 30 },
            ],
        }],
        optional_segments: vec![],
    }
}

#[test]
fn decodes_the_iab_example_string() {
    let tc = decode(IAB_EXAMPLE).unwrap();
    assert_eq!(tc.version, 2);
    assert_eq!(tc.cmp_id, 27);
    assert_eq!(tc.consent_language, "EN");
    assert_eq!(tc.publisher_cc, "AA");
    assert_eq!(tc.vendor_list_version, 15);
    assert_eq!(tc.tcf_policy_version, 2);
    assert_eq!(tc.purposes_consent, vec![1, 2, 3]);
    assert_eq!(tc.vendor_consents.ids, vec![2, 6, 8]);
    assert!(tc.vendor_consent(6) && !tc.vendor_consent(7));
    // 2020-02-20T23:57:39.3Z
    assert_eq!(tc.created_ms(), 1_582_243_059_300);
    let with_segment = decode(IAB_EXAMPLE_WITH_SEGMENT).unwrap();
    assert_eq!(with_segment.optional_segments, vec![1]);
    assert_eq!(
        TcString {
            optional_segments: vec![],
            ..with_segment
        },
        tc
    );
}

#[test]
fn round_trips_with_both_vendor_encodings() {
    let tc = sample();
    for encoding in [VendorEncoding::BitField, VendorEncoding::Ranges] {
        let text = encode(&tc, encoding).unwrap();
        assert!(text.starts_with('C'), "v2 strings start with C: {text}");
        assert_eq!(decode(&text).unwrap(), tc);
    }
}

#[test]
fn reencoding_the_iab_example_gives_it_back() {
    let tc = decode(IAB_EXAMPLE).unwrap();
    let text = encode(&tc, VendorEncoding::BitField).unwrap();
    assert!(IAB_EXAMPLE.starts_with(&text) || text.starts_with(IAB_EXAMPLE.trim_end_matches('A')));
    assert_eq!(decode(&text).unwrap(), tc);
}

#[test]
fn refuses_wrong_versions() {
    // TCF v1 consent strings start with `B` (version 1).
    assert_eq!(
        decode("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA").unwrap_err(),
        TcfError::WrongVersion { version: 1 }
    );
    let tc = TcString {
        version: 3,
        ..sample()
    };
    assert_eq!(
        decode(&encode(&tc, VendorEncoding::Ranges).unwrap()).unwrap_err(),
        TcfError::WrongVersion { version: 3 }
    );
    let tc = TcString {
        tcf_policy_version: 1,
        ..sample()
    };
    assert_eq!(
        decode(&encode(&tc, VendorEncoding::Ranges).unwrap()).unwrap_err(),
        TcfError::PolicyTooOld { version: 1 }
    );
}

#[test]
fn refuses_truncated_strings_at_every_length() {
    let text = encode(&sample(), VendorEncoding::BitField).unwrap();
    for cut in 1..text.len() - 1 {
        let err = decode(&text[..cut]).unwrap_err();
        assert!(
            matches!(err, TcfError::Truncated { .. }),
            "cut {cut}: {err}"
        );
    }
    // 40 characters = 240 bits: the header and MaxVendorId are whole, the bit field is not.
    let err = decode(&text[..40]).unwrap_err();
    assert_eq!(
        err,
        TcfError::Truncated {
            field: "BitField",
            bit: 230
        }
    );
    assert_eq!(
        err.to_string(),
        "tc string is truncated: it ends inside `BitField` at bit 230"
    );
}

/// Header bits up to and including PublisherCC, for hand-made sections.
fn header() -> BitWriter {
    let mut w = BitWriter::new();
    w.write(2, 6);
    w.write(17_000_000_000, 36);
    w.write(17_000_000_000, 36);
    w.write(10, 12);
    w.write(1, 12);
    w.write(0, 6);
    w.write(4, 6); // E
    w.write(13, 6); // N
    w.write(100, 12);
    w.write(4, 6);
    w.write(0, 2);
    w.write(0, 12);
    w.write(0, 24);
    w.write(0, 24);
    w.write(0, 1);
    w.write(6, 6); // G
    w.write(1, 6); // B
    w
}

fn range_section(w: &mut BitWriter, max: u16, entries: &[(u16, u16)]) {
    w.write(u64::from(max), 16);
    w.write_bool(true);
    w.write(entries.len() as u64, 12);
    for (start, end) in entries {
        w.write_bool(start != end);
        w.write(u64::from(*start), 16);
        if start != end {
            w.write(u64::from(*end), 16);
        }
    }
}

fn with_consent_ranges(max: u16, entries: &[(u16, u16)]) -> String {
    let mut w = header();
    range_section(&mut w, max, entries);
    range_section(&mut w, 0, &[]);
    w.write(0, 12);
    w.to_base64url()
}

#[test]
fn refuses_bad_ranges() {
    let ok = decode(&with_consent_ranges(50, &[(1, 1), (3, 50)])).unwrap();
    assert_eq!(ok.vendor_consents.ids.len(), 49);
    let bad = |max, entries: &[(u16, u16)]| decode(&with_consent_ranges(max, entries)).unwrap_err();
    assert!(matches!(
        bad(50, &[(10, 5)]),
        TcfError::BadRange {
            start: 10,
            end: 5,
            ..
        }
    ));
    assert!(matches!(
        bad(50, &[(10, 51)]),
        TcfError::BadRange {
            end: 51,
            max_vendor_id: 50,
            ..
        }
    ));
    assert!(matches!(
        bad(50, &[(0, 0)]),
        TcfError::BadRange { start: 0, .. }
    ));
    assert!(matches!(bad(50, &[(60, 60)]), TcfError::BadRange { .. }));
}

#[test]
fn overlapping_full_ranges_are_cheap_and_deduplicated() {
    let entries = vec![(1u16, 65535u16); 4095];
    let tc = decode(&with_consent_ranges(65535, &entries)).unwrap();
    assert_eq!(tc.vendor_consents.ids.len(), 65535);
}

#[test]
fn refuses_reserved_restriction_types_and_bad_letters() {
    let mut w = header();
    range_section(&mut w, 0, &[]);
    range_section(&mut w, 0, &[]);
    w.write(1, 12);
    w.write(3, 6);
    w.write(3, 2);
    w.write(0, 12);
    assert_eq!(
        decode(&w.to_base64url()).unwrap_err(),
        TcfError::BadRestrictionType {
            restriction_type: 3
        }
    );

    let mut w = BitWriter::new();
    w.write(2, 6);
    w.write(0, 36 * 2 + 12 + 12 + 6);
    w.write(30, 6);
    w.write(0, 200);
    assert_eq!(
        decode(&w.to_base64url()).unwrap_err(),
        TcfError::BadLetter {
            field: "ConsentLanguage",
            value: 30
        }
    );
}

#[test]
fn refuses_bad_base64_empty_input_and_bad_segments() {
    let err = decode("COvFyGBOvF+yGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA").unwrap_err();
    assert_eq!(
        err,
        TcfError::InvalidBase64 {
            segment: 0,
            position: 10,
            character: '+'
        }
    );
    assert_eq!(
        err.to_string(),
        "invalid base64url character `+` at position 10 of segment 0"
    );
    assert!(matches!(
        decode(&format!("{IAB_EXAMPLE}.IFoE!QQg")).unwrap_err(),
        TcfError::InvalidBase64 {
            segment: 1,
            position: 4,
            character: '!'
        }
    ));
    assert_eq!(decode("").unwrap_err(), TcfError::Empty);
    assert_eq!(
        decode(&format!("{IAB_EXAMPLE}.")).unwrap_err(),
        TcfError::EmptySegment { segment: 1 }
    );
    assert_eq!(
        decode(".IFoE").unwrap_err(),
        TcfError::EmptySegment { segment: 0 }
    );
    // Segment type 0 (A… = 000…) is the core's, never an optional segment's.
    assert!(matches!(
        decode(&format!("{IAB_EXAMPLE}.AAAA")).unwrap_err(),
        TcfError::BadSegmentType { .. }
    ));
    assert!(decode("COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA==").is_ok());
    assert!(matches!(
        decode("C\u{e9}AA").unwrap_err(),
        TcfError::InvalidBase64 {
            character: '\u{e9}',
            ..
        }
    ));
}

#[test]
fn refuses_oversized_input_up_front() {
    let huge = "C".repeat(100 * 1024);
    assert_eq!(
        decode(&huge).unwrap_err(),
        TcfError::TooLong { len: 100 * 1024 }
    );
    // Even when the content is garbage, size is checked first.
    assert!(matches!(
        decode(&"!".repeat(MAX_INPUT_BYTES + 1)).unwrap_err(),
        TcfError::TooLong { .. }
    ));
}

#[test]
fn maps_tcf_purposes_to_dpv() {
    assert_eq!(dpv_for_tcf_purpose(3), Some("dpv:PersonalisedAdvertising"));
    assert_eq!(dpv_for_tcf_purpose(4), Some("dpv:PersonalisedAdvertising"));
    assert_eq!(dpv_for_tcf_purpose(12), None);
    assert_eq!(TCF_PURPOSES.len(), 11);
    let consents = dpv_consents(&sample());
    let get = |id: &str| {
        consents
            .iter()
            .find(|(dpv, _)| *dpv == id)
            .map(|(_, given)| *given)
    };
    assert_eq!(get("dpv:PersonalisedAdvertising"), Some(true));
    // Purpose 7 given, 8 not: the shared DPV purpose is not given.
    assert_eq!(get("dpv:ServiceUsageAnalytics"), Some(false));
    assert_eq!(get("dpv:ServicePersonalisation"), Some(false));
    assert_eq!(get("dpv:CommercialResearch"), Some(true));
}

fn arb_ids(max: u8) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::btree_set(1..=max, 0..usize::from(max)).prop_map(|s| s.into_iter().collect())
}

fn arb_vendor_set() -> impl Strategy<Value = VendorSet> {
    (0u16..600).prop_flat_map(|max| {
        let ids = if max == 0 {
            Just(Vec::new()).boxed()
        } else {
            prop::collection::btree_set(1..=max, 0..60)
                .prop_map(|s| s.into_iter().collect())
                .boxed()
        };
        ids.prop_map(move |ids| VendorSet {
            max_vendor_id: max,
            ids,
        })
    })
}

fn arb_letters() -> impl Strategy<Value = String> {
    "[A-Z]{2}"
}

fn arb_restriction() -> impl Strategy<Value = PublisherRestriction> {
    (
        1u8..=24,
        0..3u8,
        prop::collection::vec((1u16..1000, 0u16..50), 0..5),
    )
        .prop_map(|(purpose_id, kind, ranges)| PublisherRestriction {
            purpose_id,
            restriction_type: [
                RestrictionType::NotAllowed,
                RestrictionType::RequireConsent,
                RestrictionType::RequireLegitimateInterest,
            ][usize::from(kind)],
            vendors: ranges
                .into_iter()
                .map(|(start, len)| VendorRange {
                    start,
                    end: start + len,
                })
                .collect(),
        })
}

prop_compose! {
    fn arb_tc()(
        times in (0u64..1 << 36, 0u64..1 << 36),
        cmp in (0u16..4096, 0u16..4096, 0u8..64),
        languages in (arb_letters(), arb_letters()),
        vendor_list_version in 0u16..4096,
        tcf_policy_version in 2u8..64,
        flags in any::<(bool, bool, bool)>(),
        special in arb_ids(12),
        consent in arb_ids(24),
        li in arb_ids(24),
        vendors in (arb_vendor_set(), arb_vendor_set()),
        restrictions in prop::collection::vec(arb_restriction(), 0..4),
    ) -> TcString {
        TcString {
            version: 2,
            created: times.0,
            last_updated: times.1,
            cmp_id: cmp.0,
            cmp_version: cmp.1,
            consent_screen: cmp.2,
            consent_language: languages.0,
            vendor_list_version,
            tcf_policy_version,
            is_service_specific: flags.0,
            use_non_standard_texts: flags.1,
            special_feature_opt_ins: special,
            purposes_consent: consent,
            purposes_li_transparency: li,
            purpose_one_treatment: flags.2,
            publisher_cc: languages.1,
            vendor_consents: vendors.0,
            vendor_legitimate_interests: vendors.1,
            publisher_restrictions: restrictions,
            optional_segments: vec![],
        }
    }
}

proptest! {
    #[test]
    fn encode_then_decode_round_trips(tc in arb_tc(), ranges in any::<bool>()) {
        let encoding = if ranges { VendorEncoding::Ranges } else { VendorEncoding::BitField };
        let text = encode(&tc, encoding).unwrap();
        prop_assert_eq!(decode(&text).unwrap(), tc);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_text(text in ".{0,300}") {
        let _ = decode(&text);
    }

    #[test]
    fn decode_never_panics_on_base64url_text(text in "C[A-Za-z0-9_-]{0,400}(\\.[A-Za-z0-9_-]{0,20}){0,2}") {
        let _ = decode(&text);
    }

    #[test]
    fn decode_never_panics_on_mutated_valid_strings(tc in arb_tc(), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), c in "[A-Za-z0-9_-]") {
        let text = encode(&tc, VendorEncoding::Ranges).unwrap();
        let mut chars: Vec<char> = text.chars().collect();
        let at = flip.index(chars.len());
        chars[at] = c.chars().next().unwrap();
        let mutated: String = chars.into_iter().take(cut.index(text.len() + 1)).collect();
        let _ = decode(&mutated);
    }
}
