//! Benjamini–Hochberg control of the false discovery rate over many metrics.

use crate::error::StatsError;

/// Benjamini–Hochberg adjusted p-values (q-values), in input order, as
/// `statsmodels.stats.multitest.multipletests(p, method="fdr_bh")[1]`:
/// `q₍ᵢ₎ = min_{j ≥ i} p₍ⱼ₎·m/j`, capped at 1.
///
/// # Errors
/// When a p-value is outside [0, 1] or NaN.
pub fn benjamini_hochberg(p_values: &[f64]) -> Result<Vec<f64>, StatsError> {
    if let Some(index) = p_values.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(StatsError::InvalidParameter {
            name: "p_values",
            reason: format!("p-value {index} is not in [0, 1]"),
        });
    }
    let count = p_values.len();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|&left, &right| p_values[left].total_cmp(&p_values[right]));
    let mut adjusted = vec![0.0; count];
    let mut running_min: f64 = 1.0;
    // walk from the largest p down so each q is the minimum over j ≥ i
    for (rank_zero_based, &index) in order.iter().enumerate().rev() {
        let rank = (rank_zero_based + 1) as f64;
        running_min = running_min.min(p_values[index] * count as f64 / rank);
        // p·m/m can round below p; a q-value is never below its p-value
        adjusted[index] = running_min.max(p_values[index]);
    }
    Ok(adjusted)
}

/// Which hypotheses Benjamini–Hochberg rejects at false discovery rate `q`.
///
/// # Errors
/// As [`benjamini_hochberg`].
pub fn benjamini_hochberg_reject(p_values: &[f64], q: f64) -> Result<Vec<bool>, StatsError> {
    Ok(benjamini_hochberg(p_values)?
        .into_iter()
        .map(|adjusted| adjusted <= q)
        .collect())
}
