//! Sample-ratio mismatch: Pearson's chi-square goodness-of-fit test of the
//! observed users per variation against the planned split.
//!
//! A small p-value means the assignment or the logging is broken and the
//! readout should not be trusted, whatever its lift says.

use serde::{Deserialize, Serialize};

use crate::dist::{chi_square_sf, finite};
use crate::error::StatsError;

/// A chi-square statistic, its degrees of freedom and upper-tail p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChiSquareTest {
    pub statistic: f64,
    pub df: f64,
    pub p: f64,
}

/// Chi-square goodness of fit of `observed` counts against `weights`
/// (normalized to sum to 1; `None` means an equal split), as
/// `scipy.stats.chisquare(observed, total·weights)`.
///
/// `Ok(None)` when there are fewer than two groups or no users.
///
/// # Errors
/// When `weights` has the wrong length or a non-positive or non-finite entry.
pub fn sample_ratio_mismatch(
    observed: &[u64],
    weights: Option<&[f64]>,
) -> Result<Option<ChiSquareTest>, StatsError> {
    let groups = observed.len();
    let weights: Vec<f64> = match weights {
        Some(weights) => {
            if weights.len() != groups {
                return Err(StatsError::InvalidParameter {
                    name: "expected_split",
                    reason: format!("{} weights for {groups} variations", weights.len()),
                });
            }
            if weights
                .iter()
                .any(|weight| !(weight.is_finite() && *weight > 0.0))
            {
                return Err(StatsError::InvalidParameter {
                    name: "expected_split",
                    reason: "weights must be positive and finite".to_owned(),
                });
            }
            weights.to_vec()
        }
        None => vec![1.0; groups],
    };
    let total: u64 = observed.iter().sum();
    if groups < 2 || total == 0 {
        return Ok(None);
    }
    let weight_sum: f64 = weights.iter().sum();
    let mut statistic = 0.0;
    for (count, weight) in observed.iter().zip(&weights) {
        let expected = total as f64 * weight / weight_sum;
        let deviation = *count as f64 - expected;
        statistic += deviation * deviation / expected;
    }
    let df = (groups - 1) as f64;
    let Some(p) = chi_square_sf(statistic, df) else {
        return Ok(None);
    };
    Ok(finite(statistic).map(|statistic| ChiSquareTest { statistic, df, p }))
}
