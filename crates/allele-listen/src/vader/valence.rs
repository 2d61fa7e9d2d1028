//! The per-word rules of VADER 3.3.2: lexicon valence, "no", ALL CAPS,
//! boosters within three words, negation, idioms, "least" and "but".
//!
//! The order and the conditions are the reference's, quirks included, and
//! each quirk is named where it happens. Every lookup a rule needs is made
//! once per token up front, and the words the rules compare against are
//! [`Keyword`]s, so the rules never touch the text.

use super::lexicon::{Lexicon, WordInfo};
use super::text::{WordShape, lower_into, split_python_whitespace, strip_punctuation_if_word};
use super::words::{BOOSTER_PHRASES, C_INCR, Keyword, N_SCALAR, SPECIAL_CASES};

/// What the rules need to know about one whitespace-separated token; the
/// text itself is no longer needed once it has been looked up.
#[derive(Clone, Copy, Debug)]
struct Token {
    info: WordInfo,
    /// Python's `isupper()` of the punctuation-stripped word.
    upper: bool,
    /// `negated([word])`: a listed negation, or any word containing "n't".
    negation: bool,
}

/// Buffers reused from one text to the next, so that scoring a short post
/// allocates nothing once a thread has warmed up.
#[derive(Default)]
pub(crate) struct Scratch {
    tokens: Vec<Token>,
    sentiments: Vec<f64>,
    lowered: String,
}

impl Scratch {
    /// Past this many tokens a scratch is not kept for the next text: one
    /// megabyte post should not pin megabytes per thread.
    const KEEP_TOKENS: usize = 4096;

    /// Whether these buffers are small enough to keep.
    pub(crate) fn worth_keeping(&self) -> bool {
        self.tokens.capacity() <= Self::KEEP_TOKENS
    }
}

/// The tokens of one text, with the "some but not all words are ALL CAPS"
/// flag that decides whether capitals count as emphasis.
struct Sentence<'s> {
    tokens: &'s [Token],
    cap_differential: bool,
}

/// `SentiText` plus `polarity_scores`' loop: one valence per token of
/// `text` (already through the emoji pass), after the "but" rule.
pub(crate) fn sentiments<'s>(text: &str, lexicon: &Lexicon, scratch: &'s mut Scratch) -> &'s [f64] {
    let Scratch {
        tokens,
        sentiments,
        lowered,
    } = scratch;
    tokens.clear();
    sentiments.clear();
    let mut upper_count = 0;
    for (raw, flags) in split_python_whitespace(text) {
        let word = strip_punctuation_if_word(raw);
        let shape = WordShape::from_flags(word, flags);
        lowered.clear();
        let lower = match lower_into(word, shape, lowered) {
            Some((start, end)) => lowered.get(start..end).unwrap_or_default(),
            None => word,
        };
        let info = lexicon.word(lower);
        let negation = info.negation
            || (shape.apostrophe && lower.as_bytes().windows(3).any(|window| window == b"n't"));
        upper_count += usize::from(shape.upper);
        tokens.push(Token {
            info,
            upper: shape.upper,
            negation,
        });
    }
    let sentence = Sentence {
        tokens,
        cap_differential: upper_count > 0 && upper_count < tokens.len(),
    };
    sentence.sentiments(sentiments);
    sentiments
}

