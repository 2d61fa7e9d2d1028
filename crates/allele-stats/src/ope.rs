//! Off-policy evaluation: how a candidate policy would have done on
//! decisions another policy logged.
//!
//! Each logged decision contributes its importance weight
//! `w = π(a|x) / μ(a|x)` (candidate probability over logged propensity),
//! its reward `r`, the reward model's guess `q̂(x, a)` for the logged
//! action, and `v̂ = Σₐ π(a|x) q̂(x, a)`, the model's value of the candidate.
//!
//! - IPS   = Σ w·r / n
//! - SNIPS = Σ w·r / Σ w
//! - DR    = Σ [v̂ + w·(r − q̂)] / n
//! - ESS   = (Σ w)² / Σ w²  (Kish)
//!
//! Intervals are normal (CLT) over the per-decision terms; SNIPS uses the
//! delta method for a ratio. With fewer than two decisions, or no spread,
//! an interval collapses to a small symmetric band so that `lo < hi` holds.

use crate::dist::normal_quantile;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoggedTerm {
    pub weight: f64,
    pub reward: f64,
    pub q_logged: f64,
    pub v_candidate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub estimate: f64,
    pub ci: [f64; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OpeReport {
    pub n: usize,
    pub ips: Estimate,
    pub snips: Estimate,
    pub dr: Estimate,
    pub ess: f64,
}

fn mean_interval(values: &[f64], z: f64) -> Estimate {
    let n = values.len() as f64;
    let mean = if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / n
    };
    let variance = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let half = z * (variance / n.max(1.0)).sqrt();
    interval(mean, half)
}

fn interval(estimate: f64, half: f64) -> Estimate {
    // A degenerate spread still gets a band, so `lo < hi` as the contract says.
    let half = if half.is_finite() && half > 0.0 {
        half
    } else {
        f64::EPSILON.max(estimate.abs() * 1e-12)
    };
    Estimate {
        estimate,
        ci: [estimate - half, estimate + half],
    }
}

/// Evaluate at confidence `1 − alpha` (0.05 gives 95 % intervals).
pub fn evaluate(terms: &[LoggedTerm], alpha: f64) -> OpeReport {
    let z = normal_quantile(1.0 - alpha / 2.0).unwrap_or(1.959_963_984_540_054);
    let n = terms.len();
    let ips_terms: Vec<f64> = terms.iter().map(|t| t.weight * t.reward).collect();
    let dr_terms: Vec<f64> = terms
        .iter()
        .map(|t| t.v_candidate + t.weight * (t.reward - t.q_logged))
        .collect();
    let sum_w: f64 = terms.iter().map(|t| t.weight).sum();
    let sum_w2: f64 = terms.iter().map(|t| t.weight * t.weight).sum();
    let sum_wr: f64 = ips_terms.iter().sum();
    let snips_value = if sum_w > 0.0 { sum_wr / sum_w } else { 0.0 };
    // Delta method: the ratio's terms are w·(r − SNIPS) / mean(w).
    let mean_w = sum_w / n.max(1) as f64;
    let snips_terms: Vec<f64> = terms
        .iter()
        .map(|t| {
            if mean_w > 0.0 {
                t.weight * (t.reward - snips_value) / mean_w
            } else {
                0.0
            }
        })
        .collect();
    let snips_half = mean_interval(&snips_terms, z);
    let snips = interval(snips_value, snips_half.ci[1] - snips_half.estimate);
    OpeReport {
        n,
        ips: mean_interval(&ips_terms, z),
        snips,
        dr: mean_interval(&dr_terms, z),
        ess: if sum_w2 > 0.0 {
            sum_w * sum_w / sum_w2
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(weight: f64, reward: f64) -> LoggedTerm {
        LoggedTerm {
            weight,
            reward,
            q_logged: 0.0,
            v_candidate: 0.0,
        }
    }

    #[test]
    fn logging_policy_evaluates_to_its_own_mean() {
        let terms: Vec<_> = (0..100).map(|i| term(1.0, f64::from(i % 3 == 0))).collect();
        let report = evaluate(&terms, 0.05);
        let mean = terms.iter().map(|t| t.reward).sum::<f64>() / 100.0;
        assert!((report.ips.estimate - mean).abs() < 1e-12);
        assert!((report.snips.estimate - mean).abs() < 1e-12);
        assert!((report.ess - 100.0).abs() < 1e-9);
        assert!(report.ips.ci[0] < mean && mean < report.ips.ci[1]);
    }

    #[test]
    fn hand_computed_estimates() {
        let terms = [
            LoggedTerm {
                weight: 2.0,
                reward: 1.0,
                q_logged: 0.5,
                v_candidate: 0.6,
            },
            LoggedTerm {
                weight: 0.0,
                reward: 1.0,
                q_logged: 0.5,
                v_candidate: 0.2,
            },
            LoggedTerm {
                weight: 4.0,
                reward: 0.0,
                q_logged: 0.25,
                v_candidate: 0.3,
            },
        ];
        let report = evaluate(&terms, 0.05);
        assert!((report.ips.estimate - 2.0 / 3.0).abs() < 1e-12);
        assert!((report.snips.estimate - 2.0 / 6.0).abs() < 1e-12);
        let dr = (0.6 + 2.0 * 0.5 + 0.2 + 0.0 + 0.3 + 4.0 * -0.25) / 3.0;
        assert!((report.dr.estimate - dr).abs() < 1e-12);
        assert!((report.ess - 36.0 / 20.0).abs() < 1e-12);
        for e in [report.ips, report.snips, report.dr] {
            assert!(e.ci[0] < e.ci[1]);
        }
    }
}
