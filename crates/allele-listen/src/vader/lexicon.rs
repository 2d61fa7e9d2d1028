//! The lexicons of VADER 3.3.2: the two files shipped in the wheel
//! (compiled into the binary), merged with the tables of [`super::words`].
//!
//! Everything a token needs is folded into one [`WordInfo`] per lower-case
//! word, so scoring does one hash lookup per token instead of one per rule.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::table::WordTable;
use super::text::is_python_space;
use super::words::{B_DECR, B_INCR, BOOSTERS, KEYWORDS, Keyword, NEGATIONS};

/// `vader_lexicon.txt` from the vaderSentiment 3.3.2 wheel, byte for byte
/// (CRLF line ends included). MIT licence: see `LICENSE-vader.txt`.
const LEXICON_FILE: &str = include_str!("../../data/vader_lexicon.txt");
/// `emoji_utf8_lexicon.txt` from the same wheel.
const EMOJI_FILE: &str = include_str!("../../data/emoji_utf8_lexicon.txt");

/// What VADER knows about one lower-case word, in 16 bytes so the word
/// table stays small (see [`super::table`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WordInfo {
    /// Valence from `vader_lexicon.txt`; NaN when the word is not there.
    valence: f64,
    /// Sign of the `BOOSTER_DICT` scalar (every one is ±0.293), 0 if none.
    booster: i8,
    /// Member of `NEGATE`.
    pub(crate) negation: bool,
    /// Which rule word this is, if any.
    pub(crate) keyword: Keyword,
}

impl Default for WordInfo {
    fn default() -> Self {
        WordInfo {
            valence: f64::NAN,
            booster: 0,
            negation: false,
            keyword: Keyword::Other,
        }
    }
}

impl PartialEq for WordInfo {
    fn eq(&self, other: &Self) -> bool {
        self.valence() == other.valence()
            && self.booster == other.booster
            && self.negation == other.negation
            && self.keyword == other.keyword
    }
}

impl WordInfo {
    /// The lexicon valence, if the word is in `vader_lexicon.txt`.
    #[inline]
    pub(crate) fn valence(&self) -> Option<f64> {
        (!self.valence.is_nan()).then_some(self.valence)
    }

