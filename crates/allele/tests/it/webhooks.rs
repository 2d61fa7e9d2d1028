//! A sentiment drop raises a signed webhook (Standard Webhooks), retried
//! after a failure, verified here by a receiver the test runs.

use crate::common::{Server, client, read, unique};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Headers and body of one received request.
type Received = (Vec<(String, String)>, String);

/// Every request received; the first answer is a 500.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut headers = Vec::new();
            let mut line = String::new();
            let mut length = 0;
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some((name, value)) = line.trim_end().split_once(": ") {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.parse().unwrap_or(0);
                    }
                    headers.push((name.to_ascii_lowercase(), value.to_string()));
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let first = {
                let mut log = log.lock().expect("log");
                log.push((headers, String::from_utf8_lossy(&body).into_owned()));
                log.len() == 1
            };
            let status = if first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, seen)
}

#[test]
fn sentiment_drop_sends_a_signed_retried_webhook() {
    let server = Server::start();
    let (url, seen) = receiver();
    let (status, hook) = read(
        client()
            .put(format!("{}/v1/webhooks/alerts", server.url))
            .bearer_auth(&server.admin_key)
            .json(&json!({"url": url, "events": ["sentiment.drop"]}))
            .send()
            .expect("put"),
    );
    assert_eq!(status, 200, "{hook}");
    let secret = hook["secret"].as_str().expect("secret").to_string();
    let now = jiff::Timestamp::now();
    let ago = |hours: i64| {
        now.checked_sub(jiff::SignedDuration::from_hours(hours))
            .expect("time")
            .to_string()
    };
    let author = unique("poster");
    let mut posts = Vec::new();
    const HAPPY: [&str; 4] = [
        "I love this shop, great service!",
        "good prices",
        "nice staff :)",
        "really great, thanks!!",
    ];
    const SAD: [&str; 4] = [
        "terrible, broken and slow :(",
        "awful service",
        "worst shop ever!!",
        "not good at all",
    ];
    for i in 0..12 {
        let (happy, sad) = (HAPPY[i as usize % 4], SAD[i as usize % 4]);
        posts.push(json!({"type": "track", "userId": author, "event": "Social Post Observed", "timestamp": ago(48 + i),
                          "properties": {"text": happy}}));
        posts.push(json!({"type": "track", "userId": author, "event": "Social Post Observed", "timestamp": ago(1),
                          "properties": {"text": sad}}));
    }
    assert_eq!(server.post("/v1/batch", &json!({"batch": posts})).0, 200);
    let (status, check) = server.admin_post("/v1/alerts/sentiment/check", None);
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["dropped"], true, "{check}");
    assert_eq!(check["webhooks_queued"], 1);
    // Delivered after one failure (retried with backoff).
    let deadline = Instant::now() + Duration::from_secs(20);
    let delivered = loop {
        let (_, list) = server.admin_get("/v1/webhooks/alerts/deliveries");
        if list["deliveries"][0]["status"] == "delivered" || Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        delivered["deliveries"][0]["status"], "delivered",
        "{delivered}"
    );
    assert_eq!(delivered["deliveries"][0]["attempts"], 2);
    let requests = seen.lock().expect("seen").clone();
    assert_eq!(requests.len(), 2);
    let (headers, body) = &requests[1];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .expect(name)
    };
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("hmac");
    mac.update(
        format!(
            "{}.{}.{}",
            header("webhook-id"),
            header("webhook-timestamp"),
            body
        )
        .as_bytes(),
    );
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(header("webhook-signature"), expected, "signature verifies");
    let payload: Value = serde_json::from_str(body).expect("json");
    assert_eq!(payload["type"], "sentiment.drop");
    // No drop, no webhook.
    let (_, quiet) = server.admin_post("/v1/alerts/sentiment/check?hours=1000", None);
    assert_eq!(quiet["webhooks_queued"], 0, "{quiet}");
}
