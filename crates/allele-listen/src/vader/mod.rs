//! VADER sentiment, reproducing `vaderSentiment` 3.3.2 as published on PyPI.
//!
//! VADER (Hutto & Gilbert, ICWSM 2014) scores a text by summing the lexicon
//! valence of its words, adjusted by rules for boosters, negation, ALL CAPS,
//! "but", idioms and trailing punctuation, then normalising the sum into
//! `compound` ∈ [-1, 1] and splitting the words into `neg`/`neu`/`pos`
//! proportions.
//!
//! The reference is the 3.3.2 wheel, not the GitHub master (which differs),
//! and this module reproduces it exactly, quirks included; the differential
//! test in `tests/vader_diff.rs` holds it to that on a generated corpus.
//! No preprocessing: HTML entities, URLs and mentions are scored as written.
//!
//! Module map: `words.rs` holds the reference's constant tables,
//! `lexicon.rs` the lexicon files, `table.rs` their lookup table, `text.rs`
//! the Python string semantics, `valence.rs` the per-word rules; `mod.rs`
//! scores the result.
//!
//! Two caveats lie outside any code. The reference's answers depend on the
//! Unicode tables of the Python running it (`isupper()`, `lower()`,
//! `split()`): we follow Rust's tables, which agree with CPython 3.11
//! (Unicode 14) on every code point but six whose Lowercase property
//! Unicode 15 changed (there we agree with CPython ≥ 3.12). And its sums
//! are plain left-to-right float additions, as `sum()` was before Python
//! 3.12 made it compensated; a last-bit difference could in principle move
//! a rounded field on a newer Python.

mod lexicon;
#[cfg(test)]
mod python_parity;
mod table;
mod text;
mod valence;
mod words;

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use lexicon::LEXICON;
use valence::Scratch;

/// The four VADER scores, rounded as the reference rounds them.
///
/// Serialises as `{"neg":…,"neu":…,"pos":…,"compound":…}`, in that order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Share of negative words, rounded to 3 decimals.
    pub neg: f64,
    /// Share of neutral words, rounded to 3 decimals.
    pub neu: f64,
    /// Share of positive words, rounded to 3 decimals.
    pub pos: f64,
    /// Normalised sum of valences in [-1, 1], rounded to 4 decimals.
    pub compound: f64,
}

/// Scores one text.
///
/// Never panics; any `&str` is valid input, and time is linear-ish in the
/// length (a megabyte takes milliseconds).
///
/// ```
/// let scores = allele_listen::polarity_scores("VADER is smart, handsome, and funny!");
/// assert_eq!(scores.compound, 0.8439);
/// assert_eq!((scores.neg, scores.neu, scores.pos), (0.0, 0.248, 0.752));
/// ```
pub fn polarity_scores(text: &str) -> Scores {
    let text = text::replace_emojis(text, &LEXICON);
    // the reference strips the text here; counting "!" and "?" and splitting
    // on whitespace come out the same without it
    with_scratch(|scratch| score(valence::sentiments(&text, &LEXICON, scratch), &text))
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `work` with this thread's reusable buffers (or fresh ones if they
/// are busy, which only a re-entrant call could cause).
fn with_scratch<T>(work: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let answer = work(&mut scratch);
            if !scratch.worth_keeping() {
                *scratch = Scratch::default();
            }
            answer
        }
        Err(_) => work(&mut Scratch::default()),
    })
}

/// Scores many texts; the answers are in the same order.
pub fn polarity_scores_many<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<Scores> {
    texts.into_iter().map(polarity_scores).collect()
}

