//! Journeys against a real server and a real SMTP server: waits, CEL
//! branches, exit goals, re-entry, trait updates, and `kill -9` in the
//! middle of a journey (the wait survives and the email leaves once).

use crate::common::{Server, client, read, unique};
use crate::email::{Sink, admin_put, configure, person};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn put_journey(server: &Server, id: &str, source: &str) -> (u16, Value) {
    read(
        client()
            .put(format!("{}/v1/journeys/{id}", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(source.to_string())
            .send()
            .unwrap(),
    )
}

fn templates(server: &Server) {
    for (id, subject) in [
        ("welcome", "Welcome {{ profile.traits.first_name }}"),
        ("pro", "Pro tips"),
    ] {
        let (status, body) = admin_put(
            server,
            &format!("/v1/templates/{id}"),
            &json!({"subject": subject, "text": "hello"}),
        );
        assert_eq!(status, 200, "{body}");
    }
}

fn track(server: &Server, user: &str, event: &str) {
    let (status, _) = server.post("/v1/track", &json!({"userId": user, "event": event}));
    assert_eq!(status, 200);
}

fn runs(server: &Server, journey: &str) -> Vec<Value> {
    let (status, body) = server.admin_get(&format!("/v1/journeys/{journey}/runs"));
    assert_eq!(status, 200, "{body}");
    body["runs"].as_array().unwrap().clone()
}

fn wait_for(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const ONBOARDING: &str = r#"
trigger: { event: "Signed Up" }
steps:
  - { id: settle, wait: { duration: 2s } }
  - { id: plan, branch: { if: 'profile.traits.plan == "pro"', then: pro, else: welcome } }
  - { id: welcome, send_email: { template: welcome } }
  - { id: skip, branch: { if: "true", then: tag } }
  - { id: pro, send_email: { template: pro } }
  - { id: tag, set_trait: { name: onboarded, value: true } }
exit: { event: "Order Completed" }
reentry: never
"#;

#[test]
fn journeys_wait_branch_exit_and_enter_once() {
    let Some(sink) = Sink::start() else { return };
    let server = Server::start();
    configure(&server, sink.port, 3, 100);
    let (basic, pro, buyer) = (unique("basic"), unique("pro"), unique("buyer"));
    person(&server, &basic, &format!("{basic}@example.com"), true);
    templates(&server);

    // Mistakes are refused when saved.
    let (status, body) = put_journey(
        &server,
        "bad",
        &ONBOARDING.replace("== \"pro\"", "=== \"pro\""),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_journey")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("step `plan`: 1:"),
        "{body}"
    );
    let (status, body) = put_journey(
        &server,
        "bad",
        &ONBOARDING.replace("template: pro", "template: nope"),
    );
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("`nope`"),
        "{body}"
    );

    let (status, body) = put_journey(&server, "onboarding", ONBOARDING);
    assert_eq!(status, 200, "{body}");
    person(&server, &pro, &format!("{pro}@example.com"), true);
    person(&server, &buyer, &format!("{buyer}@example.com"), true);
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": pro, "traits": {"plan": "pro"}})
            )
            .0,
        200
    );
    let started = Instant::now();
    for user in [&basic, &pro, &buyer] {
        track(&server, user, "Signed Up");
    }
    track(&server, &buyer, "Order Completed");
    // Entering twice does nothing under `reentry: never`.
    track(&server, &basic, "Signed Up");

    let mut received = Vec::new();
    while received.len() < 2 {
        let message = sink.next(Duration::from_secs(20)).expect("journey emails");
        received.push(message);
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the wait was not honoured"
    );
    if let Some(extra) = sink.next(Duration::from_millis(1500)) {
        panic!("an extra email: {extra} after {received:?}");
    }
    let by_rcpt: BTreeSet<(String, String)> = received
        .iter()
        .map(|m| {
            (
                m["rcpt_tos"][0].as_str().unwrap().to_string(),
                m["headers"]["Subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        (format!("{basic}@example.com"), "Welcome Ada".to_string()),
        (format!("{pro}@example.com"), "Pro tips".to_string()),
    ]
    .into();
    assert_eq!(by_rcpt, expected);

    wait_for("runs to settle", || {
        runs(&server, "onboarding")
            .iter()
            .all(|r| r["status"] != "active")
    });
    let all = runs(&server, "onboarding");
    assert_eq!(all.len(), 3, "{all:?}");
    let statuses: Vec<&str> = all.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "completed").count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "exited").count(),
        1,
        "{statuses:?}"
    );
    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{basic}"));
    assert_eq!(profile["traits"]["onboarded"], true, "{profile}");
    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{buyer}"));
    assert!(
        profile["traits"]["onboarded"].is_null(),
        "the exit stopped the journey"
    );
}

#[test]
fn kill_9_mid_journey_resumes_and_sends_once() {
    let Some(sink) = Sink::start() else { return };
    let mut server = Server::start();
    configure(&server, sink.port, 3, 100);
    let user = unique("crash");
    person(&server, &user, &format!("{user}@example.com"), true);
    templates(&server);
    let journey = "trigger: { event: Joined }\nsteps:\n  - { id: pause, wait: { duration: 3s } }\n  - { id: hello, send_email: { template: welcome } }\n  - { id: tag, set_trait: { name: greeted, value: true } }\n";
    assert_eq!(put_journey(&server, "greet", journey).0, 200);
    let joined = Instant::now();
    track(&server, &user, "Joined");
    wait_for("the run to start waiting", || {
        runs(&server, "greet")
            .first()
            .is_some_and(|r| r["step"] == 0 && r["next_at"].as_i64() > Some(0))
    });
    server.crash_and_restart();
    let message = sink
        .next(Duration::from_secs(20))
        .expect("the email after the restart");
    assert!(
        joined.elapsed() >= Duration::from_secs(3),
        "the wait survived the crash"
    );
    assert_eq!(message["rcpt_tos"][0], format!("{user}@example.com"));
    wait_for("the run to complete", || {
        runs(&server, "greet")
            .first()
            .is_some_and(|r| r["status"] == "completed")
    });
    // A second crash after the send repeats nothing.
    server.crash_and_restart();
    assert!(sink.next(Duration::from_secs(2)).is_none(), "sent twice");
    let all = runs(&server, "greet");
    assert_eq!(all.len(), 1);
    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert_eq!(profile["traits"]["greeted"], true);
}

