//! `kill -9` during ingest: every acknowledged messageId is stored exactly
//! once after restart, and re-sending the batch that was in flight is
//! accepted and still stored once. `ALLELE_KILL_ROUNDS` sets the number of
//! crashes (the benchmark script runs 20).

use crate::common::{Server, client, unique};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Log {
    acked: Vec<String>,
    in_flight: Option<Value>,
}

fn batch(user: &str, start: usize, size: usize) -> (Vec<String>, Value) {
    let ids: Vec<String> = (start..start + size)
        .map(|i| format!("{user}-{i}"))
        .collect();
    let events: Vec<Value> = ids
        .iter()
        .map(|id| json!({"type": "track", "userId": user, "event": "Durable", "messageId": id, "properties": {"n": id}}))
        .collect();
    (ids, json!({"batch": events}))
}

#[test]
fn acknowledged_events_survive_kill_9() {
    let rounds: usize = std::env::var("ALLELE_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut server = Server::start();
    let user = unique("durable");
    let mut next = 0usize;
    let mut all_acked: Vec<String> = Vec::new();
    for round in 0..rounds {
        let log = Arc::new(Mutex::new(Log {
            acked: Vec::new(),
            in_flight: None,
        }));
        let sender = {
            let (url, key, user, log) = (
                server.url.clone(),
                server.write_key.clone(),
                user.clone(),
                Arc::clone(&log),
            );
            let start = next;
            std::thread::spawn(move || {
                let http = client();
                let mut cursor = start;
                loop {
                    let (ids, body) = batch(&user, cursor, 50);
                    cursor += 50;
                    log.lock().expect("log").in_flight = Some(body.clone());
                    let sent = http
                        .post(format!("{url}/v1/batch"))
                        .basic_auth(&key, Some(""))
                        .json(&body)
                        .send();
                    match sent {
                        Ok(response) if response.status() == 200 => {
                            let mut log = log.lock().expect("log");
                            log.acked.extend(ids);
                            log.in_flight = None;
                        }
                        _ => return cursor,
                    }
                }
            })
        };
        let pause = 150 + rand::random::<u64>() % 600;
        std::thread::sleep(Duration::from_millis(pause));
        server.kill9();
        next = sender.join().expect("sender");
        server.crash_and_restart();
        let log = Arc::try_unwrap(log)
            .ok()
            .expect("sole owner")
            .into_inner()
            .expect("log");
        assert!(
            !log.acked.is_empty(),
            "round {round}: nothing was acknowledged before the kill"
        );
        all_acked.extend(log.acked);
        if let Some(body) = log.in_flight {
            let (status, answer) = server.post("/v1/batch", &body);
            assert_eq!(status, 200, "re-sent batch: {answer}");
            for event in body["batch"].as_array().expect("batch") {
                all_acked.push(event["messageId"].as_str().expect("id").to_string());
            }
        }
    }
    let events = server.all_events(&format!("user_id:{user}"));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for event in &events {
        *counts
            .entry(event["messageId"].as_str().expect("messageId").to_string())
            .or_default() += 1;
    }
    for id in &all_acked {
        assert_eq!(
            counts.get(id),
            Some(&1),
            "acknowledged `{id}` stored {:?} times",
            counts.get(id)
        );
    }
    assert!(counts.values().all(|&n| n == 1), "some event stored twice");
    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert_eq!(profile["event_count"].as_u64(), Some(events.len() as u64));
    eprintln!(
        "durability: {rounds} kill -9 rounds, {} acknowledged events all stored once",
        all_acked.len()
    );
}
