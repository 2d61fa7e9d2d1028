//! Latency percentiles of one whole decision over 100 actions (the
//! `decide_100_actions` bench's policy and customer), one call per sample,
//! so that tail latency shows (divan reports medians of batches). Run with
//! `bench/engine-latency.sh` or
//! `cargo run --release -p allele-engine --example decide_latency -- [calls]`.

#![allow(
    clippy::panic,
    reason = "a measurement with a broken fixture should stop at once"
)]

use std::time::Instant;

use allele_engine::decide;

#[path = "../benches/support/fixtures.rs"]
mod fixtures;

fn percentile(sorted: &[u128], share: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted.get(rank).copied().unwrap_or_default() as f64 / 1_000.0
}

fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .map(|arg| {
            arg.parse()
                .unwrap_or_else(|_| panic!("calls: `{arg}` is not a count"))
        })
        .unwrap_or(20_000);
    let input = fixtures::input();
    println!("selection  calls   p50 µs   p90 µs   p99 µs  p99.9 µs   max µs");
    for selection in ["top", "epsilon"] {
        let bundle = fixtures::hundred_actions(selection);
        for _ in 0..1_000 {
            std::hint::black_box(decide(&bundle, &input));
        }
        let mut nanos = Vec::with_capacity(calls);
        for _ in 0..calls {
            let start = Instant::now();
            let decision = decide(std::hint::black_box(&bundle), std::hint::black_box(&input));
            nanos.push(start.elapsed().as_nanos());
            std::hint::black_box(decision);
        }
        nanos.sort_unstable();
        println!(
            "{selection:<9} {calls:>6} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>8.1}",
            percentile(&nanos, 0.5),
            percentile(&nanos, 0.9),
            percentile(&nanos, 0.99),
            percentile(&nanos, 0.999),
            percentile(&nanos, 1.0),
        );
    }
}
