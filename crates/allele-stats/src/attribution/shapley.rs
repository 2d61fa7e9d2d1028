//! Shapley-value attribution.
//!
//! The coalition game is the one of Zhao et al. ("Shapley value methods for
//! attribution modeling in online advertising", 2018): `v(S)` is the number
//! (or value) of conversions whose in-window channels all lie in `S`. That
//! game is a sum of unanimity games, one per converting path, so its Shapley
//! value is exact in closed form: each converting path gives `1/|T|` to each
//! of its `|T|` distinct channels. The closed form has no channel limit;
//! [`shapley_values`] enumerates coalitions for any other game (exact up to
//! [`MAX_EXACT_PLAYERS`]) and the tests check the two agree.

use super::PreparedPath;
use crate::error::StatsError;

/// Largest game [`shapley_values`] enumerates (2ⁿ coalitions).
pub const MAX_EXACT_PLAYERS: usize = 16;

pub(crate) struct Shares {
    pub conversions: Vec<f64>,
    pub value: Vec<f64>,
}

/// Closed-form Shapley credit of the path game.
pub(crate) fn path_shapley(channels: usize, paths: &[PreparedPath]) -> Shares {
    let mut shares = Shares {
        conversions: vec![0.0; channels],
        value: vec![0.0; channels],
    };
    let mut distinct: Vec<usize> = Vec::new();
    for path in paths.iter().filter(|path| path.converted) {
        distinct.clear();
        distinct.extend_from_slice(&path.channels);
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.is_empty() {
            continue;
        }
        let share = 1.0 / distinct.len() as f64;
        for &channel in &distinct {
            shares.conversions[channel] += share;
            shares.value[channel] += path.value * share;
        }
    }
    shares
}

/// Exact Shapley values of a `players`-player game whose characteristic
/// function `worth` takes a coalition as a bit mask (bit i = player i).
///
/// `φᵢ = Σ_{S ∌ i} |S|!(n−|S|−1)!/n! · (v(S ∪ {i}) − v(S))`.
///
/// # Errors
/// [`StatsError::TooManyPlayers`] above [`MAX_EXACT_PLAYERS`].
pub fn shapley_values(players: usize, worth: impl Fn(u32) -> f64) -> Result<Vec<f64>, StatsError> {
    if players > MAX_EXACT_PLAYERS {
        return Err(StatsError::TooManyPlayers {
            players,
            max: MAX_EXACT_PLAYERS,
        });
    }
    let coalitions = 1_u32 << players;
    let worths: Vec<f64> = (0..coalitions).map(&worth).collect();
    // weight by coalition size: |S|!(n−|S|−1)!/n!, built without factorials
    // overflowing (n ≤ 16 keeps every product exact in f64 anyway)
    let factorial = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
    let total = factorial(players);
    let weights: Vec<f64> = (0..players)
        .map(|size| factorial(size) * factorial(players - size - 1) / total)
        .collect();
    let mut values = vec![0.0; players];
    for (player, value) in values.iter_mut().enumerate() {
        let bit = 1_u32 << player;
        for coalition in (0..coalitions).filter(|coalition| coalition & bit == 0) {
            let size = coalition.count_ones() as usize;
            let gain = worths[(coalition | bit) as usize] - worths[coalition as usize];
            *value += weights[size] * gain;
        }
    }
    Ok(values)
}