impl Sentence<'_> {
    /// The rule word at `index` (`Other` past either end).
    fn keyword(&self, index: usize) -> Keyword {
        self.tokens
            .get(index)
            .map_or(Keyword::Other, |token| token.info.keyword)
    }

    fn in_lexicon(&self, index: usize) -> bool {
        self.tokens
            .get(index)
            .is_some_and(|token| token.info.valence().is_some())
    }

    /// One valence per token, after the "but" adjustment.
    fn sentiments(&self, sentiments: &mut Vec<f64>) {
        for (index, token) in self.tokens.iter().enumerate() {
            let valence = if token.info.booster().is_some() {
                // boosters modify their neighbours and carry no valence of their own
                0.0
            } else if token.info.keyword == Keyword::Kind && self.keyword(index + 1) == Keyword::Of
            {
                0.0
            } else if let Some(valence) = token.info.valence() {
                self.word_valence(index, token, valence)
            } else {
                0.0
            };
            sentiments.push(valence);
        }
        if let Some(but_index) = self
            .tokens
            .iter()
            .position(|token| token.info.keyword == Keyword::But)
        {
            apply_but(sentiments, but_index);
        }
    }

    /// `sentiment_valence` for a word found in the lexicon.
    fn word_valence(&self, index: usize, token: &Token, lexicon_valence: f64) -> f64 {
        let mut valence = lexicon_valence;
        // "no" before another lexicon word negates that word instead
        if token.info.keyword == Keyword::No && self.in_lexicon(index + 1) {
            valence = 0.0;
        }
        let after_no = (index >= 1 && self.keyword(index - 1) == Keyword::No)
            || (index >= 2 && self.keyword(index - 2) == Keyword::No)
            || (index >= 3
                && self.keyword(index - 3) == Keyword::No
                && matches!(self.keyword(index - 1), Keyword::Or | Keyword::Nor));
        if after_no {
            valence = lexicon_valence * N_SCALAR;
        }
        if token.upper && self.cap_differential {
            // quirk: a valence of exactly 0 (a zeroed "no") is pushed negative
            if valence > 0.0 {
                valence += C_INCR
            } else {
                valence -= C_INCR
            }
        }
        for distance in 0..3 {
            // only preceding words that are not themselves in the lexicon
            // modify this one; negation and idioms hide behind the same test
            if index <= distance || self.in_lexicon(index - distance - 1) {
                continue;
            }
            let modifier = &self.tokens[index - distance - 1];
            let mut scalar = self.booster_scalar(modifier, valence);
            if distance == 1 && scalar != 0.0 {
                scalar *= 0.95;
            }
            if distance == 2 && scalar != 0.0 {
                scalar *= 0.9;
            }
            valence += scalar;
            valence = self.negation(valence, distance, index);
            if distance == 2 {
                valence = self.special_idioms(valence, index);
            }
        }
        self.least(valence, index)
    }

    /// `scalar_inc_dec`: the push a booster gives the word it precedes, in
    /// the direction of that word's valence.
    fn booster_scalar(&self, modifier: &Token, valence: f64) -> f64 {
        let Some(mut scalar) = modifier.info.booster() else {
            return 0.0;
        };
        if valence < 0.0 {
            scalar = -scalar;
        }
        if modifier.upper && self.cap_differential {
            if valence > 0.0 {
                scalar += C_INCR
            } else {
                scalar -= C_INCR
            }
        }
        scalar
    }

    /// `negated([word])` for the word at `index`.
    fn is_negation(&self, index: usize) -> bool {
        self.tokens.get(index).is_some_and(|token| token.negation)
    }

    /// `_negation_check` for the word `distance + 1` places before `index`.
    fn negation(&self, valence: f64, distance: usize, index: usize) -> f64 {
        let before = |k: usize| self.keyword(index - k);
        match distance {
            0 if self.is_negation(index - 1) => valence * N_SCALAR,
            1 if before(2) == Keyword::Never
                && matches!(before(1), Keyword::So | Keyword::This) =>
            {
                valence * 1.25
            }
            1 if before(2) == Keyword::Without && before(1) == Keyword::Doubt => valence,
            1 if self.is_negation(index - 2) => valence * N_SCALAR,
            // quirk: Python's `and`/`or` precedence makes a plain "so" or
            // "this" right before the word enough for the 1.25 boost here
            2 if (before(3) == Keyword::Never
                && matches!(before(2), Keyword::So | Keyword::This))
                || matches!(before(1), Keyword::So | Keyword::This) =>
            {
                valence * 1.25
            }
            2 if before(3) == Keyword::Without
                && (before(2) == Keyword::Doubt || before(1) == Keyword::Doubt) =>
            {
                valence
            }
            2 if self.is_negation(index - 3) => valence * N_SCALAR,
            _ => valence,
        }
    }

    /// Whether the words starting at `start` spell `phrase`.
    fn spells(&self, start: usize, phrase: &[Keyword]) -> bool {
        phrase
            .iter()
            .enumerate()
            .all(|(offset, &word)| self.keyword(start + offset) == word)
    }

    /// `_special_idioms_check`, reached only with three words before `index`.
    fn special_idioms(&self, mut valence: f64, index: usize) -> f64 {
        // (first word, length) of the n-grams before and around the word, in
        // the reference's order: the first one that is an idiom wins
        let around = [
            (index - 1, 2),
            (index - 2, 3),
            (index - 2, 2),
            (index - 3, 3),
            (index - 3, 2),
        ];
        let idiom_value = |start: usize, len: usize| {
            SPECIAL_CASES
                .iter()
                .find(|(phrase, _)| phrase.len() == len && self.spells(start, phrase))
                .map(|&(_, value)| value)
        };
        if let Some(value) = around
            .iter()
            .find_map(|&(start, len)| idiom_value(start, len))
        {
            valence = value;
        }
        // idioms starting at the word itself override the ones before it
        if self.tokens.len() > index + 1
            && let Some(value) = idiom_value(index, 2)
        {
            valence = value;
        }
        if self.tokens.len() > index + 2
            && let Some(value) = idiom_value(index, 3)
        {
            valence = value;
        }
        // two-word dampeners ("kind of") just before the word add up
        for (start, len) in [(index - 3, 3), (index - 3, 2), (index - 2, 2)] {
            for &(phrase, scalar) in BOOSTER_PHRASES {
                if phrase.len() == len && self.spells(start, phrase) {
                    valence += scalar;
                }
            }
        }
        valence
    }

    /// `_least_check`: "least good" is negated, "at least good" and
    /// "very least good" are not.
    fn least(&self, valence: f64, index: usize) -> f64 {
        if index == 0 || self.in_lexicon(index - 1) || self.keyword(index - 1) != Keyword::Least {
            return valence;
        }
        if index == 1 || !matches!(self.keyword(index - 2), Keyword::At | Keyword::Very) {
            return valence * N_SCALAR;
        }
        valence
    }
}

