//! Selection among the candidates that passed every gate, with the exact
//! (or, for Thompson sampling, estimated) probability of each pick.
//!
//! With `limit` > 1 the selection repeats without replacement; the
//! probability reported for a pick is the chance that this slot picked it,
//! given the picks before it. The pmf over all candidates is for the first
//! slot (what off-policy evaluation of single-action decisions needs).
//!
//! - `top`: highest score (ties: earlier in the bundle), probability 1.
//! - `epsilon`: one uniform draw `u`; if `u < ε` a uniform pick among the k
//!   remaining candidates, else the top one. P(a) = ε/k + (1−ε)·[a is top].
//! - `thompson`: each candidate with a Beta model draws its propensity from
//!   Beta(prior + successes, prior + failures) (others keep their
//!   expression's propensity); the highest sampled score wins. The pmf is
//!   estimated by Monte Carlo: the frequency with which each candidate wins
//!   over [`THOMPSON_DRAWS`] draws from the same seeded generator, the first
//!   draw being the one that made the selection (so the chosen action's
//!   probability is never 0).

use crate::bundle::Selection;
use crate::rng::Rng;

/// Monte Carlo draws for the Thompson pmf.
pub const THOMPSON_DRAWS: usize = 1_000;

#[derive(Debug, Clone)]
pub struct Candidate {
    /// Position in the bundle (tie-break: lower wins).
    pub order: usize,
    pub score: f64,
    /// C × V × L: the score is propensity × weight.
    pub weight: f64,
    /// The propensity's posterior when it comes from a learning model.
    pub posterior: Option<Posterior>,
    pub propensity: f64,
}

/// What Thompson selection draws a candidate's propensity from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Posterior {
    /// Beta-Bernoulli `[a, b]`.
    Beta([f64; 2]),
    /// The linear model's predictive normal, clamped to `[0, 1]`.
    Normal { mean: f64, sd: f64 },
}

