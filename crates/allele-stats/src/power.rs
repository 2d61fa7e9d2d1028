//! Power and sample size for two-arm tests, in the normal approximation with
//! a standardized effect size, as statsmodels' `NormalIndPower`.
//!
//! For conversion rates the effect size is Cohen's
//! `h = 2·asin √p_T − 2·asin √p_C` (statsmodels `proportion_effectsize`),
//! whose variance does not depend on the rates; for means it is
//! `d = difference / standard deviation`.

use crate::dist::{finite, normal_cdf, normal_critical, normal_sf};
use crate::error::StatsError;

/// Cohen's h for rates `treatment` and `control`.
#[must_use]
pub fn cohens_h(treatment: f64, control: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&treatment) || !(0.0..=1.0).contains(&control) {
        return None;
    }
    finite(2.0 * treatment.sqrt().asin() - 2.0 * control.sqrt().asin())
}

/// Power of the two-sided level-`alpha` test to detect standardized effect
/// `effect_size` with `n_treatment` users in the treatment arm and
/// `ratio · n_treatment` in the control arm.
#[must_use]
pub fn power(effect_size: f64, n_treatment: f64, ratio: f64, alpha: f64) -> Option<f64> {
    if !(n_treatment > 0.0 && ratio > 0.0) || !effect_size.is_finite() {
        return None;
    }
    let critical = normal_critical(alpha)?;
    let effective_n = 1.0 / (1.0 / n_treatment + 1.0 / (n_treatment * ratio));
    let shift = effect_size * effective_n.sqrt();
    // both rejection regions count, as statsmodels does
    finite(normal_sf(critical - shift) + normal_cdf(-critical - shift))
}

/// Users needed in the treatment arm (unrounded) for `power` at level
/// `alpha`; the control arm needs `ratio` times as many.
///
/// # Errors
/// When `effect_size` is 0 or not finite, or `alpha`, `power` or `ratio` is
/// out of range.
pub fn sample_size(
    effect_size: f64,
    alpha: f64,
    target_power: f64,
    ratio: f64,
) -> Result<f64, StatsError> {
    let invalid = |name: &'static str, reason: &str| StatsError::InvalidParameter {
        name,
        reason: reason.to_owned(),
    };
    if !(effect_size.is_finite() && effect_size != 0.0) {
        return Err(invalid("effect_size", "must be finite and non-zero"));
    }
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(invalid("alpha", "must be in (0, 1)"));
    }
    if !(target_power > alpha / 2.0 && target_power < 1.0) {
        return Err(invalid("power", "must be in (alpha/2, 1)"));
    }
    if !(ratio > 0.0 && ratio.is_finite()) {
        return Err(invalid("ratio", "must be positive"));
    }
    let power_at = |n: f64| power(effect_size, n, ratio, alpha).unwrap_or(f64::NAN);
    // power rises monotonically in n; bracket the root, then bisect to
    // machine precision (60 halvings of a bracket within a factor of 2)
    let mut low = 1e-12;
    let mut high = 1.0;
    while power_at(high) < target_power {
        low = high;
        high *= 2.0;
        if high > 1e300 {
            return Err(invalid("effect_size", "too small for any sample size"));
        }
    }
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if power_at(middle) < target_power {
            low = middle;
        } else {
            high = middle;
        }
        if high - low <= high * 1e-15 {
            break;
        }
    }
    Ok(0.5 * (low + high))
}

/// Users per arm (rounded up, equal arms) to detect a change of the
/// conversion rate from `control` to `treatment`.
///
/// # Errors
/// As [`sample_size`], and when a rate is outside [0, 1].
pub fn sample_size_two_proportions(
    control: f64,
    treatment: f64,
    alpha: f64,
    target_power: f64,
) -> Result<u64, StatsError> {
    let effect_size = cohens_h(treatment, control).ok_or(StatsError::InvalidParameter {
        name: "rate",
        reason: "rates must be in [0, 1]".to_owned(),
    })?;
    let users = sample_size(effect_size, alpha, target_power, 1.0)?.ceil();
    // float → integer saturates; users is positive and finite here
    Ok(users as u64)
}
