//! Tail probabilities and quantiles of the normal, Student-t and chi-square
//! distributions.
//!
//! Every p-value in this crate comes from a survival function evaluated
//! directly (`erfc`, the regularized incomplete beta and gamma functions),
//! never from `1 − cdf`: the subtraction rounds every p below ~1e-17 to 0,
//! and a readout must be able to say 1e-112.
//!
//! Functions return `None` instead of NaN or infinity so that callers can
//! map "undefined" to JSON `null` without checking floats themselves.

use statrs::function::{beta, erf, gamma};

/// `Some(x)` when `x` is finite, else `None`.
#[must_use]
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Upper tail `P(Z > z)` of the standard normal.
#[must_use]
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    0.5 * erf::erfc(z / std::f64::consts::SQRT_2)
}

/// Lower tail `P(Z ≤ z)` of the standard normal, computed as a tail so that
/// it stays accurate far below the mean.
#[must_use]
pub fn normal_cdf(z: f64) -> f64 {
    normal_sf(-z)
}

/// Standard normal density.
#[must_use]
pub fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Two-sided p-value `P(|Z| ≥ |z|)` of a standard normal statistic.
#[must_use]
pub fn normal_two_sided_p(z: f64) -> Option<f64> {
    if z.is_nan() {
        return None;
    }
    // erfc(|z|/√2) is the two-sided tail itself: no doubling of a rounded half
    Some(erf::erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0))
}

/// Quantile of the standard normal: the `z` with `P(Z ≤ z) = q`.
///
/// `None` outside `0 < q < 1`.
#[must_use]
pub fn normal_quantile(q: f64) -> Option<f64> {
    if !(q > 0.0 && q < 1.0) {
        return None;
    }
    // erfc_inv(2q) keeps full relative precision for small q, unlike erf_inv(2q − 1)
    finite(-std::f64::consts::SQRT_2 * erf::erfc_inv(2.0 * q))
}

/// The two-sided critical value `z_{1−α/2}` for confidence `1 − alpha`.
#[must_use]
pub fn normal_critical(alpha: f64) -> Option<f64> {
    normal_quantile(alpha / 2.0).map(|z| -z)
}

/// Two-sided p-value `P(|T| ≥ |t|)` of a Student-t statistic with `df`
/// (possibly fractional) degrees of freedom.
///
/// Uses `I_{df/(df+t²)}(df/2, 1/2)`, which is the two-sided tail itself.
#[must_use]
pub fn t_two_sided_p(t: f64, df: f64) -> Option<f64> {
    if t.is_nan() || !(df > 0.0) {
        return None;
    }
    if df.is_infinite() {
        return normal_two_sided_p(t);
    }
    let t2 = t * t;
    if t2 == 0.0 {
        return Some(1.0);
    }
    // x = df/(df+t²) and 1 − x = t²/(df+t²) are formed separately so neither
    // loses digits to cancellation when the other is close to 1
    let x = df / (df + t2);
    let p = if x < 0.5 {
        beta::checked_beta_reg(df / 2.0, 0.5, x).ok()?
    } else {
        let one_minus_x = t2 / (df + t2);
        // I_x(a,b) = 1 − I_{1−x}(b,a); the complement is not tiny here
        // because x ≥ 1/2 means |t| ≤ √df, far from the tail
        1.0 - beta::checked_beta_reg(0.5, df / 2.0, one_minus_x).ok()?
    };
    finite(p.clamp(0.0, 1.0))
}

/// Quantile of Student's t with `df` degrees of freedom: the `t` with
/// `P(T ≤ t) = q`.
#[must_use]
pub fn t_quantile(q: f64, df: f64) -> Option<f64> {
    if !(q > 0.0 && q < 1.0) || !(df > 0.0) {
        return None;
    }
    if df.is_infinite() || df > 1e10 {
        return normal_quantile(q);
    }
    let tail = q.min(1.0 - q);
    // two-sided tail 2·tail = I_x(df/2, 1/2) with x = df/(df+t²)
    let x = beta::inv_beta_reg(df / 2.0, 0.5, 2.0 * tail);
    if !(x > 0.0 && x <= 1.0) {
        return None;
    }
    let magnitude = (df * (1.0 - x) / x).sqrt();
    let t = if q < 0.5 { -magnitude } else { magnitude };
    finite(t)
}

/// The two-sided critical value `t_{1−α/2, df}`.
#[must_use]
pub fn t_critical(alpha: f64, df: f64) -> Option<f64> {
    t_quantile(1.0 - alpha / 2.0, df)
}

/// Upper tail `P(X > x)` of a chi-square variable with `df` degrees of
/// freedom, from the upper regularized incomplete gamma function.
#[must_use]
pub fn chi_square_sf(x: f64, df: f64) -> Option<f64> {
    if x.is_nan() || !(df > 0.0) {
        return None;
    }
    if x <= 0.0 {
        return Some(1.0);
    }
    if x.is_infinite() {
        return Some(0.0);
    }
    let p = gamma::checked_gamma_ur(df / 2.0, x / 2.0).ok()?;
    finite(p.clamp(0.0, 1.0))
}