impl Posterior {
    fn draw(self, rng: &mut Rng) -> f64 {
        match self {
            Posterior::Beta([a, b]) => rng.beta(a, b),
            Posterior::Normal { mean, sd } => (mean + sd * rng.normal()).clamp(0.0, 1.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickReason {
    Top,
    Explore,
    Sampled,
}

#[derive(Debug, Clone)]
pub struct Pick {
    /// Index into the candidate slice.
    pub candidate: usize,
    pub probability: f64,
    pub reason: PickReason,
    /// How many candidates this slot chose among.
    pub among: usize,
}

#[derive(Debug, Clone)]
pub struct Selected {
    pub picks: Vec<Pick>,
    /// First-slot probability of every candidate, same order as the input.
    pub pmf: Vec<f64>,
}

/// Index of the best of `remaining` under `score`, ties to the lower order.
fn best(
    candidates: &[Candidate],
    remaining: &[usize],
    score: impl Fn(usize) -> f64,
) -> Option<usize> {
    let mut best: Option<(usize, f64, usize)> = None;
    for &index in remaining {
        let Some(candidate) = candidates.get(index) else {
            continue;
        };
        let value = score(index);
        let better = match best {
            None => true,
            Some((_, best_value, best_order)) => {
                value > best_value || (value == best_value && candidate.order < best_order)
            }
        };
        if better {
            best = Some((index, value, candidate.order));
        }
    }
    best.map(|(index, _, _)| index)
}

pub fn select(
    selection: Selection,
    epsilon: f64,
    candidates: &[Candidate],
    limit: usize,
    rng: &mut Rng,
) -> Selected {
    let mut pmf = vec![0.0; candidates.len()];
    let mut picks = Vec::new();
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    let slots = limit.min(candidates.len());
    let score_of = |index: usize| candidates.get(index).map_or(f64::NEG_INFINITY, |c| c.score);
    match selection {
        Selection::Top => {
            for slot in 0..slots {
                let Some(top) = best(candidates, &remaining, score_of) else {
                    break;
                };
                if slot == 0
                    && let Some(p) = pmf.get_mut(top)
                {
                    *p = 1.0;
                }
                picks.push(Pick {
                    candidate: top,
                    probability: 1.0,
                    reason: PickReason::Top,
                    among: remaining.len(),
                });
                remaining.retain(|&i| i != top);
            }
        }
        Selection::Epsilon => {
            let epsilon = epsilon.clamp(0.0, 1.0);
            for slot in 0..slots {
                let Some(top) = best(candidates, &remaining, score_of) else {
                    break;
                };
                let k = remaining.len();
                let share = epsilon / k as f64;
                if slot == 0 {
                    for &index in &remaining {
                        if let Some(p) = pmf.get_mut(index) {
                            *p = share + if index == top { 1.0 - epsilon } else { 0.0 };
                        }
                    }
                }
                let explore = rng.next_f64() < epsilon;
                let chosen = if explore {
                    remaining.get(rng.below(k)).copied().unwrap_or(top)
                } else {
                    top
                };
                let probability = share + if chosen == top { 1.0 - epsilon } else { 0.0 };
                picks.push(Pick {
                    candidate: chosen,
                    probability,
                    reason: if explore {
                        PickReason::Explore
                    } else {
                        PickReason::Top
                    },
                    among: k,
                });
                remaining.retain(|&i| i != chosen);
            }
        }
        Selection::Thompson => thompson(candidates, slots, rng, &mut picks, &mut pmf),
    }
    Selected { picks, pmf }
}

fn sample_scores(candidates: &[Candidate], rng: &mut Rng, out: &mut [f64]) {
    for (candidate, slot) in candidates.iter().zip(out.iter_mut()) {
        let propensity = match candidate.posterior {
            Some(posterior) => posterior.draw(rng),
            None => candidate.propensity,
        };
        *slot = propensity * candidate.weight;
    }
}

fn thompson(
    candidates: &[Candidate],
    slots: usize,
    rng: &mut Rng,
    picks: &mut Vec<Pick>,
    pmf: &mut [f64],
) {
    if slots == 0 {
        return;
    }
    let mut scores = vec![0.0; candidates.len()];
    sample_scores(candidates, rng, &mut scores);
    // The first draw ranks the picks.
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    let mut chosen = Vec::with_capacity(slots);
    for _ in 0..slots {
        let Some(top) = best(candidates, &remaining, |i| {
            scores.get(i).copied().unwrap_or(f64::NEG_INFINITY)
        }) else {
            break;
        };
        chosen.push((top, remaining.clone()));
        remaining.retain(|&i| i != top);
    }
    // Every draw (the first included) votes for each slot's winner among
    // that slot's remaining candidates.
    let mut wins = vec![0usize; chosen.len()];
    let mut first_slot = vec![0usize; candidates.len()];
    for draw in 0..THOMPSON_DRAWS {
        if draw > 0 {
            sample_scores(candidates, rng, &mut scores);
        }
        for (slot, (pick, pool)) in chosen.iter().enumerate() {
            let winner = best(candidates, pool, |i| {
                scores.get(i).copied().unwrap_or(f64::NEG_INFINITY)
            });
            if slot == 0
                && let Some(count) = winner.and_then(|w| first_slot.get_mut(w))
            {
                *count += 1;
            }
            if winner == Some(*pick)
                && let Some(count) = wins.get_mut(slot)
            {
                *count += 1;
            }
        }
    }
    for (p, count) in pmf.iter_mut().zip(first_slot) {
        *p = count as f64 / THOMPSON_DRAWS as f64;
    }
    for ((pick, pool), count) in chosen.into_iter().zip(wins) {
        picks.push(Pick {
            candidate: pick,
            probability: count as f64 / THOMPSON_DRAWS as f64,
            reason: PickReason::Sampled,
            among: pool.len(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(scores: &[f64]) -> Vec<Candidate> {
        scores
            .iter()
            .enumerate()
            .map(|(order, &score)| Candidate {
                order,
                score,
                weight: 1.0,
                posterior: None,
                propensity: score,
            })
            .collect()
    }

    #[test]
    fn top_picks_highest_with_ties_to_bundle_order() {
        let selected = select(
            Selection::Top,
            0.1,
            &candidates(&[1.0, 3.0, 3.0]),
            2,
            &mut Rng::from_seed(1),
        );
        let picks: Vec<usize> = selected.picks.iter().map(|p| p.candidate).collect();
        assert_eq!(picks, [1, 2]);
        assert_eq!(selected.pmf, [0.0, 1.0, 0.0]);
    }

    #[test]
    fn epsilon_pmf_is_exact() {
        let selected = select(
            Selection::Epsilon,
            0.3,
            &candidates(&[1.0, 3.0, 2.0]),
            1,
            &mut Rng::from_seed(1),
        );
        let expected = [0.1, 0.8, 0.1];
        for (p, e) in selected.pmf.iter().zip(expected) {
            assert!((p - e).abs() < 1e-12);
        }
        let pick = &selected.picks[0];
        assert!((pick.probability - selected.pmf[pick.candidate]).abs() < 1e-12);
    }

    #[test]
    fn epsilon_explores_at_the_configured_rate() {
        let pool = candidates(&[1.0, 3.0, 2.0, 0.5]);
        let mut rng = Rng::from_seed(9);
        let n = 20_000;
        let tops = (0..n)
            .filter(|_| select(Selection::Epsilon, 0.2, &pool, 1, &mut rng).picks[0].candidate == 1)
            .count();
        let share = tops as f64 / n as f64;
        assert!((share - 0.85).abs() < 0.01, "{share}");
    }

    #[test]
    fn thompson_pmf_sums_to_one_and_favours_the_better_arm() {
        let mut pool = candidates(&[0.0, 0.0]);
        pool[0].posterior = Some(Posterior::Beta([50.0, 50.0]));
        pool[1].posterior = Some(Posterior::Beta([10.0, 90.0]));
        let selected = select(Selection::Thompson, 0.0, &pool, 1, &mut Rng::from_seed(3));
        let total: f64 = selected.pmf.iter().sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(selected.pmf[0] > 0.99);
        assert!(selected.picks[0].probability > 0.0);
    }

    #[test]
    fn empty_and_zero_limit() {
        let selected = select(Selection::Epsilon, 0.5, &[], 3, &mut Rng::from_seed(1));
        assert!(selected.picks.is_empty() && selected.pmf.is_empty());
        let selected = select(
            Selection::Thompson,
            0.5,
            &candidates(&[1.0]),
            0,
            &mut Rng::from_seed(1),
        );
        assert!(selected.picks.is_empty());
    }
}
