//! Tests and intervals for conversion rates.
//!
//! Conventions follow DESIGN.md §8: the first arm is the treatment, the second
//! the control, and every difference is treatment minus control. Counts are
//! `u64` because they count distinct users; they are converted to `f64` once.

use serde::{Deserialize, Serialize};

use crate::dist::{finite, normal_critical, normal_two_sided_p};

/// A two-sided interval `[low, high]`.
pub type Interval = [f64; 2];

/// Conversions out of exposed users in one arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
}

impl Proportion {
    #[must_use]
    pub fn new(successes: u64, trials: u64) -> Self {
        Self { successes, trials }
    }

    /// The observed rate, `None` for an empty arm.
    #[must_use]
    pub fn rate(&self) -> Option<f64> {
        if self.trials == 0 || self.successes > self.trials {
            return None;
        }
        Some(self.successes as f64 / self.trials as f64)
    }

    fn is_valid(&self) -> bool {
        self.trials > 0 && self.successes <= self.trials
    }
}

/// A z statistic and its two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZTest {
    pub z: f64,
    pub p: f64,
}

/// Pooled two-proportion z-test of `treatment − control`, two-sided.
///
/// Matches `statsmodels.stats.proportion.proportions_ztest` on
/// `[treatment, control]`. When the pooled rate is 0 or 1 both rates are
/// equal and the standard error is 0; rather than 0/0 this returns the finite
/// fallback `z = 0, p = 1` (no evidence of a difference). `None` when an arm
/// is empty.
#[must_use]
pub fn two_proportion_ztest(treatment: Proportion, control: Proportion) -> Option<ZTest> {
    if !treatment.is_valid() || !control.is_valid() {
        return None;
    }
    let n_treatment = treatment.trials as f64;
    let n_control = control.trials as f64;
    let rate_treatment = treatment.successes as f64 / n_treatment;
    let rate_control = control.successes as f64 / n_control;
    let pooled = (treatment.successes + control.successes) as f64 / (n_treatment + n_control);
    let variance = pooled * (1.0 - pooled) * (1.0 / n_treatment + 1.0 / n_control);
    if !(variance > 0.0) {
        return Some(ZTest { z: 0.0, p: 1.0 });
    }
    let z = (rate_treatment - rate_control) / variance.sqrt();
    let p = normal_two_sided_p(z)?;
    Some(ZTest { z: finite(z)?, p })
}

/// Wilson score interval for one proportion at confidence `1 − alpha`,
/// without continuity correction (statsmodels `proportion_confint(method="wilson")`).
#[must_use]
pub fn wilson_interval(proportion: Proportion, alpha: f64) -> Option<Interval> {
    if !proportion.is_valid() {
        return None;
    }
    let critical = normal_critical(alpha)?;
    let critical_squared = critical * critical;
    let n = proportion.trials as f64;
    let rate = proportion.successes as f64 / n;
    let denominator = 1.0 + critical_squared / n;
    let center = (rate + critical_squared / (2.0 * n)) / denominator;
    let half_width = critical * (rate * (1.0 - rate) / n + critical_squared / (4.0 * n * n)).sqrt()
        / denominator;
    // rounding can push an endpoint a hair outside [0, 1] at 0 or n successes
    let low = (center - half_width).clamp(0.0, 1.0);
    let high = (center + half_width).clamp(0.0, 1.0);
    Some([finite(low)?, finite(high)?])
}

/// Newcombe's hybrid score interval for `treatment rate − control rate`
/// (Newcombe 1998, method 10; statsmodels
/// `confint_proportions_2indep(method="newcomb")`).
///
/// Built from the two Wilson intervals, so it stays inside [−1, 1] and is
/// defined at 0 and all conversions, where the Wald interval collapses.
#[must_use]
pub fn newcombe_difference_interval(
    treatment: Proportion,
    control: Proportion,
    alpha: f64,
) -> Option<Interval> {
    let [low_treatment, high_treatment] = wilson_interval(treatment, alpha)?;
    let [low_control, high_control] = wilson_interval(control, alpha)?;
    let rate_treatment = treatment.rate()?;
    let rate_control = control.rate()?;
    let difference = rate_treatment - rate_control;
    let low = difference
        - ((rate_treatment - low_treatment).powi(2) + (high_control - rate_control).powi(2)).sqrt();
    let high = difference
        + ((rate_control - low_control).powi(2) + (high_treatment - rate_treatment).powi(2)).sqrt();
    Some([finite(low)?, finite(high)?])
}

/// Delta-method interval for the rate ratio `treatment / control`, built on
/// the log scale (statsmodels `confint_proportions_2indep(compare="ratio",
/// method="log")`): `exp(ln r ± z·√(1/x₁ − 1/n₁ + 1/x₀ − 1/n₀))`.
///
/// The log scale keeps the interval positive and asymmetric like the ratio's
/// sampling distribution. `None` when either arm has no conversions (the log
/// ratio is unbounded).
#[must_use]
pub fn ratio_log_interval(
    treatment: Proportion,
    control: Proportion,
    alpha: f64,
) -> Option<Interval> {
    if !treatment.is_valid() || !control.is_valid() {
        return None;
    }
    if treatment.successes == 0 || control.successes == 0 {
        return None;
    }
    let critical = normal_critical(alpha)?;
    let successes_treatment = treatment.successes as f64;
    let successes_control = control.successes as f64;
    let log_ratio = (successes_treatment / treatment.trials as f64).ln()
        - (successes_control / control.trials as f64).ln();
    let variance = 1.0 / successes_treatment - 1.0 / treatment.trials as f64
        + 1.0 / successes_control
        - 1.0 / control.trials as f64;
    let half_width = critical * variance.max(0.0).sqrt();
    Some([
        finite((log_ratio - half_width).exp())?,
        finite((log_ratio + half_width).exp())?,
    ])
}

/// Interval for the relative lift `treatment / control − 1`, from
/// [`ratio_log_interval`].
#[must_use]
pub fn relative_lift_interval(
    treatment: Proportion,
    control: Proportion,
    alpha: f64,
) -> Option<Interval> {
    let [low, high] = ratio_log_interval(treatment, control, alpha)?;
    Some([low - 1.0, high - 1.0])
}

/// Wald (delta-method) interval for `treatment rate − control rate` with the
/// unpooled variance. Kept for callers that want the textbook form; the
/// readout uses [`newcombe_difference_interval`], which behaves at 0 and n.
#[must_use]
pub fn wald_difference_interval(
    treatment: Proportion,
    control: Proportion,
    alpha: f64,
) -> Option<Interval> {
    let rate_treatment = treatment.rate()?;
    let rate_control = control.rate()?;
    let critical = normal_critical(alpha)?;
    let variance = rate_treatment * (1.0 - rate_treatment) / treatment.trials as f64
        + rate_control * (1.0 - rate_control) / control.trials as f64;
    let difference = rate_treatment - rate_control;
    let half_width = critical * variance.sqrt();
    Some([
        finite(difference - half_width)?,
        finite(difference + half_width)?,
    ])
}
