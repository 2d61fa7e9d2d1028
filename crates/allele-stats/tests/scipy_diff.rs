//! Differential tests against scipy and statsmodels.
//!
//! Random and edge-case inputs go to `tests/reference.py` (scipy.stats and
//! statsmodels) and every statistic must agree: 1e-6 relative for
//! statistics and intervals, 1e-6 absolute for p-values and probabilities,
//! and 1e-6 relative for p-values below 1e-6, so a p of 1e-112 must come
//! back as 1e-112.
//!
//! Without python3 + scipy + statsmodels the test fails when `CI=true` and
//! prints a loud skip otherwise.

// helpers outside #[test] functions are test code too: a failed expectation
// is a failed test
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers"
)]

use allele_stats::dist::{
    chi_square_sf, normal_quantile, normal_two_sided_p, t_quantile, t_two_sided_p,
};
use allele_stats::means::{Moments, welch_interval, welch_test};
use allele_stats::multiple::benjamini_hochberg;
use allele_stats::power::{power, sample_size};
use allele_stats::proportions::{
    Proportion, newcombe_difference_interval, relative_lift_interval, two_proportion_ztest,
    wilson_interval,
};
use allele_stats::srm::sample_ratio_mismatch;
use allele_stats::{
    ReadoutInput, ReadoutOptions, UserRecord, VariationRecords, expected_loss, experiment_readout,
    probability_better,
};
use serde_json::{Value, json};

#[path = "scipy_diff/harness.rs"]
mod harness;

use harness::{Checker, Rng, Tolerance, finish, reference};

fn proportion_pairs(rng: &mut Rng) -> Vec<(u64, u64, u64, u64)> {
    let mut pairs = vec![
        (0, 100, 0, 100),
        (100, 100, 100, 100),
        (0, 1, 1, 1),
        (1, 1, 0, 1),
        (0, 1, 0, 1),
        (1, 1, 1, 1),
        (0, 1000, 5, 1000),
        (7, 20, 0, 3),
        (13_020, 100_000, 10_000, 100_000), // p ≈ 1e-99
        (10_000, 100_000, 13_000, 100_000),
        (5_500, 10_000, 3_000, 10_000), // p ≈ 1e-270
        (100_000_000, 1_000_000_000, 100_010_000, 1_000_000_000),
        (1, 1_000_000_000, 3, 1_000_000_000),
        (500_000_000, 1_000_000_000, 500_000_000, 999_999_999),
        (3, 10, 40_000, 1_000_000),
        (1, 2, 300, 1_000_000_000),
    ];
    for _ in 0..250 {
        let n1 = rng.log_uniform(1.0, 1e9);
        let n0 = if rng.below(3) == 0 {
            n1
        } else {
            rng.log_uniform(1.0, 1e9)
        };
        let rate = rng.uniform().powi(2);
        let drift = 1.0 + 0.2 * (rng.uniform() - 0.5);
        let x1 = ((n1 as f64) * (rate * drift).min(1.0)).round() as u64;
        let x0 = ((n0 as f64) * rate).round() as u64;
        pairs.push((x1.min(n1), n1, x0.min(n0), n0));
    }
    pairs
}

