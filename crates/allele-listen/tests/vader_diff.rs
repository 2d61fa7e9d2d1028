//! Differential test: the Rust scorer against `vaderSentiment` 3.3.2.
//!
//! Every sentence of the committed corpus (`tests/data/vader_corpus.txt`,
//! written by `scripts/gen_vader_corpus.py`) plus a seeded soup of random
//! tokens goes through `tests/vader_reference.py`; all four rounded fields
//! and the serialised JSON must be identical, line for line.
//!
//! Needs `python3` with `vaderSentiment==3.3.2`; without it the test skips
//! loudly, or fails when `CI=true`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use allele_listen::{Scores, polarity_scores};

fn reference_script() -> std::path::PathBuf {
    common::crate_dir().join("tests/vader_reference.py")
}

fn corpus() -> Vec<String> {
    let path = common::crate_dir().join("tests/data/vader_corpus.txt");
    let text = std::fs::read_to_string(&path).expect("corpus is committed");
    let body = text.strip_suffix('\n').expect("corpus ends with a newline");
    body.split('\n').map(str::to_string).collect()
}

/// Random token soups: lexicon words, boosters, negations, emoticons,
/// emoji and odd Unicode, joined by assorted whitespace. A fixed-seed
/// xorshift keeps the soup identical from run to run.
fn soup(count: usize) -> Vec<String> {
    soup_of(count, 14, 0x9e37_79b9_7f4a_7c15)
}

fn soup_of(count: usize, max_words: usize, seed: u64) -> Vec<String> {
    const PIECES: &[&str] = &[
        "good",
        "GOOD",
        "bad",
        "BAD",
        "love",
        "hate",
        "no",
        "NO",
        "not",
        "never",
        "very",
        "VERY",
        "kind",
        "of",
        "sort",
        "least",
        "at",
        "but",
        "BUT",
        "so",
        "this",
        "without",
        "doubt",
        "the",
        "shit",
        "bomb",
        "bad",
        "ass",
        "yeah",
        "right",
        "just",
        "enough",
        "kinda",
        "isn't",
        "don't",
        "n't",
        "nor",
        "or",
        "great!",
        "(happy)",
        ":)",
        ":(",
        ":D",
        ";)",
        "<3",
        ":-P",
        "lol",
        "LOL",
        "😁",
        "😡",
        "💔",
        "🔛",
        "🆙",
        "👍🏽",
        "🇫🇷",
        "❤️",
        "©",
        "!",
        "!!",
        "?",
        "???",
        "...",
        "—",
        "'",
        "İ",
        "ǅ",
        "Σ",
        "ΟΔΟΣ",
        "\u{212a}ind",
        "straße",
        "ÜBER",
        "café",
        "ＧＯＯＤ",
        "x",
        "ok",
        "meh",
        "nope",
        "uh-uh",
        "rarely",
        "despite",
        "totally",
        "barely",
        "FRIGGIN",
    ];
    const GAPS: &[&str] = &[
        " ", " ", " ", "  ", "\t", "\u{a0}", "\u{1c}", "\u{1f}", "\u{85}", "\u{2028}", "\u{3000}",
        "\r", "\u{200b}", "",
    ];
    let mut state: u64 = seed;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    (0..count)
        .map(|_| {
            let words = next(max_words);
            let mut sentence = String::new();
            for index in 0..words {
                if index > 0 {
                    sentence.push_str(GAPS[next(GAPS.len())]);
                }
                sentence.push_str(PIECES[next(PIECES.len())]);
            }
            sentence
        })
        .collect()
}

/// Scores `sentences` both ways; returns (compared, mismatches) or `None`
/// when the reference is unavailable.
fn compare(what: &str, sentences: &[String]) -> Option<(usize, Vec<String>)> {
    let script = reference_script();
    let version = common::run_python(what, &script, &["--version"], b"")?;
    if version.trim() != "3.3.2" {
        common::unavailable(
            what,
            &format!(
                "vaderSentiment {} is installed, the reference is 3.3.2",
                version.trim()
            ),
        )?;
    }
    let mut input = Vec::new();
    for sentence in sentences {
        assert!(!sentence.contains('\n'), "sentences are newline-separated");
        input.extend_from_slice(sentence.as_bytes());
        input.push(b'\n');
    }
    let output = common::run_python(what, &script, &[], &input)?;
    let answers: Vec<&str> = output.lines().collect();
    assert_eq!(answers.len(), sentences.len(), "one answer per sentence");

    let mut mismatches = Vec::new();
    for (sentence, answer) in sentences.iter().zip(answers) {
        let expected: Scores =
            serde_json::from_str(answer).expect("reference prints a score object");
        let actual = polarity_scores(sentence);
        let actual_json = serde_json::to_string(&actual).expect("scores serialise");
        let same_bits = [
            (actual.neg, expected.neg),
            (actual.neu, expected.neu),
            (actual.pos, expected.pos),
            (actual.compound, expected.compound),
        ]
        .iter()
        .all(|(a, b)| a.to_bits() == b.to_bits());
        if !same_bits || actual_json != answer {
            mismatches.push(format!(
                "{sentence:?}\n    python {answer}\n    rust   {actual_json}"
            ));
        }
    }
    Some((sentences.len(), mismatches))
}

fn assert_all_match(what: &str, sentences: &[String]) {
    let Some((compared, mismatches)) = compare(what, sentences) else {
        return;
    };
    eprintln!(
        "{what}: {}/{compared} sentences match vaderSentiment 3.3.2",
        compared - mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} sentences differ from vaderSentiment 3.3.2:\n  {}",
        mismatches.len(),
        mismatches
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

#[test]
fn corpus_matches_vader_sentiment_3_3_2() {
    let sentences = corpus();
    assert!(
        sentences.len() >= 1000,
        "corpus has {} sentences",
        sentences.len()
    );
    assert!(
        sentences.iter().any(String::is_empty),
        "corpus includes the empty string"
    );
    assert_all_match("vader corpus", &sentences);
}

#[test]
fn random_soup_matches_vader_sentiment_3_3_2() {
    assert_all_match("vader random soup", &soup(3000));
}

#[test]
fn long_texts_match_vader_sentiment_3_3_2() {
    // past 64 tokens the "but" rule switches to its indexed form; repeated
    // words make many equal valences, the case its quirk is about
    let long: Vec<String> = soup_of(60, 400, 7)
        .into_iter()
        .filter(|text| text.split_whitespace().count() > 70)
        .chain(["good ".repeat(40) + "but " + &"good bad ".repeat(40)])
        .chain(["GOOD great good ".repeat(30) + "but great " + &"good ".repeat(50) + "BUT bad"])
        .collect();
    assert!(long.len() > 30, "only {} long texts", long.len());
    assert_all_match("vader long texts", &long);
}

#[test]
fn committed_corpus_is_what_the_generator_writes() {
    let script = common::crate_dir().join("scripts/gen_vader_corpus.py");
    let Some(generated) = common::run_python("corpus generator", &script, &[], b"") else {
        return;
    };
    let committed =
        std::fs::read_to_string(common::crate_dir().join("tests/data/vader_corpus.txt"))
            .expect("corpus");
    assert!(
        generated == committed,
        "tests/data/vader_corpus.txt is stale: rerun scripts/gen_vader_corpus.py"
    );
}
