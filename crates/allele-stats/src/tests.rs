//! Unit tests: contracts of the readout JSON, degenerate inputs, errors and
//! attribution examples small enough to check by hand.

use serde_json::{Value, json};

use crate::attribution::shapley::shapley_values;
use crate::proportions::{Proportion, two_proportion_ztest};
use crate::sequential::{MsprtConfig, msprt_two_proportions};
use crate::{
    AttributionModel, AttributionOptions, ReadoutInput, ReadoutOptions, StatsError, Touch,
    UserPath, UserRecord, VariationRecords, attribute, experiment_readout, holdout_lift,
};

fn users(n: usize, conversions: usize, value: f64) -> Vec<UserRecord> {
    (0..n)
        .map(|i| UserRecord {
            converted: i < conversions,
            value: if i < conversions {
                value + i as f64
            } else {
                0.0
            },
            covariate: None,
        })
        .collect()
}

fn input(value: Option<&str>, arms: Vec<(&str, Vec<UserRecord>)>) -> ReadoutInput {
    ReadoutInput {
        experiment_id: "e".into(),
        metric: "Order Completed".into(),
        value: value.map(str::to_owned),
        control: "a".into(),
        variations: arms
            .into_iter()
            .map(|(id, users)| VariationRecords {
                variation_id: id.into(),
                users,
            })
            .collect(),
    }
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn readout_json_has_the_pinned_shape() {
    let readout = experiment_readout(
        &input(
            Some("revenue"),
            vec![("a", users(100, 10, 5.0)), ("b", users(120, 18, 5.0))],
        ),
        &ReadoutOptions::default(),
    )
    .unwrap();
    let json = serde_json::to_value(&readout).unwrap();
    assert_eq!(
        keys(&json),
        [
            "experiment_id",
            "metric",
            "value",
            "control",
            "srm_p",
            "variations",
            "comparisons"
        ]
    );
    assert_eq!(
        keys(&json["variations"][0]),
        [
            "variation_id",
            "n",
            "conversions",
            "rate",
            "value_sum",
            "value_mean"
        ]
    );
    assert_eq!(
        keys(&json["comparisons"][0]),
        [
            "variation_id",
            "lift_abs",
            "lift_abs_ci",
            "lift_rel",
            "lift_rel_ci",
            "z",
            "p",
            "welch_t",
            "welch_df",
            "welch_p",
            "p_better",
            "sequential"
        ]
    );
    assert_eq!(json["comparisons"][0]["variation_id"], "b");
    assert!(json["comparisons"][0]["sequential"].is_object());
    let comparison = &readout.comparisons[0];
    assert!((comparison.lift_abs.unwrap() - (0.15 - 0.10)).abs() < 1e-15);
    assert!((comparison.lift_rel.unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(readout.variations[1].rate, Some(0.15));
    let expected_sum: f64 = (0..18).map(|i| 5.0 + f64::from(i)).sum();
    assert_eq!(readout.variations[1].value_sum, Some(expected_sum));
    assert_eq!(readout.variations[1].value_mean, Some(expected_sum / 120.0));
}

#[test]
fn value_fields_are_null_without_a_value_metric() {
    let readout = experiment_readout(
        &input(
            None,
            vec![("a", users(100, 10, 5.0)), ("b", users(100, 20, 5.0))],
        ),
        &ReadoutOptions::default(),
    )
    .unwrap();
    let json = serde_json::to_value(&readout).unwrap();
    assert_eq!(json["value"], Value::Null);
    for field in ["value_sum", "value_mean"] {
        assert_eq!(json["variations"][0][field], Value::Null);
    }
    for field in ["welch_t", "welch_df", "welch_p"] {
        assert_eq!(json["comparisons"][0][field], Value::Null);
    }
    assert!(json["comparisons"][0]["p"].as_f64().unwrap() < 0.1);
}

#[test]
fn degenerate_arms_give_null_or_documented_fallbacks() {
    // zero conversions everywhere, single users, an empty arm, constant values
    let readout = experiment_readout(
        &input(
            Some("revenue"),
            vec![
                ("a", users(50, 0, 0.0)),
                ("b", users(50, 0, 0.0)),
                ("c", users(1, 1, 3.0)),
                ("d", vec![]),
            ],
        ),
        &ReadoutOptions::default(),
    )
    .unwrap();
    let text = serde_json::to_string(&readout).unwrap();
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    let b = &readout.comparisons[0];
    assert_eq!(
        (b.z, b.p),
        (Some(0.0), Some(1.0)),
        "pooled rate 0: z = 0, p = 1"
    );
    assert_eq!(b.lift_rel, None, "control rate 0 has no relative lift");
    assert_eq!(b.lift_rel_ci, None);
    assert_eq!(
        (b.welch_t, b.welch_p, b.welch_df),
        (Some(0.0), Some(1.0), None)
    );
    assert_eq!(b.sequential.always_valid_p, Some(1.0));
    assert_eq!(b.sequential.lift_abs_ci, None);
    let b_ci = b.lift_abs_ci.unwrap();
    assert!(b_ci[0] < 0.0 && b_ci[1] > 0.0);
    let c = &readout.comparisons[1];
    assert_eq!(c.welch_t, None, "one user has no variance");
    assert!(c.p_better.unwrap() > 0.5);
    let d = &readout.comparisons[2];
    assert_eq!(
        (d.lift_abs, d.z, d.p_better, d.welch_p),
        (None, None, None, None)
    );
    assert_eq!(readout.variations[3].rate, None);
    assert_eq!(readout.variations[3].value_mean, None);
    assert!(
        readout.srm_p.unwrap() < 1e-6,
        "101 users over 4 arms split 50/50/1/0"
    );
}

#[test]
fn unknown_control_suggests_a_name() {
    let mut request = input(
        None,
        vec![("control", users(3, 1, 0.0)), ("b", users(3, 1, 0.0))],
    );
    request.control = "contrl".into();
    let error = experiment_readout(&request, &ReadoutOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown control variation `contrl` (did you mean `control`?)"
    );
    request.variations[1].variation_id = "control".into();
    request.control = "control".into();
    assert_eq!(
        experiment_readout(&request, &ReadoutOptions::default()).unwrap_err(),
        StatsError::DuplicateVariation("control".into())
    );
}

#[test]
fn non_finite_values_are_rejected() {
    let mut arm = users(3, 1, 1.0);
    arm[2].value = f64::NAN;
    let error = experiment_readout(
        &input(Some("revenue"), vec![("a", users(3, 1, 1.0)), ("b", arm)]),
        &ReadoutOptions::default(),
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "non-finite value for user 2 of `b`");
}

#[test]
fn tiny_p_values_survive() {
    let test = two_proportion_ztest(
        Proportion::new(13_020, 100_000),
        Proportion::new(10_000, 100_000),
    )
    .unwrap();
    assert!(test.p > 1e-100 && test.p < 1e-98, "{}", test.p);
}

#[test]
fn cuped_reduces_variance_with_a_correlated_covariate() {
    let arm = |offset: f64| -> Vec<UserRecord> {
        (0..400)
            .map(|i| {
                let pre = f64::from(i % 37);
                UserRecord {
                    converted: i % 5 == 0,
                    value: 2.0 * pre + offset + f64::from(i % 3),
                    covariate: Some(pre),
                }
            })
            .collect()
    };
    let readout = experiment_readout(
        &input(Some("revenue"), vec![("a", arm(0.0)), ("b", arm(1.0))]),
        &ReadoutOptions::default(),
    )
    .unwrap();
    let cuped = readout.cuped.unwrap();
    assert!((cuped.theta - 2.0).abs() < 0.05, "{}", cuped.theta);
    assert!(cuped.variance_reduction > 0.95);
    assert_eq!(cuped.covariate_coverage, 1.0);
    let comparison = &cuped.comparisons[0];
    assert!((comparison.lift_abs.unwrap() - 1.0).abs() < 1e-9);
    let [low, high] = comparison.lift_abs_ci.unwrap();
    let raw_p = readout.comparisons[0].welch_p.unwrap();
    assert!(low > 0.0 && high > low && comparison.welch_p.unwrap() < raw_p);
    let json = serde_json::to_value(&cuped).unwrap();
    assert_eq!(json["metric"], "value");
}

#[test]
fn msprt_is_stricter_than_a_fixed_horizon_test() {
    let treatment = Proportion::new(1_150, 10_000);
    let control = Proportion::new(1_000, 10_000);
    let fixed = two_proportion_ztest(treatment, control).unwrap();
    let sequential = msprt_two_proportions(treatment, control, &MsprtConfig::default());
    let always_valid = sequential.always_valid_p.unwrap();
    assert!(
        fixed.p < 0.01 && always_valid > fixed.p,
        "{} vs {}",
        always_valid,
        fixed.p
    );
    let json = serde_json::to_value(&sequential).unwrap();
    assert_eq!(json["method"], "msprt");
    // a big enough effect is called even under continuous monitoring
    let strong = msprt_two_proportions(
        Proportion::new(1_400, 10_000),
        control,
        &MsprtConfig::default(),
    );
    assert!(strong.reject && strong.lift_abs_ci.unwrap()[0] > 0.0);
}

#[test]
fn holdout_lift_and_roi() {
    let treated: Vec<UserRecord> = (0..1_000)
        .map(|i| UserRecord {
            converted: i % 10 == 0,
            value: if i % 10 == 0 {
                50.0 + f64::from(i % 7)
            } else {
                0.0
            },
            covariate: None,
        })
        .collect();
    let holdout: Vec<UserRecord> = (0..1_000)
        .map(|i| UserRecord {
            converted: i % 20 == 0,
            value: if i % 20 == 0 {
                50.0 + f64::from(i % 7)
            } else {
                0.0
            },
            covariate: None,
        })
        .collect();
    let lift = holdout_lift(&treated, &holdout, 1_000.0, 0.05).unwrap();
    let incremental_conversions = lift.incremental_conversions.unwrap();
    assert!((incremental_conversions - 50.0).abs() < 1e-9);
    let revenue = lift.incremental_revenue.unwrap();
    let expected_revenue =
        treated.iter().map(|u| u.value).sum::<f64>() - holdout.iter().map(|u| u.value).sum::<f64>();
    assert!((revenue - expected_revenue).abs() < 1e-6);
    assert!((lift.roi.unwrap() - (revenue - 1_000.0) / 1_000.0).abs() < 1e-12);
    let [low, high] = lift.roi_ci.unwrap();
    assert!(low < lift.roi.unwrap() && lift.roi.unwrap() < high);
    let free = holdout_lift(&treated, &holdout, 0.0, 0.05).unwrap();
    assert_eq!((free.roi, free.roi_ci), (None, None));
    assert!(holdout_lift(&treated, &holdout, -1.0, 0.05).is_err());
}

fn path(touches: &[(&str, i64)], converted: bool, at: Option<i64>, value: f64) -> UserPath {
    UserPath {
        touches: touches
            .iter()
            .map(|(channel, at)| Touch {
                channel: (*channel).into(),
                at: *at,
            })
            .collect(),
        converted,
        conversion_at: at,
        value,
    }
}

fn credit(report: &crate::Attribution, channel: &str) -> f64 {
    report
        .channels
        .iter()
        .find(|c| c.channel == channel)
        .map_or(0.0, |c| c.conversions)
}

#[test]
fn rule_based_attribution_by_hand() {
    // touches given out of order on purpose
    let paths = vec![
        path(
            &[("search", 300), ("email", 100), ("social", 200)],
            true,
            Some(400),
            30.0,
        ),
        path(&[("email", 0)], false, None, 0.0),
    ];
    let options = AttributionOptions::default();
    let last = attribute(&paths, AttributionModel::LastTouch, &options).unwrap();
    assert_eq!(
        (credit(&last, "search"), credit(&last, "email")),
        (1.0, 0.0)
    );
    let first = attribute(&paths, AttributionModel::FirstTouch, &options).unwrap();
    assert_eq!(credit(&first, "email"), 1.0);
    let linear = attribute(&paths, AttributionModel::Linear, &options).unwrap();
    assert!((credit(&linear, "social") - 1.0 / 3.0).abs() < 1e-15);
    assert!((linear.channels[0].value - 10.0).abs() < 1e-12);
    let decay = attribute(
        &paths,
        AttributionModel::TimeDecay {
            half_life_seconds: 100.0,
        },
        &options,
    )
    .unwrap();
    // ages 100, 200, 300 → weights 4 : 2 : 1
    assert!((credit(&decay, "search") - 4.0 / 7.0).abs() < 1e-12);
    assert!((credit(&decay, "email") - 1.0 / 7.0).abs() < 1e-12);
    let windowed = attribute(
        &paths,
        AttributionModel::FirstTouch,
        &AttributionOptions {
            window_seconds: Some(250),
        },
    )
    .unwrap();
    assert_eq!(
        credit(&windowed, "social"),
        1.0,
        "email at age 300 is outside the window"
    );
    let outside = vec![path(&[("email", 0)], true, Some(1_000), 5.0)];
    let report = attribute(
        &outside,
        AttributionModel::Linear,
        &AttributionOptions {
            window_seconds: Some(10),
        },
    )
    .unwrap();
    assert_eq!(
        (report.total_conversions, report.unattributed_conversions),
        (1, 1)
    );
    assert!(
        attribute(
            &paths,
            AttributionModel::TimeDecay {
                half_life_seconds: 0.0
            },
            &options
        )
        .is_err()
    );
}

#[test]
fn markov_removal_effects_by_hand() {
    // start → a → conv, start → b → null: removing a kills every conversion
    let paths = vec![
        path(&[("a", 0)], true, None, 1.0),
        path(&[("b", 0)], false, None, 0.0),
    ];
    let report = attribute(
        &paths,
        AttributionModel::Markov,
        &AttributionOptions::default(),
    )
    .unwrap();
    assert_eq!(report.channels[0].removal_effect, Some(1.0));
    assert_eq!(report.channels[1].removal_effect, Some(0.0));
    assert_eq!(credit(&report, "a"), 1.0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["model"], json!("markov"));
}

#[test]
fn shapley_enumeration_matches_a_known_game() {
    // glove game: player 0 holds a left glove, players 1 and 2 right gloves
    let values = shapley_values(3, |mask| {
        f64::from(u8::from(mask & 1 == 1 && mask & 6 != 0))
    })
    .unwrap();
    assert!((values[0] - 2.0 / 3.0).abs() < 1e-15);
    assert!((values[1] - 1.0 / 6.0).abs() < 1e-15);
    assert!(matches!(
        shapley_values(17, |_| 0.0),
        Err(StatsError::TooManyPlayers { .. })
    ));
}

#[test]
fn ln_beta_agrees_with_log_gammas_where_they_are_accurate() {
    use statrs::function::gamma::ln_gamma;
    for &(a, b) in &[
        (0.5, 0.5),
        (3.0, 12.0),
        (11.0, 40.0),
        (0.7, 250.0),
        (120.0, 3_000.0),
    ] {
        let direct = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
        assert!(
            (crate::ln_beta(a, b) - direct).abs() < 1e-11 * direct.abs().max(1.0),
            "{a} {b}"
        );
    }
}
