//! The one error type of the crate.

/// Why a statistic could not be computed from the given input.
///
/// Degenerate data (zero conversions, a single user, zero variance) is not an
/// error: those statistics come back as `None` (JSON `null`). Errors are for
/// input that no statistic can be built from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// The control variation id is not among the variations.
    #[error("unknown control variation `{control}`{}", did_you_mean(suggestion.as_deref()))]
    UnknownControl {
        control: String,
        suggestion: Option<String>,
    },
    /// Two variations share an id.
    #[error("duplicate variation `{0}`")]
    DuplicateVariation(String),
    /// A per-user number is NaN or infinite.
    #[error("non-finite {field} for user {index} of `{group}`")]
    NonFinite {
        field: &'static str,
        group: String,
        index: usize,
    },
    /// A parameter is outside its domain.
    #[error("invalid `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    /// Too many players for an exact Shapley enumeration.
    #[error("exact shapley values need at most {max} players, got {players}")]
    TooManyPlayers { players: usize, max: usize },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(name) => format!(" (did you mean `{name}`?)"),
        None => String::new(),
    }
}

/// The candidate closest to `wanted` by edit distance, when it is close
/// enough to be a plausible typo.
pub(crate) fn closest<'a>(
    wanted: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = edit_distance(wanted, candidate);
        if best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, candidate));
        }
    }
    let (distance, name) = best?;
    // a third of the name may differ; beyond that the hint is noise
    let limit = wanted.chars().count().max(name.chars().count()).div_ceil(3);
    (distance <= limit).then(|| name.to_owned())
}

fn edit_distance(left: &str, right: &str) -> usize {
    let right_chars: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right_chars.len()).collect();
    let mut current = vec![0; right_chars.len() + 1];
    for (i, left_char) in left.chars().enumerate() {
        current[0] = i + 1;
        for (j, right_char) in right_chars.iter().enumerate() {
            let substitution = previous[j] + usize::from(left_char != *right_char);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current[j + 1] = substitution.min(deletion).min(insertion);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[right_chars.len()]
}
