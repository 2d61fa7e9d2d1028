//! The contextual propensity model (`propensity: { model: contextual,
//! features: [...] }`): linear Thompson sampling over a feature vector the
//! action's own CEL expressions compute from the profile and the request
//! context.
//!
//! Per action, the feature vector is `x = [1, f₁, …, fₖ]` (booleans count as
//! 1 or 0). The model is Bayesian ridge regression of the outcome (1 when
//! the offer led to an outcome, else 0) on `x`:
//!
//! - prior: `θ ~ N(θ₀, σ²/λ · I)` with `θ₀ = [p₀, 0, …, 0]`, where the
//!   action's `prior: [s, f]` gives the base rate `p₀ = s / (s + f)` and the
//!   strength `λ = s + f` (pseudo-observations, as for the Beta model);
//! - data: `A = Σ x xᵀ` and `b = Σ r x` over logged offers ([`LinearStats`]);
//! - posterior: `M = λI + A`, `θ̂ = M⁻¹ (λθ₀ + b)`, `Cov θ = σ² M⁻¹`, with
//!   `σ = 0.5` (the largest standard deviation a 0/1 outcome can have).
//!
//! The propensity shown is `xᵀθ̂` clamped to `[0, 1]`; Thompson selection
//! draws from `N(xᵀθ̂, σ² xᵀM⁻¹x)`, a scalar, so the selection code treats it
//! like a Beta draw and the logged probabilities stay exact Monte Carlo
//! estimates (what off-policy evaluation needs). Stats carry the hash of
//! the feature expressions ([`feature_key`]) so that a policy edit that
//! changes what the features mean starts from the prior, not from counts
//! of something else.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// At most this many features per action (the intercept comes on top).
pub const MAX_FEATURES: usize = 8;
/// The outcome noise scale σ.
const SIGMA: f64 = 0.5;

/// Sufficient statistics of logged offers for one action.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearStats {
    /// [`feature_key`] of the features these offers were logged with.
    pub key: String,
    pub n: u64,
    /// `Σ x xᵀ`, row-major, `d × d`.
    pub xtx: Vec<f64>,
    /// `Σ r x`.
    pub xty: Vec<f64>,
}

impl LinearStats {
    pub fn new(key: &str, dim: usize) -> LinearStats {
        LinearStats {
            key: key.to_string(),
            n: 0,
            xtx: vec![0.0; dim * dim],
            xty: vec![0.0; dim],
        }
    }

    pub fn dim(&self) -> usize {
        self.xty.len()
    }

    /// Adds one offer with feature vector `x` (intercept included) and
    /// outcome `reward`. Ignores vectors of the wrong size or not finite.
    pub fn add(&mut self, x: &[f64], reward: f64) {
        let d = self.dim();
        if x.len() != d || self.xtx.len() != d * d || !x.iter().all(|v| v.is_finite()) {
            return;
        }
        for (i, xi) in x.iter().enumerate() {
            for (j, xj) in x.iter().enumerate() {
                if let Some(cell) = self.xtx.get_mut(i * d + j) {
                    *cell += xi * xj;
                }
            }
            if let Some(cell) = self.xty.get_mut(i) {
                *cell += reward * xi;
            }
        }
        self.n += 1;
    }
}

/// The identity of a feature list: offers logged under other features are
/// not evidence for this one.
pub fn feature_key(features: &[String]) -> String {
    let mut text = String::from("allele-linear-v1");
    for feature in features {
        text.push('\0');
        text.push_str(feature);
    }
    format!("{:016x}", xxh3_64(text.as_bytes()))
}

/// The predictive distribution of the outcome rate for `x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Predictive {
    pub mean: f64,
    pub sd: f64,
}

