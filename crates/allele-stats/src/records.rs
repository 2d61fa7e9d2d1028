//! Per-user input records and their one-pass summaries.

use serde::{Deserialize, Serialize};

use crate::error::StatsError;
use crate::means::Moments;
use crate::proportions::Proportion;

/// One distinct exposed user of a variation (or of a holdout group).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// Whether the user converted after first exposure.
    pub converted: bool,
    /// The user's summed value after first exposure; 0 for users without one.
    #[serde(default)]
    pub value: f64,
    /// The same metric measured before exposure, for CUPED.
    #[serde(default)]
    pub covariate: Option<f64>,
}

/// All exposed users of one variation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariationRecords {
    pub variation_id: String,
    pub users: Vec<UserRecord>,
}

/// Counts and value moments of one group of users.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupSummary {
    pub conversions: u64,
    pub value_sum: f64,
    pub values: Moments,
}

impl GroupSummary {
    /// Summarize `users`, rejecting NaN or infinite numbers (they would
    /// poison every statistic of the group).
    ///
    /// # Errors
    /// [`StatsError::NonFinite`] naming the first offending user.
    pub fn from_users(group: &str, users: &[UserRecord]) -> Result<Self, StatsError> {
        let mut summary = Self::default();
        for (index, user) in users.iter().enumerate() {
            if !user.value.is_finite() {
                return Err(non_finite("value", group, index));
            }
            if user
                .covariate
                .is_some_and(|covariate| !covariate.is_finite())
            {
                return Err(non_finite("covariate", group, index));
            }
            summary.conversions += u64::from(user.converted);
            summary.value_sum += user.value;
            summary.values.push(user.value);
        }
        Ok(summary)
    }

    /// Number of users.
    #[must_use]
    pub fn n(&self) -> u64 {
        self.values.n
    }

    /// Conversions out of users.
    #[must_use]
    pub fn proportion(&self) -> Proportion {
        Proportion::new(self.conversions, self.values.n)
    }
}

fn non_finite(field: &'static str, group: &str, index: usize) -> StatsError {
    StatsError::NonFinite {
        field,
        group: group.to_owned(),
        index,
    }
}
