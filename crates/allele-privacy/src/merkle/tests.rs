//! Tests against the Certificate Transparency reference vectors
//! (transparency-dev/merkle `testonly`), plus exhaustive small-tree checks.

use ed25519_dalek::SigningKey;

use super::entry::{AccessLogEntry, AccessLogResponse, InclusionProof, ProvenEntry, VerifyError};
use super::entry::{verify_access_log, verify_tree_heads_consistent};
use super::proof::{ProofError, verify_consistency, verify_inclusion};
use super::sth::{SignedTreeHead, SthError, tree_head_signing_bytes};
use super::tree::MerkleLog;
use super::{Hash, MerkleError, from_hex, leaf_hash, to_hex};

const CT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn ct_log() -> MerkleLog {
    let mut log = MerkleLog::new();
    for leaf in CT_LEAVES {
        log.append(&hex::decode(leaf).unwrap());
    }
    log
}

fn hashes(hexes: &[&str]) -> Vec<Hash> {
    hexes.iter().map(|h| from_hex(h).unwrap()).collect()
}

fn synthetic_log(n: u64) -> MerkleLog {
    let mut log = MerkleLog::new();
    for i in 0..n {
        log.append(&i.to_be_bytes());
    }
    log
}

#[test]
fn roots_match_the_ct_vectors_at_every_size() {
    let log = ct_log();
    for (size, want) in CT_ROOTS.iter().enumerate() {
        assert_eq!(
            to_hex(&log.root_at(size as u64).unwrap()),
            *want,
            "size {size}"
        );
    }
    assert_eq!(to_hex(&log.root()), CT_ROOTS[8]);
    assert_eq!(to_hex(&MerkleLog::new().root()), CT_ROOTS[0]);
}