#[test]
fn segment_entry_triggers_a_decided_email() {
    let Some(sink) = Sink::start() else { return };
    let server = Server::start();
    configure(&server, sink.port, 3, 100);
    let user = unique("vip");
    person(&server, &user, &format!("{user}@example.com"), true);
    let policy = "holdout: { universal: 0.0, salt: t }\nselection: top\nactions:\n  - id: gold_card\n    channels: [email]\n    purpose: dpv:DirectMarketing\n    kind: marketing\n    value: 10.0\n    propensity: { expression: \"0.5\" }\n";
    let (status, body) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(policy)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin_put(
        &server,
        "/v1/segments/big",
        &json!({"definition": "profile.traits.spend > 100"}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin_put(
        &server,
        "/v1/templates/offer",
        &json!({"subject": "For you: {{ decision.action_id }}", "text": "hi"}),
    );
    assert_eq!(status, 200, "{body}");
    let journey = "trigger: { segment: big }\nsteps:\n  - { id: best, decide: { channel: email } }\n  - { id: mail, send_email: { template: offer } }\nreentry: after_exit\n";
    assert_eq!(put_journey(&server, "vip", journey).0, 200);
    // Not a member yet: nothing. Entering the segment starts the journey;
    // staying in it is not a second entry.
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": user, "traits": {"spend": 50}})
            )
            .0,
        200
    );
    assert!(sink.next(Duration::from_millis(1500)).is_none());
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": user, "traits": {"spend": 500}})
            )
            .0,
        200
    );
    let message = sink
        .next(Duration::from_secs(20))
        .expect("the segment entry email");
    assert_eq!(message["headers"]["Subject"], "For you: gold_card");
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": user, "traits": {"spend": 600}})
            )
            .0,
        200
    );
    assert!(
        sink.next(Duration::from_millis(1500)).is_none(),
        "staying a member is not an entry"
    );
}

/// A zone where the local time is well away from midnight now, so "today"
/// and "tomorrow" cannot change while the test runs.
fn zone_away_from_midnight() -> (String, jiff::Zoned) {
    for name in ["UTC", "Asia/Tokyo", "America/New_York"] {
        let local = jiff::Timestamp::now().in_tz(name).unwrap();
        if (2..22).contains(&local.hour()) {
            return (name.to_string(), local);
        }
    }
    unreachable!("three zones nine or more hours apart")
}

#[test]
fn birthdays_enter_once_a_year_in_the_persons_zone() {
    let mut server = Server::start();
    let (zone, local) = zone_away_from_midnight();
    // 28 years back keeps February 29 a real date.
    let born = |date: jiff::civil::Date| {
        jiff::civil::date(date.year() - 28, date.month(), date.day()).to_string()
    };
    let today = born(local.date());
    let tomorrow = born(local.date().tomorrow().unwrap());
    let (celebrant, waiting, garbled) = (unique("bday"), unique("tomorrow"), unique("garbled"));
    for (user, birthday) in [
        (&celebrant, today.as_str()),
        (&waiting, tomorrow.as_str()),
        (&garbled, "the fifth of never"),
    ] {
        let traits = json!({"birthday": birthday, "timezone": zone});
        let (status, _) = server.post("/v1/identify", &json!({"userId": user, "traits": traits}));
        assert_eq!(status, 200);
    }
    let journey = format!(
        "trigger: {{ date_trait: birthday, at: \"{:02}:00\" }}\nsteps:\n  - {{ id: cake, set_trait: {{ name: greeted, value: true }} }}\n",
        local.hour() - 1
    );
    let (status, body) = put_journey(&server, "birthday", &journey);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["journey"]["trigger"]["date_trait"], "birthday");

    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{celebrant}"));
    let celebrant_id = profile["id"].clone();
    wait_for("the birthday run to complete", || {
        runs(&server, "birthday")
            .iter()
            .any(|r| r["status"] == "completed")
    });
    let greeted = |server: &Server| {
        server
            .all_events(&format!("user_id:{celebrant}"))
            .iter()
            .filter(|e| {
                e["messageId"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("jrn-"))
            })
            .count()
    };
    let check = |server: &Server| {
        let all = runs(server, "birthday");
        assert_eq!(
            all.len(),
            1,
            "one entry, for today's birthday only: {all:?}"
        );
        assert_eq!(all[0]["profile_id"], celebrant_id);
        assert_eq!(greeted(server), 1, "one trait update");
        let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{celebrant}"));
        assert_eq!(profile["traits"]["greeted"], true, "{profile}");
        let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{waiting}"));
        assert!(profile["traits"]["greeted"].is_null(), "{profile}");
    };
    // Ticks keep coming; a restart looks over everyone again at once.
    std::thread::sleep(Duration::from_secs(1));
    check(&server);
    server.crash_and_restart();
    std::thread::sleep(Duration::from_secs(2));
    check(&server);
}
