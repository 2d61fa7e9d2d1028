//! The pure part of an experiment readout over 1,000,000 exposed users:
//! two variations of 500,000, a value metric and a pre-period covariate, so
//! every section (z-test, Welch, P(better), mSPRT, SRM, CUPED) is computed.
//!
//! Run: `cargo bench -p allele-stats --bench readout`

use allele_stats::{
    ReadoutInput, ReadoutOptions, UserRecord, VariationRecords, experiment_readout,
};

fn main() {
    divan::main();
}

/// Deterministic pseudo-random users (splitmix64), no rand dependency.
fn users(count: usize, seed: u64, rate: f64) -> Vec<UserRecord> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1_u64 << 53) as f64
    };
    (0..count)
        .map(|_| {
            let propensity = next();
            let converted = next() < rate;
            UserRecord {
                converted,
                value: if converted {
                    20.0 + 80.0 * propensity
                } else {
                    0.0
                },
                covariate: Some(30.0 * propensity),
            }
        })
        .collect()
}

fn input(total_users: usize) -> ReadoutInput {
    ReadoutInput {
        experiment_id: "bench".into(),
        metric: "Order Completed".into(),
        value: Some("revenue".into()),
        control: "control".into(),
        variations: vec![
            VariationRecords {
                variation_id: "control".into(),
                users: users(total_users / 2, 1, 0.100),
            },
            VariationRecords {
                variation_id: "treatment".into(),
                users: users(total_users / 2, 2, 0.103),
            },
        ],
    }
}

#[divan::bench(args = [1_000_000], sample_count = 20)]
fn readout(bencher: divan::Bencher, total_users: usize) {
    let input = input(total_users);
    let options = ReadoutOptions::default();
    bencher.bench_local(|| experiment_readout(divan::black_box(&input), &options));
}

#[divan::bench(args = [1_000_000], sample_count = 20)]
fn readout_without_cuped(bencher: divan::Bencher, total_users: usize) {
    let input = input(total_users);
    let options = ReadoutOptions {
        cuped: false,
        ..ReadoutOptions::default()
    };
    bencher.bench_local(|| experiment_readout(divan::black_box(&input), &options));
}
