//! What each fuzz target checks, as plain functions: the libFuzzer targets
//! in `fuzz_targets/` call them with generated inputs, and the workspace's
//! test suite (`it::fuzz_corpus`) replays every committed corpus file
//! through them on stable Rust, so CI re-runs what fuzzing found.

use allele::mapping::Mapping;
use allele_campaigns::template::{self, EmailTemplate};
use allele_privacy::tcf::decode::decode;
use allele_privacy::tcf::encode::{VendorEncoding, encode};
use allele_privacy::tcf::purposes::dpv_consents;
use allele_types::segment::{self, MessageType, RequestMeta};

/// Any bytes as a Segment request body: the parser answers a message list
/// or a clear error, never a panic, and an accepted batch respects the
/// limits.
pub fn segment_payload(data: &[u8]) {
    let meta = RequestMeta {
        received_at: jiff::Timestamp::from_second(1_790_000_000)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
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
    for kind in [
        MessageType::Identify,
        MessageType::Track,
        MessageType::Alias,
    ] {
        if let Ok(parsed) = segment::parse_single(data, kind, meta) {
            assert_eq!(parsed.messages.len(), 1);
        }
    }
}

/// Any bytes as a CSV export: the header is mapped with the default
/// mapping, every row becomes a Segment object, and normalising it never
/// panics.
pub fn csv_mapping(data: &[u8]) {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let Ok(headers) = reader.headers() else {
        return;
    };
    let headers: Vec<String> = headers.iter().map(str::to_string).collect();
    let Ok(mapping) = Mapping::default().complete(&headers) else {
        return;
    };
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
}

/// Any text as a policy file: compiling it answers a bundle or
/// diagnostics, never a panic; a bundle that compiles also decides without
/// panicking.
pub fn policy(data: &[u8]) {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(compiled) = allele_engine::compile(source, 1, &[]) else {
        return;
    };
    let input = allele_engine::DecisionInput {
        profile: allele_engine::ProfileView::default(),
        request: allele_engine::DecisionRequest {
            touchpoint: "web".into(),
            channel: "email".into(),
            context: serde_json::Map::new(),
            limit: 3,
        },
        now_ms: 0,
        seed: 7,
        workspace_salt: String::new(),
        contact_history: Default::default(),
        customer_caps: None,
        arm_stats: Default::default(),
        linear_stats: Default::default(),
    };
    let decision = allele_engine::decide(&compiled.bundle, &input);
    assert!(!decision.trace.is_empty() || compiled.bundle.doc().actions.is_empty());
}

/// Any text as an IAB TCF v2.2 TC string: decoding answers a string or a
/// clear error, never a panic; a string that decodes re-encodes (both
/// vendor encodings) and decodes back to the same consent choices.
pub fn tc_string(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
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
    let core = allele_privacy::tcf::TcString {
        optional_segments: Vec::new(),
        ..decoded
    };
    for encoding in [VendorEncoding::BitField, VendorEncoding::Ranges] {
        let Ok(again) = encode(&core, encoding) else {
            panic!("a decoded string failed to re-encode with {encoding:?}");
        };
        match decode(&again) {
            Ok(round) => assert_eq!(round, core, "re-encoded string decodes differently"),
            Err(err) => panic!("re-encoded string `{again}` fails to decode: {err}"),
        }
    }
}

/// Any text as an email template (split into subject, HTML and text at
/// NUL bytes): saving checks it or refuses it with a message naming the
/// part, never a panic; a template that passes the check renders for a
/// person whose traits hold hostile text, and its subject stays one line
/// (no header injection).
pub fn email_template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\0');
    let subject = parts.next().unwrap_or_default().to_string();
    let html = parts.next().map(str::to_string);
    let plain = parts.next().map(str::to_string);
    let template = EmailTemplate {
        subject,
        html,
        text: plain,
    };
    let known = vec!["first_name".to_string(), "plan".to_string()];
    // liquid-core panics on some input its grammar admits; allele catches
    // that as a template error, but libFuzzer's panic hook would abort
    // before the catch: silence the hook for the call (a panic escaping
    // `check` still fails the target).
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let checked = template::check(&template, &known);
    std::panic::set_hook(hook);
    if let Err(err) = checked {
        assert!(!err.message.is_empty(), "an empty error for {template:?}");
        return;
    }
    let profile = serde_json::json!({
        "id": "p1",
        "traits": {"first_name": "Ann\r\nBcc: x@example.com", "plan": "{{ profile.id }}"},
    });
    let vars = template::variables(&profile, &known, None, "msg-1", "https://u.example/x");
    if let Ok(rendered) = template::render(&template, &vars) {
        assert!(!rendered.subject.contains(['\r', '\n']), "{rendered:?}");
    }
}
