//! Email over a real SMTP server (aiosmtpd): rendered templates, RFC 8058
//! headers, the unsubscribe round trip into the consent ledger, click
//! tracking, bounces, consent and customer limits checked at dispatch, and
//! an unreachable server retried then failed.

use crate::common::{Server, client, read, require_tool, unique};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// A real SMTP server on a free port, its messages as JSON.
pub struct Sink {
    child: Child,
    pub port: u16,
    messages: Receiver<Value>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Sink {
    pub fn start() -> Option<Sink> {
        let has = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        if !require_tool(has, "python3 with aiosmtpd (pip install aiosmtpd)") {
            return None;
        }
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the smtp sink");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str(&line) {
                    let _ = sender.send(value);
                }
            }
        });
        Some(Sink {
            child,
            port,
            messages,
        })
    }

    pub fn next(&self, within: Duration) -> Option<Value> {
        self.messages.recv_timeout(within).ok()
    }
}

pub fn admin_put(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    read(
        client()
            .put(format!("{}{path}", server.url))
            .bearer_auth(&server.admin_key)
            .json(body)
            .send()
            .unwrap(),
    )
}

pub fn configure(server: &Server, port: u16, attempts: u32, backoff_ms: u64) {
    let (status, body) = admin_put(
        server,
        "/v1/channels/email",
        &json!({"host": "127.0.0.1", "port": port, "tls": "none", "from": "News <news@example.com>",
                "public_url": "https://mail.example.test", "max_attempts": attempts, "backoff_ms": backoff_ms}),
    );
    assert_eq!(status, 200, "{body}");
}

/// A person with an email address and, if `consent`, marketing consent by email.
pub fn person(server: &Server, user: &str, address: &str, consent: bool) {
    let (status, _) = server.post(
        "/v1/identify",
        &json!({"userId": user, "traits": {"email": address, "first_name": "Ada"}}),
    );
    assert_eq!(status, 200);
    if consent {
        let (status, body) = admin_put(
            server,
            &format!("/v1/profiles/user_id:{user}/consent"),
            &json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"}),
        );
        assert_eq!(status, 200, "{body}");
    }
}

