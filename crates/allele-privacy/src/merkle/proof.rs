//! Proof verifiers, following RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
//! (consistency) step by step so that they can be proofread against the RFC.
//! They need only hashes, never the log.

use super::{Hash, node_hash};

/// Why a proof did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is at or past the tree size.
    #[error("leaf index `{index}` is outside a tree of size `{tree_size}`")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    /// The path has the wrong number of hashes for the sizes.
    #[error("proof has the wrong length for the tree sizes")]
    WrongLength,
    /// The recomputed root differs from the one given.
    #[error("recomputed root does not match the tree head")]
    RootMismatch,
    /// The old tree size is larger than the new one.
    #[error("old tree size `{old}` is larger than new tree size `{new}`")]
    SizesReversed { old: u64, new: u64 },
}

/// Verifies that `leaf_hash` sits at `index` in the tree of `tree_size`
/// leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    audit_path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange { index, tree_size });
    }
    let mut f_n = index;
    let mut s_n = tree_size - 1;
    let mut r = *leaf_hash;
    for p in audit_path {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends
/// the tree of `old_size` leaves with root `old_root` (RFC 9162 §2.1.4.2):
/// nothing was dropped or rewritten.
///
/// Equal sizes need an empty proof and equal roots. An old size of 0 needs an
/// empty proof: every tree extends the empty one.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesReversed {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if old_size == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    // Step 1: a non-trivial proof is never empty.
    let Some((first_of_proof, rest_of_proof)) = proof.split_first() else {
        return Err(ProofError::WrongLength);
    };
    // Step 2: when the old tree is a complete subtree, its root starts the path.
    let (seed, path) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (first_of_proof, rest_of_proof)
    };
    // Steps 3–4.
    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5.
    let mut f_r = *seed;
    let mut s_r = *seed;
    // Step 6.
    for c in path {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 7.
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if f_r != *old_root || s_r != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
