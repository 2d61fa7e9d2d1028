//! Reach: how many distinct nodes a message can get to in at most k hops.
//!
//! Breadth-first along edge direction, so edges should point the way
//! messages travel (author → reader); use [`Graph::reversed`] if they point
//! the other way. Weights do not matter here, and a zero-weight edge still
//! carries a message.

use std::hash::Hash;

use super::Graph;

impl<N: Eq + Hash + Clone> Graph<N> {
    /// Distinct nodes other than `source` within `hops` edges of it
    /// (`len(nx.single_source_shortest_path_length(G, source, cutoff=hops)) - 1`).
    /// An unknown source reaches nobody.
    ///
    /// ```
    /// use allele_listen::Graph;
    /// let graph = Graph::from_edges([(0u32, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (0, 2, 1.0)])?;
    /// assert_eq!(graph.reach(&0, 1), 2);
    /// assert_eq!(graph.reach(&0, 2), 3);
    /// # Ok::<(), allele_listen::GraphError>(())
    /// ```
    pub fn reach(&self, source: &N, hops: usize) -> usize {
        self.reach_from([source], hops)
    }

    /// Distinct nodes, not counting the seeds themselves, within `hops`
    /// edges of any seed: the audience of a campaign seeded with several
    /// people. Unknown seeds are ignored.
    pub fn reach_from<'a>(&self, seeds: impl IntoIterator<Item = &'a N>, hops: usize) -> usize
    where
        N: 'a,
    {
        let adjacency = self.adjacency();
        let mut seen = vec![false; self.ids.len()];
        let mut frontier: Vec<usize> = Vec::new();
        for seed in seeds {
            if let Some(&index) = self.index.get(seed) {
                let index = index as usize;
                if !seen[index] {
                    seen[index] = true;
                    frontier.push(index);
                }
            }
        }
        let mut reached = 0;
        let mut next = Vec::new();
        for _ in 0..hops {
            if frontier.is_empty() {
                break;
            }
            for &node in &frontier {
                for &target in &adjacency.targets[adjacency.range(node)] {
                    let target = target as usize;
                    if !seen[target] {
                        seen[target] = true;
                        reached += 1;
                        next.push(target);
                    }
                }
            }
            std::mem::swap(&mut frontier, &mut next);
            next.clear();
        }
        reached
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GraphError;

    #[test]
    fn counts_each_node_once_and_stops_at_k() -> Result<(), GraphError> {
        // a diamond with a tail and a loop back to the source
        let graph = Graph::from_edges([
            (0u32, 1, 1.0),
            (0, 2, 1.0),
            (1, 3, 1.0),
            (2, 3, 1.0),
            (3, 4, 1.0),
            (4, 0, 1.0),
        ])?;
        assert_eq!(graph.reach(&0, 0), 0);
        assert_eq!(graph.reach(&0, 1), 2);
        assert_eq!(graph.reach(&0, 2), 3);
        assert_eq!(graph.reach(&0, 10), 4, "the source is never counted");
        assert_eq!(graph.reach(&99, 3), 0);
        assert_eq!(graph.reach_from([&1, &2], 1), 1);
        assert_eq!(graph.reversed().reach(&3, 1), 2);
        Ok(())
    }
}
