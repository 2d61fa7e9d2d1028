//! Publishing and swapping a bundle of 1,000 rules. Run with
//! `cargo bench -p allele-engine --bench bundle`.
//!
//! `publish_1000` is what `PUT /v1/policies` costs before and after its
//! store write (compile, check, sign, swap); `activate_1000` is a rollback
//! or an edge taking a new bundle (verify, load, swap); `swap_only` is the
//! pointer swap decisions can observe.

#![allow(
    clippy::panic,
    reason = "a bench with a broken fixture should stop at once"
)]

use std::sync::Arc;

use allele_engine::{ActiveBundle, Registry, compile, public_key, sign};

fn main() {
    divan::main();
}

const SECRET: [u8; 32] = [7; 32];

fn thousand_actions() -> String {
    let mut policy = String::from("selection: top\nactions:\n");
    for i in 0..1000 {
        let eligibility = match i % 4 {
            0 => format!(
                "profile.traits.age >= {} && profile.traits.country in [\"GB\", \"US\", \"IE\"]",
                18 + i % 30
            ),
            1 => format!(
                "profile.traits.orders > {} || \"vip\" in profile.segments",
                i % 20
            ),
            2 => format!(
                "profile.traits.plan == \"gold\" && profile.traits.ltv > {}.0",
                i * 5
            ),
            _ => "has(profile.traits.email) && profile.traits.newsletter".to_string(),
        };
        policy.push_str(&format!(
            "  - id: action_{i}\n    channels: [email, web]\n    purpose: dpv:DirectMarketing\n    value: {}.0\n    eligibility: '{eligibility}'\n    applicability: 'context.touchpoint in [\"web\", \"app\"]'\n    suitability: '!(\"excluded\" in profile.segments)'\n    propensity: {{ expression: \"0.0{}\" }}\n    caps: {{ per_customer: {{ count: 3, per: 7d }} }}\n",
            10 + i,
            1 + i % 9
        ));
    }
    policy
}

fn registry_with(version: u64, source: &str) -> Registry {
    let registry = Registry::default();
    let bundle = compile(source, version, &[])
        .unwrap_or_else(|e| panic!("{e:?}"))
        .bundle;
    let signed = sign(&bundle, &SECRET);
    registry.install(
        "ws",
        Arc::new(ActiveBundle {
            version,
            bundle,
            signed,
        }),
    );
    registry
}

#[divan::bench(sample_count = 20)]
fn publish_1000(bencher: divan::Bencher) {
    let source = thousand_actions();
    let registry = registry_with(1, &source);
    let mut version = 1;
    bencher.bench_local(|| {
        version += 1;
        let bundle = compile(divan::black_box(&source), version, &[])
            .unwrap_or_else(|e| panic!("{e:?}"))
            .bundle;
        let signed = sign(&bundle, &SECRET);
        registry.install(
            "ws",
            Arc::new(ActiveBundle {
                version,
                bundle,
                signed,
            }),
        )
    });
}

#[divan::bench(sample_count = 20)]
fn activate_1000(bencher: divan::Bencher) {
    let source = thousand_actions();
    let registry = registry_with(1, &source);
    let bundle = compile(&source, 2, &[])
        .unwrap_or_else(|e| panic!("{e:?}"))
        .bundle;
    let signed = sign(&bundle, &SECRET);
    let key = public_key(&SECRET);
    bencher.bench_local(|| {
        let active = ActiveBundle::verified(divan::black_box(signed.clone()), &key)
            .unwrap_or_else(|e| panic!("{e}"));
        registry.install("ws", Arc::new(active))
    });
}

#[divan::bench]
fn swap_only(bencher: divan::Bencher) {
    let registry = registry_with(1, &thousand_actions());
    let next = registry.active("ws").unwrap_or_else(|| panic!("installed"));
    bencher.bench_local(|| registry.install("ws", Arc::clone(divan::black_box(&next))));
}
