//! Any text as an IAB TCF v2.2 TC string: decoding answers a string or a
//! clear error, never a panic; a string that decodes re-encodes (both vendor
//! encodings) and decodes back to the same consent choices.
#![no_main]

use allele_privacy::tcf::decode::decode;
use allele_privacy::tcf::encode::{VendorEncoding, encode};
use allele_privacy::tcf::purposes::dpv_consents;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let decoded = match decode(text) {
        Ok(decoded) => decoded,
        Err(err) => {
            // Errors are shown to people: never empty.
            assert!(!err.to_string().is_empty());
            return;
        }
    };
    let _ = dpv_consents(&decoded);
    // The encoder writes only the core segment.
    let core = allele_privacy::tcf::TcString { optional_segments: Vec::new(), ..decoded };
    for encoding in [VendorEncoding::BitField, VendorEncoding::Ranges] {
        let Ok(again) = encode(&core, encoding) else {
            panic!("a decoded string failed to re-encode with {encoding:?}");
        };
        match decode(&again) {
            Ok(round) => assert_eq!(round, core, "re-encoded string decodes differently"),
            Err(err) => panic!("re-encoded string `{again}` fails to decode: {err}"),
        }
    }
});