#[test]
fn proportions_match_statsmodels() {
    let mut rng = Rng(7);
    let pairs = proportion_pairs(&mut rng);
    let alphas = [0.05, 0.1, 0.01];
    let cases: Vec<Value> = pairs
        .iter()
        .enumerate()
        .map(|(index, &(x1, n1, x0, n0))| {
            // numerical integration in the reference is slow for huge n, and
            // past the exact-sum limit we use a normal approximation
            let bayes = n1.max(n0) <= 100_000 && x1.min(x0) < 50_000;
            json!({"kind": "proportions", "x1": x1, "n1": n1, "x0": x0, "n0": n0,
                   "alpha": alphas[index % 3], "bayes": bayes})
        })
        .collect();
    let Some(results) = reference(&cases) else {
        return;
    };
    let mut checker = Checker {
        failures: Vec::new(),
        checked: 0,
    };
    for ((index, &(x1, n1, x0, n0)), result) in pairs.iter().enumerate().zip(&results) {
        let alpha = alphas[index % 3];
        let what = format!("case {x1}/{n1} vs {x0}/{n0}");
        let treatment = Proportion::new(x1, n1);
        let control = Proportion::new(x0, n0);
        let test = two_proportion_ztest(treatment, control);
        checker.number(
            &format!("{what} z"),
            test.map(|t| t.z),
            &result["z"],
            Tolerance::Statistic,
        );
        checker.number(
            &format!("{what} p"),
            test.map(|t| t.p),
            &result["p"],
            Tolerance::PValue,
        );
        checker.interval(
            &format!("{what} wilson1"),
            wilson_interval(treatment, alpha),
            &result["wilson1"],
        );
        checker.interval(
            &format!("{what} wilson0"),
            wilson_interval(control, alpha),
            &result["wilson0"],
        );
        checker.interval(
            &format!("{what} newcombe"),
            newcombe_difference_interval(treatment, control, alpha),
            &result["newcombe"],
        );
        checker.interval(
            &format!("{what} rel_ci"),
            relative_lift_interval(treatment, control, alpha),
            &result["rel_ci"],
        );
        if cases[index]["bayes"] == json!(true) {
            checker.number(
                &format!("{what} p_better"),
                probability_better(treatment, control),
                &result["p_better"],
                Tolerance::Probability,
            );
            checker.number(
                &format!("{what} expected_loss"),
                expected_loss(treatment, control),
                &result["expected_loss"],
                Tolerance::Statistic,
            );
        }
    }
    // the tiny p-value case must survive as a tiny number, not 0
    let tiny = two_proportion_ztest(
        Proportion::new(13_020, 100_000),
        Proportion::new(10_000, 100_000),
    )
    .expect("defined");
    assert!(
        tiny.p > 0.0 && tiny.p < 1e-90,
        "tiny p came back as {}",
        tiny.p
    );
    finish(checker);
}

#[test]
fn bayes_normal_approximation_is_close() {
    // past the exact-sum limit P(better) switches to a normal approximation;
    // hold it to 1e-3 of the numerical integral
    let pairs = [
        (60_000_u64, 100_000_u64, 59_700_u64, 100_000_u64),
        (80_000, 100_000, 80_100, 100_000),
    ];
    let cases: Vec<Value> = pairs
        .iter()
        .map(|&(x1, n1, x0, n0)| json!({"kind": "proportions", "x1": x1, "n1": n1, "x0": x0, "n0": n0, "alpha": 0.05, "bayes": true}))
        .collect();
    let Some(results) = reference(&cases) else {
        return;
    };
    for (&(x1, n1, x0, n0), result) in pairs.iter().zip(&results) {
        let ours =
            probability_better(Proportion::new(x1, n1), Proportion::new(x0, n0)).expect("defined");
        let reference = result["p_better"].as_f64().expect("reference p_better");
        assert!((ours - reference).abs() < 1e-3, "{ours} vs {reference}");
    }
}

fn sample(rng: &mut Rng, n: usize, shape: u64, shift: f64) -> Vec<f64> {
    (0..n)
        .map(|_| match shape {
            0 => shift + rng.normal(),
            1 => shift + (-rng.uniform().max(1e-300).ln()) * 30.0, // revenue-like
            2 => {
                if rng.uniform() < 0.9 {
                    0.0
                } else {
                    shift + 50.0 * rng.uniform()
                }
            }
            3 => 5.0,
            _ => 1e6 + shift + rng.normal(), // large offset: needs a stable variance
        })
        .collect()
}

