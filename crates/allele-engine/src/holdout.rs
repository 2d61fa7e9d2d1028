//! Holdout assignment: a deterministic, versioned hash of the salts and the
//! profile id.
//!
//! Version 1: `h = xxh3_64("allele-holdout-v1" ‖ 0x00 ‖ workspace_salt ‖ 0x00
//! ‖ holdout_salt ‖ 0x00 ‖ profile_id)` (UTF-8 bytes, seed 0), then
//! `slot = (h × 1,000,000) >> 64`, a number in `0..1,000,000`. A customer is
//! held out when `slot < round(universal × 1,000,000)`. The split depends
//! only on the salts and the id, so it is stable across bundle versions that
//! keep the salt, and changing the salt reshuffles everyone.
//!
//! Test vectors (workspace salt, holdout salt, profile id → slot):
//!
//! | workspace | holdout   | id        | slot   |
//! |-----------|-----------|-----------|--------|
//! | `""`      | `""`      | `""`      | 240819 |
//! | `"ws"`    | `"2026-q4"` | `"p1"`  | 114960 |
//! | `"ws"`    | `"2026-q4"` | `"p2"`  | 893167 |
//! | `"ws"`    | `"2026-q4"` | `"p53"` | 895    |
//! | `"ws"`    | `"2027-q1"` | `"p1"`  | 978807 |
//!
//! so with `universal: 0.02` (threshold 20000) `p53` is held out and `p1` is
//! not. (Checked against Python's `xxhash.xxh3_64_intdigest`.)

use xxhash_rust::xxh3::xxh3_64;

/// The version of the holdout hash described above.
pub const HOLDOUT_HASH_VERSION: u32 = 1;
/// Slots per customer population; shares are resolved to one in a million.
pub const HOLDOUT_SLOTS: u32 = 1_000_000;

/// The customer's slot in `0..HOLDOUT_SLOTS`.
pub fn holdout_slot(workspace_salt: &str, holdout_salt: &str, profile_id: &str) -> u32 {
    let mut key =
        Vec::with_capacity(20 + workspace_salt.len() + holdout_salt.len() + profile_id.len());
    key.extend_from_slice(b"allele-holdout-v1\0");
    key.extend_from_slice(workspace_salt.as_bytes());
    key.push(0);
    key.extend_from_slice(holdout_salt.as_bytes());
    key.push(0);
    key.extend_from_slice(profile_id.as_bytes());
    let hash = xxh3_64(&key);
    ((u128::from(hash) * u128::from(HOLDOUT_SLOTS)) >> 64) as u32
}

/// Whether the customer is in a holdout of the given share (0..=1).
pub fn is_held_out(share: f64, workspace_salt: &str, holdout_salt: &str, profile_id: &str) -> bool {
    if share.is_nan() || share <= 0.0 {
        return false;
    }
    let threshold = (share.min(1.0) * f64::from(HOLDOUT_SLOTS)).round() as u32;
    holdout_slot(workspace_salt, holdout_salt, profile_id) < threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_vectors() {
        assert_eq!(holdout_slot("", "", ""), 240819);
        assert_eq!(holdout_slot("ws", "2026-q4", "p1"), 114960);
        assert_eq!(holdout_slot("ws", "2026-q4", "p2"), 893167);
        assert_eq!(holdout_slot("ws", "2026-q4", "p53"), 895);
        assert_eq!(holdout_slot("ws", "2027-q1", "p1"), 978807);
        assert!(is_held_out(0.02, "ws", "2026-q4", "p53"));
        assert!(!is_held_out(0.02, "ws", "2026-q4", "p1"));
    }

    #[test]
    fn extreme_shares() {
        assert!(!is_held_out(0.0, "a", "b", "c"));
        assert!(!is_held_out(f64::NAN, "a", "b", "c"));
        assert!(is_held_out(1.0, "a", "b", "c"));
    }
}
