//! I/O-free statistics for allele: experiment readouts, intervals,
//! sequential tests, sample-ratio checks, multiple testing, power, CUPED,
//! holdout incrementality and multi-touch attribution.
//!
//! Nothing here reads a clock, a file or the network; every function maps
//! numbers to numbers, so the server, the CLI and tests call the same code.
//!
//! # Map
//!
//! | module | holds |
//! |---|---|
//! | [`readout`] | [`experiment_readout`]: the JSON readout of DESIGN.md §7 from per-user records |
//! | [`proportions`] | pooled two-proportion z-test; Wilson, Newcombe and log-ratio intervals |
//! | [`means`] | Welford moments; Welch's t-test with Satterthwaite df; delta-method ratio interval |
//! | [`bayes`] | Beta-Binomial P(better) and expected loss |
//! | [`sequential`] | mSPRT always-valid p-value and confidence sequence |
//! | [`srm`] | sample-ratio mismatch (chi-square goodness of fit) |
//! | [`multiple`] | Benjamini–Hochberg |
//! | [`power`] | power and sample size |
//! | [`cuped`] | CUPED variance reduction with a pre-period covariate |
//! | [`holdout`] | incremental conversions, revenue and ROI against a holdout |
//! | [`attribution`] | last, first, linear, time-decay, Markov and Shapley attribution |
//! | [`dist`] | normal, t and chi-square tails and quantiles |
//!
//! # Numbers that reach JSON
//!
//! Output structs hold `Option<f64>` wherever a statistic can be undefined
//! and every `Some` is finite, so serializing never produces NaN or infinity
//! (serde_json would write `null` for them anyway, silently). p-values come
//! from survival functions, never `1 − cdf`, so a p of 1e-112 stays 1e-112.
//!
//! # Example
//!
//! ```
//! use allele_stats::{ReadoutInput, ReadoutOptions, UserRecord, VariationRecords, experiment_readout};
//!
//! let users = |n: usize, conversions: usize| -> Vec<UserRecord> {
//!     (0..n)
//!         .map(|i| UserRecord { converted: i < conversions, value: 0.0, covariate: None })
//!         .collect()
//! };
//! let input = ReadoutInput {
//!     experiment_id: "checkout".into(),
//!     metric: "Order Completed".into(),
//!     value: None,
//!     control: "a".into(),
//!     variations: vec![
//!         VariationRecords { variation_id: "a".into(), users: users(1000, 100) },
//!         VariationRecords { variation_id: "b".into(), users: users(1000, 130) },
//!     ],
//! };
//! let readout = experiment_readout(&input, &ReadoutOptions::default())?;
//! let comparison = &readout.comparisons[0];
//! assert!((comparison.lift_abs.unwrap_or_default() - 0.03).abs() < 1e-12);
//! assert!(comparison.p.is_some_and(|p| p < 0.05));
//! assert!(readout.variations[0].value_mean.is_none());
//! # Ok::<(), allele_stats::StatsError>(())
//! ```

// `!(x > 0.0)` is how this crate says "not a positive number, NaN
// included"; rewriting it as `x <= 0.0` would let NaN through
#![allow(
    clippy::neg_cmp_op_on_partial_ord,
    clippy::nonminimal_bool,
    reason = "NaN-rejecting guards are written as negated comparisons on purpose"
)]

pub mod attribution;
pub mod bayes;
pub mod cuped;
pub mod dist;
mod error;
pub mod holdout;
pub mod means;
pub mod multiple;
pub mod ope;
pub mod power;
pub mod proportions;
pub mod readout;
pub mod records;
pub mod sequential;
mod special;
pub mod srm;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use attribution::{
    Attribution, AttributionModel, AttributionOptions, ChannelCredit, Touch, UserPath, attribute,
};
pub use bayes::{expected_loss, probability_better};
pub use error::StatsError;
pub use holdout::{HoldoutGroup, HoldoutLift, holdout_lift};
pub use means::{Moments, WelchTest, welch_test};
pub use multiple::benjamini_hochberg;
pub use proportions::{Interval, Proportion, ZTest};
pub use readout::{
    Comparison, ExperimentReadout, ReadoutInput, ReadoutOptions, VariationSummary,
    experiment_readout,
};
pub use records::{UserRecord, VariationRecords};
pub use sequential::{MsprtConfig, Sequential};
pub use special::ln_beta;
