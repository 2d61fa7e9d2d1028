//! Properties of decisions, holdouts, selection and the rule compiler.

use std::collections::BTreeSet;

use allele_engine::cel::{Expression, SlotTable};
use allele_engine::holdout::{holdout_slot, is_held_out};
use allele_engine::rng::Rng;
use allele_engine::select::{Candidate, select};
use allele_engine::{Bundle, ConsentRecord, ConsentStatus, Selection, decide};
use proptest::prelude::*;

use crate::common::{CHANNELS, PURPOSES, bundle, input, record};

fn status() -> impl Strategy<Value = ConsentStatus> {
    prop_oneof![
        Just(ConsentStatus::Given),
        Just(ConsentStatus::Withdrawn),
        Just(ConsentStatus::Refused)
    ]
}

fn consent_record() -> impl Strategy<Value = ConsentRecord> {
    (0..PURPOSES.len(), 0..CHANNELS.len(), status())
        .prop_map(|(p, c, s)| record(PURPOSES[p], CHANNELS[c], s))
}

fn selection() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("top"), Just("epsilon"), Just("thompson")]
}

fn segments() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            Just("vip".to_string()),
            Just("excluded".to_string()),
            "[a-z]{1,6}"
        ],
        0..4,
    )
}

fn candidate_ids(bundle: &Bundle, input: &allele_engine::DecisionInput) -> BTreeSet<String> {
    decide(bundle, input)
        .candidates
        .into_iter()
        .map(|c| c.action_id)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn decide_is_deterministic(
        selection in selection(),
        id in "[a-z0-9]{1,12}",
        age in 0i64..100,
        country in prop_oneof![Just("GB"), Just("US"), Just("FR")],
        segments in segments(),
        consent in prop::collection::vec(consent_record(), 0..6),
        channel in prop_oneof![Just("email"), Just("web"), Just("sms")],
        seed in any::<u64>(),
    ) {
        let bundle = bundle(selection, 1);
        let input = input(&id, age, country, segments, consent, channel, seed);
        let first = decide(&bundle, &input);
        prop_assert!(!first.trace.is_empty());
        prop_assert_eq!(&first, &decide(&bundle, &input));
        // a bundle that went through JSON decides the same
        let reloaded = Bundle::from_json_unverified(&bundle.to_json()).unwrap();
        prop_assert_eq!(&first, &decide(&reloaded, &input));
    }

    #[test]
    fn withdrawing_consent_never_widens_the_candidates(
        selection in selection(),
        age in 0i64..100,
        segments in segments(),
        consent in prop::collection::vec(consent_record(), 0..6),
        purpose in 0..PURPOSES.len(),
        channel_index in 0..CHANNELS.len(),
        refused in any::<bool>(),
        channel in prop_oneof![Just("email"), Just("web"), Just("sms")],
        seed in any::<u64>(),
    ) {
        let bundle = bundle(selection, 1);
        let before = input("p1", age, "GB", segments, consent, channel, seed);
        let mut after = before.clone();
        let status = if refused { ConsentStatus::Refused } else { ConsentStatus::Withdrawn };
        after.profile.consent.push(record(PURPOSES[purpose], CHANNELS[channel_index], status));
        let wider: Vec<String> = candidate_ids(&bundle, &after)
            .difference(&candidate_ids(&bundle, &before))
            .cloned()
            .collect();
        prop_assert!(wider.is_empty(), "withdrawal admitted {wider:?}");
    }

    #[test]
    fn holdout_is_stable_across_bundle_versions(id in "[ -~]{0,24}", v1 in 1u64..1000, v2 in 1u64..1000) {
        let (a, b) = (bundle("top", v1), bundle("top", v2));
        let input = input(&id, 40, "GB", vec![], vec![], "email", 7);
        prop_assert_eq!(decide(&a, &input).holdout, decide(&b, &input).holdout);
        prop_assert_eq!(decide(&a, &input).holdout, is_held_out(0.1, "ws", "2026-q4", &id));
    }

    #[test]
    fn epsilon_pmf_sums_to_one(
        scores in prop::collection::vec(-10.0f64..100.0, 1..40),
        epsilon in 0.0f64..=1.0,
        seed in any::<u64>(),
        limit in 1usize..4,
    ) {
        let candidates: Vec<Candidate> = scores
            .iter()
            .enumerate()
            .map(|(order, &score)| Candidate { order, score, weight: 1.0, posterior: None, propensity: 0.5 })
            .collect();
        let selected = select(Selection::Epsilon, epsilon, &candidates, limit, &mut Rng::from_seed(seed));
        let total: f64 = selected.pmf.iter().sum();
        prop_assert!((total - 1.0).abs() < 1e-9, "sum {total}");
        let first = &selected.picks[0];
        prop_assert!((first.probability - selected.pmf[first.candidate]).abs() < 1e-12);
        prop_assert!(selected.picks.iter().all(|p| p.probability > 0.0 && p.probability <= 1.0));
    }

    #[test]
    fn decision_pmf_sums_to_one_whenever_there_are_candidates(
        selection in selection(),
        age in 18i64..100,
        consent in prop::collection::vec(consent_record(), 0..6),
        seed in any::<u64>(),
    ) {
        let decision = decide(&bundle(selection, 1), &input("p1", age, "GB", vec![], consent, "email", seed));
        if !decision.candidates.is_empty() {
            let total: f64 = decision.candidates.iter().map(|c| c.probability).sum();
            prop_assert!((total - 1.0).abs() < 1e-9, "sum {total}");
        }
    }

    #[test]
    fn the_compiler_never_panics(source in "\\PC{0,80}") {
        let mut slots = SlotTable::default();
        let _ = Expression::compile(&source, &mut slots);
    }

    #[test]
    fn the_compiler_never_panics_on_token_soup(
        tokens in prop::collection::vec(
            prop_oneof![
                Just("profile"), Just("."), Just("traits"), Just("age"), Just("("), Just(")"), Just("["),
                Just("]"), Just("{"), Just("}"), Just(":"), Just(","), Just("?"), Just("!"), Just("-"),
                Just("+"), Just("/"), Just("%"), Just("=="), Just("<"), Just("&&"), Just("||"), Just("in"),
                Just("0"), Just("1"), Just("2.5"), Just("'s'"), Just("size"), Just("has"), Just("exists"),
                Just("x"), Just("now"), Just("context"), Just("null"), Just("true"), Just("9223372036854775807"),
            ],
            0..40,
        ),
        seed in any::<u64>(),
    ) {
        let source = tokens.join(" ");
        let mut slots = SlotTable::default();
        if let Ok(expression) = Expression::compile(&source, &mut slots) {
            // whatever compiles also evaluates without panicking
            let bundle = bundle("top", 1);
            let policy = format!(
                "actions:\n  - id: a\n    channels: [email]\n    purpose: dpv:ServiceProvision\n    kind: transactional\n    eligibility: {}\n",
                serde_json::to_string(&*expression.source).unwrap()
            );
            if let Ok(output) = allele_engine::compile(&policy, 1, &[]) {
                let _ = decide(&output.bundle, &input("p", 40, "GB", vec![], vec![], "email", seed));
            }
            let _ = decide(&bundle, &input("p", 40, "GB", vec![], vec![], "email", seed));
        }
    }
}