#[test]
fn welch_matches_scipy() {
    let mut rng = Rng(11);
    let sizes = [1_usize, 2, 3, 5, 10, 50, 300, 2_000];
    let mut pairs: Vec<(Vec<f64>, Vec<f64>)> = Vec::new();
    for _ in 0..120 {
        let shape = rng.below(5);
        let (size_a, size_b, shift) = (rng.pick(&sizes), rng.pick(&sizes), rng.uniform());
        let a = sample(&mut rng, size_a, shape, shift);
        let b = sample(&mut rng, size_b, shape, 0.0);
        pairs.push((a, b));
    }
    // tiny p-values and the zero-variance fallbacks
    pairs.push((sample(&mut rng, 200, 0, 8.0), sample(&mut rng, 200, 0, 0.0)));
    pairs.push((sample(&mut rng, 60, 0, 4.0), sample(&mut rng, 40, 0, 0.0)));
    pairs.push((vec![5.0; 10], vec![5.0; 7]));
    pairs.push((vec![5.0; 10], vec![4.0; 7]));
    pairs.push((vec![5.0; 10], vec![1.0, 2.0, 3.0]));
    let cases: Vec<Value> = pairs
        .iter()
        .map(|(a, b)| json!({"kind": "welch", "a": a, "b": b, "alpha": 0.05}))
        .collect();
    let Some(results) = reference(&cases) else {
        return;
    };
    let mut checker = Checker {
        failures: Vec::new(),
        checked: 0,
    };
    let mut smallest_p: f64 = 1.0;
    for (index, ((a, b), result)) in pairs.iter().zip(&results).enumerate() {
        let what = format!("welch case {index} (n {} vs {})", a.len(), b.len());
        let treatment = Moments::from_values(a);
        let control = Moments::from_values(b);
        let test = welch_test(&treatment, &control);
        checker.number(
            &format!("{what} t"),
            test.map(|t| t.t),
            &result["t"],
            Tolerance::Statistic,
        );
        checker.number(
            &format!("{what} df"),
            test.and_then(|t| t.df),
            &result["df"],
            Tolerance::Statistic,
        );
        checker.number(
            &format!("{what} p"),
            test.map(|t| t.p),
            &result["p"],
            Tolerance::PValue,
        );
        checker.interval(
            &format!("{what} ci"),
            welch_interval(&treatment, &control, 0.05),
            &result["ci"],
        );
        if let Some(test) = test {
            smallest_p = smallest_p.min(test.p);
        }
    }
    assert!(
        smallest_p > 0.0 && smallest_p < 1e-100,
        "smallest welch p {smallest_p}"
    );
    finish(checker);
}

#[test]
fn distribution_tails_match_scipy() {
    let z = [0.0, 0.5, 1.96, 5.0, 10.0, 22.5, 30.0, 37.5];
    let t = [
        (0.5, 1.0),
        (2.0, 2.5),
        (30.0, 400.0),
        (5.0, 1e5),
        (100.0, 10.0),
        (3.0, 1e7),
        (0.0, 3.0),
        (-4.0, 17.3),
    ];
    let chi2 = [
        (0.1, 1.0),
        (400.0, 1.0),
        (1000.0, 3.0),
        (5.0, 10.0),
        (1e-8, 2.0),
        (2500.0, 4.0),
    ];
    let normal_q = [1e-300, 1e-100, 1e-10, 0.025, 0.5, 0.975, 1.0 - 1e-10];
    let t_q = [
        (0.975, 1.0),
        (0.975, 3.5),
        (0.975, 100.0),
        (0.995, 30.0),
        (0.025, 7.3),
        (1e-8, 5.0),
        (0.9, 1e6),
    ];
    let case =
        json!({"kind": "tails", "z": z, "t": t, "chi2": chi2, "normal_q": normal_q, "t_q": t_q});
    let Some(results) = reference(&[case]) else {
        return;
    };
    let result = &results[0];
    let mut checker = Checker {
        failures: Vec::new(),
        checked: 0,
    };
    for (index, &value) in z.iter().enumerate() {
        checker.number(
            &format!("normal p {value}"),
            normal_two_sided_p(value),
            &result["normal_p"][index],
            Tolerance::PValue,
        );
    }
    for (index, &(value, df)) in t.iter().enumerate() {
        checker.number(
            &format!("t p {value} {df}"),
            t_two_sided_p(value, df),
            &result["t_p"][index],
            Tolerance::PValue,
        );
    }
    for (index, &(value, df)) in chi2.iter().enumerate() {
        checker.number(
            &format!("chi2 sf {value} {df}"),
            chi_square_sf(value, df),
            &result["chi2_sf"][index],
            Tolerance::PValue,
        );
    }
    for (index, &q) in normal_q.iter().enumerate() {
        checker.number(
            &format!("normal quantile {q}"),
            normal_quantile(q),
            &result["normal_quantile"][index],
            Tolerance::Statistic,
        );
    }
    for (index, &(q, df)) in t_q.iter().enumerate() {
        checker.number(
            &format!("t quantile {q} {df}"),
            t_quantile(q, df),
            &result["t_quantile"][index],
            Tolerance::Statistic,
        );
    }
    finish(checker);
}

