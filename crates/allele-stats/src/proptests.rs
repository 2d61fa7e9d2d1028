//! Property tests: invariants that must hold for every input, not just the
//! cases the differential tests sample.

use proptest::prelude::*;

use crate::attribution::shapley::shapley_values;
use crate::means::Moments;
use crate::multiple::benjamini_hochberg;
use crate::power::{power, sample_size};
use crate::proportions::{
    Proportion, newcombe_difference_interval, ratio_log_interval, wilson_interval,
};
use crate::sequential::{MsprtConfig, msprt_two_proportions};
use crate::{
    AttributionModel, AttributionOptions, ReadoutInput, ReadoutOptions, Touch, UserPath,
    UserRecord, VariationRecords, attribute, experiment_readout, probability_better,
};

fn proportion() -> impl Strategy<Value = Proportion> {
    (1_u64..1_000_000_000).prop_flat_map(|trials| {
        (0..=trials).prop_map(move |successes| Proportion::new(successes, trials))
    })
}

fn paths(channels: usize) -> impl Strategy<Value = Vec<UserPath>> {
    let touch = (0..channels, 0_i64..1_000).prop_map(|(channel, at)| Touch {
        channel: format!("c{channel}"),
        at,
    });
    let path = (
        prop::collection::vec(touch, 0..6),
        any::<bool>(),
        prop::option::of(0_i64..1_200),
        0.0_f64..100.0,
    )
        .prop_map(|(touches, converted, conversion_at, value)| UserPath {
            touches,
            converted,
            conversion_at,
            value,
        });
    prop::collection::vec(path, 0..40)
}

fn models() -> impl Strategy<Value = AttributionModel> {
    prop_oneof![
        Just(AttributionModel::LastTouch),
        Just(AttributionModel::FirstTouch),
        Just(AttributionModel::Linear),
        (1.0_f64..1e4)
            .prop_map(|half_life_seconds| AttributionModel::TimeDecay { half_life_seconds }),
        Just(AttributionModel::Markov),
        Just(AttributionModel::Shapley),
    ]
}

