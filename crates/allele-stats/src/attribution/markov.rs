//! Markov-chain attribution by removal effect (Anderl et al., 2016).
//!
//! Paths become a first-order chain `start → c₁ → … → c_m → conversion|null`
//! with transition probabilities estimated from counts. A channel's removal
//! effect is the relative drop in the probability of reaching `conversion`
//! from `start` when every transition into that channel goes to `null`
//! instead; conversions are shared in proportion to removal effects.
//!
//! Absorption probabilities come from solving `(I − Q)x = r` exactly by
//! Gaussian elimination (one solve per channel plus one), so the cost is
//! O(k⁴) in the number of channels: fine for the tens of channels a
//! marketing team has.

use super::PreparedPath;

/// Transition counts of the chain.
struct Chain {
    /// `from_start[j]`: paths starting at channel j.
    from_start: Vec<f64>,
    /// `between[i][j]`: transitions i → j.
    between: Vec<Vec<f64>>,
    to_conversion: Vec<f64>,
    to_null: Vec<f64>,
}

impl Chain {
    fn from_paths(channels: usize, paths: &[PreparedPath]) -> Self {
        let mut chain = Self {
            from_start: vec![0.0; channels],
            between: vec![vec![0.0; channels]; channels],
            to_conversion: vec![0.0; channels],
            to_null: vec![0.0; channels],
        };
        for path in paths {
            let (Some(&first), Some(&last)) = (path.channels.first(), path.channels.last()) else {
                continue;
            };
            chain.from_start[first] += 1.0;
            for pair in path.channels.windows(2) {
                if let [from, to] = *pair {
                    chain.between[from][to] += 1.0;
                }
            }
            if path.converted {
                chain.to_conversion[last] += 1.0;
            } else {
                chain.to_null[last] += 1.0;
            }
        }
        chain
    }

    /// Probability of reaching conversion from start, with channel
    /// `removed` (if any) sending everything to null.
    fn conversion_probability(&self, removed: Option<usize>) -> f64 {
        let channels = self.from_start.len();
        // matrix (I − Q) with right-hand side r, rows per channel
        let mut matrix = vec![vec![0.0; channels + 1]; channels];
        for (state, row) in matrix.iter_mut().enumerate() {
            row[state] = 1.0;
            if removed == Some(state) {
                continue;
            }
            let outgoing: f64 = self.between[state].iter().sum::<f64>()
                + self.to_conversion[state]
                + self.to_null[state];
            if !(outgoing > 0.0) {
                continue;
            }
            for (next, count) in self.between[state].iter().enumerate() {
                row[next] -= count / outgoing;
            }
            row[channels] = self.to_conversion[state] / outgoing;
        }
        let Some(absorption) = solve(matrix) else {
            return 0.0;
        };
        let starts: f64 = self.from_start.iter().sum();
        if !(starts > 0.0) {
            return 0.0;
        }
        self.from_start
            .iter()
            .zip(&absorption)
            .map(|(count, probability)| count / starts * probability)
            .sum()
    }
}

/// Solve an augmented system `[A | b]` by Gaussian elimination with partial
/// pivoting; `None` if singular.
fn solve(mut matrix: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let size = matrix.len();
    for column in 0..size {
        let pivot = (column..size).max_by(|&left, &right| {
            matrix[left][column]
                .abs()
                .total_cmp(&matrix[right][column].abs())
        })?;
        if !(matrix[pivot][column].abs() > 1e-300) {
            return None;
        }
        matrix.swap(column, pivot);
        let pivot_row = matrix[column].clone();
        for row in matrix.iter_mut().skip(column + 1) {
            let factor = row[column] / pivot_row[column];
            if factor == 0.0 {
                continue;
            }
            for (cell, pivot_cell) in row.iter_mut().zip(&pivot_row).skip(column) {
                *cell -= factor * pivot_cell;
            }
        }
    }
    let mut solution = vec![0.0; size];
    for row in (0..size).rev() {
        let mut value = matrix[row][size];
        for column in row + 1..size {
            value -= matrix[row][column] * solution[column];
        }
        solution[row] = value / matrix[row][row];
    }
    Some(solution)
}

/// Removal effect of each channel, in `[0, 1]`.
///
/// Removing a state can only cut paths to conversion, so effects are
/// non-negative in exact arithmetic; rounding noise below 0 is clamped.
pub(crate) fn removal_effects(channels: usize, paths: &[PreparedPath]) -> Vec<f64> {
    let chain = Chain::from_paths(channels, paths);
    let base = chain.conversion_probability(None);
    (0..channels)
        .map(|channel| {
            if !(base > 0.0) {
                return 0.0;
            }
            let without = chain.conversion_probability(Some(channel));
            (1.0 - without / base).clamp(0.0, 1.0)
        })
        .collect()
}
