//! Signed tree heads.
//!
//! The signature is ed25519 over the 50-byte RFC 6962 §3.5 `TreeHeadSignature`
//! structure, so existing CT tooling can read the signed bytes:
//!
//! ```text
//! version         u8   = 0   (v1)
//! signature_type  u8   = 1   (tree_hash)
//! timestamp       u64  big-endian, milliseconds since the Unix epoch
//! tree_size       u64  big-endian
//! root_hash       [u8; 32]
//! ```
//!
//! On the wire the head is JSON `{"tree_size","root_hash","timestamp","signature"}`
//! with the root in lowercase hex and the signature in standard, padded base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{Hash, MerkleError, from_hex, to_hex};

/// Length of [`tree_head_signing_bytes`]' output.
pub const SIGNED_BYTES_LEN: usize = 50;

/// A tree head signed by the log's ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTreeHead {
    /// Number of leaves.
    pub tree_size: u64,
    /// Root hash, lowercase hex.
    pub root_hash: String,
    /// When the head was signed, milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Base64 ed25519 signature over [`tree_head_signing_bytes`].
    pub signature: String,
}

/// Why a tree head did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SthError {
    /// The root hash is not hex.
    #[error(transparent)]
    Hash(#[from] MerkleError),
    /// The signature is not base64 of 64 bytes.
    #[error("signature `{0}` is not base64 of a 64-byte ed25519 signature")]
    BadSignatureEncoding(String),
    /// The signature does not match the head and key.
    #[error("tree head signature does not verify")]
    BadSignature,
}

/// The canonical bytes a tree head signature covers (see the module docs).
pub fn tree_head_signing_bytes(
    tree_size: u64,
    timestamp: u64,
    root: &Hash,
) -> [u8; SIGNED_BYTES_LEN] {
    let mut out = [0u8; SIGNED_BYTES_LEN];
    let (header, rest) = out.split_at_mut(2);
    header.copy_from_slice(&[0, 1]);
    let (time, rest) = rest.split_at_mut(8);
    time.copy_from_slice(&timestamp.to_be_bytes());
    let (size, root_bytes) = rest.split_at_mut(8);
    size.copy_from_slice(&tree_size.to_be_bytes());
    root_bytes.copy_from_slice(root);
    out
}

impl SignedTreeHead {
    /// Signs the head of a tree of `tree_size` leaves with root `root`.
    pub fn sign(tree_size: u64, root: &Hash, timestamp: u64, key: &SigningKey) -> Self {
        let signature = key.sign(&tree_head_signing_bytes(tree_size, timestamp, root));
        Self {
            tree_size,
            root_hash: to_hex(root),
            timestamp,
            signature: STANDARD.encode(signature.to_bytes()),
        }
    }

    /// The root hash as bytes.
    pub fn root(&self) -> Result<Hash, MerkleError> {
        from_hex(&self.root_hash)
    }

    /// Checks the signature against `key`; returns the root on success.
    pub fn verify(&self, key: &VerifyingKey) -> Result<Hash, SthError> {
        let root = self.root()?;
        let raw = STANDARD
            .decode(&self.signature)
            .map_err(|_| SthError::BadSignatureEncoding(self.signature.clone()))?;
        let bytes: [u8; 64] = raw
            .try_into()
            .map_err(|_| SthError::BadSignatureEncoding(self.signature.clone()))?;
        let signature = Signature::from_bytes(&bytes);
        // verify_strict also refuses small-order keys and malleable signatures.
        key.verify_strict(
            &tree_head_signing_bytes(self.tree_size, self.timestamp, &root),
            &signature,
        )
        .map_err(|_| SthError::BadSignature)?;
        Ok(root)
    }
}
