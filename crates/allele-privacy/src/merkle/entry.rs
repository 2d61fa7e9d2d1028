//! Access-log entries, their canonical leaf encoding, and the verifier a
//! customer runs over `GET /v1/me/access-log`.
//!
//! # Leaf encoding (version 1)
//!
//! Length-prefixed binary, chosen over JSON because it has exactly one
//! encoding per entry with no escaping or key-order rules to get wrong:
//!
//! ```text
//! b"allele.access.v1"        16 bytes, domain tag and format version
//! index                      u64 big-endian
//! at                         u64 big-endian, milliseconds since the Unix epoch
//! actor, action, purpose, subject, each as:
//!     length                 u32 big-endian byte length of the UTF-8 text
//!     bytes                  the UTF-8 text, unnormalised
//! ```
//!
//! The leaf hash is `SHA-256(0x00 || encoding)`. `subject` is whatever
//! reference the server logs for the customer (the lead may pass a hashed id);
//! the customer needs it to recompute their own leaf hashes.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::proof::{ProofError, verify_consistency, verify_inclusion};
use super::sth::{SignedTreeHead, SthError};
use super::{Hash, MerkleError, from_hex, leaf_hash, to_hex};

/// Domain tag opening every version-1 leaf.
pub const LEAF_TAG: &[u8; 16] = b"allele.access.v1";

/// One read or change of a customer's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogEntry {
    /// Position in the log (the leaf index).
    pub index: u64,
    /// When, milliseconds since the Unix epoch.
    pub at: u64,
    /// Who: an admin key id, `customer`, a service name.
    pub actor: String,
    /// What: `read_profile`, `export`, `decide`, …
    pub action: String,
    /// Why: a DPV purpose id.
    pub purpose: String,
    /// Whose data: the subject reference.
    pub subject: String,
}

impl AccessLogEntry {
    /// The canonical leaf bytes (see the module docs).
    pub fn leaf_bytes(&self) -> Vec<u8> {
        let texts = [&self.actor, &self.action, &self.purpose, &self.subject];
        let mut out = Vec::with_capacity(32 + texts.iter().map(|t| 4 + t.len()).sum::<usize>());
        out.extend_from_slice(LEAF_TAG);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.at.to_be_bytes());
        for text in texts {
            // Texts over 4 GiB cannot be logged meaningfully; saturating keeps
            // the function total, and such an entry still hashes uniquely
            // because the bytes follow in full.
            let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    /// `SHA-256(0x00 || leaf_bytes)`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.leaf_bytes())
    }
}

/// An inclusion proof as served: hashes in hex, bottom-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The tree size the path leads to.
    pub tree_size: u64,
    /// Sibling hashes from the leaf up, lowercase hex.
    pub audit_path: Vec<String>,
}

impl InclusionProof {
    /// Encodes a raw path.
    pub fn from_hashes(tree_size: u64, path: &[Hash]) -> Self {
        Self {
            tree_size,
            audit_path: path.iter().map(to_hex).collect(),
        }
    }
}

/// An entry with its leaf hash and proof, as `GET /v1/me/access-log` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenEntry {
    /// The entry itself (fields flattened into the JSON object).
    #[serde(flatten)]
    pub entry: AccessLogEntry,
    /// Hex leaf hash, recomputed and compared by the verifier.
    pub leaf_hash: String,
    /// The audit path to the tree head.
    pub proof: InclusionProof,
}

/// The whole `GET /v1/me/access-log` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogResponse {
    /// The customer's entries, each with a proof.
    pub entries: Vec<ProvenEntry>,
    /// The signed head every proof leads to.
    pub tree_head: SignedTreeHead,
}

/// Why a customer's check failed; entry errors name the entry's log index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The tree head signature or encoding is bad.
    #[error("tree head: {0}")]
    TreeHead(#[from] SthError),
    /// A hash in a proof is not hex.
    #[error("entry `{index}`: {source}")]
    Encoding { index: u64, source: MerkleError },
    /// The served leaf hash is not the hash of the served entry.
    #[error("entry `{index}`: leaf hash does not match the entry's contents")]
    LeafHashMismatch { index: u64 },
    /// The proof is for another tree size than the head.
    #[error("entry `{index}`: proof is for tree size `{proof_size}`, head has `{head_size}`")]
    TreeSizeMismatch {
        index: u64,
        proof_size: u64,
        head_size: u64,
    },
    /// The inclusion proof fails.
    #[error("entry `{index}`: {source}")]
    Inclusion { index: u64, source: ProofError },
    /// The consistency proof fails: the log was rewritten or truncated.
    #[error("consistency: {0}")]
    Consistency(ProofError),
    /// A consistency hash is not hex.
    #[error("consistency: {0}")]
    ConsistencyEncoding(MerkleError),
}

/// Verifies the head's signature and every entry's leaf hash and inclusion
/// proof. Returns the number of entries checked.
pub fn verify_access_log(
    response: &AccessLogResponse,
    key: &VerifyingKey,
) -> Result<usize, VerifyError> {
    let root = response.tree_head.verify(key)?;
    for proven in &response.entries {
        let index = proven.entry.index;
        let computed = proven.entry.leaf_hash();
        let served = from_hex(&proven.leaf_hash)
            .map_err(|source| VerifyError::Encoding { index, source })?;
        if computed != served {
            return Err(VerifyError::LeafHashMismatch { index });
        }
        if proven.proof.tree_size != response.tree_head.tree_size {
            return Err(VerifyError::TreeSizeMismatch {
                index,
                proof_size: proven.proof.tree_size,
                head_size: response.tree_head.tree_size,
            });
        }
        let path = decode_hashes(&proven.proof.audit_path)
            .map_err(|source| VerifyError::Encoding { index, source })?;
        verify_inclusion(&computed, index, proven.proof.tree_size, &path, &root)
            .map_err(|source| VerifyError::Inclusion { index, source })?;
    }
    Ok(response.entries.len())
}

/// Verifies both heads' signatures and that `new` extends `old` (hex proof,
/// as served). Heads may be given in either order of size; a smaller `new`
/// is itself evidence of truncation and fails.
pub fn verify_tree_heads_consistent(
    old: &SignedTreeHead,
    new: &SignedTreeHead,
    proof: &[String],
    key: &VerifyingKey,
) -> Result<(), VerifyError> {
    let old_root = old.verify(key)?;
    let new_root = new.verify(key)?;
    let path = decode_hashes(proof).map_err(VerifyError::ConsistencyEncoding)?;
    verify_consistency(old.tree_size, new.tree_size, &old_root, &new_root, &path)
        .map_err(VerifyError::Consistency)
}

/// Parses hex hashes.
pub fn decode_hashes(hashes: &[String]) -> Result<Vec<Hash>, MerkleError> {
    hashes.iter().map(|h| from_hex(h)).collect()
}