#[test]
fn srm_bh_and_power_match_scipy() {
    let mut rng = Rng(13);
    let mut cases = Vec::new();
    let mut srm_inputs = Vec::new();
    for index in 0..60 {
        let groups = 2 + rng.below(4) as usize;
        let base = rng.log_uniform(1.0, 1e9);
        let counts: Vec<u64> = (0..groups)
            .map(|_| {
                ((base as f64) * (1.0 + 0.01 * rng.normal()))
                    .max(0.0)
                    .round() as u64
            })
            .collect();
        let weights: Vec<f64> = if index % 2 == 0 {
            vec![1.0; groups]
        } else {
            (0..groups).map(|_| 0.5 + rng.uniform()).collect()
        };
        cases.push(json!({"kind": "chisquare", "observed": counts, "weights": weights}));
        srm_inputs.push((counts, weights));
    }
    // a broken split: p ≈ 1e-89
    cases.push(json!({"kind": "chisquare", "observed": [510_000, 490_000], "weights": [1.0, 1.0]}));
    srm_inputs.push((vec![510_000, 490_000], vec![1.0, 1.0]));
    let mut bh_inputs = Vec::new();
    for _ in 0..40 {
        let size = 1 + rng.below(50) as usize;
        let p: Vec<f64> = (0..size)
            .map(|_| match rng.below(6) {
                0 => 0.0,
                1 => 1.0,
                2 => 0.01 * rng.uniform(),
                3 => 0.05,
                _ => rng.uniform(),
            })
            .collect();
        cases.push(json!({"kind": "bh", "p": p}));
        bh_inputs.push(p);
    }
    let mut power_inputs = Vec::new();
    for &effect in &[0.01, 0.05, 0.2, 0.5, -0.1] {
        for &(nobs1, ratio, alpha, target) in &[
            (10.0, 1.0, 0.05, 0.8),
            (100.0, 0.5, 0.01, 0.9),
            (1e4, 2.0, 0.05, 0.8),
            (1e6, 1.0, 0.1, 0.95),
        ] {
            cases.push(json!({"kind": "power", "effect": effect, "nobs1": nobs1, "ratio": ratio, "alpha": alpha, "power": target}));
            power_inputs.push((effect, nobs1, ratio, alpha, target));
        }
    }
    let Some(results) = reference(&cases) else {
        return;
    };
    let mut checker = Checker {
        failures: Vec::new(),
        checked: 0,
    };
    let mut results = results.iter();
    for (counts, weights) in &srm_inputs {
        let result = results.next().expect("srm result");
        let ours = sample_ratio_mismatch(counts, Some(weights)).expect("valid");
        checker.number(
            &format!("srm {counts:?} statistic"),
            ours.map(|t| t.statistic),
            &result["statistic"],
            Tolerance::Statistic,
        );
        checker.number(
            &format!("srm {counts:?} p"),
            ours.map(|t| t.p),
            &result["p"],
            Tolerance::PValue,
        );
    }
    for p in &bh_inputs {
        let result = results.next().expect("bh result");
        let ours = benjamini_hochberg(p).expect("valid p");
        for (index, adjusted) in ours.iter().enumerate() {
            checker.number(
                &format!("bh {index} of {p:?}"),
                Some(*adjusted),
                &result["adjusted"][index],
                Tolerance::PValue,
            );
        }
    }
    for &(effect, nobs1, ratio, alpha, target) in &power_inputs {
        let result = results.next().expect("power result");
        let what = format!("power d={effect} n={nobs1} ratio={ratio} alpha={alpha}");
        checker.number(
            &what,
            power(effect, nobs1, ratio, alpha),
            &result["power"],
            Tolerance::Statistic,
        );
        checker.number(
            &format!("{what} sample size for {target}"),
            sample_size(effect, alpha, target, ratio).ok(),
            &result["nobs1"],
            Tolerance::Statistic,
        );
    }
    finish(checker);
}

