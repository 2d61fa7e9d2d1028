//! Bit-level reading and writing over base64url text.
//!
//! TC strings are decoded six bits per character rather than through a
//! byte-oriented base64 decoder: some encoders pad the bit string only to a
//! multiple of six, and a byte decoder would silently drop up to four real
//! bits at the end.

use super::TcfError;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Bits read most significant first from base64url (RFC 4648 §5) text.
#[derive(Debug, Clone)]
pub struct BitReader {
    /// One sextet per character, each in the low six bits.
    sextets: Vec<u8>,
    position: usize,
}

impl BitReader {
    /// Decodes one dot-separated segment. Trailing `=` padding is tolerated
    /// because some CMPs emit it, although the TCF spec says not to.
    pub fn from_base64url(segment: &str, segment_index: usize) -> Result<Self, TcfError> {
        let trimmed = segment.trim_end_matches('=');
        let mut sextets = Vec::with_capacity(trimmed.len());
        for (position, byte) in trimmed.bytes().enumerate() {
            let Some(value) = sextet(byte) else {
                let character = trimmed
                    .get(position..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                return Err(TcfError::InvalidBase64 {
                    segment: segment_index,
                    position,
                    character,
                });
            };
            sextets.push(value);
        }
        Ok(Self {
            sextets,
            position: 0,
        })
    }

    /// Total number of bits.
    pub fn len(&self) -> usize {
        self.sextets.len() * 6
    }

    /// Whether there are no bits at all.
    pub fn is_empty(&self) -> bool {
        self.sextets.is_empty()
    }

    /// Bits consumed so far.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Bits not yet consumed.
    pub fn remaining(&self) -> usize {
        self.len().saturating_sub(self.position)
    }

    /// Reads `width` (≤ 64) bits as an unsigned integer.
    pub fn read(&mut self, width: u32, field: &'static str) -> Result<u64, TcfError> {
        debug_assert!(width <= 64, "field wider than 64 bits");
        if (width as usize) > self.remaining() {
            return Err(TcfError::Truncated {
                field,
                bit: self.position,
            });
        }
        let mut value = 0u64;
        for _ in 0..width {
            let sextet = self.sextets.get(self.position / 6).copied().unwrap_or(0);
            let bit = (sextet >> (5 - self.position % 6)) & 1;
            value = (value << 1) | u64::from(bit);
            self.position += 1;
        }
        Ok(value)
    }

    /// Reads one bit.
    pub fn read_bool(&mut self, field: &'static str) -> Result<bool, TcfError> {
        Ok(self.read(1, field)? == 1)
    }

    /// Reads a field known to fit in `u8` (`width` ≤ 8).
    pub fn read_u8(&mut self, width: u32, field: &'static str) -> Result<u8, TcfError> {
        debug_assert!(width <= 8);
        Ok(u8::try_from(self.read(width, field)?).unwrap_or(u8::MAX))
    }

    /// Reads a field known to fit in `u16` (`width` ≤ 16).
    pub fn read_u16(&mut self, width: u32, field: &'static str) -> Result<u16, TcfError> {
        debug_assert!(width <= 16);
        Ok(u16::try_from(self.read(width, field)?).unwrap_or(u16::MAX))
    }
}

/// Bits written most significant first, rendered as base64url without padding.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    bits: Vec<bool>,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the low `width` bits of `value` (zero bits beyond 64).
    pub fn write(&mut self, value: u64, width: u32) {
        for shift in (0..width).rev() {
            self.bits
                .push(value.checked_shr(shift).unwrap_or(0) & 1 == 1);
        }
    }

    /// Appends one bit.
    pub fn write_bool(&mut self, bit: bool) {
        self.bits.push(bit);
    }

    /// Number of bits written.
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// Base64url text; the last character is zero-padded to six bits.
    pub fn to_base64url(&self) -> String {
        let mut out = String::with_capacity(self.bits.len().div_ceil(6));
        for chunk in self.bits.chunks(6) {
            let mut value = 0usize;
            for index in 0..6 {
                value = (value << 1) | usize::from(chunk.get(index).copied().unwrap_or(false));
            }
            out.push(char::from(ALPHABET.get(value).copied().unwrap_or(b'A')));
        }
        out
    }
}
