//! Rule evaluation and whole decisions. Run with
//! `cargo bench -p allele-engine --bench eval`.

#![allow(
    clippy::panic,
    reason = "a bench with a broken fixture should stop at once"
)]

use allele_engine::cel::{Activation, Expression, SlotTable};
use allele_engine::decide;

#[path = "support/fixtures.rs"]
mod fixtures;
use fixtures::{hundred_actions, input};

fn main() {
    divan::main();
}

const RULE: &str = r#"profile.traits.age >= 18 && profile.traits.country in ["GB", "US", "IE"] && !("excluded" in profile.segments) && profile.consent["dpv:DirectMarketing"].email == "given""#;

/// The four-clause rule with its slots already resolved (the steady state
/// within one decision).
#[divan::bench]
fn rule_four_clauses_warm(bencher: divan::Bencher) {
    let mut slots = SlotTable::default();
    let rule = Expression::compile(RULE, &mut slots).unwrap_or_else(|e| panic!("{}", e.message));
    let input = input();
    let mut activation = Activation::for_input(&slots, &input, input.now_ms);
    bencher.bench_local(|| rule.evaluate(divan::black_box(&mut activation)));
}

/// The same rule with a fresh activation each time: includes resolving its
/// four slots from the profile.
#[divan::bench]
fn rule_four_clauses_cold(bencher: divan::Bencher) {
    let mut slots = SlotTable::default();
    let rule = Expression::compile(RULE, &mut slots).unwrap_or_else(|e| panic!("{}", e.message));
    let input = input();
    bencher.bench_local(|| {
        let mut activation = Activation::for_input(&slots, &input, input.now_ms);
        rule.evaluate(divan::black_box(&mut activation))
    });
}

#[divan::bench]
fn compile_four_clauses() -> usize {
    let mut slots = SlotTable::default();
    let _ = Expression::compile(divan::black_box(RULE), &mut slots);
    slots.len()
}

#[divan::bench(args = ["top", "epsilon", "thompson"])]
fn decide_100_actions(bencher: divan::Bencher, selection: &str) {
    let bundle = hundred_actions(selection);
    let input = input();
    bencher.bench_local(|| decide(divan::black_box(&bundle), divan::black_box(&input)));
}
