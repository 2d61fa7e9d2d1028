//! CUPED (Deng et al., 2013): variance reduction with a pre-period covariate.
//!
//! Each user's metric `Y` is replaced by `Y − θ(X − X̄)` where `X` is the same
//! metric before exposure and `θ = Cov(X, Y)/Var(X)` over all users of all
//! variations. Randomization makes `X` independent of assignment, so the
//! adjusted means estimate the same differences with variance shrunk by the
//! squared correlation. Users without a covariate get `X̄` (the mean of the
//! observed covariates): their adjustment is 0 and the estimate stays unbiased.
//!
//! Moments are accumulated per variation and adjusted algebraically
//! (`M2_adj = M2_Y − 2θ·C_XY + θ²·M2_X`), so no adjusted copy of the data is
//! made.

use serde::{Deserialize, Serialize};

use crate::dist::finite;
use crate::means::{Moments, relative_difference_interval, welch_interval, welch_test};
use crate::proportions::Interval;
use crate::records::VariationRecords;

/// Running co-moments of `(X, Y)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct CoMoments {
    n: u64,
    mean_x: f64,
    mean_y: f64,
    m2_x: f64,
    m2_y: f64,
    c_xy: f64,
}

impl CoMoments {
    fn push(&mut self, x: f64, y: f64) {
        self.n += 1;
        let n = self.n as f64;
        let delta_x = x - self.mean_x;
        let delta_y = y - self.mean_y;
        self.mean_x += delta_x / n;
        self.mean_y += delta_y / n;
        self.m2_x += delta_x * (x - self.mean_x);
        self.m2_y += delta_y * (y - self.mean_y);
        self.c_xy += delta_x * (y - self.mean_y);
    }

    fn merge(&self, other: &Self) -> Self {
        if self.n == 0 {
            return *other;
        }
        if other.n == 0 {
            return *self;
        }
        let n = self.n + other.n;
        let weight = self.n as f64 * other.n as f64 / n as f64;
        let delta_x = other.mean_x - self.mean_x;
        let delta_y = other.mean_y - self.mean_y;
        let share_other = other.n as f64 / n as f64;
        Self {
            n,
            mean_x: self.mean_x + delta_x * share_other,
            mean_y: self.mean_y + delta_y * share_other,
            m2_x: self.m2_x + other.m2_x + delta_x * delta_x * weight,
            m2_y: self.m2_y + other.m2_y + delta_y * delta_y * weight,
            c_xy: self.c_xy + other.c_xy + delta_x * delta_y * weight,
        }
    }
}

/// Which per-user metric was adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CupedMetric {
    /// The summed value (when the readout has a value metric).
    Value,
    /// The 0/1 conversion indicator.
    Conversion,
}

/// Adjusted mean of one variation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CupedVariation {
    pub variation_id: String,
    pub n: u64,
    pub mean: Option<f64>,
    pub mean_adjusted: Option<f64>,
}

/// Adjusted comparison of one treatment against the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CupedComparison {
    pub variation_id: String,
    pub lift_abs: Option<f64>,
    pub lift_abs_ci: Option<Interval>,
    pub lift_rel: Option<f64>,
    pub lift_rel_ci: Option<Interval>,
    pub welch_t: Option<f64>,
    pub welch_df: Option<f64>,
    pub welch_p: Option<f64>,
}

/// The `cuped` section of a readout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cuped {
    pub metric: CupedMetric,
    pub theta: f64,
    /// `1 − Var(Y_adj)/Var(Y)` over all users.
    pub variance_reduction: f64,
    /// Share of users that had a covariate.
    pub covariate_coverage: f64,
    pub variations: Vec<CupedVariation>,
    pub comparisons: Vec<CupedComparison>,
}

