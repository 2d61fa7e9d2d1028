//! Any bytes as a CSV export: the header is mapped with the default mapping,
//! every row becomes a Segment object, and normalising it never panics.
#![no_main]

use allele::mapping::Mapping;
use allele_types::segment::{self, RequestMeta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let Ok(headers) = reader.headers() else { return };
    let headers: Vec<String> = headers.iter().map(str::to_string).collect();
    let Ok(mapping) = Mapping::default().complete(&headers) else { return };
    let meta = RequestMeta {
        received_at: jiff::Timestamp::UNIX_EPOCH,
        gpc: false,
        max_batch_bytes: usize::MAX,
    };
    for record in reader.records().take(64) {
        let Ok(record) = record else { continue };
        let object = mapping.row_to_object(&headers, &record);
        let _ = segment::parse_message(object, None, meta);
    }
});
