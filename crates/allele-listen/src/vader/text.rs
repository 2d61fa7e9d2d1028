//! Text primitives that behave like the Python `str` methods the reference
//! leans on: `split()`, `strip(string.punctuation)`, `isupper()` and
//! `lower()`, plus the emoji-to-words pass at the top of
//! `polarity_scores`.
//!
//! Rust's `char` predicates and Python's `str` methods mostly agree, but not
//! everywhere: Python's `isspace()` also counts the four ASCII information
//! separators (U+001C–U+001F), and its `isupper()` rejects title-case letters
//! such as `ǅ`. The differential test checks these functions against the
//! Python interpreter for every code point that interpreter knows.

use std::borrow::Cow;

use super::lexicon::Lexicon;

/// Python's `str.isspace()` for one character, which is what `str.split()`
/// with no argument splits on.
pub(crate) fn is_python_space(c: char) -> bool {
    // Python counts the bidirectional classes B and S as space, which adds
    // the ASCII file, group, record and unit separators to White_Space
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Letters of general category Lt. Python's `isupper()` and `islower()` say
/// no to a string containing one; Rust has no predicate for them. The set has
/// not changed since Unicode 4.0.
pub(crate) fn is_titlecase(c: char) -> bool {
    matches!(
        c,
        '\u{01c5}'
            | '\u{01c8}'
            | '\u{01cb}'
            | '\u{01f2}'
            | '\u{1f88}'..='\u{1f8f}'
            | '\u{1f98}'..='\u{1f9f}'
            | '\u{1fa8}'..='\u{1faf}'
            | '\u{1fbc}'
            | '\u{1fcc}'
            | '\u{1ffc}'
    )
}

/// What one pass over a word tells the scorer about its letters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct WordShape {
    /// Python's `str.isupper()`: at least one upper-case letter and no
    /// lower-case or title-case one (digits and punctuation do not count).
    pub(crate) upper: bool,
    /// Python's `str.lower()` would change the word. Only upper-case and
    /// title-case characters have a lower-case mapping (a unit test checks
    /// every code point), and final sigma only ever rewrites `Σ`.
    pub(crate) lowering_changes: bool,
    /// Contains `'`, so it may contain "n't".
    pub(crate) apostrophe: bool,
}

impl WordShape {
    pub(crate) fn of(word: &str) -> Self {
        let (mut upper, mut lower, mut apostrophe, mut non_ascii) = (false, false, false, false);
        for byte in word.bytes() {
            upper |= byte.is_ascii_uppercase();
            lower |= byte.is_ascii_lowercase();
            apostrophe |= byte == b'\'';
            non_ascii |= !byte.is_ascii();
        }
        if !non_ascii {
            return WordShape {
                upper: upper && !lower,
                lowering_changes: upper,
                apostrophe,
            };
        }
        // the same questions, asked of Unicode
        let mut title = false;
        for c in word.chars() {
            upper |= c.is_uppercase();
            lower |= c.is_lowercase();
            title |= is_titlecase(c);
        }
        WordShape {
            upper: upper && !lower && !title,
            lowering_changes: upper || title,
            apostrophe,
        }
    }
}

/// Python's `str.isupper()`.
#[cfg(test)]
pub(crate) fn is_python_upper(word: &str) -> bool {
    WordShape::of(word).upper
}

/// Python's `str.lower()` on a word of the given shape: `None` when it
/// changes nothing, else the span of the lower-case form appended to
/// `arena` (one buffer per text instead of one allocation per word). Full
/// mappings (`İ` becomes two code points) and the final-sigma rule are
/// `str::to_lowercase`'s, which implements them as CPython does.
pub(crate) fn lower_into(
    word: &str,
    shape: WordShape,
    arena: &mut String,
) -> Option<(usize, usize)> {
    if !shape.lowering_changes {
        return None;
    }
    let start = arena.len();
    if word.is_ascii() {
        arena.push_str(word);
        if let Some(added) = arena.get_mut(start..) {
            added.make_ascii_lowercase();
        }
    } else {
        // final sigma needs the whole word, so no char-by-char mapping here
        arena.push_str(&word.to_lowercase());
    }
    Some((start, arena.len()))
}

/// Python's `str.lower()`, for the parity tests.
#[cfg(test)]
pub(crate) fn python_lower(word: &str) -> String {
    let mut arena = String::new();
    match lower_into(word, WordShape::of(word), &mut arena) {
        Some(_) => arena,
        None => word.to_string(),
    }
}

