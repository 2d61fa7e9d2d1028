//! The append-only Merkle log.
//!
//! Every complete, aligned subtree (a range `[i·2^k, (i+1)·2^k)`) is cached in
//! `levels[k][i]` as soon as its last leaf arrives, so the log stores about
//! `2n` hashes. In the RFC 6962 recursion every left child is such a complete
//! subtree, and only the right spine is incomplete, so the root at any size,
//! and every proof, costs `O(log² n)` hashing at worst and usually `O(log n)`.

use super::{Hash, MerkleError, empty_root, leaf_hash, node_hash, split_point};

/// An append-only Merkle tree over leaf hashes.
#[derive(Debug, Clone, Default)]
pub struct MerkleLog {
    /// `levels[0]` are the leaf hashes; `levels[k][i]` is the hash of leaves
    /// `[i << k, (i + 1) << k)`.
    levels: Vec<Vec<Hash>>,
}

impl MerkleLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a log from stored leaf hashes (e.g. at start-up).
    pub fn from_leaf_hashes(hashes: impl IntoIterator<Item = Hash>) -> Self {
        let mut log = Self::new();
        for hash in hashes {
            log.push_leaf_hash(hash);
        }
        log
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Whether the log has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends leaf bytes (hashed with the 0x00 prefix); returns the leaf index.
    pub fn append(&mut self, leaf: &[u8]) -> u64 {
        self.push_leaf_hash(leaf_hash(leaf))
    }

    /// Appends an already computed leaf hash; returns the leaf index.
    pub fn push_leaf_hash(&mut self, hash: Hash) -> u64 {
        let index = self.len();
        let mut carry = hash;
        let mut level = 0usize;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                break;
            };
            row.push(carry);
            // An even count means the new hash completed a pair: cache the parent.
            if row.len() % 2 != 0 {
                break;
            }
            let (Some(left), Some(right)) = (row.get(row.len() - 2), row.last()) else {
                break;
            };
            carry = node_hash(left, right);
            level += 1;
        }
        index
    }

    /// The leaf hash at `index`.
    pub fn leaf_hash_at(&self, index: u64) -> Result<Hash, MerkleError> {
        self.levels
            .first()
            .and_then(|leaves| leaves.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MerkleError::IndexOutOfRange {
                index,
                tree_size: self.len(),
            })
    }

    /// The root of the current tree.
    pub fn root(&self) -> Hash {
        // The size is the log's own, so the only error cannot happen; the
        // empty root is then the honest answer for an empty log.
        self.root_at(self.len()).unwrap_or_else(|_| empty_root())
    }

    /// The root the tree had when it held `tree_size` leaves.
    pub fn root_at(&self, tree_size: u64) -> Result<Hash, MerkleError> {
        self.check_size(tree_size)?;
        if tree_size == 0 {
            return Ok(empty_root());
        }
        self.subtree(0, tree_size)
    }

    /// The RFC 6962 §2.1.1 audit path for leaf `index` in the tree of size `tree_size`.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, MerkleError> {
        self.check_size(tree_size)?;
        if index >= tree_size {
            return Err(MerkleError::IndexOutOfRange { index, tree_size });
        }
        let mut path = Vec::new();
        self.path(index, 0, tree_size, &mut path)?;
        Ok(path)
    }

    /// The RFC 6962 §2.1.2 consistency proof between sizes `old_size` and `new_size`.
    ///
    /// Empty when `old_size` is 0 or equal to `new_size`: there is nothing to prove.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, MerkleError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(MerkleError::SizesReversed {
                old: old_size,
                new: new_size,
            });
        }
        let mut proof = Vec::new();
        if old_size == 0 || old_size == new_size {
            return Ok(proof);
        }
        self.subproof(old_size, 0, new_size, true, &mut proof)?;
        Ok(proof)
    }

    fn check_size(&self, tree_size: u64) -> Result<(), MerkleError> {
        if tree_size > self.len() {
            return Err(MerkleError::SizeOutOfRange {
                requested: tree_size,
                available: self.len(),
            });
        }
        Ok(())
    }

    /// MTH of leaves `[start, end)`, `end > start`. In the RFC recursion
    /// `start` is always a multiple of the smallest power of two ≥ the size,
    /// so complete ranges are cache hits.
    fn subtree(&self, start: u64, end: u64) -> Result<Hash, MerkleError> {
        let size = end - start;
        if size.is_power_of_two() && start.is_multiple_of(size) {
            let level = size.trailing_zeros() as usize;
            let slot = usize::try_from(start >> level).ok();
            if let Some(hash) = slot.and_then(|slot| self.levels.get(level)?.get(slot)) {
                return Ok(*hash);
            }
            return Err(MerkleError::SizeOutOfRange {
                requested: end,
                available: self.len(),
            });
        }
        let k = split_point(size);
        let left = self.subtree(start, start + k)?;
        let right = self.subtree(start + k, end)?;
        Ok(node_hash(&left, &right))
    }

    /// PATH(m, D[start..end]) with `m` relative to `start`; appends bottom-up.
    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) -> Result<(), MerkleError> {
        let size = end - start;
        if size <= 1 {
            return Ok(());
        }
        let k = split_point(size);
        if m < k {
            self.path(m, start, start + k, out)?;
            out.push(self.subtree(start + k, end)?);
        } else {
            self.path(m - k, start + k, end, out)?;
            out.push(self.subtree(start, start + k)?);
        }
        Ok(())
    }

    /// SUBPROOF(m, D[start..end], b) with `m` relative to `start`.
    fn subproof(
        &self,
        m: u64,
        start: u64,
        end: u64,
        complete: bool,
        out: &mut Vec<Hash>,
    ) -> Result<(), MerkleError> {
        let size = end - start;
        if m == size {
            if !complete {
                out.push(self.subtree(start, end)?);
            }
            return Ok(());
        }
        let k = split_point(size);
        if m <= k {
            self.subproof(m, start, start + k, complete, out)?;
            out.push(self.subtree(start + k, end)?);
        } else {
            self.subproof(m - k, start + k, end, false, out)?;
            out.push(self.subtree(start, start + k)?);
        }
        Ok(())
    }
}
