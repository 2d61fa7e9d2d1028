//! Swapping the active bundle while decisions run: every decision finishes,
//! on exactly the bundle it took at its start, which is the old or the new
//! one — never a mix, never a failure.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use allele_engine::{ActiveBundle, ConsentStatus, Registry, compile, decide, sign};

use super::common;

/// A policy of `count` actions whose rules vary enough to exercise every
/// gate; `version` changes one value so versions differ in content too.
pub fn many_actions(count: usize, version: u64) -> String {
    let mut policy = String::from("selection: top\nactions:\n");
    for i in 0..count {
        let eligibility = match i % 3 {
            0 => format!("profile.traits.age >= {}", 18 + i % 40),
            1 => "profile.traits.country in [\"GB\", \"US\", \"IE\"]".to_string(),
            _ => "!(\"excluded\" in profile.segments)".to_string(),
        };
        policy.push_str(&format!(
            "  - id: action_{i}\n    channels: [email, web]\n    purpose: dpv:DirectMarketing\n    value: {}.0\n    eligibility: '{eligibility}'\n    propensity: {{ expression: \"0.0{}\" }}\n",
            10 + i as u64 + version,
            1 + i % 9
        ));
    }
    policy
}

const SECRET: [u8; 32] = [7; 32];

fn active(count: usize, version: u64) -> Arc<ActiveBundle> {
    let bundle = compile(&many_actions(count, version), version, &[])
        .unwrap()
        .bundle;
    let signed = sign(&bundle, &SECRET);
    Arc::new(ActiveBundle::verified(signed, &allele_engine::public_key(&SECRET)).unwrap())
}

#[test]
fn decisions_during_swaps_land_on_the_old_or_the_new_bundle() {
    const SWAPS: u64 = 12;
    const ACTIONS: usize = 200;
    // Built ahead: the test is about the swap, not the compiler's speed.
    let bundles: Vec<Arc<ActiveBundle>> = (1..=SWAPS + 1).map(|v| active(ACTIONS, v)).collect();
    let registry = Registry::default();
    registry.install("ws", Arc::clone(&bundles[0]));
    let installed = AtomicU64::new(1);
    let done = AtomicBool::new(false);
    let consent = vec![common::record(
        "dpv:DirectMarketing",
        "email",
        ConsentStatus::Given,
    )];
    let input = common::input("p-1", 40, "IE", vec![], consent, "email", 3);

    let seen: Vec<BTreeSet<u64>> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut seen = BTreeSet::new();
                    let mut decisions = 0u64;
                    loop {
                        // read before deciding: a decision that starts after
                        // `done` was seen runs on the last version
                        let finished = done.load(Ordering::Acquire);
                        let before = installed.load(Ordering::Acquire);
                        let bundle = registry.active("ws").expect("a bundle is always active");
                        let decision = decide(&bundle.bundle, &input);
                        let after = installed.load(Ordering::Acquire);
                        assert_eq!(decision.bundle_version, bundle.version);
                        // The registry swaps before `installed` is bumped,
                        // so a decision may run one version ahead of it.
                        assert!(
                            (before..=after + 1).contains(&decision.bundle_version),
                            "decision on v{} outside the window v{before}..=v{after}",
                            decision.bundle_version
                        );
                        assert!(!decision.actions.is_empty(), "a decision failed to choose");
                        assert!(!decision.trace.is_empty());
                        seen.insert(decision.bundle_version);
                        decisions += 1;
                        if finished && decisions >= 50 {
                            break;
                        }
                    }
                    seen
                })
            })
            .collect();
        for next in bundles.iter().skip(1) {
            std::thread::sleep(std::time::Duration::from_millis(5));
            let old = registry.install("ws", Arc::clone(next)).unwrap();
            assert_eq!(
                old.version + 1,
                next.version,
                "swaps replace the previous one"
            );
            installed.store(next.version, Ordering::Release);
        }
        done.store(true, Ordering::Release);
        readers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let all: BTreeSet<u64> = seen.into_iter().flatten().collect();
    assert!(
        all.len() >= 2,
        "decisions saw only {all:?}: no swap happened under load"
    );
    assert!(
        all.contains(&(SWAPS + 1)),
        "the last version served: {all:?}"
    );
    assert_eq!(registry.active("ws").unwrap().version, SWAPS + 1);
}

#[test]
fn a_tampered_bundle_is_refused_and_the_last_good_one_stays() {
    let registry = Registry::default();
    let good = active(3, 1);
    registry.install("ws", Arc::clone(&good));
    let mut tampered = sign(&good.bundle, &SECRET);
    tampered.bundle = tampered.bundle.replace("0.01", "0.99");
    let refused = ActiveBundle::verified(tampered, &allele_engine::public_key(&SECRET));
    assert!(refused.is_err(), "a tampered bundle verified");
    assert_eq!(registry.active("ws").unwrap().version, 1);
}
