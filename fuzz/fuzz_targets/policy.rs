//! See `allele_fuzz::checks::policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| allele_fuzz::checks::policy(data));
