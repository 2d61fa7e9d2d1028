//! The experiment readout of DESIGN.md §7 as a pure function of per-user
//! records.
//!
//! Semantics (DESIGN.md §8): `n` and `conversions` count distinct exposed
//! users (one [`UserRecord`](crate::UserRecord) each, deduplicated by the caller); `rate` is a
//! fraction; `lift_abs` = treatment rate − control rate; `lift_rel` =
//! `lift_abs` / control rate; `z`/`p` are the pooled two-proportion test,
//! two-sided; Welch's test runs on each user's summed value with unrounded
//! Satterthwaite df; `value_mean` is per exposed user.
//!
//! Intervals: `lift_abs_ci` is Newcombe's hybrid score interval and
//! `lift_rel_ci` the delta-method interval on the log rate ratio (both at
//! confidence `1 − alpha`). `p_better` is the Beta(1,1)-Binomial posterior
//! probability that the treatment converts better.
//!
//! Every number is finite or `null`: undefined statistics (an empty arm, a
//! control rate of 0, Welch with one user) are `null`, and a zero pooled
//! variance gives the documented fallback `z = 0, p = 1`.

use serde::{Deserialize, Serialize};

use crate::bayes::probability_better;
use crate::cuped::{Cuped, CupedMetric, cuped};
use crate::dist::finite;
use crate::error::{StatsError, closest};
use crate::means::welch_test;
use crate::proportions::{
    Interval, newcombe_difference_interval, relative_lift_interval, two_proportion_ztest,
};
use crate::records::{GroupSummary, VariationRecords};
use crate::sequential::{MsprtConfig, Sequential, msprt_two_proportions};
use crate::srm::sample_ratio_mismatch;

/// What to read out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadoutInput {
    pub experiment_id: String,
    /// The conversion event name.
    pub metric: String,
    /// The value property; `None` turns every value statistic into `null`.
    #[serde(default)]
    pub value: Option<String>,
    /// The control variation id.
    pub control: String,
    pub variations: Vec<VariationRecords>,
}

/// Knobs of the readout; the defaults are what the HTTP report uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadoutOptions {
    /// `1 −` confidence of every interval.
    pub alpha: f64,
    /// Planned traffic split, one weight per variation in input order;
    /// `None` means equal. Feeds the SRM check.
    pub expected_split: Option<Vec<f64>>,
    pub sequential: MsprtConfig,
    /// Emit the CUPED section when covariates are present.
    pub cuped: bool,
}

impl Default for ReadoutOptions {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            expected_split: None,
            sequential: MsprtConfig::default(),
            cuped: true,
        }
    }
}

/// Per-variation totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariationSummary {
    pub variation_id: String,
    pub n: u64,
    pub conversions: u64,
    pub rate: Option<f64>,
    pub value_sum: Option<f64>,
    pub value_mean: Option<f64>,
}

/// One treatment versus the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub variation_id: String,
    pub lift_abs: Option<f64>,
    pub lift_abs_ci: Option<Interval>,
    pub lift_rel: Option<f64>,
    pub lift_rel_ci: Option<Interval>,
    pub z: Option<f64>,
    pub p: Option<f64>,
    pub welch_t: Option<f64>,
    pub welch_df: Option<f64>,
    pub welch_p: Option<f64>,
    pub p_better: Option<f64>,
    pub sequential: Sequential,
}

/// The readout JSON of DESIGN.md §7.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReadout {
    pub experiment_id: String,
    pub metric: String,
    pub value: Option<String>,
    pub control: String,
    pub srm_p: Option<f64>,
    pub variations: Vec<VariationSummary>,
    pub comparisons: Vec<Comparison>,
    /// Present only when some user carries a pre-period covariate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuped: Option<Cuped>,
}