/// `_but_check`, quirk for quirk.
///
/// The reference walks the list and, for each value, rewrites the *first*
/// element equal to it: halved if that element is before the first "but",
/// 1.5× if after. With repeated values this rewrites an earlier element
/// again instead of the current one. Zeros never change, so only nonzero
/// values are tracked, by value, with the positions that currently hold
/// them; this keeps a megabyte of "good good good but …" linear-ish where
/// the reference is quadratic.
pub(crate) fn apply_but(sentiments: &mut [f64], but_index: usize) {
    use std::collections::{BTreeSet, HashMap};

    if sentiments.len() <= 64 {
        apply_but_by_scanning(sentiments, but_index);
        return;
    }
    // nonzero finite values: the bit pattern is a faithful equality key
    let mut holders: HashMap<u64, BTreeSet<usize>> = HashMap::new();
    for (position, &value) in sentiments.iter().enumerate() {
        if value != 0.0 {
            holders.entry(value.to_bits()).or_default().insert(position);
        }
    }
    for current in 0..sentiments.len() {
        let value = sentiments[current];
        if value == 0.0 {
            continue;
        }
        let Some(first) = holders
            .get(&value.to_bits())
            .and_then(|set| set.first().copied())
        else {
            continue;
        };
        let rewritten = but_factor(first, but_index).map_or(value, |factor| value * factor);
        if rewritten == value {
            continue;
        }
        sentiments[first] = rewritten;
        if let Some(set) = holders.get_mut(&value.to_bits()) {
            set.remove(&first);
        }
        holders
            .entry(rewritten.to_bits())
            .or_default()
            .insert(first);
    }
}

/// The reference's loop as written, for short texts.
pub(crate) fn apply_but_by_scanning(sentiments: &mut [f64], but_index: usize) {
    for current in 0..sentiments.len() {
        let value = sentiments[current];
        let Some(first) = sentiments.iter().position(|&other| other == value) else {
            continue;
        };
        if let Some(factor) = but_factor(first, but_index) {
            sentiments[first] = value * factor;
        }
    }
}

fn but_factor(position: usize, but_index: usize) -> Option<f64> {
    match position.cmp(&but_index) {
        std::cmp::Ordering::Less => Some(0.5),
        std::cmp::Ordering::Greater => Some(1.5),
        std::cmp::Ordering::Equal => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn indexed_but_matches_the_literal_loop(
            values in proptest::collection::vec(prop_oneof![
                Just(0.0), Just(1.9), Just(-1.9), Just(0.95), Just(2.85), Just(-0.95), Just(3.0)
            ], 65..200),
            but_fraction in 0.0..1.0f64,
        ) {
            let but_index = ((values.len() as f64) * but_fraction) as usize;
            let mut literal = values.clone();
            apply_but_by_scanning(&mut literal, but_index);
            let mut indexed = values;
            apply_but(&mut indexed, but_index);
            prop_assert_eq!(literal, indexed);
        }
    }

    #[test]
    fn repeated_values_rewrite_the_first_copy() {
        // [a, b, but, a] with a = 2b: step 0 halves a into b's value, so
        // step 1 finds position 0 first and halves it again; b is untouched
        let mut values = [2.0, 1.0, 0.0, 2.0];
        apply_but_by_scanning(&mut values, 2);
        assert_eq!(values, [0.5, 1.0, 0.0, 3.0]);
    }
}