/// Chi-square over 100,000 ids: the held-out share matches the configured
/// one, and slots are uniform over ten buckets (p > 0.001 for both).
#[test]
fn holdout_split_matches_the_share() {
    let n = 100_000;
    let share = 0.1;
    let held = (0..n)
        .filter(|i| is_held_out(share, "ws", "2026-q4", &format!("user-{i}")))
        .count() as f64;
    let expected = n as f64 * share;
    let chi2 = (held - expected).powi(2) / expected
        + ((n as f64 - held) - (n as f64 - expected)).powi(2) / (n as f64 - expected);
    assert!(chi2 < 10.83, "held out {held} of {n}, chi-square {chi2}");

    let mut buckets = [0f64; 10];
    for i in 0..n {
        let slot = holdout_slot("ws", "2026-q4", &format!("user-{i}"));
        buckets[(slot / 100_000) as usize] += 1.0;
    }
    let expected = n as f64 / 10.0;
    let chi2: f64 = buckets
        .iter()
        .map(|b| (b - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 27.88, "buckets {buckets:?}, chi-square {chi2}");
}

#[test]
fn a_new_salt_reshuffles_the_holdout() {
    let moved = (0..10_000)
        .filter(|i| {
            let id = format!("user-{i}");
            is_held_out(0.5, "ws", "a", &id) != is_held_out(0.5, "ws", "b", &id)
        })
        .count();
    assert!((4_500..5_500).contains(&moved), "{moved}");
}