/// Compute the readout.
///
/// # Errors
/// An unknown control (with a "did you mean"), duplicate variation ids, a
/// non-finite value or covariate, an `alpha` outside (0, 1) or a bad
/// `expected_split`.
pub fn experiment_readout(
    input: &ReadoutInput,
    options: &ReadoutOptions,
) -> Result<ExperimentReadout, StatsError> {
    if !(options.alpha > 0.0 && options.alpha < 1.0) {
        return Err(StatsError::InvalidParameter {
            name: "alpha",
            reason: "must be in (0, 1)".to_owned(),
        });
    }
    let control_index = control_position(input)?;
    let summaries = input
        .variations
        .iter()
        .map(|variation| GroupSummary::from_users(&variation.variation_id, &variation.users))
        .collect::<Result<Vec<_>, _>>()?;
    let counts: Vec<u64> = summaries.iter().map(GroupSummary::n).collect();
    let srm = sample_ratio_mismatch(&counts, options.expected_split.as_deref())?;
    let has_value = input.value.is_some();

    let variations = input
        .variations
        .iter()
        .zip(&summaries)
        .map(|(variation, summary)| summarize(&variation.variation_id, summary, has_value))
        .collect();
    let control = summaries.get(control_index).copied().unwrap_or_default();
    let comparisons = input
        .variations
        .iter()
        .zip(&summaries)
        .enumerate()
        .filter(|(index, _)| *index != control_index)
        .map(|(_, (variation, summary))| {
            compare(
                &variation.variation_id,
                summary,
                &control,
                has_value,
                options,
            )
        })
        .collect();
    let cuped_metric = if has_value {
        CupedMetric::Value
    } else {
        CupedMetric::Conversion
    };
    let cuped = options
        .cuped
        .then(|| {
            cuped(
                &input.variations,
                control_index,
                cuped_metric,
                options.alpha,
            )
        })
        .flatten();
    Ok(ExperimentReadout {
        experiment_id: input.experiment_id.clone(),
        metric: input.metric.clone(),
        value: input.value.clone(),
        control: input.control.clone(),
        srm_p: srm.map(|test| test.p),
        variations,
        comparisons,
        cuped,
    })
}

fn control_position(input: &ReadoutInput) -> Result<usize, StatsError> {
    let ids = || {
        input
            .variations
            .iter()
            .map(|variation| variation.variation_id.as_str())
    };
    for (index, id) in ids().enumerate() {
        if ids().take(index).any(|earlier| earlier == id) {
            return Err(StatsError::DuplicateVariation(id.to_owned()));
        }
    }
    ids()
        .position(|id| id == input.control)
        .ok_or_else(|| StatsError::UnknownControl {
            control: input.control.clone(),
            suggestion: closest(&input.control, ids()),
        })
}

fn summarize(variation_id: &str, summary: &GroupSummary, has_value: bool) -> VariationSummary {
    let has_users = summary.n() > 0;
    VariationSummary {
        variation_id: variation_id.to_owned(),
        n: summary.n(),
        conversions: summary.conversions,
        rate: summary.proportion().rate(),
        value_sum: has_value.then_some(summary.value_sum).and_then(finite),
        value_mean: (has_value && has_users)
            .then(|| summary.value_sum / summary.n() as f64)
            .and_then(finite),
    }
}

fn compare(
    variation_id: &str,
    treatment: &GroupSummary,
    control: &GroupSummary,
    has_value: bool,
    options: &ReadoutOptions,
) -> Comparison {
    let treatment_proportion = treatment.proportion();
    let control_proportion = control.proportion();
    let rates = treatment_proportion.rate().zip(control_proportion.rate());
    let lift_abs = rates.map(|(treatment_rate, control_rate)| treatment_rate - control_rate);
    let lift_rel = rates
        .filter(|(_, control_rate)| *control_rate > 0.0)
        .map(|(treatment_rate, control_rate)| (treatment_rate - control_rate) / control_rate);
    let z_test = two_proportion_ztest(treatment_proportion, control_proportion);
    let welch = if has_value {
        welch_test(&treatment.values, &control.values)
    } else {
        None
    };
    Comparison {
        variation_id: variation_id.to_owned(),
        lift_abs: lift_abs.and_then(finite),
        lift_abs_ci: newcombe_difference_interval(
            treatment_proportion,
            control_proportion,
            options.alpha,
        ),
        lift_rel: lift_rel.and_then(finite),
        lift_rel_ci: relative_lift_interval(
            treatment_proportion,
            control_proportion,
            options.alpha,
        ),
        z: z_test.map(|test| test.z),
        p: z_test.map(|test| test.p),
        welch_t: welch.map(|test| test.t),
        welch_df: welch.and_then(|test| test.df),
        welch_p: welch.map(|test| test.p),
        p_better: (treatment.n() > 0 && control.n() > 0)
            .then(|| probability_better(treatment_proportion, control_proportion))
            .flatten(),
        sequential: msprt_two_proportions(
            treatment_proportion,
            control_proportion,
            &options.sequential,
        ),
    }
}
