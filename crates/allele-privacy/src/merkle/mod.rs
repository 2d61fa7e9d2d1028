//! A tamper-evident, append-only access log in the style of Certificate
//! Transparency (RFC 6962, verification algorithms from RFC 9162).
//!
//! - [`tree`]: the in-memory [`MerkleLog`] that stores leaf hashes and caches
//!   every complete subtree, so roots and proofs for any past size are cheap.
//! - [`proof`]: inclusion and consistency proof verifiers a customer can run.
//! - [`sth`]: the ed25519-signed tree head.
//! - [`entry`]: the canonical leaf encoding of an access-log entry and the
//!   end-to-end verifier over a `GET /v1/me/access-log` answer.
//!
//! Hashes are SHA-256 with the RFC 6962 domain separation: a leaf hashes as
//! `SHA-256(0x00 || leaf)`, an interior node as `SHA-256(0x01 || left || right)`.
//! They travel as lowercase hex.

pub mod entry;
pub mod proof;
pub mod sth;
pub mod tree;

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Hashes one leaf: `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// Hashes an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: `SHA-256("")` (RFC 6962 §2.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Lowercase hex of a hash.
pub fn to_hex(hash: &Hash) -> String {
    hex::encode(hash)
}

/// Parses a 64-character hex hash (either case).
pub fn from_hex(text: &str) -> Result<Hash, MerkleError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|_| MerkleError::BadHex(text.to_owned()))?;
    Ok(out)
}

/// Errors from building proofs or parsing their parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// A leaf index at or past the tree size.
    #[error("leaf index `{index}` is outside a tree of size `{tree_size}`")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    /// A tree size larger than the log.
    #[error("tree size `{requested}` is larger than the log (`{available}` leaves)")]
    SizeOutOfRange { requested: u64, available: u64 },
    /// A consistency proof asked for from a larger to a smaller tree.
    #[error("consistency proof from size `{old}` to smaller size `{new}`")]
    SizesReversed { old: u64, new: u64 },
    /// A hash that is not 64 hex characters.
    #[error("`{0}` is not a 64-character hex sha-256 hash")]
    BadHex(String),
}

/// Largest power of two strictly less than `n` (`n >= 2`), the RFC 6962 split.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2, "split of a tree with fewer than two leaves");
    // For n >= 2, (n - 1) has its top bit at the split point.
    1u64 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests;