/// The posterior predictive at `x` (intercept included) given the prior
/// and, when their key and size match, the logged stats. `None` when the
/// numbers are not usable (not finite, or a singular system, which a
/// positive `λ` rules out).
pub fn predictive(
    prior: [f64; 2],
    key: &str,
    x: &[f64],
    stats: Option<&LinearStats>,
) -> Option<Predictive> {
    let d = x.len();
    let (l, theta) = solve_posterior(prior, key, d, stats)?;
    let mean: f64 = theta.iter().zip(x).map(|(t, v)| t * v).sum();
    // xᵀM⁻¹x = |L⁻¹x|² with M = L Lᵀ.
    let z = forward(&l, d, x);
    let quad: f64 = z.iter().map(|v| v * v).sum();
    let sd = SIGMA * quad.max(0.0).sqrt();
    (mean.is_finite() && sd.is_finite()).then_some(Predictive { mean, sd })
}

/// The posterior mean `θ̂` (intercept first): what the model has learned
/// about each feature's effect on the outcome rate.
pub fn coefficients(prior: [f64; 2], stats: &LinearStats) -> Option<Vec<f64>> {
    let (_, theta) = solve_posterior(prior, &stats.key, stats.dim(), Some(stats))?;
    theta.iter().all(|t| t.is_finite()).then_some(theta)
}

/// `(L, θ̂)` with `L Lᵀ = M = λI + A` and `θ̂ = M⁻¹ (λθ₀ + b)`.
fn solve_posterior(
    prior: [f64; 2],
    key: &str,
    d: usize,
    stats: Option<&LinearStats>,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let lambda = prior[0] + prior[1];
    if d == 0 || !(lambda.is_finite() && lambda > 0.0) {
        return None;
    }
    let mut m = vec![0.0; d * d];
    let mut rhs = vec![0.0; d];
    for i in 0..d {
        m[i * d + i] = lambda;
    }
    rhs[0] = prior[0]; // λ · p₀
    if let Some(stats) = stats.filter(|s| s.key == key && s.dim() == d && s.xtx.len() == d * d) {
        for (cell, add) in m.iter_mut().zip(&stats.xtx) {
            *cell += add;
        }
        for (cell, add) in rhs.iter_mut().zip(&stats.xty) {
            *cell += add;
        }
    }
    let l = cholesky(&m, d)?;
    let theta = solve(&l, d, &rhs);
    Some((l, theta))
}