pub fn send(server: &Server, user: &str, template: &str, key: &str) -> Value {
    let (status, body) = server.admin_post(
        "/v1/emails",
        Some(
            &json!({"to": format!("user_id:{user}"), "template": template, "idempotency_key": key,
                     "decision": {"action_id": "gold_card"}}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    body
}

/// Wait until the message leaves `pending` (or `until` holds), then answer it.
pub fn settled(server: &Server, id: &str, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, message) = server.admin_get(&format!("/v1/emails/{id}"));
        assert_eq!(status, 200, "{message}");
        if until(&message) || Instant::now() > deadline {
            return message;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn not_pending(message: &Value) -> bool {
    !matches!(message["status"].as_str(), Some("pending" | "sending"))
}

fn token_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {text}"))
        + marker.len();
    let rest = &text[start..];
    let end = rest.find(['"', '>', '\'', '<']).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn email_over_real_smtp_end_to_end() {
    let Some(sink) = Sink::start() else { return };
    let server = Server::start();
    configure(&server, sink.port, 3, 50);
    let ok = unique("ok");
    person(&server, &ok, "ok@example.com", true);

    // Templates are checked at save time.
    let (status, body) = admin_put(
        &server,
        "/v1/templates/bad",
        &json!({"subject": "Hi {{ profile.traits.frist_name }}", "text": "x"}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_template")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("frist_name"),
        "{body}"
    );
    let (status, body) = admin_put(
        &server,
        "/v1/templates/bad",
        &json!({"subject": "s", "html": "{% if %}"}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_template")),
        "{body}"
    );
    let (status, body) = admin_put(
        &server,
        "/v1/templates/welcome",
        &json!({"subject": "Hello {{ profile.traits.first_name }}",
                "html": "<p>Offer {{ decision.action_id }}</p><a href=\"https://shop.example/offer?x=1&amp;y=2\">see</a>",
                "text": "Offer {{ decision.action_id }} for {{ profile.email }}"}),
    );
    assert_eq!(status, 200, "{body}");

    // One idempotency key, one message.
    let first = send(&server, &ok, "welcome", "k1");
    let again = send(&server, &ok, "welcome", "k1");
    assert_eq!(first["created"], true);
    assert_eq!(
        (again["id"].clone(), again["created"].clone()),
        (first["id"].clone(), json!(false))
    );
    let id = first["id"].as_str().unwrap();
    let received = sink
        .next(Duration::from_secs(20))
        .expect("the message reached the smtp server");
    assert_eq!(received["rcpt_tos"], json!(["ok@example.com"]));
    let headers = &received["headers"];
    assert_eq!(headers["Subject"], "Hello Ada");
    assert_eq!(
        headers["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    let unsubscribe = headers["List-Unsubscribe"].as_str().unwrap();
    assert!(
        unsubscribe.starts_with("<https://mail.example.test/v1/unsubscribe/"),
        "{unsubscribe}"
    );
    assert!(headers["Message-ID"].as_str().unwrap().contains(id));
    assert_eq!(
        received["parts"]["text/plain"].as_str().unwrap().trim(),
        "Offer gold_card for ok@example.com"
    );
    let html = received["parts"]["text/html"].as_str().unwrap();
    assert!(html.contains("<p>Offer gold_card</p>"), "{html}");
    assert!(
        !html.contains("shop.example"),
        "the link is tracked: {html}"
    );
    let message = settled(&server, id, not_pending);
    assert_eq!(message["status"], "sent", "{message}");
    assert!(
        sink.next(Duration::from_millis(600)).is_none(),
        "sent twice"
    );

    // The click becomes a track event and redirects to the real link.
    let click = token_after(html, "https://mail.example.test/v1/click/");
    let no_redirects = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .get(format!("{}/v1/click/{click}", server.url))
        .send()
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "https://shop.example/offer?x=1&y=2"
    );
    let tampered = format!("{}/v1/click/{}x", server.url, click);
    assert_eq!(no_redirects.get(tampered).send().unwrap().status(), 400);
    let events = server.all_events(&format!("user_id:{ok}"));
    let clicked = events
        .iter()
        .find(|e| e["event"] == "Email Link Clicked")
        .expect("click event");
    assert_eq!(clicked["properties"]["message_id"], id);

    // One-click unsubscribe (RFC 8058) ends in the consent ledger…
    let path = token_after(unsubscribe, "https://mail.example.test");
    let response = client()
        .post(format!("{}{path}", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    let (status, body) = read(response);
    assert_eq!(status, 200, "{body}");
    let (_, consent) = server.admin_get(&format!("/v1/profiles/user_id:{ok}/consent"));
    let email = consent["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purpose"] == "dpv:DirectMarketing" && c["channel"] == "email")
        .unwrap();
    assert_eq!(
        (email["status"].as_str(), email["source"].as_str()),
        (Some("refused"), Some("unsubscribe"))
    );
    assert_eq!(email["receipt_id"], body["receipt_id"]);
    // …so the next marketing email is blocked at dispatch and never sent.
    let next = send(&server, &ok, "welcome", "k2");
    let blocked = settled(&server, next["id"].as_str().unwrap(), not_pending);
    assert_eq!(blocked["status"], "blocked", "{blocked}");
    assert!(blocked["last_error"].as_str().unwrap().contains("consent"));

    // No consent: nothing sent.
    let none = unique("none");
    person(&server, &none, "none@example.com", false);
    let queued = send(&server, &none, "welcome", "k3");
    assert_eq!(
        settled(&server, queued["id"].as_str().unwrap(), not_pending)["status"],
        "blocked"
    );

    // Quiet hours now (the customer's own clock) defer; a reached cap defers.
    let quiet = unique("quiet");
    person(&server, &quiet, "quiet@example.com", true);
    let hour = jiff::Timestamp::now().as_second() / 3600 % 24;
    let (start, end) = ((hour + 23) % 24, (hour + 2) % 24);
    set_limits(
        &server,
        &quiet,
        json!({"timezone": "UTC",
        "quiet_hours": {"start": format!("{start:02}:00"), "end": format!("{end:02}:00")}}),
    );
    let queued = send(&server, &quiet, "welcome", "k4");
    let deferred = settled(&server, queued["id"].as_str().unwrap(), |m| {
        m["last_error"].is_string()
    });
    assert_eq!(deferred["status"], "pending", "{deferred}");
    assert!(
        deferred["last_error"]
            .as_str()
            .unwrap()
            .contains("quiet_hours"),
        "{deferred}"
    );
    assert!(
        deferred["next_at"].as_i64().unwrap() > jiff::Timestamp::now().as_millisecond() + 3_000_000
    );
    let capped = unique("capped");
    person(&server, &capped, "capped@example.com", true);
    set_limits(
        &server,
        &capped,
        json!({"timezone": "UTC", "caps": [{"channel": "email", "count": 1, "window_ms": 86_400_000}]}),
    );
    let first = send(&server, &capped, "welcome", "k5");
    assert_eq!(
        settled(&server, first["id"].as_str().unwrap(), not_pending)["status"],
        "sent"
    );
    assert_eq!(
        sink.next(Duration::from_secs(10)).unwrap()["rcpt_tos"],
        json!(["capped@example.com"])
    );
    let second = send(&server, &capped, "welcome", "k6");
    let deferred = settled(&server, second["id"].as_str().unwrap(), |m| {
        m["last_error"].is_string()
    });
    assert_eq!(deferred["status"], "pending");
    assert!(
        deferred["last_error"].as_str().unwrap().contains("capped"),
        "{deferred}"
    );
    assert!(
        sink.next(Duration::from_millis(800)).is_none(),
        "no send in quiet hours or over the cap"
    );

    // A broadcast queues everyone with consent now, once per key.
    let (status, plan) = server.admin_post(
        "/v1/broadcasts",
        Some(&json!({"template": "welcome", "idempotency_key": "spring"})),
    );
    assert_eq!(status, 200, "{plan}");
    // ok refused by unsubscribing and none never consented: quiet and capped remain.
    assert_eq!(plan["queued"], 2, "{plan}");
    let (_, again) = server.admin_post(
        "/v1/broadcasts",
        Some(&json!({"template": "welcome", "idempotency_key": "spring"})),
    );
    assert_eq!(again["queued"], 0, "{again}");

    // A refused recipient is a bounce, recorded as an event.
    let bouncing = unique("bounce");
    person(&server, &bouncing, "bounce@example.com", true);
    let queued = send(&server, &bouncing, "welcome", "k7");
    let bounced = settled(&server, queued["id"].as_str().unwrap(), not_pending);
    assert_eq!(bounced["status"], "bounced", "{bounced}");
    let events = server.all_events(&format!("user_id:{bouncing}"));
    assert!(events.iter().any(|e| e["event"] == "Email Bounced"));

    // Unreachable SMTP: retried with backoff, then a clear failure record.
    let dead = free_port();
    configure(&server, dead, 3, 50);
    let later = unique("later");
    person(&server, &later, "later@example.com", true);
    let queued = send(&server, &later, "welcome", "k8");
    let failed = settled(&server, queued["id"].as_str().unwrap(), not_pending);
    assert_eq!(
        (failed["status"].as_str(), failed["attempts"].as_i64()),
        (Some("failed"), Some(3)),
        "{failed}"
    );
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{failed}"
    );

    // Consent is re-checked at dispatch: a message retrying while consent
    // is withdrawn is blocked when the server comes back, not sent.
    configure(&server, dead, 20, 300);
    let queued = send(&server, &later, "welcome", "k9");
    let id = queued["id"].as_str().unwrap();
    settled(&server, id, |m| m["attempts"].as_i64() >= Some(1));
    let (status, _) = admin_put(
        &server,
        &format!("/v1/profiles/user_id:{later}/consent"),
        &json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "withdrawn"}),
    );
    assert_eq!(status, 200);
    configure(&server, sink.port, 20, 300);
    assert_eq!(settled(&server, id, not_pending)["status"], "blocked");
    assert!(sink.next(Duration::from_millis(500)).is_none());
}

fn set_limits(server: &Server, user: &str, limits: Value) {
    let (status, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
    assert_eq!(status, 200, "{issued}");
    let response = client()
        .put(format!("{}/v1/me/caps", server.url))
        .bearer_auth(issued["token"].as_str().unwrap())
        .json(&limits)
        .send()
        .unwrap();
    let (status, body) = read(response);
    assert_eq!(status, 200, "{body}");
}