/// `SentiText._strip_punc_if_word`: strip ASCII punctuation from both ends,
/// unless that leaves two characters or fewer, in which case the token was
/// probably an emoticon (`:)`, `<3`) and is kept whole. This is also why
/// `no,` stays `no,` and never counts as the word "no".
pub(crate) fn strip_punctuation_if_word(token: &str) -> &str {
    // `u8::is_ascii_punctuation` is exactly Python's `string.punctuation`,
    // and cutting next to an ASCII byte always lands on a char boundary
    let bytes = token.as_bytes();
    let punctuation_at =
        |at: Option<&u8>| at.is_some_and(|&byte| class_of(byte) & class::PUNCTUATION != 0);
    if !punctuation_at(bytes.first()) && !punctuation_at(bytes.last()) {
        // nothing to strip: the common case
        return token;
    }
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_punctuation())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !byte.is_ascii_punctuation())
        .map_or(start, |last| last + 1);
    let stripped = token.get(start..end).unwrap_or_default();
    // Python measures the length in code points: count the bytes that
    // start a character
    let short = stripped.len() <= 2
        || (stripped.len() <= 8
            && stripped
                .bytes()
                .filter(|&byte| (byte & 0xc0) != 0x80)
                .count()
                <= 2);
    if short { token } else { stripped }
}

/// The emoji pass: every code point that is a key of the emoji lexicon is
/// replaced by its description, with a space before it unless the previous
/// character was an ASCII space, and no space after it. Keys made of several
/// code points (flags, skin tones, ZWJ sequences) can never match, because
/// the reference looks at one code point at a time; their parts may.
pub(crate) fn replace_emojis<'a>(text: &'a str, lexicon: &Lexicon) -> Cow<'a, str> {
    // every single-code-point key is outside ASCII, so ASCII text has none
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    // start of the text not yet copied to `out`
    let mut copied = 0;
    for (at, c) in text.char_indices() {
        if c.is_ascii() {
            continue;
        }
        let Some(description) = lexicon.emoji(c) else {
            continue;
        };
        if out.capacity() == 0 {
            out.reserve(text.len() + 64);
        }
        let before = text.get(copied..at).unwrap_or_default();
        out.push_str(before);
        // a space goes in unless the previous character was U+0020 or the
        // text starts here; right after another emoji (`before` empty
        // past the start) it always does
        let previous_was_space = if before.is_empty() {
            at == 0
        } else {
            before.ends_with(' ')
        };
        if !previous_was_space {
            out.push(' ');
        }
        out.push_str(description);
        copied = at + c.len_utf8();
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

/// Byte length of the Python whitespace character at the start of `rest`,
/// or 0. Continuation bytes never match, so this can be probed at every
/// byte of a `str`.
fn python_space_len(rest: &[u8]) -> usize {
    match *rest {
        // \t \n \v \f \r, then the four information separators and ' '
        [b'\t'..=b'\r' | 0x1c..=0x20, ..] => 1,
        // U+0085, U+00A0
        [0xc2, 0x85 | 0xa0, ..] => 2,
        // U+1680
        [0xe1, 0x9a, 0x80, ..] => 3,
        // U+2000..=U+200A, U+2028, U+2029, U+202F
        [0xe2, 0x80, 0x80..=0x8a | 0xa8 | 0xa9 | 0xaf, ..] => 3,
        // U+205F
        [0xe2, 0x81, 0x9f, ..] => 3,
        // U+3000
        [0xe3, 0x80, 0x80, ..] => 3,
        _ => 0,
    }
}

/// Per-byte facts, looked up once per byte while splitting.
mod class {
    pub(super) const UPPER: u8 = 1;
    pub(super) const LOWER: u8 = 2;
    pub(super) const APOSTROPHE: u8 = 4;
    pub(super) const NON_ASCII: u8 = 8;
    /// An ASCII byte that is Python whitespace.
    pub(super) const SPACE: u8 = 16;
    /// A lead byte some non-ASCII whitespace starts with.
    pub(super) const SPACE_LEAD: u8 = 32;
    pub(super) const PUNCTUATION: u8 = 64;

    pub(super) const TABLE: [u8; 256] = {
        let mut table = [0u8; 256];
        let mut index = 0;
        while index < 256 {
            let byte = index as u8;
            let mut class = 0;
            if byte.is_ascii_uppercase() {
                class |= UPPER;
            }
            if byte.is_ascii_lowercase() {
                class |= LOWER;
            }
            if byte == b'\'' {
                class |= APOSTROPHE;
            }
            if !byte.is_ascii() {
                class |= NON_ASCII;
            }
            if matches!(byte, b'\t'..=b'\r' | 0x1c..=0x20) {
                class |= SPACE;
            }
            if matches!(byte, 0xc2 | 0xe1 | 0xe2 | 0xe3) {
                class |= SPACE_LEAD;
            }
            if byte.is_ascii_punctuation() {
                class |= PUNCTUATION;
            }
            table[index] = class;
            index += 1;
        }
        table
    };
}

fn class_of(byte: u8) -> u8 {
    class::TABLE[usize::from(byte)]
}

/// `str.split()` with no argument: runs of Python whitespace separate
/// tokens, and there are no empty tokens. Each token comes with its
/// [`ByteFlags`], learnt in the same pass over the bytes, from which
/// [`WordShape::from_flags`] derives its shape.
pub(crate) fn split_python_whitespace(text: &str) -> impl Iterator<Item = (&str, ByteFlags)> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let space_at = move |at: usize, class: u8| {
        if class & class::SPACE != 0 {
            1
        } else if class & class::SPACE_LEAD != 0 {
            python_space_len(bytes.get(at..).unwrap_or_default())
        } else {
            0
        }
    };
    std::iter::from_fn(move || {
        while let Some(&byte) = bytes.get(at) {
            let space = space_at(at, class_of(byte));
            if space == 0 {
                break;
            }
            at += space;
        }
        let start = at;
        let mut flags = 0;
        while let Some(&byte) = bytes.get(at) {
            let class = class_of(byte);
            if space_at(at, class) != 0 {
                break;
            }
            flags |= class;
            at += 1;
        }
        // both ends sit on character boundaries: a token starts after a
        // whole whitespace character and ends where one starts
        (at > start)
            .then(|| text.get(start..at).map(|token| (token, ByteFlags(flags))))
            .flatten()
    })
}