/// Lower-triangular `L` with `L Lᵀ = m` (symmetric positive definite).
fn cholesky(m: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut sum = m[i * d + j];
            for k in 0..j {
                sum -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if !(sum > 0.0 && sum.is_finite()) {
                    return None;
                }
                l[i * d + i] = sum.sqrt();
            } else {
                l[i * d + j] = sum / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Solves `L z = b`.
fn forward(l: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; d];
    for i in 0..d {
        let mut sum = b[i];
        for k in 0..i {
            sum -= l[i * d + k] * z[k];
        }
        z[i] = sum / l[i * d + i];
    }
    z
}

/// Solves `L Lᵀ θ = b`.
fn solve(l: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let z = forward(l, d, b);
    let mut theta = vec![0.0; d];
    for i in (0..d).rev() {
        let mut sum = z[i];
        for k in i + 1..d {
            sum -= l[k * d + i] * theta[k];
        }
        theta[i] = sum / l[i * d + i];
    }
    theta
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ridge regression by Gauss–Jordan on the normal equations, written
    /// independently of the Cholesky path above.
    fn ridge(prior: [f64; 2], rows: &[(Vec<f64>, f64)]) -> Vec<f64> {
        let d = rows[0].0.len();
        let lambda = prior[0] + prior[1];
        let mut a = vec![vec![0.0; d + 1]; d];
        for (i, row) in a.iter_mut().enumerate() {
            row[i] = lambda;
        }
        a[0][d] = prior[0];
        for (x, r) in rows {
            for i in 0..d {
                for j in 0..d {
                    a[i][j] += x[i] * x[j];
                }
                a[i][d] += r * x[i];
            }
        }
        for col in 0..d {
            let pivot = a[col][col];
            for value in a[col].iter_mut() {
                *value /= pivot;
            }
            for row in 0..d {
                if row != col {
                    let factor = a[row][col];
                    let pivot_row = a[col].clone();
                    for (value, p) in a[row].iter_mut().zip(pivot_row) {
                        *value -= factor * p;
                    }
                }
            }
        }
        a.iter().map(|row| row[d]).collect()
    }

    #[test]
    fn the_mean_is_the_ridge_regression_prediction() {
        let rows: Vec<(Vec<f64>, f64)> = (0..200)
            .map(|i| {
                let store = (i % 3 == 0) as u8 as f64;
                let spend = (i % 7) as f64 / 7.0;
                let reward = ((i * 37) % 10 < (2 + 5 * store as usize)) as u8 as f64;
                (vec![1.0, store, spend], reward)
            })
            .collect();
        let key = feature_key(&["store".into(), "spend".into()]);
        let mut stats = LinearStats::new(&key, 3);
        for (x, r) in &rows {
            stats.add(x, *r);
        }
        let theta = ridge([1.0, 3.0], &rows);
        let learned = coefficients([1.0, 3.0], &stats).unwrap();
        for (got, want) in learned.iter().zip(&theta) {
            assert!((got - want).abs() < 1e-9);
        }
        for x in [[1.0, 1.0, 0.5], [1.0, 0.0, 0.0], [1.0, 0.0, 1.0]] {
            let want: f64 = theta.iter().zip(x).map(|(t, v)| t * v).sum();
            let got = predictive([1.0, 3.0], &key, &x, Some(&stats)).unwrap();
            assert!((got.mean - want).abs() < 1e-9, "{} vs {want}", got.mean);
            assert!(got.sd > 0.0 && got.sd < 0.1, "sd {}", got.sd);
        }
        // The store context has the higher rate planted above.
        let store = predictive([1.0, 3.0], &key, &[1.0, 1.0, 0.5], Some(&stats)).unwrap();
        let web = predictive([1.0, 3.0], &key, &[1.0, 0.0, 0.5], Some(&stats)).unwrap();
        assert!(store.mean > web.mean + 0.3, "{store:?} vs {web:?}");
    }

    #[test]
    fn without_matching_stats_the_prior_speaks() {
        let key = feature_key(&["a".into()]);
        let prior = predictive([1.0, 3.0], &key, &[1.0, 1.0], None).unwrap();
        assert!((prior.mean - 0.25).abs() < 1e-12);
        // 0.5 · sqrt(xᵀ(λI)⁻¹x) = 0.5 · sqrt(2/4)
        assert!((prior.sd - 0.5 * 0.5f64.sqrt()).abs() < 1e-12);
        let mut other = LinearStats::new(&feature_key(&["b".into()]), 2);
        other.add(&[1.0, 1.0], 1.0);
        assert_eq!(
            predictive([1.0, 3.0], &key, &[1.0, 1.0], Some(&other)),
            Some(prior)
        );
        let mut wrong_size = LinearStats::new(&key, 3);
        wrong_size.add(&[1.0, 1.0, 1.0], 1.0);
        assert_eq!(
            predictive([1.0, 3.0], &key, &[1.0, 1.0], Some(&wrong_size)),
            Some(prior)
        );
        assert_eq!(predictive([0.0, 0.0], &key, &[1.0], None), None);
    }

    #[test]
    fn bad_rows_are_ignored() {
        let mut stats = LinearStats::new("k", 2);
        stats.add(&[1.0], 1.0);
        stats.add(&[1.0, f64::NAN], 1.0);
        assert_eq!(stats.n, 0);
        stats.add(&[1.0, 2.0], 1.0);
        assert_eq!(
            (stats.n, stats.xtx.clone(), stats.xty.clone()),
            (1, vec![1.0, 2.0, 2.0, 4.0], vec![1.0, 2.0])
        );
    }
}
