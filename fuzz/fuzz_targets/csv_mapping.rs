//! See `allele_fuzz::checks::csv_mapping`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| allele_fuzz::checks::csv_mapping(data));
