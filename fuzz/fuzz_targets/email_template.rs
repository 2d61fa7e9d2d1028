//! See `allele_fuzz::checks::email_template`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| allele_fuzz::checks::email_template(data));
