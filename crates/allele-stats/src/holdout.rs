//! Incrementality against a holdout: what marketing added over customers who
//! were held out of it, and whether that paid for itself.
//!
//! Per-user rates and means are compared (treated − holdout) and scaled by
//! the treated population: incremental conversions = lift in rate × treated
//! users (Newcombe interval), incremental revenue = lift in revenue per user ×
//! treated users (Welch interval), `roi = (incremental revenue − cost)/cost`.
//! Cost is a known constant, so the ROI interval is the revenue interval
//! mapped through the same formula.

use serde::{Deserialize, Serialize};

use crate::dist::finite;
use crate::error::StatsError;
use crate::means::{welch_interval, welch_test};
use crate::proportions::{Interval, newcombe_difference_interval, two_proportion_ztest};
use crate::records::{GroupSummary, UserRecord};

/// Totals of one side of the holdout comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HoldoutGroup {
    pub n: u64,
    pub conversions: u64,
    pub rate: Option<f64>,
    pub revenue_sum: Option<f64>,
    pub revenue_mean: Option<f64>,
}

/// Incremental conversions, revenue and ROI with intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HoldoutLift {
    pub treated: HoldoutGroup,
    pub holdout: HoldoutGroup,
    /// Treated rate − holdout rate.
    pub lift_abs: Option<f64>,
    pub lift_abs_ci: Option<Interval>,
    pub z: Option<f64>,
    pub p: Option<f64>,
    pub incremental_conversions: Option<f64>,
    pub incremental_conversions_ci: Option<Interval>,
    pub incremental_revenue: Option<f64>,
    pub incremental_revenue_ci: Option<Interval>,
    pub welch_t: Option<f64>,
    pub welch_df: Option<f64>,
    pub welch_p: Option<f64>,
    pub cost: f64,
    /// `null` when `cost` is 0.
    pub roi: Option<f64>,
    pub roi_ci: Option<Interval>,
}

/// Compare `treated` users against `holdout` users, each record carrying the
/// user's summed revenue as `value`; `cost` is what the treatment cost.
///
/// # Errors
/// A negative or non-finite cost, an `alpha` outside (0, 1), or a non-finite
/// revenue.
pub fn holdout_lift(
    treated: &[UserRecord],
    holdout: &[UserRecord],
    cost: f64,
    alpha: f64,
) -> Result<HoldoutLift, StatsError> {
    if !(cost.is_finite() && cost >= 0.0) {
        return Err(StatsError::InvalidParameter {
            name: "cost",
            reason: "must be finite and non-negative".to_owned(),
        });
    }
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(StatsError::InvalidParameter {
            name: "alpha",
            reason: "must be in (0, 1)".to_owned(),
        });
    }
    let treated_summary = GroupSummary::from_users("treated", treated)?;
    let holdout_summary = GroupSummary::from_users("holdout", holdout)?;
    let treated_users = treated_summary.n() as f64;
    let treated_proportion = treated_summary.proportion();
    let holdout_proportion = holdout_summary.proportion();
    let lift_abs = treated_proportion
        .rate()
        .zip(holdout_proportion.rate())
        .map(|(treated_rate, holdout_rate)| treated_rate - holdout_rate);
    let lift_abs_ci = newcombe_difference_interval(treated_proportion, holdout_proportion, alpha);
    let z_test = two_proportion_ztest(treated_proportion, holdout_proportion);
    let both_have_users = treated_summary.n() > 0 && holdout_summary.n() > 0;
    let revenue_lift =
        both_have_users.then_some(treated_summary.values.mean - holdout_summary.values.mean);
    let revenue_ci = welch_interval(&treated_summary.values, &holdout_summary.values, alpha);
    let welch = welch_test(&treated_summary.values, &holdout_summary.values);
    let scale = |interval: Interval| [interval[0] * treated_users, interval[1] * treated_users];
    let incremental_revenue = revenue_lift
        .map(|lift| lift * treated_users)
        .and_then(finite);
    let incremental_revenue_ci = revenue_ci.map(scale).and_then(finite_interval);
    let roi_of = |revenue: f64| (revenue - cost) / cost;
    let has_cost = cost > 0.0;
    Ok(HoldoutLift {
        treated: group(&treated_summary),
        holdout: group(&holdout_summary),
        lift_abs: lift_abs.and_then(finite),
        lift_abs_ci,
        z: z_test.map(|test| test.z),
        p: z_test.map(|test| test.p),
        incremental_conversions: lift_abs.map(|lift| lift * treated_users).and_then(finite),
        incremental_conversions_ci: lift_abs_ci.map(scale).and_then(finite_interval),
        incremental_revenue,
        incremental_revenue_ci,
        welch_t: welch.map(|test| test.t),
        welch_df: welch.and_then(|test| test.df),
        welch_p: welch.map(|test| test.p),
        cost,
        roi: incremental_revenue
            .filter(|_| has_cost)
            .map(roi_of)
            .and_then(finite),
        roi_ci: incremental_revenue_ci
            .filter(|_| has_cost)
            .map(|[low, high]| [roi_of(low), roi_of(high)])
            .and_then(finite_interval),
    })
}

fn finite_interval(interval: Interval) -> Option<Interval> {
    Some([finite(interval[0])?, finite(interval[1])?])
}

fn group(summary: &GroupSummary) -> HoldoutGroup {
    let has_users = summary.n() > 0;
    HoldoutGroup {
        n: summary.n(),
        conversions: summary.conversions,
        rate: summary.proportion().rate(),
        revenue_sum: finite(summary.value_sum),
        revenue_mean: has_users
            .then(|| summary.value_sum / summary.n() as f64)
            .and_then(finite),
    }
}
