//! Means, variances and Welch's unequal-variance t-test.

use serde::{Deserialize, Serialize};

use crate::dist::{finite, t_critical, t_two_sided_p};
use crate::proportions::Interval;

/// Count, mean and sum of squared deviations of a sample, accumulated with
/// Welford's update so that a million values near 10⁶ keep their variance
/// (the textbook Σx² − n·x̄² loses it to cancellation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    /// Σ (x − mean)²
    pub m2: f64,
}

impl Moments {
    /// Moments of a slice.
    #[must_use]
    pub fn from_values(values: &[f64]) -> Self {
        let mut moments = Self::default();
        for &value in values {
            moments.push(value);
        }
        moments
    }

    /// Add one observation.
    pub fn push(&mut self, value: f64) {
        self.n += 1;
        let delta = value - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (value - self.mean);
    }

    /// Combine two samples (Chan et al.'s parallel update).
    #[must_use]
    pub fn merge(&self, other: &Self) -> Self {
        if self.n == 0 {
            return *other;
        }
        if other.n == 0 {
            return *self;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        let weight_other = other.n as f64 / n as f64;
        Self {
            n,
            mean: self.mean + delta * weight_other,
            m2: self.m2 + other.m2 + delta * delta * self.n as f64 * weight_other,
        }
    }

    /// Sample variance (ddof = 1); `None` below two observations.
    #[must_use]
    pub fn variance(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        finite(self.m2.max(0.0) / (self.n - 1) as f64)
    }

    /// Sum of the observations.
    #[must_use]
    pub fn sum(&self) -> f64 {
        self.mean * self.n as f64
    }
}

/// Welch's t statistic, Welch–Satterthwaite degrees of freedom (unrounded)
/// and the two-sided Student-t p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WelchTest {
    pub t: f64,
    /// `None` in the zero-variance fallback, where no df is defined.
    pub df: Option<f64>,
    pub p: f64,
    /// `mean(treatment) − mean(control)`
    pub difference: f64,
    /// Standard error of the difference.
    pub standard_error: f64,
}

/// Welch's t-test of `mean(treatment) − mean(control)`, matching
/// `scipy.stats.ttest_ind(treatment, control, equal_var=False)`.
///
/// `None` when an arm has fewer than two users (no variance). When both arms
/// have zero variance: equal means give the finite fallback `t = 0, p = 1`
/// with `df = None`; different means give `None` (the statistic is infinite).
#[must_use]
pub fn welch_test(treatment: &Moments, control: &Moments) -> Option<WelchTest> {
    let variance_treatment = treatment.variance()?;
    let variance_control = control.variance()?;
    let share_treatment = variance_treatment / treatment.n as f64;
    let share_control = variance_control / control.n as f64;
    let squared_error = share_treatment + share_control;
    let difference = treatment.mean - control.mean;
    if !(squared_error > 0.0) {
        return (difference == 0.0).then_some(WelchTest {
            t: 0.0,
            df: None,
            p: 1.0,
            difference,
            standard_error: 0.0,
        });
    }
    let standard_error = squared_error.sqrt();
    let t = difference / standard_error;
    let df = squared_error * squared_error
        / (share_treatment * share_treatment / (treatment.n - 1) as f64
            + share_control * share_control / (control.n - 1) as f64);
    let p = t_two_sided_p(t, df)?;
    Some(WelchTest {
        t: finite(t)?,
        df: finite(df),
        p,
        difference,
        standard_error,
    })
}

/// Welch interval for `mean(treatment) − mean(control)` at confidence
/// `1 − alpha`, using the t quantile at the Satterthwaite df.
#[must_use]
pub fn welch_interval(treatment: &Moments, control: &Moments, alpha: f64) -> Option<Interval> {
    let test = welch_test(treatment, control)?;
    let df = test.df?;
    let half_width = t_critical(alpha, df)? * test.standard_error;
    Some([
        finite(test.difference - half_width)?,
        finite(test.difference + half_width)?,
    ])
}

/// Delta-method interval for the relative difference
/// `mean(treatment) / mean(control) − 1`:
/// `Var ≈ s₁²/(n₁ μ₀²) + μ₁² s₀²/(n₀ μ₀⁴)`, normal critical value.
///
/// `None` when the control mean is 0 or an arm has no variance estimate.
#[must_use]
pub fn relative_difference_interval(
    treatment: &Moments,
    control: &Moments,
    alpha: f64,
) -> Option<Interval> {
    if control.mean == 0.0 {
        return None;
    }
    let critical = crate::dist::normal_critical(alpha)?;
    let variance_treatment = treatment.variance()?;
    let variance_control = control.variance()?;
    let control_squared = control.mean * control.mean;
    let variance = variance_treatment / (treatment.n as f64 * control_squared)
        + treatment.mean * treatment.mean * variance_control
            / (control.n as f64 * control_squared * control_squared);
    let relative = treatment.mean / control.mean - 1.0;
    let half_width = critical * variance.sqrt();
    Some([
        finite(relative - half_width)?,
        finite(relative + half_width)?,
    ])
}