    /// The booster scalar, if the word is in `BOOSTER_DICT`.
    #[inline]
    pub(crate) fn booster(&self) -> Option<f64> {
        match self.booster {
            1 => Some(B_INCR),
            -1 => Some(B_DECR),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_valence(valence: f64) -> Self {
        WordInfo {
            valence,
            ..WordInfo::default()
        }
    }
}

/// Both lexicons, parsed once.
pub(crate) struct Lexicon {
    words: WordTable,
    emojis: HashMap<char, &'static str>,
    /// One bit per code point up to the largest emoji key: most non-ASCII
    /// characters (letters, accents) are ruled out without hashing.
    emoji_bits: Vec<u64>,
}

/// Words and what is known about them, merged from the three sources in
/// first-appearance order.
#[derive(Default)]
struct Staging {
    words: Vec<(&'static str, WordInfo)>,
    position: HashMap<&'static str, usize>,
}

impl Staging {
    fn info(&mut self, word: &'static str) -> &mut WordInfo {
        let index = *self.position.entry(word).or_insert(self.words.len());
        if index == self.words.len() {
            self.words.push((word, WordInfo::default()));
        }
        // `index` is either an earlier word or the one just pushed
        &mut self.words[index].1
    }
}

/// Built on first use; never rebuilt.
pub(crate) static LEXICON: LazyLock<Lexicon> = LazyLock::new(Lexicon::build);

/// Python's `str.strip()` with no argument.
fn python_strip(line: &str) -> &str {
    line.trim_matches(is_python_space)
}

/// The lines of a lexicon file as the reference reads them:
/// `text.rstrip('\n').split('\n')`, each line stripped of whitespace and
/// split on tabs.
fn lexicon_lines(file: &'static str) -> impl Iterator<Item = std::str::Split<'static, char>> {
    file.trim_end_matches('\n')
        .split('\n')
        .map(python_strip)
        .filter(|line| !line.is_empty())
        .map(|line| line.split('\t'))
}

impl Lexicon {
    fn build() -> Self {
        let mut staging = Staging::default();
        for mut fields in lexicon_lines(LEXICON_FILE) {
            let (Some(word), Some(measure)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(valence) = measure.parse::<f64>() else {
                continue;
            };
            // later lines win, as with the reference's dict; keys keep their
            // case, so upper-case entries such as ":D" are unreachable there too
            staging.info(word).valence = valence;
        }
        for &(word, scalar) in BOOSTERS {
            staging.info(word).booster = if scalar > 0.0 { 1 } else { -1 };
        }
        for &word in NEGATIONS {
            staging.info(word).negation = true;
        }
        for &(word, keyword) in KEYWORDS {
            staging.info(word).keyword = keyword;
        }
        let words = WordTable::build(staging.words);

        let mut emojis: HashMap<char, &'static str> = HashMap::new();
        for mut fields in lexicon_lines(EMOJI_FILE) {
            let (Some(key), Some(description)) = (fields.next(), fields.next()) else {
                continue;
            };
            let mut chars = key.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                emojis.insert(c, description);
            }
        }
        let largest = emojis
            .keys()
            .map(|&c| u32::from(c) as usize)
            .max()
            .unwrap_or(0);
        let mut emoji_bits = vec![0u64; largest / 64 + 1];
        for &c in emojis.keys() {
            let code_point = u32::from(c) as usize;
            if let Some(bits) = emoji_bits.get_mut(code_point / 64) {
                *bits |= 1 << (code_point % 64);
            }
        }
        Lexicon {
            words,
            emojis,
            emoji_bits,
        }
    }

    /// Everything known about a lower-case word (all `None` if nothing).
    #[inline]
    pub(crate) fn word(&self, lower: &str) -> WordInfo {
        self.words.get(lower).unwrap_or_default()
    }

    /// The description of a single-code-point emoji.
    #[inline]
    pub(crate) fn emoji(&self, c: char) -> Option<&'static str> {
        let code_point = u32::from(c) as usize;
        let maybe = self
            .emoji_bits
            .get(code_point / 64)
            .is_some_and(|bits| bits & (1 << (code_point % 64)) != 0);
        if !maybe {
            return None;
        }
        self.emojis.get(&c).copied()
    }

    /// Number of distinct lexicon words (for tests).
    #[cfg(test)]
    pub(crate) fn lexicon_len(&self) -> usize {
        self.words
            .iter()
            .filter(|(_, info)| info.valence().is_some())
            .count()
    }

    /// Number of single-code-point emoji keys (for tests).
    #[cfg(test)]
    pub(crate) fn emoji_len(&self) -> usize {
        self.emojis.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_files_parse_completely() {
        // 7,520 lines with 14 repeated words; 1,212 one-code-point emoji keys
        assert_eq!(LEXICON.lexicon_len(), 7506);
        assert_eq!(LEXICON.emoji_len(), 1212);
        assert_eq!(LEXICON.word("good").valence(), Some(1.9));
        assert_eq!(LEXICON.word(":D").valence(), Some(2.3));
        assert_eq!(LEXICON.word("very").booster(), Some(B_INCR));
        assert!(LEXICON.word("won't").negation);
        assert_eq!(LEXICON.word("zzzz-not-a-word"), WordInfo::default());
        assert_eq!(LEXICON.emoji('😁'), Some("beaming face with smiling eyes"));
    }

    #[test]
    fn repeated_lexicon_words_keep_the_last_value() {
        let last = LEXICON_FILE
            .lines()
            .rev()
            .find(|line| line.starts_with("lol\t"))
            .and_then(|line| line.split('\t').nth(1))
            .and_then(|measure| measure.parse::<f64>().ok());
        assert_eq!(LEXICON.word("lol").valence(), last);
    }
}
