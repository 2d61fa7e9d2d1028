use super::*;

fn meta() -> RequestMeta {
    RequestMeta {
        received_at: "2026-11-23T12:00:00Z".parse().unwrap_or_default(),
        gpc: false,
        max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
    }
}

fn single(kind: MessageType, body: &str) -> Result<Message, ApiError> {
    parse_single(body.as_bytes(), kind, meta()).map(|mut p| p.messages.remove(0))
}

#[test]
fn skew_is_corrected_from_sent_at() {
    // The client clock runs 10 minutes fast: sentAt is 12:10 when we receive at 12:00.
    let m = single(
        MessageType::Track,
        r#"{"userId":"u","event":"E","timestamp":"2026-11-23T12:05:00Z","sentAt":"2026-11-23T12:10:00Z"}"#,
    )
    .unwrap();
    assert_eq!(format_time(m.timestamp), "2026-11-23T11:55:00.000Z");
    assert_eq!(m.body["originalTimestamp"], "2026-11-23T12:05:00.000Z");
    assert_eq!(m.body["receivedAt"], "2026-11-23T12:00:00.000Z");
}

#[test]
fn old_timestamps_are_kept_and_far_future_is_clamped() {
    let old = single(
        MessageType::Track,
        r#"{"userId":"u","event":"E","timestamp":"2020-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(format_time(old.timestamp), "2020-01-01T00:00:00.000Z");
    let future = single(
        MessageType::Track,
        r#"{"userId":"u","event":"E","timestamp":"2026-11-25T00:00:00Z"}"#,
    )
    .unwrap();
    assert_eq!(future.timestamp, meta().received_at);
    assert_eq!(future.body["originalTimestamp"], "2026-11-25T00:00:00.000Z");
}

#[test]
fn identify_merges_context_traits_under_top_level() {
    let m = single(
        MessageType::Identify,
        r#"{"userId":"u","traits":{"plan":"pro"},"context":{"traits":{"plan":"free","email":"a@b.c"}}}"#,
    )
    .unwrap();
    assert_eq!(m.traits["plan"], "pro");
    assert_eq!(m.traits["email"], "a@b.c");
}

#[test]
fn null_ids_are_absent_and_numbers_are_strings() {
    let m = single(
        MessageType::Track,
        r#"{"userId":null,"anonymousId":42,"event":"E"}"#,
    )
    .unwrap();
    assert_eq!(m.user_id, None);
    assert_eq!(m.anonymous_id.as_deref(), Some("42"));
    let err = single(
        MessageType::Track,
        r#"{"userId":null,"anonymousId":null,"event":"E"}"#,
    )
    .unwrap_err();
    assert_eq!(err.code, "missing_identity");
}

#[test]
fn wrong_types_are_rejected() {
    for (body, code) in [
        (r#"{"userId":true,"event":"E"}"#, "invalid_event"),
        (
            r#"{"userId":"u","event":"E","properties":[1]}"#,
            "invalid_event",
        ),
        (
            r#"{"userId":"u","event":"E","timestamp":12}"#,
            "invalid_timestamp",
        ),
        (
            r#"{"userId":"u","event":"E","timestamp":"yesterday"}"#,
            "invalid_timestamp",
        ),
        (r#"{"userId":"u"}"#, "invalid_event"),
        (r#"[1,2]"#, "invalid_json"),
        (r#"{"userId":"#, "invalid_json"),
        ("", "invalid_json"),
    ] {
        let err = single(MessageType::Track, body).unwrap_err();
        assert_eq!(err.code, code, "{body}");
        assert_eq!(err.status, Code::parse_status(code));
    }
}

#[test]
fn batch_names_the_bad_index() {
    let body =
        r#"{"batch":[{"type":"track","userId":"u","event":"E"},{"type":"bogus","userId":"u"}]}"#;
    let err = parse_batch(body.as_bytes(), meta()).unwrap_err();
    assert_eq!(err.index, Some(1));
    assert_eq!(err.code, "unknown_type");
}

#[test]
fn batch_limits() {
    let event = r#"{"type":"track","userId":"u","event":"E"}"#;
    let events = vec![event; MAX_BATCH_EVENTS + 1].join(",");
    let err = parse_batch(format!(r#"{{"batch":[{events}]}}"#).as_bytes(), meta()).unwrap_err();
    assert_eq!(err.code, "too_many_events");
    let events = vec![event; MAX_BATCH_EVENTS].join(",");
    let ok = parse_batch(format!(r#"{{"batch":[{events}]}}"#).as_bytes(), meta()).unwrap();
    assert_eq!(ok.messages.len(), MAX_BATCH_EVENTS);
    let big = "x".repeat(MAX_EVENT_BYTES);
    let body = format!(r#"{{"batch":[{event},{{"type":"track","userId":"u","event":"{big}"}}]}}"#);
    let err = parse_batch(body.as_bytes(), meta()).unwrap_err();
    assert_eq!((err.code, err.index), ("event_too_large", Some(1)));
    assert_eq!(
        parse_batch(br#"{"batch":[]}"#, meta()).unwrap_err().code,
        "empty_batch"
    );
}

#[test]
fn missing_message_id_gets_a_stable_one() {
    let a = single(MessageType::Track, r#"{"userId":"u","event":"E"}"#).unwrap();
    let b = single(MessageType::Track, r#"{"userId":"u","event":"E"}"#).unwrap();
    assert_eq!(a.message_id, b.message_id);
    assert!(a.message_id.starts_with("gen-"));
}

proptest::proptest! {
    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let _ = parse_batch(&bytes, meta());
        let _ = parse_single(&bytes, MessageType::Track, meta());
    }
}