/// The union of the byte classes of a token.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ByteFlags(u8);

impl WordShape {
    /// The shape of `word`, a punctuation-stripped part of a token whose
    /// bytes had `flags`. Stripping only removes caseless ASCII
    /// punctuation, so ASCII words need no second look; `apostrophe` may
    /// then be true of the stripped-off part, which only costs a search.
    pub(crate) fn from_flags(word: &str, flags: ByteFlags) -> Self {
        let ByteFlags(flags) = flags;
        if flags & class::NON_ASCII != 0 {
            return WordShape::of(word);
        }
        let upper = flags & class::UPPER != 0;
        let lower = flags & class::LOWER != 0;
        WordShape {
            upper: upper && !lower,
            lowering_changes: upper,
            apostrophe: flags & class::APOSTROPHE != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_space_test_agrees_with_is_python_space() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let mut buffer = [0u8; 4];
            let encoded = c.encode_utf8(&mut buffer).as_bytes();
            let expected = if is_python_space(c) { encoded.len() } else { 0 };
            assert_eq!(
                python_space_len(encoded),
                expected,
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn information_separators_split_words() {
        let tokens: Vec<&str> = split_python_whitespace("a\u{1c}b\u{85}c\u{2028}d\u{200b}e")
            .map(|(token, _)| token)
            .collect();
        assert_eq!(tokens, ["a", "b", "c", "d\u{200b}e"]);
    }

    #[test]
    fn isupper_matches_python_on_edge_cases() {
        assert!(is_python_upper("GOOD!"));
        assert!(is_python_upper("İSTANBUL"));
        assert!(!is_python_upper("Good"));
        assert!(!is_python_upper("123"));
        assert!(!is_python_upper(":)"));
        assert!(is_python_upper(":D"));
        assert!(!is_python_upper("Ǆǅ"));
        assert!(!is_python_upper("ǅ"));
    }

    #[test]
    fn only_upper_and_title_case_characters_change_when_lowered() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            if !(c.is_uppercase() || is_titlecase(c)) {
                assert!(
                    c.to_lowercase().eq([c]),
                    "U+{:04X} changes when lowered",
                    u32::from(c)
                );
            }
        }
    }

    #[test]
    fn short_tokens_keep_their_punctuation() {
        assert_eq!(strip_punctuation_if_word(":)"), ":)");
        assert_eq!(strip_punctuation_if_word("no,"), "no,");
        assert_eq!(strip_punctuation_if_word("(good)"), "good");
        assert_eq!(strip_punctuation_if_word("'é!'"), "'é!'");
        assert_eq!(strip_punctuation_if_word("...ééé..."), "ééé");
    }

    #[test]
    fn lower_uses_full_mappings_and_final_sigma() {
        assert_eq!(python_lower("ΟΔΟΣ"), "\u{3bf}\u{3b4}\u{3bf}\u{3c2}");
        assert_eq!(python_lower("İ"), "i\u{307}");
        assert_eq!(python_lower("\u{212a}IND"), "kind");
        assert_eq!(python_lower("plain"), "plain");
    }
}
