//! See `allele_fuzz::checks::segment_payload`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| allele_fuzz::checks::segment_payload(data));
