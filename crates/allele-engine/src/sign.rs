//! Signing and verifying bundles with ed25519.
//!
//! The signature covers [`signing_bytes`]: a domain-separation line
//! `allele-bundle-v1\n` followed by the exact JSON text carried in
//! [`SignedBundle::bundle`]. Verifying the received text, rather than a
//! re-serialisation of the parsed document, means no float formatting or key
//! order can make a genuine bundle fail or a tampered one pass.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, BundleDoc};
use crate::diagnostic::Diagnostic;

const DOMAIN: &[u8] = b"allele-bundle-v1\n";

/// A bundle as served to edges: `GET /v1/bundles/latest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBundle {
    pub version: u64,
    /// Lowercase hex of the 64-byte ed25519 signature.
    #[serde(default)]
    pub signature: String,
    /// The bundle document as JSON text, exactly as signed.
    pub bundle: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is not signed")]
    Unsigned,
    #[error("bundle signature is not 64 bytes of hex: {0}")]
    BadSignatureEncoding(String),
    #[error("public key is not a valid ed25519 key")]
    BadPublicKey,
    #[error("bundle signature does not verify: the bundle was altered or signed with another key")]
    SignatureMismatch,
    #[error("bundle says version `{inner}` but is served as version `{outer}`")]
    VersionMismatch { outer: u64, inner: u64 },
    #[error("bundle is not valid JSON for this engine: {0}")]
    Malformed(String),
    #[error("bundle does not compile: {}", join(.0))]
    Invalid(Vec<Diagnostic>),
}

fn join(diagnostics: &[Diagnostic]) -> String {
    let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    messages.join("; ")
}

/// The bytes an ed25519 signature covers.
pub fn signing_bytes(bundle_json: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(DOMAIN.len() + bundle_json.len());
    bytes.extend_from_slice(DOMAIN);
    bytes.extend_from_slice(bundle_json.as_bytes());
    bytes
}

/// The public key of a 32-byte ed25519 secret key (seed).
pub fn public_key(secret_key: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(secret_key)
        .verifying_key()
        .to_bytes()
}

/// Signs a bundle with a 32-byte ed25519 secret key (seed).
pub fn sign(bundle: &Bundle, secret_key: &[u8; 32]) -> SignedBundle {
    let text = bundle.to_json();
    let signature = SigningKey::from_bytes(secret_key).sign(&signing_bytes(&text));
    SignedBundle {
        version: bundle.version(),
        signature: to_hex(&signature.to_bytes()),
        bundle: text,
    }
}

/// Verifies the signature, then parses and compiles the bundle. Refuses an
/// unsigned bundle, a bad signature, and a version that disagrees with the
/// signed document.
pub fn verify(signed: &SignedBundle, public_key: &[u8; 32]) -> Result<Bundle, BundleError> {
    if signed.signature.trim().is_empty() {
        return Err(BundleError::Unsigned);
    }
    let bytes = from_hex(&signed.signature).ok_or_else(|| {
        BundleError::BadSignatureEncoding(format!("`{}`", truncate(&signed.signature)))
    })?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| BundleError::BadSignatureEncoding("wrong length".to_string()))?;
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| BundleError::BadPublicKey)?;
    key.verify(
        &signing_bytes(&signed.bundle),
        &Signature::from_bytes(&bytes),
    )
    .map_err(|_| BundleError::SignatureMismatch)?;
    let doc: BundleDoc = serde_json::from_str(&signed.bundle)
        .map_err(|err| BundleError::Malformed(err.to_string()))?;
    if doc.version != signed.version {
        return Err(BundleError::VersionMismatch {
            outer: signed.version,
            inner: doc.version,
        });
    }
    Bundle::load(doc).map_err(BundleError::Invalid)
}

fn truncate(text: &str) -> String {
    text.chars().take(16).collect()
}

pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(
            DIGITS.get(usize::from(byte >> 4)).copied().unwrap_or(b'0'),
        ));
        out.push(char::from(
            DIGITS
                .get(usize::from(byte & 0x0f))
                .copied()
                .unwrap_or(b'0'),
        ));
    }
    out
}

pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| char::from(b).to_digit(16);
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some((digit(*hi)? * 16 + digit(*lo)?) as u8),
            _ => None,
        })
        .collect()
}