#[test]
fn inclusion_proofs_match_the_ct_vectors() {
    let log = ct_log();
    let cases: [(u64, u64, Vec<Hash>); 3] = [
        (0, 1, vec![]),
        (
            0,
            8,
            hashes(&[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]),
        ),
        (
            5,
            8,
            hashes(&[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
        ),
    ];
    for (index, size, want) in cases {
        let path = log.inclusion_proof(index, size).unwrap();
        assert_eq!(path, want, "leaf {index} of {size}");
        let root = log.root_at(size).unwrap();
        verify_inclusion(&log.leaf_hash_at(index).unwrap(), index, size, &path, &root).unwrap();
    }
}

#[test]
fn consistency_proofs_match_the_ct_vectors() {
    let log = ct_log();
    let cases: [(u64, u64, Vec<Hash>); 4] = [
        (1, 1, vec![]),
        (
            1,
            8,
            hashes(&[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]),
        ),
        (
            6,
            8,
            hashes(&[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
        ),
        (
            2,
            5,
            hashes(&[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ]),
        ),
    ];
    for (old, new, want) in cases {
        let proof = log.consistency_proof(old, new).unwrap();
        assert_eq!(proof, want, "{old} -> {new}");
        let (old_root, new_root) = (log.root_at(old).unwrap(), log.root_at(new).unwrap());
        verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
    }
}

#[test]
fn every_proof_verifies_and_every_mangled_one_fails_up_to_size_40() {
    let log = synthetic_log(40);
    let roots: Vec<Hash> = (0..=40).map(|n| log.root_at(n).unwrap()).collect();
    for n in 1..=40u64 {
        let root = roots[n as usize];
        for i in 0..n {
            let leaf = log.leaf_hash_at(i).unwrap();
            let path = log.inclusion_proof(i, n).unwrap();
            verify_inclusion(&leaf, i, n, &path, &root).unwrap();
            if !path.is_empty() {
                let mut flipped = path.clone();
                flipped[0][7] ^= 1;
                assert!(verify_inclusion(&leaf, i, n, &flipped, &root).is_err());
                assert!(verify_inclusion(&leaf, i, n, &path[..path.len() - 1], &root).is_err());
            }
            let mut extended = path.clone();
            extended.push([0xab; 32]);
            assert!(verify_inclusion(&leaf, i, n, &extended, &root).is_err());
            if n > 1 {
                let other = (i + 1) % n;
                assert!(
                    verify_inclusion(&leaf, other, n, &path, &root).is_err(),
                    "{i} as {other} of {n}"
                );
            }
        }
        for m in 0..=n {
            let proof = log.consistency_proof(m, n).unwrap();
            let old_root = roots[m as usize];
            verify_consistency(m, n, &old_root, &root, &proof).unwrap();
            if !proof.is_empty() {
                let mut flipped = proof.clone();
                flipped[0][3] ^= 0x80;
                assert!(verify_consistency(m, n, &old_root, &root, &flipped).is_err());
                assert!(
                    verify_consistency(m, n, &old_root, &root, &proof[..proof.len() - 1]).is_err()
                );
            }
            let mut extended = proof.clone();
            extended.push([0xcd; 32]);
            assert!(verify_consistency(m, n, &old_root, &root, &extended).is_err());
            if m > 0 && m < n {
                // A rewritten old tree must not pass as a prefix.
                assert!(verify_consistency(m, n, &roots[m as usize - 1], &root, &proof).is_err());
            }
        }
    }
}

#[test]
fn degenerate_and_out_of_range_requests_are_errors() {
    let log = ct_log();
    assert_eq!(
        log.inclusion_proof(8, 8),
        Err(MerkleError::IndexOutOfRange {
            index: 8,
            tree_size: 8
        })
    );
    assert!(matches!(
        log.root_at(9),
        Err(MerkleError::SizeOutOfRange { .. })
    ));
    assert!(matches!(
        log.consistency_proof(5, 3),
        Err(MerkleError::SizesReversed { .. })
    ));
    assert!(matches!(
        log.consistency_proof(0, 9),
        Err(MerkleError::SizeOutOfRange { .. })
    ));
    let root = log.root();
    assert_eq!(
        verify_consistency(8, 6, &root, &root, &[]),
        Err(ProofError::SizesReversed { old: 8, new: 6 })
    );
    assert_eq!(verify_consistency(8, 8, &root, &root, &[]), Ok(()));
    assert_eq!(
        verify_consistency(8, 8, &root, &[0; 32], &[]),
        Err(ProofError::RootMismatch)
    );
    assert!(verify_consistency(0, 8, &[0; 32], &root, &[]).is_ok());
    assert!(verify_consistency(0, 8, &[0; 32], &root, &[[0; 32]]).is_err());
    assert!(verify_consistency(6, 8, &log.root_at(6).unwrap(), &root, &[]).is_err());
    assert!(from_hex("zz").is_err());
}

#[test]
fn rebuilding_from_leaf_hashes_gives_the_same_tree() {
    let log = synthetic_log(1000);
    let rebuilt = MerkleLog::from_leaf_hashes((0..1000).map(|i| log.leaf_hash_at(i).unwrap()));
    assert_eq!(rebuilt.root(), log.root());
    assert_eq!(rebuilt.len(), 1000);
    assert_eq!(log.leaf_hash_at(7).unwrap(), leaf_hash(&7u64.to_be_bytes()));
}

#[test]
fn a_large_log_answers_proofs_for_old_and_new_sizes() {
    // 2^18 + 3 leaves: ragged on the right, deep on the left.
    let n = (1u64 << 18) + 3;
    let log = synthetic_log(n);
    let root = log.root();
    for index in [0, 1, n / 2, n - 2, n - 1] {
        let path = log.inclusion_proof(index, n).unwrap();
        verify_inclusion(&log.leaf_hash_at(index).unwrap(), index, n, &path, &root).unwrap();
    }
    for old in [1, 3, 1 << 17, (1 << 18) + 1] {
        let proof = log.consistency_proof(old, n).unwrap();
        verify_consistency(old, n, &log.root_at(old).unwrap(), &root, &proof).unwrap();
    }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

#[test]
fn tree_heads_sign_over_the_rfc_6962_structure() {
    let root = from_hex(CT_ROOTS[8]).unwrap();
    let bytes = tree_head_signing_bytes(8, 1_700_000_000_000, &root);
    assert_eq!(&bytes[..2], &[0, 1]);
    assert_eq!(&bytes[2..10], &1_700_000_000_000u64.to_be_bytes());
    assert_eq!(&bytes[10..18], &8u64.to_be_bytes());
    assert_eq!(&bytes[18..], &root);

    let head = SignedTreeHead::sign(8, &root, 1_700_000_000_000, &key());
    assert_eq!(head.verify(&key().verifying_key()).unwrap(), root);
    let json = serde_json::to_value(&head).unwrap();
    assert_eq!(json["root_hash"], CT_ROOTS[8]);
    assert_eq!(json["tree_size"], 8);

    let mut forged = head.clone();
    forged.tree_size = 9;
    assert_eq!(
        forged.verify(&key().verifying_key()),
        Err(SthError::BadSignature)
    );
    let mut forged = head.clone();
    forged.timestamp += 1;
    assert_eq!(
        forged.verify(&key().verifying_key()),
        Err(SthError::BadSignature)
    );
    let other = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
    assert_eq!(head.verify(&other), Err(SthError::BadSignature));
    let mut garbled = head;
    garbled.signature = "not base64!".into();
    assert!(matches!(
        garbled.verify(&key().verifying_key()),
        Err(SthError::BadSignatureEncoding(_))
    ));
}

fn entry(index: u64, subject: &str) -> AccessLogEntry {
    AccessLogEntry {
        index,
        at: 1_700_000_000_000 + index,
        actor: if index.is_multiple_of(3) {
            "customer".into()
        } else {
            format!("admin:{index}")
        },
        action: "read_profile".into(),
        purpose: "dpv:ServiceProvision".into(),
        subject: subject.into(),
    }
}

/// A log of 50 entries, every fifth about `alice`, and alice's answer.
fn alice_answer() -> (MerkleLog, AccessLogResponse) {
    let mut log = MerkleLog::new();
    let entries: Vec<AccessLogEntry> = (0..50)
        .map(|i| entry(i, if i.is_multiple_of(5) { "alice" } else { "bob" }))
        .collect();
    for e in &entries {
        log.append(&e.leaf_bytes());
    }
    let size = log.len();
    let tree_head = SignedTreeHead::sign(size, &log.root(), 1_700_000_100_000, &key());
    let entries = entries
        .into_iter()
        .filter(|e| e.subject == "alice")
        .map(|e| ProvenEntry {
            leaf_hash: to_hex(&e.leaf_hash()),
            proof: InclusionProof::from_hashes(size, &log.inclusion_proof(e.index, size).unwrap()),
            entry: e,
        })
        .collect();
    (log, AccessLogResponse { entries, tree_head })
}

#[test]
fn leaf_encoding_is_length_prefixed_and_stable() {
    let e = AccessLogEntry {
        index: 1,
        at: 2,
        actor: "a".into(),
        action: "bc".into(),
        purpose: "".into(),
        subject: "é".into(),
    };
    let mut want = b"allele.access.v1".to_vec();
    want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
    want.extend_from_slice(&[
        0, 0, 0, 1, b'a', 0, 0, 0, 2, b'b', b'c', 0, 0, 0, 0, 0, 0, 0, 2, 0xc3, 0xa9,
    ]);
    assert_eq!(e.leaf_bytes(), want);
    // Moving a byte between fields changes the leaf.
    let shifted = AccessLogEntry {
        actor: "ab".into(),
        action: "c".into(),
        ..e.clone()
    };
    assert_ne!(shifted.leaf_hash(), e.leaf_hash());
}

#[test]
fn a_customer_verifies_their_access_log_through_json() {
    let (_, answer) = alice_answer();
    let json = serde_json::to_string(&answer).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(value["entries"][0]["proof"]["audit_path"].is_array());
    assert!(value["entries"][0]["actor"].is_string());
    let parsed: AccessLogResponse = serde_json::from_str(&json).unwrap();
    assert_eq!(verify_access_log(&parsed, &key().verifying_key()), Ok(10));
}

#[test]
fn tampered_access_logs_are_caught() {
    let (_, answer) = alice_answer();
    let vk = key().verifying_key();

    let mut t = answer.clone();
    t.entries[2].entry.actor = "nobody".into();
    assert_eq!(
        verify_access_log(&t, &vk),
        Err(VerifyError::LeafHashMismatch { index: 10 })
    );

    let mut t = answer.clone();
    t.entries[2].entry.actor = "nobody".into();
    t.entries[2].leaf_hash = to_hex(&t.entries[2].entry.leaf_hash());
    assert!(matches!(
        verify_access_log(&t, &vk),
        Err(VerifyError::Inclusion { index: 10, .. })
    ));

    let mut t = answer.clone();
    t.tree_head.root_hash = CT_ROOTS[1].into();
    assert!(matches!(
        verify_access_log(&t, &vk),
        Err(VerifyError::TreeHead(SthError::BadSignature))
    ));

    let mut t = answer.clone();
    t.entries[0].proof.tree_size = 49;
    assert!(matches!(
        verify_access_log(&t, &vk),
        Err(VerifyError::TreeSizeMismatch { .. })
    ));

    let mut t = answer;
    t.entries[0].proof.audit_path[0] = "xyz".into();
    assert!(matches!(
        verify_access_log(&t, &vk),
        Err(VerifyError::Encoding { index: 0, .. })
    ));
}

#[test]
fn tree_heads_prove_nothing_was_dropped_or_rewritten() {
    let (mut log, answer) = alice_answer();
    let old = answer.tree_head;
    for i in 50..77 {
        log.append(&entry(i, "carol").leaf_bytes());
    }
    let new = SignedTreeHead::sign(log.len(), &log.root(), 1_700_000_200_000, &key());
    let proof: Vec<String> = log
        .consistency_proof(50, 77)
        .unwrap()
        .iter()
        .map(to_hex)
        .collect();
    let vk = key().verifying_key();
    verify_tree_heads_consistent(&old, &new, &proof, &vk).unwrap();

    // A log that rewrote entry 3 after the old head cannot prove consistency.
    let mut rewritten = MerkleLog::new();
    for i in 0..77 {
        let mut e = entry(i, if i.is_multiple_of(5) { "alice" } else { "bob" });
        if i == 3 {
            e.action = "nothing_to_see".into();
        }
        rewritten.append(&e.leaf_bytes());
    }
    let forged_head = SignedTreeHead::sign(77, &rewritten.root(), 1_700_000_200_000, &key());
    let forged_proof: Vec<String> = rewritten
        .consistency_proof(50, 77)
        .unwrap()
        .iter()
        .map(to_hex)
        .collect();
    assert!(matches!(
        verify_tree_heads_consistent(&old, &forged_head, &forged_proof, &vk),
        Err(VerifyError::Consistency(_))
    ));
    // A shrunken log is caught too.
    assert!(matches!(
        verify_tree_heads_consistent(&new, &old, &[], &vk),
        Err(VerifyError::Consistency(ProofError::SizesReversed { .. }))
    ));
}
