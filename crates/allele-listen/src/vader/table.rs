//! A read-only word → [`WordInfo`] table laid out for the cache.
//!
//! Scoring looks up every token. A `HashMap<&str, _>` over the lexicon
//! keeps its keys scattered through the 400 KB lexicon file; here the
//! ~7,600 keys sit back to back in one string, the entries are 24 bytes,
//! and each slot is 4 bytes holding an entry number and a 16-bit hash tag,
//! so a word that is not in the table is usually rejected without touching
//! an entry at all. About 250 KB in all.

use super::lexicon::WordInfo;

/// One word: where its key is in `keys`, and what is known about it.
#[derive(Clone, Copy)]
struct Entry {
    key_start: u32,
    key_len: u32,
    info: WordInfo,
}

/// Open addressing with linear probing over a power-of-two slot array.
pub(crate) struct WordTable {
    keys: String,
    entries: Vec<Entry>,
    /// 0 = empty; otherwise `tag << 16 | (entry index + 1)`.
    slots: Vec<u32>,
    shift: u32,
}

/// FxHash over 8-byte chunks, then the MurmurHash3 finaliser so both the
/// top bits (slot) and the low bits (tag) are well mixed.
fn hash_word(word: &str) -> u64 {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut hash = word.len() as u64;
    let mut chunks = word.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(bytes)).wrapping_mul(SEED);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut bytes = [0u8; 8];
        for (slot, byte) in bytes.iter_mut().zip(rest) {
            *slot = *byte;
        }
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(bytes)).wrapping_mul(SEED);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

impl WordTable {
    /// Builds the table; later duplicates of a word replace earlier ones,
    /// as inserting into a Python dict does. At most 65,535 words.
    pub(crate) fn build<'k>(words: impl IntoIterator<Item = (&'k str, WordInfo)>) -> Self {
        // dedupe first, keeping first-appearance order and the last value
        let mut order: Vec<&'k str> = Vec::new();
        let mut latest: std::collections::HashMap<&'k str, WordInfo> =
            std::collections::HashMap::new();
        for (word, info) in words {
            if latest.insert(word, info).is_none() {
                order.push(word);
            }
        }
        order.truncate(usize::from(u16::MAX) - 1);
        let slot_count = (order.len() * 2).next_power_of_two().max(16);
        let mut table = WordTable {
            keys: String::new(),
            entries: Vec::with_capacity(order.len()),
            slots: vec![0; slot_count],
            shift: 64 - slot_count.trailing_zeros(),
        };
        for word in order {
            let info = latest.get(word).copied().unwrap_or_default();
            let (Ok(key_start), Ok(key_len)) =
                (u32::try_from(table.keys.len()), u32::try_from(word.len()))
            else {
                break;
            };
            table.keys.push_str(word);
            let number = table.entries.len() as u32 + 1;
            table.entries.push(Entry {
                key_start,
                key_len,
                info,
            });
            let hash = hash_word(word);
            let mut slot = (hash >> table.shift) as usize;
            // at most half full, so an empty slot is always found
            while table.slots.get(slot).is_some_and(|&occupant| occupant != 0) {
                slot = (slot + 1) & (slot_count - 1);
            }
            if let Some(empty) = table.slots.get_mut(slot) {
                *empty = ((hash as u32) << 16) | number;
            }
        }
        table
    }

    /// What is known about `word`, if anything.
    #[inline]
    pub(crate) fn get(&self, word: &str) -> Option<WordInfo> {
        let hash = hash_word(word);
        let tag = (hash as u32) << 16;
        let mask = self.slots.len() - 1;
        let mut slot = (hash >> self.shift) as usize;
        loop {
            let occupant = *self.slots.get(slot)?;
            if occupant == 0 {
                return None;
            }
            if occupant & 0xffff_0000 == tag {
                let entry = self.entries.get((occupant & 0xffff) as usize - 1)?;
                let start = entry.key_start as usize;
                if self.keys.get(start..start + entry.key_len as usize) == Some(word) {
                    return Some(entry.info);
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Number of words.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every word with its information, in first-appearance order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, WordInfo)> {
        self.entries.iter().map(|entry| {
            let start = entry.key_start as usize;
            (
                self.keys
                    .get(start..start + entry.key_len as usize)
                    .unwrap_or_default(),
                entry.info,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn info(valence: f64) -> WordInfo {
        WordInfo::with_valence(valence)
    }

    #[test]
    fn behaves_like_a_hash_map() {
        let words: Vec<(String, WordInfo)> = (0..5000)
            .map(|n| (format!("w{n}"), info(f64::from(n))))
            .chain([("w7".to_string(), info(-1.0))])
            .collect();
        let table = WordTable::build(words.iter().map(|(word, info)| (word.as_str(), *info)));
        let reference: HashMap<&str, WordInfo> = words
            .iter()
            .map(|(word, info)| (word.as_str(), *info))
            .collect();
        assert_eq!(table.len(), reference.len());
        for (word, expected) in &reference {
            assert_eq!(table.get(word), Some(*expected), "{word}");
        }
        assert_eq!(table.get("w7"), Some(info(-1.0)), "the last duplicate wins");
        for absent in ["", "w", "w5000", "x1", "w1 ", "W1"] {
            assert_eq!(table.get(absent), None, "{absent}");
        }
    }
}
