//! Any bytes as a Segment request body: the parser answers a message list or
//! a clear error, never a panic, and an accepted batch respects the limits.
#![no_main]

use allele_types::segment::{self, MessageType, RequestMeta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let meta = RequestMeta {
        received_at: jiff::Timestamp::from_second(1_790_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        gpc: data.first().is_some_and(|b| b & 1 == 1),
        max_batch_bytes: segment::DEFAULT_MAX_BATCH_BYTES,
    };
    if let Ok(parsed) = segment::parse_batch(data, meta) {
        assert!(!parsed.messages.is_empty() && parsed.messages.len() <= segment::MAX_BATCH_EVENTS);
        for message in &parsed.messages {
            assert!(message.user_id.is_some() || message.anonymous_id.is_some());
            assert!(!message.message_id.is_empty());
        }
    }
    for kind in [MessageType::Identify, MessageType::Track, MessageType::Alias] {
        if let Ok(parsed) = segment::parse_single(data, kind, meta) {
            assert_eq!(parsed.messages.len(), 1);
        }
    }
});