proptest! {
    #[test]
    fn intervals_contain_their_point_estimates(
        treatment in proportion(),
        control in proportion(),
        alpha in 0.001_f64..0.5,
    ) {
        let rate_treatment = treatment.rate().unwrap();
        let rate_control = control.rate().unwrap();
        let [low, high] = wilson_interval(treatment, alpha).unwrap();
        prop_assert!(low <= rate_treatment + 1e-12 && rate_treatment <= high + 1e-12);
        prop_assert!((0.0..=1.0).contains(&low) && (0.0..=1.0).contains(&high));
        let difference = rate_treatment - rate_control;
        let [low, high] = newcombe_difference_interval(treatment, control, alpha).unwrap();
        prop_assert!(low <= difference + 1e-12 && difference <= high + 1e-12);
        prop_assert!(low >= -1.0 - 1e-12 && high <= 1.0 + 1e-12);
        if let Some([low, high]) = ratio_log_interval(treatment, control, alpha) {
            let ratio = rate_treatment / rate_control;
            prop_assert!(low <= ratio * (1.0 + 1e-12) && ratio <= high * (1.0 + 1e-12));
        }
        let p_better = probability_better(treatment, control).unwrap();
        prop_assert!((0.0..=1.0).contains(&p_better));
    }

    #[test]
    fn msprt_p_and_confidence_sequence_agree(
        treatment in proportion(),
        control in proportion(),
        tuned_at in 10.0_f64..1e6,
    ) {
        let config = MsprtConfig { alpha: 0.05, tuned_at };
        let result = msprt_two_proportions(treatment, control, &config);
        let p = result.always_valid_p.unwrap_or(1.0);
        prop_assert!((0.0..=1.0).contains(&p));
        if let Some([low, high]) = result.lift_abs_ci {
            let difference = treatment.rate().unwrap() - control.rate().unwrap();
            prop_assert!(low <= difference && difference <= high);
            // duality: the sequence excludes 0 exactly when p ≤ α (up to
            // rounding right at the boundary)
            let excludes_zero = low > 0.0 || high < 0.0;
            if (p - config.alpha).abs() > 1e-9 {
                prop_assert_eq!(excludes_zero, result.reject);
            }
        }
    }

    #[test]
    fn benjamini_hochberg_is_monotone_and_bounded(p in prop::collection::vec(0.0_f64..=1.0, 0..60)) {
        let adjusted = benjamini_hochberg(&p).unwrap();
        prop_assert_eq!(adjusted.len(), p.len());
        for (index, (&raw, &q)) in p.iter().zip(&adjusted).enumerate() {
            prop_assert!(q >= raw && q <= 1.0, "{} {} {}", index, raw, q);
            for (&other_raw, &other_q) in p.iter().zip(&adjusted) {
                if raw <= other_raw {
                    prop_assert!(q <= other_q);
                }
            }
        }
    }

    #[test]
    fn moments_merge_like_one_sample(
        left in prop::collection::vec(-1e6_f64..1e6, 0..50),
        right in prop::collection::vec(-1e6_f64..1e6, 0..50),
    ) {
        let merged = Moments::from_values(&left).merge(&Moments::from_values(&right));
        let all: Vec<f64> = left.iter().chain(&right).copied().collect();
        let direct = Moments::from_values(&all);
        prop_assert_eq!(merged.n, direct.n);
        prop_assert!((merged.mean - direct.mean).abs() <= 1e-9 * (1.0 + direct.mean.abs()));
        prop_assert!((merged.m2 - direct.m2).abs() <= 1e-9 * (1.0 + direct.m2.abs()));
    }

    #[test]
    fn sample_size_achieves_its_power(
        effect in 0.005_f64..1.0,
        ratio in 0.25_f64..4.0,
        target in 0.5_f64..0.99,
    ) {
        let n = sample_size(effect, 0.05, target, ratio).unwrap();
        let achieved = power(effect, n, ratio, 0.05).unwrap();
        prop_assert!((achieved - target).abs() < 1e-9, "{} vs {}", achieved, target);
    }

    #[test]
    fn attribution_credits_sum_to_conversions(paths in paths(5), model in models(), window in prop::option::of(0_i64..800)) {
        let report = attribute(&paths, model, &AttributionOptions { window_seconds: window }).unwrap();
        let attributed = (report.total_conversions - report.unattributed_conversions) as f64;
        let credited: f64 = report.channels.iter().map(|c| c.conversions).sum();
        prop_assert!((credited - attributed).abs() < 1e-9 * (1.0 + attributed), "{} vs {}", credited, attributed);
        let value: f64 = report.channels.iter().map(|c| c.value).sum();
        let attributed_value = report.total_value - report.unattributed_value;
        prop_assert!((value - attributed_value).abs() < 1e-7 * (1.0 + attributed_value));
        prop_assert!(report.channels.iter().all(|c| c.conversions >= 0.0 && c.conversions.is_finite()));
        prop_assert!(report.channels.windows(2).all(|pair| pair[0].channel < pair[1].channel));
        if model == AttributionModel::Markov {
            for channel in &report.channels {
                let effect = channel.removal_effect.unwrap();
                prop_assert!((0.0..=1.0).contains(&effect));
            }
        }
    }

    #[test]
    fn shapley_closed_form_equals_enumeration(paths in paths(6)) {
        let report = attribute(&paths, AttributionModel::Shapley, &AttributionOptions::default()).unwrap();
        let names: Vec<&str> = report.channels.iter().map(|c| c.channel.as_str()).collect();
        // the game: conversions whose distinct channels all lie in the coalition
        let coalitions_of_paths: Vec<u32> = paths
            .iter()
            .filter(|path| path.converted)
            .map(|path| {
                let anchor = path.conversion_at.unwrap_or_else(|| path.touches.iter().map(|t| t.at).max().unwrap_or(0));
                path.touches
                    .iter()
                    .filter(|touch| touch.at <= anchor)
                    .map(|touch| 1_u32 << names.iter().position(|n| *n == touch.channel).unwrap())
                    .fold(0, |mask, bit| mask | bit)
            })
            .filter(|mask| *mask != 0)
            .collect();
        let worth = |coalition: u32| coalitions_of_paths.iter().filter(|mask| *mask & !coalition == 0).count() as f64;
        let exact = shapley_values(names.len(), worth).unwrap();
        for (channel, value) in report.channels.iter().zip(&exact) {
            prop_assert!((channel.conversions - value).abs() < 1e-9, "{} {} {}", channel.channel, channel.conversions, value);
        }
        // efficiency: Shapley values sum to v(all) − v(∅) = attributed conversions
        let total: f64 = exact.iter().sum();
        prop_assert!((total - coalitions_of_paths.len() as f64).abs() < 1e-9);
    }

    #[test]
    fn readouts_are_finite_or_null(
        arms in prop::collection::vec(
            prop::collection::vec((any::<bool>(), -100.0_f64..1e4, prop::option::of(-10.0_f64..10.0)), 0..30),
            2..4,
        ),
        with_value in any::<bool>(),
    ) {
        let variations: Vec<VariationRecords> = arms
            .iter()
            .enumerate()
            .map(|(index, users)| VariationRecords {
                variation_id: format!("v{index}"),
                users: users
                    .iter()
                    .map(|&(converted, value, covariate)| UserRecord { converted, value, covariate })
                    .collect(),
            })
            .collect();
        let input = ReadoutInput {
            experiment_id: "e".into(),
            metric: "m".into(),
            value: with_value.then(|| "v".to_owned()),
            control: "v0".into(),
            variations,
        };
        let readout = experiment_readout(&input, &ReadoutOptions::default()).unwrap();
        let json = serde_json::to_value(&readout).unwrap();
        let mut stack = vec![&json];
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::Number(number) => prop_assert!(number.as_f64().unwrap().is_finite()),
                serde_json::Value::Array(items) => stack.extend(items),
                serde_json::Value::Object(fields) => stack.extend(fields.values()),
                _ => {}
            }
        }
        for comparison in &readout.comparisons {
            for p in [comparison.p, comparison.welch_p, comparison.p_better].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&p));
            }
            if let (Some(lift), Some([low, high])) = (comparison.lift_abs, comparison.lift_abs_ci) {
                prop_assert!(low <= lift + 1e-12 && lift <= high + 1e-12);
            }
            if !with_value {
                prop_assert!(comparison.welch_t.is_none());
            }
        }
    }
}
