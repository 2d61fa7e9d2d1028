#![allow(
    clippy::expect_used,
    reason = "a benchmark tool: any failure should stop it loudly"
)]
//! HTTP load generator for the ingest benchmarks (`bench/ingest.sh`).
//!
//! Sends `/v1/batch` requests of `--events` realistic Segment events (~600
//! bytes each, unique messageIds) either as fast as `--concurrency`
//! connections allow, or at a fixed `--rate` of requests per second. In rate
//! mode latency is measured from each request's scheduled start, so a stall
//! is not hidden by the generator waiting (no coordinated omission).

use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    key: String,
    seconds: f64,
    concurrency: usize,
    rate: Option<f64>,
    events: usize,
    users: u64,
    /// `batch` (ingest) or `decide`.
    mode: String,
}

fn args() -> Args {
    let mut out = Args {
        url: String::new(),
        key: String::new(),
        seconds: 10.0,
        concurrency: 32,
        rate: None,
        events: 100,
        users: 100_000,
        mode: "batch".into(),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let (flag, value) = (pair[0].as_str(), pair.get(1).cloned().unwrap_or_default());
        match flag {
            "--url" => out.url = value,
            "--key" => out.key = value,
            "--seconds" => out.seconds = value.parse().expect("seconds"),
            "--concurrency" => out.concurrency = value.parse().expect("concurrency"),
            "--rate" => out.rate = Some(value.parse().expect("rate")),
            "--events" => out.events = value.parse().expect("events"),
            "--users" => out.users = value.parse().expect("users"),
            "--mode" => out.mode = value,
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2)
            }
        }
    }
    out
}

fn body(run: u32, request: u64, events: usize, users: u64) -> String {
    let batch: Vec<_> = (0..events)
        .map(|i| {
            let n = request * events as u64 + i as u64;
            let user = (n.wrapping_mul(2654435761)) % users;
            json!({
                "type": "track",
                "event": "Product Viewed",
                "userId": format!("user-{user}"),
                "anonymousId": format!("anon-{user}"),
                "messageId": format!("lg-{run:08x}-{n}"),
                "timestamp": "2026-11-20T10:15:30.123Z",
                "properties": {"sku": format!("sku-{}", n % 5000), "price": 19.99, "currency": "EUR", "category": "shoes", "position": i},
                "context": {
                    "ip": "203.0.113.42",
                    "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
                    "page": {"path": "/p/shoes", "url": "https://shop.example/p/shoes", "referrer": "https://search.example/"},
                    "campaign": {"source": "newsletter", "medium": "email", "name": "autumn"},
                    "library": {"name": "analytics.js", "version": "5.2.0"}
                }
            })
        })
        .collect();
    json!({"batch": batch, "sentAt": "2026-11-20T10:15:30.200Z"}).to_string()
}

#[tokio::main]
async fn main() {
    let args = Arc::new(args());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .expect("client");
    let run: u32 = rand::random();
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.seconds);
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let (args, client, counter, errors) = (
            args.clone(),
            client.clone(),
            counter.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let interval = args
                .rate
                .map(|r| Duration::from_secs_f64(args.concurrency as f64 / r));
            let mut scheduled = started
                + interval.map_or(Duration::ZERO, |i| {
                    i.mul_f64(worker as f64 / args.concurrency as f64)
                });
            loop {
                if interval.is_some() {
                    tokio::time::sleep_until(scheduled.into()).await;
                }
                let begin = if interval.is_some() {
                    scheduled
                } else {
                    Instant::now()
                };
                if begin >= deadline {
                    break;
                }
                let request = counter.fetch_add(1, Ordering::Relaxed);
                let sent = if args.mode == "decide" {
                    let user = (request.wrapping_mul(2654435761)) % args.users;
                    let payload = json!({"user_id": format!("user-{user}"), "touchpoint": "web", "channel": "email",
                                         "context": {"page": "/p/shoes", "campaign": "autumn"}});
                    client.post(format!("{}/v1/decide", args.url)).bearer_auth(&args.key).json(&payload).send().await
                } else {
                    let payload = body(run, request, args.events, args.users);
                    client
                        .post(format!("{}/v1/batch", args.url))
                        .basic_auth(&args.key, Some(""))
                        .header("content-type", "application/json")
                        .body(payload)
                        .send()
                        .await
                };
                match sent {
                    Ok(response) if response.status() == 200 => {
                        latencies.push(begin.elapsed().as_micros() as u64)
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if let Some(interval) = interval {
                    scheduled += interval;
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("worker"));
    }
    let elapsed = started
        .elapsed()
        .as_secs_f64()
        .min(args.seconds.max(1e-9))
        .max(1e-9);
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let ok = latencies.len() as f64;
    println!(
        "{}",
        json!({
            "requests_ok": latencies.len(),
            "errors": errors.load(Ordering::Relaxed),
            "events_per_sec": if args.mode == "decide" { 0.0 } else { (ok * args.events as f64 / elapsed).round() },
            "mode": args.mode,
            "requests_per_sec": (ok / elapsed * 10.0).round() / 10.0,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "p999_ms": pct(0.999), "max_ms": pct(1.0),
            "concurrency": args.concurrency, "rate": args.rate, "events_per_request": args.events,
            "body_bytes": body(run, 0, args.events, args.users).len(),
        })
    );
}
