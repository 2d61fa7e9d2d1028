//! See `allele_fuzz::checks::tc_string`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| allele_fuzz::checks::tc_string(data));
