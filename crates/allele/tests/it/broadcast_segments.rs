//! A broadcast to one segment over a real SMTP server: only the segment's
//! members with email consent are queued and sent, once per key; an
//! unknown segment is a clear 404.

use crate::common::unique;
use crate::email::{Sink, admin_put, configure, person};
use serde_json::json;
use std::time::Duration;

#[test]
fn a_segment_broadcast_reaches_only_members_with_consent() {
    let Some(sink) = Sink::start() else { return };
    let server = crate::common::Server::start();
    configure(&server, sink.port, 3, 50);
    // (user, address, consent, plan): only `member` is both in the segment
    // and consenting.
    let people = [
        (unique("member"), "member@example.com", true, "pro"),
        (unique("silent"), "silent@example.com", false, "pro"),
        (unique("outside"), "outside@example.com", true, "basic"),
    ];
    for (user, address, consent, plan) in &people {
        person(&server, user, address, *consent);
        let (status, _) = server.post(
            "/v1/identify",
            &json!({"userId": user, "traits": {"plan": plan}}),
        );
        assert_eq!(status, 200);
    }
    // Templates are checked against the traits seen, so after the people.
    let (status, body) = admin_put(
        &server,
        "/v1/templates/spring",
        &json!({"subject": "Spring for {{ profile.traits.first_name }}", "text": "New plans inside"}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin_put(
        &server,
        "/v1/segments/pros",
        &json!({"definition": "profile.traits.plan == \"pro\""}),
    );
    assert_eq!(status, 200, "{body}");

    let (status, body) = server.admin_post(
        "/v1/broadcasts",
        Some(&json!({"template": "spring", "idempotency_key": "s0", "segment": "nope"})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("segment_not_found")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("`nope`"),
        "{body}"
    );

    let broadcast = || {
        server.admin_post(
            "/v1/broadcasts",
            Some(&json!({"template": "spring", "idempotency_key": "s1", "segment": "pros"})),
        )
    };
    let (status, plan) = broadcast();
    assert_eq!((status, plan["queued"].as_i64()), (200, Some(1)), "{plan}");
    let received = sink
        .next(Duration::from_secs(20))
        .expect("the member's email");
    assert_eq!(
        received["rcpt_tos"],
        json!(["member@example.com"]),
        "{received}"
    );
    let (status, again) = broadcast();
    assert_eq!(
        (status, again["queued"].as_i64()),
        (200, Some(0)),
        "{again}"
    );
    assert!(
        sink.next(Duration::from_millis(1_500)).is_none(),
        "nobody outside the segment or without consent, and nobody twice"
    );

    // Without a segment, everyone with consent under a new key: the member
    // again and the outsider, never the one without consent.
    let (status, all) = server.admin_post(
        "/v1/broadcasts",
        Some(&json!({"template": "spring", "idempotency_key": "s2"})),
    );
    assert_eq!((status, all["queued"].as_i64()), (200, Some(2)), "{all}");
    let mut sent: Vec<String> = (0..2)
        .map(|_| {
            sink.next(Duration::from_secs(20)).expect("an email")["rcpt_tos"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    sent.sort();
    assert_eq!(sent, ["member@example.com", "outside@example.com"]);
}