/// `score_valence`: from per-word valences to the four scores.
fn score(sentiments: &[f64], text: &str) -> Scores {
    if sentiments.is_empty() {
        return Scores::default();
    }
    // left to right, like `sum()` before Python 3.12
    let mut sum: f64 = sentiments.iter().fold(0.0, |total, &value| total + value);
    let emphasis = punctuation_emphasis(text);
    if sum > 0.0 {
        sum += emphasis;
    } else if sum < 0.0 {
        sum -= emphasis;
    }
    let compound = normalize(sum);

    let mut pos_sum = 0.0;
    let mut neg_sum = 0.0;
    let mut neu_count = 0u32;
    for &value in sentiments {
        // the ±1 compensates for neutral words counting 1 each
        if value > 0.0 {
            pos_sum += value + 1.0;
        }
        if value < 0.0 {
            neg_sum += value - 1.0;
        }
        if value == 0.0 {
            neu_count += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += emphasis;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= emphasis;
    }
    let total = pos_sum + neg_sum.abs() + f64::from(neu_count);
    Scores {
        neg: round_half_even(neg_sum.abs() / total, 3),
        neu: round_half_even(f64::from(neu_count) / total, 3),
        pos: round_half_even((pos_sum / total).abs(), 3),
        compound: round_half_even(compound, 4),
    }
}

/// Emphasis from "!" (0.292 each, up to 4) and "?" (0.18 each for 2 or 3,
/// 0.96 for more; a single "?" adds nothing), counted over the whole text.
fn punctuation_emphasis(text: &str) -> f64 {
    // two simple counting passes vectorise; one pass with a match does not
    let exclamations = text.bytes().filter(|&byte| byte == b'!').count();
    let questions = text.bytes().filter(|&byte| byte == b'?').count();
    // at most 4 count, so the conversion is exact
    let exclamation = exclamations.min(4) as f64 * 0.292;
    let question = match questions {
        0 | 1 => 0.0,
        2 | 3 => questions as f64 * 0.18,
        _ => 0.96,
    };
    exclamation + question
}

/// Maps a valence sum into [-1, 1]; alpha = 15 approximates the largest
/// sum expected.
fn normalize(score: f64) -> f64 {
    let normalized = score / (score * score + 15.0).sqrt();
    normalized.clamp(-1.0, 1.0)
}

/// Python's `round(x, digits)`: the exact binary value rounded to `digits`
/// decimals, ties to even, read back as the nearest double.
///
/// The fast path rounds `x·10^digits` when it is clearly not near a tie:
/// for |x| ≤ 1 that product is off by at most ~1e-13, far inside the 1e-9
/// margin, and dividing the integer back by 10^digits is correctly rounded.
/// Anything else goes through exact decimal formatting, which rounds the
/// exact value half to even as CPython's `round` does.
fn round_half_even(x: f64, digits: usize) -> f64 {
    let scale = match digits {
        3 => 1e3,
        4 => 1e4,
        _ => return round_by_formatting(x, digits),
    };
    if x.is_nan() || x.abs() > 1.0 {
        return round_by_formatting(x, digits);
    }
    let scaled = x * scale;
    // |scaled| <= 10^4, so the integer conversion is exact truncation (and
    // a plain instruction, where `f64::round` is a libm call)
    let truncated = scaled as i64;
    let fraction = scaled - truncated as f64;
    if (fraction.abs() - 0.5).abs() <= 1e-9 {
        return round_by_formatting(x, digits);
    }
    let rounded = truncated + i64::from(fraction > 0.5) - i64::from(fraction < -0.5);
    // the sign survives rounding to zero: round(-0.0001, 3) is -0.0
    (rounded as f64).copysign(x) / scale
}

fn round_by_formatting(x: f64, digits: usize) -> f64 {
    format!("{x:.digits$}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rounding_matches_python_on_binary_ties() {
        // values from CPython 3.11: round(0.0625, 3) == 0.062, etc.
        assert_eq!(round_half_even(0.0625, 3), 0.062);
        assert_eq!(round_half_even(0.1875, 3), 0.188);
        assert_eq!(round_half_even(-0.00005, 4), -0.0001);
        assert_eq!(round_half_even(0.00015, 4), 0.0001);
        assert_eq!(round_half_even(0.5, 0), 0.0);
        assert!(round_half_even(-0.00001, 4).is_sign_negative());
    }

    proptest! {
        #[test]
        fn fast_rounding_agrees_with_exact_formatting(x in -1.0..=1.0f64, digits in 3usize..=4) {
            prop_assert_eq!(round_half_even(x, digits).to_bits(), round_by_formatting(x, digits).to_bits());
        }

        #[test]
        fn fast_rounding_agrees_near_ties(k in -10_000i64..=10_000, digits in 3usize..=4, nudge in -2i64..=2) {
            let scale = if digits == 3 { 1e3 } else { 1e4 };
            let tie = (k as f64 + 0.5) / scale;
            let x = f64::from_bits((tie.to_bits() as i64 + nudge) as u64);
            prop_assume!(x.abs() <= 1.0);
            prop_assert_eq!(round_half_even(x, digits).to_bits(), round_by_formatting(x, digits).to_bits());
        }
    }

    #[test]
    fn empty_and_blank_texts_score_zero() {
        for text in ["", " ", "\t\n\u{1c}\u{3000}"] {
            assert_eq!(polarity_scores(text), Scores::default());
        }
    }

    #[test]
    fn serialises_in_reference_order() {
        let json = serde_json::to_string(&polarity_scores("not bad at all")).unwrap_or_default();
        assert!(json.starts_with("{\"neg\":"), "{json}");
        assert!(
            json.contains(",\"neu\":")
                && json.contains(",\"pos\":")
                && json.contains(",\"compound\":")
        );
    }

    #[test]
    fn reference_examples_from_the_package_demo() {
        // printed by vaderSentiment 3.3.2's own __main__ demo
        let cases = [
            (
                "VADER is smart, handsome, and funny.",
                0.0,
                0.254,
                0.746,
                0.8316,
            ),
            (
                "VADER is very smart, handsome, and funny.",
                0.0,
                0.299,
                0.701,
                0.8545,
            ),
            (
                "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
                0.0,
                0.294,
                0.706,
                0.9469,
            ),
            (
                "VADER is not smart, handsome, nor funny.",
                0.646,
                0.354,
                0.0,
                -0.7424,
            ),
            (
                "At least it isn't a horrible book.",
                0.0,
                0.678,
                0.322,
                0.431,
            ),
            (
                "Today only kinda sux! But I'll get by, lol",
                0.127,
                0.556,
                0.317,
                0.5249,
            ),
            (
                "Catch utf-8 emoji such as 💘 and 💋 and 😁",
                0.0,
                0.583,
                0.417,
                0.875,
            ),
        ];
        for (text, neg, neu, pos, compound) in cases {
            assert_eq!(
                polarity_scores(text),
                Scores {
                    neg,
                    neu,
                    pos,
                    compound
                },
                "{text}"
            );
        }
    }
}