/// CUPED over `variations` against the variation at `control_index`.
///
/// `None` when no user has a covariate or the covariate does not vary.
#[must_use]
pub fn cuped(
    variations: &[VariationRecords],
    control_index: usize,
    metric: CupedMetric,
    alpha: f64,
) -> Option<Cuped> {
    let metric_of = |converted: bool, value: f64| match metric {
        CupedMetric::Value => value,
        CupedMetric::Conversion => f64::from(u8::from(converted)),
    };
    let mut observed = Moments::default();
    let mut total_users = 0_u64;
    for variation in variations {
        total_users += variation.users.len() as u64;
        for covariate in variation.users.iter().filter_map(|user| user.covariate) {
            observed.push(covariate);
        }
    }
    if observed.n == 0 {
        return None;
    }
    let imputed = observed.mean;
    let per_variation: Vec<CoMoments> = variations
        .iter()
        .map(|variation| {
            let mut moments = CoMoments::default();
            for user in &variation.users {
                let x = user.covariate.unwrap_or(imputed);
                moments.push(x, metric_of(user.converted, user.value));
            }
            moments
        })
        .collect();
    let pooled = per_variation
        .iter()
        .fold(CoMoments::default(), |total, moments| total.merge(moments));
    if !(pooled.m2_x > 0.0) {
        return None;
    }
    let theta = finite(pooled.c_xy / pooled.m2_x)?;
    let variance_reduction = if pooled.m2_y > 0.0 {
        (pooled.c_xy * pooled.c_xy / (pooled.m2_x * pooled.m2_y)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let adjusted: Vec<Moments> = per_variation
        .iter()
        .map(|moments| Moments {
            n: moments.n,
            mean: adjusted_mean(moments, theta, pooled.mean_x),
            m2: (moments.m2_y - 2.0 * theta * moments.c_xy + theta * theta * moments.m2_x).max(0.0),
        })
        .collect();
    let control = adjusted.get(control_index)?;
    let mut summaries = Vec::with_capacity(variations.len());
    let mut comparisons = Vec::new();
    let rows = variations.iter().zip(&per_variation).zip(&adjusted);
    for (index, ((variation, raw), adjusted_moments)) in rows.enumerate() {
        let has_users = raw.n > 0;
        summaries.push(CupedVariation {
            variation_id: variation.variation_id.clone(),
            n: raw.n,
            mean: has_users.then_some(raw.mean_y).and_then(finite),
            mean_adjusted: has_users.then_some(adjusted_moments.mean).and_then(finite),
        });
        if index == control_index {
            continue;
        }
        comparisons.push(compare(
            &variation.variation_id,
            adjusted_moments,
            control,
            alpha,
        ));
    }
    Some(Cuped {
        metric,
        theta,
        variance_reduction,
        covariate_coverage: observed.n as f64 / total_users.max(1) as f64,
        variations: summaries,
        comparisons,
    })
}

fn compare(
    variation_id: &str,
    treatment: &Moments,
    control: &Moments,
    alpha: f64,
) -> CupedComparison {
    let both_have_users = treatment.n > 0 && control.n > 0;
    let lift_abs = both_have_users
        .then_some(treatment.mean - control.mean)
        .and_then(finite);
    let lift_rel = (both_have_users && control.mean != 0.0)
        .then(|| treatment.mean / control.mean - 1.0)
        .and_then(finite);
    let welch = welch_test(treatment, control);
    CupedComparison {
        variation_id: variation_id.to_owned(),
        lift_abs,
        lift_abs_ci: welch_interval(treatment, control, alpha),
        lift_rel,
        lift_rel_ci: relative_difference_interval(treatment, control, alpha),
        welch_t: welch.map(|test| test.t),
        welch_df: welch.and_then(|test| test.df),
        welch_p: welch.map(|test| test.p),
    }
}

/// `mean_Y − θ(mean_X − X̄)`, snapped to exactly 0 when it is 0 up to
/// rounding: `mean_X − X̄` cancels (a lone user with an imputed covariate
/// has `mean_X = X̄`), and a relative lift over a rounding residue of 1e-16
/// would be a meaningless 1e16.
fn adjusted_mean(moments: &CoMoments, theta: f64, covariate_mean: f64) -> f64 {
    let mean = moments.mean_y - theta * (moments.mean_x - covariate_mean);
    let scale = moments.mean_y.abs() + theta.abs() * (moments.mean_x.abs() + covariate_mean.abs());
    if mean.abs() <= 1e-12 * scale {
        0.0
    } else {
        mean
    }
}
