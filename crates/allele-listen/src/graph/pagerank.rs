//! PageRank by power iteration, step for step as `networkx.pagerank`
//! (networkx 3, default arguments: no personalization, uniform start,
//! dangling nodes spread uniformly).
//!
//! Each step computes `x' = α·(x·P + Σ_dangling x / N) + (1 − α)/N` where
//! `P` is the weight matrix with rows normalised to sum 1. A node whose
//! out-weights sum to 0 (no out-edges, or only zero-weight ones) is
//! dangling: its score is shared by everyone, as if it linked to all. The
//! iteration stops when `Σ|x' − x| < N·tolerance` and returns `x'`.

use std::hash::Hash;

use super::{Graph, GraphError};

/// PageRank parameters; the defaults are networkx's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PageRankOptions {
    /// Probability of following an edge rather than jumping anywhere.
    pub damping: f64,
    /// Per-node convergence tolerance on the L1 change between steps.
    pub tolerance: f64,
    /// Steps allowed before giving up with [`GraphError::NoConvergence`].
    pub max_iterations: usize,
}

impl Default for PageRankOptions {
    fn default() -> Self {
        PageRankOptions {
            damping: 0.85,
            tolerance: 1e-6,
            max_iterations: 100,
        }
    }
}

impl<N: Eq + Hash + Clone> Graph<N> {
    /// PageRank of every node, in node order; the scores sum to 1.
    ///
    /// ```
    /// use allele_listen::{Graph, PageRankOptions};
    /// // everyone points at 0; 0 points nowhere (dangling)
    /// let graph = Graph::from_edges([(1u32, 0, 1.0), (2, 0, 1.0), (3, 0, 1.0)])?;
    /// let ranks = graph.pagerank(&PageRankOptions::default())?;
    /// // nodes come back in order of first appearance: 1, 0, 2, 3
    /// assert_eq!(ranks.iter().map(|&(node, _)| node).collect::<Vec<_>>(), [1, 0, 2, 3]);
    /// let hub = ranks[1].1;
    /// assert!(ranks.iter().all(|&(node, score)| node == 0 || score < hub));
    /// assert!((ranks.iter().map(|&(_, score)| score).sum::<f64>() - 1.0).abs() < 1e-9);
    /// # Ok::<(), allele_listen::GraphError>(())
    /// ```
    pub fn pagerank(&self, options: &PageRankOptions) -> Result<Vec<(N, f64)>, GraphError> {
        let scores = self.pagerank_scores(options)?;
        Ok(self.ids.iter().cloned().zip(scores).collect())
    }

    /// PageRank as a vector indexed like [`Graph::nodes`].
    pub fn pagerank_scores(&self, options: &PageRankOptions) -> Result<Vec<f64>, GraphError> {
        let PageRankOptions {
            damping,
            tolerance,
            max_iterations,
        } = *options;
        if !(0.0..=1.0).contains(&damping) {
            return Err(GraphError::Option("damping must be between 0 and 1"));
        }
        if !(tolerance > 0.0 && tolerance.is_finite()) {
            return Err(GraphError::Option("tolerance must be positive"));
        }
        let nodes = self.ids.len();
        if nodes == 0 {
            return Ok(Vec::new());
        }
        let adjacency = self.adjacency();
        let node_share = 1.0 / nodes as f64;

        // row-normalise once; rows summing to 0 mark dangling nodes
        let mut normalized = adjacency.weights.clone();
        let mut dangling = Vec::new();
        for node in 0..nodes {
            let range = adjacency.range(node);
            let out_weight: f64 = adjacency.weights[range.clone()].iter().sum();
            if out_weight == 0.0 {
                dangling.push(node);
                continue;
            }
            let inverse = 1.0 / out_weight;
            for weight in &mut normalized[range] {
                *weight *= inverse;
            }
        }

        let mut scores = vec![node_share; nodes];
        let mut flow = vec![0.0f64; nodes];
        for _ in 0..max_iterations {
            flow.fill(0.0);
            for (node, &score) in scores.iter().enumerate() {
                let range = adjacency.range(node);
                for (&target, &weight) in adjacency.targets[range.clone()]
                    .iter()
                    .zip(&normalized[range])
                {
                    flow[target as usize] += score * weight;
                }
            }
            let dangling_sum: f64 = dangling.iter().map(|&node| scores[node]).sum();
            let mut change = 0.0;
            for (score, &incoming) in scores.iter_mut().zip(&flow) {
                let next =
                    damping * (incoming + dangling_sum * node_share) + (1.0 - damping) * node_share;
                change += (next - *score).abs();
                *score = next;
            }
            if change < nodes as f64 * tolerance {
                return Ok(scores);
            }
        }
        Err(GraphError::NoConvergence(max_iterations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranks(edges: &[(u32, u32, f64)]) -> Vec<f64> {
        let graph = Graph::from_edges(edges.iter().copied());
        graph
            .and_then(|graph| graph.pagerank_scores(&PageRankOptions::default()))
            .unwrap_or_default()
    }

    #[test]
    fn a_cycle_is_uniform() {
        let scores = ranks(&[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0)]);
        assert_eq!(scores.len(), 3);
        for score in scores {
            assert!((score - 1.0 / 3.0).abs() < 1e-12);
        }
    }

    #[test]
    fn scores_sum_to_one_with_dangling_nodes() {
        let scores = ranks(&[(0, 1, 1.0), (0, 2, 3.0), (2, 3, 0.0)]);
        let total: f64 = scores.iter().sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn empty_graph_has_no_scores() {
        assert!(ranks(&[]).is_empty());
    }

    #[test]
    fn bad_options_and_no_convergence_are_errors() -> Result<(), GraphError> {
        let graph = Graph::from_edges([(0u32, 1, 1.0), (1, 0, 1.0), (1, 2, 1.0)])?;
        let bad = PageRankOptions {
            damping: 1.5,
            ..PageRankOptions::default()
        };
        assert!(matches!(graph.pagerank(&bad), Err(GraphError::Option(_))));
        let hurried = PageRankOptions {
            max_iterations: 1,
            tolerance: 1e-15,
            ..PageRankOptions::default()
        };
        assert_eq!(graph.pagerank(&hurried), Err(GraphError::NoConvergence(1)));
        Ok(())
    }
}
