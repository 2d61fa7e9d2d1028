//! Bayesian Beta-Binomial comparison of two conversion rates.
//!
//! Each arm's rate gets a uniform `Beta(1, 1)` prior, so the posterior after
//! `x` conversions of `n` users is `Beta(1 + x, 1 + n − x)`.
//!
//! `P(p_T > p_C)` is computed exactly with Evan Miller's finite sum (one term
//! per unit of the smaller `α`, evaluated in log space with a cancellation-free
//! log-beta). Past [`EXACT_TERMS_LIMIT`] terms both posteriors have at least
//! that many conversions and are normal to within ~1e-4, so the normal
//! approximation is used instead of a sum whose cost grows with traffic.

use crate::dist::{normal_cdf, normal_pdf};
use crate::proportions::Proportion;
use crate::special::ln_beta;

/// Above this many terms the exact sum gives way to the normal approximation.
pub const EXACT_TERMS_LIMIT: u64 = 50_000;

/// A Beta posterior with integer-valued first shape parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Posterior {
    alpha: u64,
    beta: f64,
}

impl Posterior {
    fn from_counts(proportion: Proportion) -> Option<Self> {
        if proportion.successes > proportion.trials {
            return None;
        }
        Some(Self {
            alpha: proportion.successes + 1,
            beta: (proportion.trials - proportion.successes) as f64 + 1.0,
        })
    }

    fn mean(&self) -> f64 {
        let alpha = self.alpha as f64;
        alpha / (alpha + self.beta)
    }

    fn variance(&self) -> f64 {
        let alpha = self.alpha as f64;
        let total = alpha + self.beta;
        alpha * self.beta / (total * total * (total + 1.0))
    }
}

/// `P(X_b > X_a)` for independent Beta posteriors, exact (Evan Miller):
/// `Σ_{i<α_b} B(α_a+i, β_a+β_b) / ((β_b+i) B(1+i, β_b) B(α_a, β_a))`.
fn exact_probability_greater(a: Posterior, b: Posterior) -> f64 {
    let alpha_a = a.alpha as f64;
    let constant = ln_beta(alpha_a, a.beta);
    let mut total = 0.0;
    for i in 0..b.alpha {
        let i = i as f64;
        let log_term = ln_beta(alpha_a + i, a.beta + b.beta)
            - (b.beta + i).ln()
            - ln_beta(1.0 + i, b.beta)
            - constant;
        total += log_term.exp();
    }
    total.clamp(0.0, 1.0)
}

fn probability_greater(a: Posterior, b: Posterior) -> f64 {
    // the sum runs over α of its second argument; by symmetry
    // P(b > a) = 1 − P(a > b) lets it run over the smaller one
    if b.alpha <= a.alpha {
        if b.alpha <= EXACT_TERMS_LIMIT {
            return exact_probability_greater(a, b);
        }
    } else if a.alpha <= EXACT_TERMS_LIMIT {
        return 1.0 - exact_probability_greater(b, a);
    }
    let spread = (a.variance() + b.variance()).sqrt();
    normal_cdf((b.mean() - a.mean()) / spread)
}

/// Posterior probability that the treatment's conversion rate exceeds the
/// control's. `None` when an arm has more conversions than users.
#[must_use]
pub fn probability_better(treatment: Proportion, control: Proportion) -> Option<f64> {
    let treatment = Posterior::from_counts(treatment)?;
    let control = Posterior::from_counts(control)?;
    Some(probability_greater(control, treatment))
}

/// Expected loss of shipping the treatment: `E[max(p_C − p_T, 0)]`, the
/// conversion rate given up on average if the treatment is in fact worse.
///
/// Exact via Stucchio's identity
/// `E[max(p_C − p_T, 0)] = μ_C·P(Beta(α_C+1, β_C) > X_T) − μ_T·P(X_C > Beta(α_T+1, β_T))`
/// while the exact sums are in range, otherwise from the normal
/// approximation `μΦ(μ/s) + sφ(μ/s)`.
#[must_use]
pub fn expected_loss(treatment: Proportion, control: Proportion) -> Option<f64> {
    let treatment = Posterior::from_counts(treatment)?;
    let control = Posterior::from_counts(control)?;
    let small_enough = treatment.alpha.min(control.alpha) < EXACT_TERMS_LIMIT;
    if small_enough {
        let control_shifted = Posterior {
            alpha: control.alpha + 1,
            beta: control.beta,
        };
        let treatment_shifted = Posterior {
            alpha: treatment.alpha + 1,
            beta: treatment.beta,
        };
        let loss = control.mean() * probability_greater(treatment, control_shifted)
            - treatment.mean() * probability_greater(treatment_shifted, control);
        return Some(loss.max(0.0));
    }
    let mean = control.mean() - treatment.mean();
    let spread = (control.variance() + treatment.variance()).sqrt();
    let standardized = mean / spread;
    Some((mean * normal_cdf(standardized) + spread * normal_pdf(standardized)).max(0.0))
}