fn random_experiment(rng: &mut Rng, index: usize) -> ReadoutInput {
    let arms = 2 + rng.below(3) as usize;
    let sizes = [0_usize, 1, 2, 5, 40, 300, 1_500];
    let rates = [0.0, 0.002, 0.05, 0.3, 1.0];
    let covariate_share = rng.pick(&[0.0, 0.5, 1.0]);
    let with_value = !index.is_multiple_of(3);
    let base_rate = rng.pick(&rates);
    let variations = (0..arms)
        .map(|arm| {
            let n = if index < 4 {
                [0, 1, 2, 5][index] + arm
            } else {
                rng.pick(&sizes)
            };
            let rate = if rng.below(4) == 0 {
                rng.pick(&rates)
            } else {
                base_rate
            };
            let users = (0..n)
                .map(|_| {
                    let propensity = rng.uniform();
                    let converted = rng.uniform() < rate;
                    let value = if converted {
                        20.0 + 100.0 * propensity + 10.0 * rng.normal()
                    } else {
                        0.0
                    };
                    let covariate = (rng.uniform() < covariate_share)
                        .then(|| 50.0 * propensity + 5.0 * rng.normal());
                    UserRecord {
                        converted,
                        value,
                        covariate,
                    }
                })
                .collect();
            VariationRecords {
                variation_id: format!("v{arm}"),
                users,
            }
        })
        .collect();
    ReadoutInput {
        experiment_id: format!("exp-{index}"),
        metric: "Order Completed".to_owned(),
        value: with_value.then(|| "revenue".to_owned()),
        control: format!("v{}", rng.below(arms as u64)),
        variations,
    }
}

#[test]
fn readout_matches_scipy_and_statsmodels() {
    let mut rng = Rng(17);
    let inputs: Vec<ReadoutInput> = (0..60)
        .map(|index| random_experiment(&mut rng, index))
        .collect();
    let cases: Vec<Value> = inputs
        .iter()
        .map(|input| {
            let mut case = serde_json::to_value(input).expect("serialize input");
            case["kind"] = json!("readout");
            case
        })
        .collect();
    let Some(results) = reference(&cases) else {
        return;
    };
    let mut checker = Checker {
        failures: Vec::new(),
        checked: 0,
    };
    for (input, result) in inputs.iter().zip(&results) {
        let readout = experiment_readout(input, &ReadoutOptions::default()).expect("readout");
        let ours = serde_json::to_value(&readout).expect("serialize readout");
        checker.json(&input.experiment_id, &ours, result);
        // cuped is present exactly when the reference computed it
        assert_eq!(
            ours.get("cuped").is_some(),
            result.get("cuped").is_some(),
            "{}",
            input.experiment_id
        );
    }
    finish(checker);
}
