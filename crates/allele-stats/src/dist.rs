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
    // I_x(df/2, 1/2) at x = df/(df+t²) is the two-sided tail itself. It is
    // evaluated directly even when x is close to 1 (large df): the
    // complement 1 − I_{1−x}(1/2, df/2) would round every tail below 1e-16
    // to 0. statrs only switches to that complement internally when
    // x ≥ (a+1)/(a+b+2), i.e. |t| below ~1.7, where p is not small.
    let x = df / (df + t2);
    let p = beta::checked_beta_reg(df / 2.0, 0.5, x).ok()?;
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
    // statrs' inverse incomplete beta is a fine starting point but drifts
    // by ~1e-4 at large df, so polish with Newton steps on ln sf(t), using
    // the survival function above and an exact log-density
    let start = beta::inv_beta_reg(df / 2.0, 0.5, 2.0 * tail);
    let mut t = if start > 0.0 && start <= 1.0 {
        (df * (1.0 - start) / start).sqrt()
    } else {
        -normal_quantile(tail)?
    };
    if !t.is_finite() || t <= 0.0 {
        t = (-normal_quantile(tail)?).max(1e-8);
    }
    let log_density_constant = -0.5 * df.ln() - crate::special::ln_beta(df / 2.0, 0.5);
    for _ in 0..100 {
        let upper_tail = t_two_sided_p(t, df)? / 2.0;
        if !(upper_tail > 0.0) {
            break;
        }
        let log_density = log_density_constant - 0.5 * (df + 1.0) * (t * t / df).ln_1p();
        // d/dt ln sf(t) = −pdf/sf; the step solves ln sf(t) = ln tail
        let step = (upper_tail.ln() - tail.ln()) / (log_density - upper_tail.ln()).exp();
        let next = (t + step).max(t / 2.0);
        let done = (next - t).abs() <= 1e-15 * t.abs();
        t = next;
        if done {
            break;
        }
    }
    let t = if q < 0.5 { -t } else { t };
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
