//! Hostile and degenerate input: the helpers must answer, never panic, and
//! stay within their documented ranges.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::time::{Duration, Instant};

use allele_listen::{Graph, PageRankOptions, Scores, polarity_scores, wilson_lower_bound};
use proptest::prelude::*;

fn assert_well_formed(scores: Scores, text: &str) {
    let shown: String = text.chars().take(80).collect();
    assert!(
        (-1.0..=1.0).contains(&scores.compound),
        "{shown:?}: compound {}",
        scores.compound
    );
    for share in [scores.neg, scores.neu, scores.pos] {
        assert!((0.0..=1.0).contains(&share), "{shown:?}: share {share}");
    }
    let total = scores.neg + scores.neu + scores.pos;
    assert!(
        total == 0.0 || (total - 1.0).abs() <= 0.0021,
        "{shown:?}: shares sum to {total}"
    );
    let json = serde_json::to_string(&scores).expect("finite scores serialise");
    assert!(json.starts_with("{\"neg\":"), "{json}");
}

/// Scores `text`, checks the ranges, and returns how long it took.
fn timed(text: &str) -> Duration {
    let start = Instant::now();
    let scores = polarity_scores(text);
    let elapsed = start.elapsed();
    assert_well_formed(scores, text);
    elapsed
}

fn megabyte_of(piece: &str) -> String {
    piece.repeat((1 << 20) / piece.len() + 1)
}

#[test]
fn empty_and_whitespace_only() {
    for text in [
        "",
        " ",
        "\n",
        "\t\r\u{b}\u{c}",
        "\u{1c}\u{1d}\u{1e}\u{1f}",
        "\u{85}\u{a0}\u{2028}\u{3000}",
    ] {
        assert_eq!(polarity_scores(text), Scores::default(), "{text:?}");
    }
}

#[test]
fn control_characters() {
    let all_controls: String = (0u32..0x20)
        .chain(0x7f..0xa0)
        .filter_map(char::from_u32)
        .collect();
    for text in [
        all_controls.as_str(),
        "good\u{0}bad",
        "\u{0}\u{0}\u{0}",
        "\u{1b}[31mGREAT\u{1b}[0m terrible",
        "good\u{7}\u{8}bad\u{7f}",
        "\u{feff}love\u{200b}hate\u{200d}",
        "\u{202e}evil\u{202c} good",
        "\u{fffd}\u{fffd} bad",
    ] {
        timed(text);
    }
}

#[test]
fn one_megabyte_texts_finish_quickly() {
    let texts = [
        megabyte_of("good bad VERY GOOD not bad kind of great :) 😁 !!! ??? "),
        // the worst case for the "but" rule: many equal values on both sides
        megabyte_of("good good ") + " but " + &megabyte_of("good good "),
        megabyte_of("a"),
        megabyte_of("!"),
        megabyte_of("😁"),
        megabyte_of("no "),
        megabyte_of("\u{1c}"),
        megabyte_of("ΣΑΣ İ ǅ "),
    ];
    for text in &texts {
        let elapsed = timed(text);
        // generous: an unoptimised build on a busy 2-core machine
        assert!(
            elapsed < Duration::from_secs(20),
            "{} bytes took {elapsed:?}",
            text.len()
        );
    }
}

#[test]
fn graph_helpers_on_degenerate_graphs() {
    let empty: Graph = Graph::new();
    assert_eq!(empty.pagerank(&PageRankOptions::default()), Ok(Vec::new()));
    assert_eq!(empty.reach(&0, 5), 0);
    let mut only_nodes: Graph<String> = Graph::new();
    only_nodes.add_node(String::new()).expect("node");
    only_nodes.add_node("\u{0}".to_string()).expect("node");
    let ranks = only_nodes
        .pagerank(&PageRankOptions::default())
        .expect("converges");
    assert!(ranks.iter().all(|(_, score)| (score - 0.5).abs() < 1e-12));
    assert!(wilson_lower_bound(u64::MAX, u64::MAX, 0.95).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_string_scores_without_panicking(text in any::<String>()) {
        assert_well_formed(polarity_scores(&text), &text);
    }

    #[test]
    fn any_mix_of_vader_words_scores_without_panicking(
        words in proptest::collection::vec(prop_oneof![
            Just("good"), Just("BAD"), Just("no"), Just("not"), Just("but"), Just("BUT"), Just("least"),
            Just("at"), Just("very"), Just("VERY"), Just("kind"), Just("of"), Just("the"), Just("shit"),
            Just("so"), Just("never"), Just("without"), Just("doubt"), Just("😁"), Just("!"), Just("?"),
            Just(":)"), Just("İ"), Just("\u{1c}"), Just(""), Just("n't"),
        ], 0..60),
    ) {
        let text = words.join(" ");
        assert_well_formed(polarity_scores(&text), &text);
    }

    #[test]
    fn any_graph_ranks_sum_to_one(
        edges in proptest::collection::vec((0u32..30, 0u32..30, 0.0..10.0f64), 0..120),
        hops in 0usize..6,
    ) {
        let graph = Graph::from_edges(edges).expect("weights are valid");
        let ranks = graph.pagerank_scores(&PageRankOptions::default()).expect("damping 0.85 converges");
        if !ranks.is_empty() {
            let total: f64 = ranks.iter().sum();
            prop_assert!((total - 1.0).abs() < 1e-6, "total {}", total);
        }
        let reach = graph.reach(&0, hops);
        prop_assert!(reach < graph.node_count().max(1));
    }

    #[test]
    fn any_tally_has_a_bound_in_range(up in any::<u64>(), n in any::<u64>(), confidence in any::<f64>()) {
        match wilson_lower_bound(up, n, confidence) {
            Ok(bound) => prop_assert!((0.0..=1.0).contains(&bound)),
            Err(error) => prop_assert!(up > n || !(confidence > 0.0 && confidence < 1.0), "{}", error),
        }
    }
}
