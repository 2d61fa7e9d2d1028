//! Always-valid inference for the difference of two conversion rates: the
//! mixture sequential probability ratio test (mSPRT) of Johari, Pekelis and
//! Walsh ("Always valid inference", 2017) and its dual confidence sequence.
//!
//! With `θ̂ = rate_T − rate_C`, `V = Var(θ̂)` (unpooled) and a normal mixing
//! distribution `θ ~ N(0, τ²)` over alternatives, the mixture likelihood ratio
//! against `θ = θ₀` is
//!
//! ```text
//! Λ = √(V / (V + τ²)) · exp( τ² (θ̂ − θ₀)² / (2 V (V + τ²)) )
//! ```
//!
//! By Ville's inequality `P(∃n: Λₙ ≥ 1/α) ≤ α` under the null, so the
//! always-valid p-value `min(1, 1/Λ)` and the interval `{θ₀ : Λ(θ₀) < 1/α}`
//! may be looked at after every user without inflating the error rate. A
//! caller keeping a history should report the running minimum of the p-value
//! and the running intersection of the intervals.
//!
//! τ² is set as in Howard et al. ("Time-uniform, nonparametric, nonasymptotic
//! confidence sequences", 2021, eq. 3.8) so that the boundary is tightest when
//! the effective sample size `m = 1/(1/n_T + 1/n_C)` reaches
//! [`MsprtConfig::tuned_at`]: `τ² = ρ²·σ̄²` with `σ̄² = m·V` and
//! `ρ² = (−2 ln α + ln(1 − 2 ln α)) / m*`. The variance is a plug-in estimate,
//! so the guarantee is asymptotic, as for every test of proportions here.

use serde::{Deserialize, Serialize};

use crate::dist::finite;
use crate::proportions::{Interval, Proportion};

/// Settings of the always-valid test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MsprtConfig {
    /// Error rate of the test and `1 −` coverage of the interval.
    pub alpha: f64,
    /// Effective sample size `1/(1/n_T + 1/n_C)` at which the boundary is
    /// tightest (10,000 ≈ 20,000 users per arm).
    pub tuned_at: f64,
}

impl Default for MsprtConfig {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            tuned_at: 10_000.0,
        }
    }
}

/// The `sequential` object of a readout comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sequential {
    /// Always `"msprt"`.
    pub method: String,
    pub alpha: f64,
    pub tuned_at: f64,
    /// `min(1, 1/Λ)`; `null` when an arm is empty.
    pub always_valid_p: Option<f64>,
    /// Confidence sequence for `lift_abs`; `null` when the variance is 0
    /// (no conversions or all conversions in both arms) or an arm is empty.
    pub lift_abs_ci: Option<Interval>,
    /// `always_valid_p ≤ alpha`: safe to stop and call a difference.
    pub reject: bool,
}

/// Run the mSPRT for `treatment rate − control rate = 0`.
#[must_use]
pub fn msprt_two_proportions(
    treatment: Proportion,
    control: Proportion,
    config: &MsprtConfig,
) -> Sequential {
    let mut result = Sequential {
        method: "msprt".to_owned(),
        alpha: config.alpha,
        tuned_at: config.tuned_at,
        always_valid_p: None,
        lift_abs_ci: None,
        reject: false,
    };
    let valid_config = config.alpha > 0.0 && config.alpha < 1.0 && config.tuned_at > 0.0;
    let (Some(rate_treatment), Some(rate_control)) = (treatment.rate(), control.rate()) else {
        return result;
    };
    if !valid_config {
        return result;
    }
    let n_treatment = treatment.trials as f64;
    let n_control = control.trials as f64;
    let variance = rate_treatment * (1.0 - rate_treatment) / n_treatment
        + rate_control * (1.0 - rate_control) / n_control;
    let difference = rate_treatment - rate_control;
    if !(variance > 0.0) {
        // both arms all-or-nothing: the data carry no evidence either way
        // unless the rates differ, which a zero variance cannot quantify
        if difference == 0.0 {
            result.always_valid_p = Some(1.0);
        }
        return result;
    }
    let effective_n = 1.0 / (1.0 / n_treatment + 1.0 / n_control);
    let log_inverse_alpha = -config.alpha.ln();
    let rho_squared =
        (2.0 * log_inverse_alpha + (1.0 + 2.0 * log_inverse_alpha).ln()) / config.tuned_at;
    // τ²/V = ρ²·m: the whole statistic depends on the data only through
    // z = θ̂/√V and the ratio r = τ²/V
    let ratio = rho_squared * effective_n;
    let z_squared = difference * difference / variance;
    let log_lambda = -0.5 * ratio.ln_1p() + 0.5 * z_squared * ratio / (1.0 + ratio);
    let p = (-log_lambda).exp().min(1.0);
    result.always_valid_p = finite(p);
    let half_width =
        (variance * (1.0 + ratio) / ratio * (2.0 * log_inverse_alpha + ratio.ln_1p())).sqrt();
    result.lift_abs_ci = match (
        finite(difference - half_width),
        finite(difference + half_width),
    ) {
        (Some(low), Some(high)) => Some([low, high]),
        _ => None,
    };
    result.reject = p <= config.alpha;
    result
}
