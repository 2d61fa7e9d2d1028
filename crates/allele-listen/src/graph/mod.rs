//! A directed, weighted graph of who influences whom.
//!
//! Nodes are any hashable id (`u32` by default, `String` works as well) and
//! are numbered internally in order of first appearance, which is also the
//! order results come back in. Parallel edges add up, as in a networkx
//! `MultiDiGraph`; self-loops are kept.
//!
//! - [`Graph::pagerank`] (in `pagerank.rs`) matches
//!   `networkx.pagerank`.
//! - [`Graph::reach`] (in `reach.rs`) counts distinct nodes
//!   within k hops.

mod pagerank;
mod reach;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::OnceLock;

use thiserror::Error;

pub use pagerank::PageRankOptions;

/// Why a graph operation failed.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum GraphError {
    /// Weights must be finite and not negative (a negative weight has no
    /// meaning as a share of attention).
    #[error("edge weight must be finite and non-negative, got `{0}`")]
    Weight(f64),
    /// Node ids are numbered with `u32`.
    #[error("too many nodes: at most 4294967295 are supported")]
    TooManyNodes,
    /// A PageRank option is out of range.
    #[error("invalid pagerank option: {0}")]
    Option(&'static str),
    /// Power iteration did not reach the tolerance; networkx raises
    /// `PowerIterationFailedConvergence` in the same case.
    #[error("pagerank did not converge within {0} iterations")]
    NoConvergence(usize),
}

/// A directed weighted graph; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Graph<N = u32> {
    ids: Vec<N>,
    index: HashMap<N, u32>,
    edges: Vec<Edge>,
    /// Out-edges grouped by source, built on first use after a change.
    adjacency: OnceLock<Adjacency>,
}

#[derive(Clone, Copy, Debug)]
struct Edge {
    from: u32,
    to: u32,
    weight: f64,
}

impl<N: Eq + Hash + Clone> Default for Graph<N> {
    fn default() -> Self {
        Graph {
            ids: Vec::new(),
            index: HashMap::new(),
            edges: Vec::new(),
            adjacency: OnceLock::new(),
        }
    }
}

impl<N: Eq + Hash + Clone> Graph<N> {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a graph from `(from, to, weight)` triples.
    pub fn from_edges(edges: impl IntoIterator<Item = (N, N, f64)>) -> Result<Self, GraphError> {
        let mut graph = Self::new();
        for (from, to, weight) in edges {
            graph.add_edge(from, to, weight)?;
        }
        Ok(graph)
    }

    /// Adds a node without edges (someone who has said nothing yet still
    /// takes a share of PageRank). Adding a known node changes nothing.
    pub fn add_node(&mut self, node: N) -> Result<(), GraphError> {
        self.intern(node).map(|_| ())
    }

    /// Adds an edge `from → to`; PageRank flows along it.
    pub fn add_edge(&mut self, from: N, to: N, weight: f64) -> Result<(), GraphError> {
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(GraphError::Weight(weight));
        }
        let from = self.intern(from)?;
        let to = self.intern(to)?;
        self.edges.push(Edge { from, to, weight });
        self.adjacency = OnceLock::new();
        Ok(())
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.ids.len()
    }

    /// Number of edges, parallel edges counted separately.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Node ids in order of first appearance.
    pub fn nodes(&self) -> &[N] {
        &self.ids
    }

    /// The same graph with every edge turned around (for reach along
    /// "is followed by" when the edges say "follows").
    pub fn reversed(&self) -> Self {
        let edges = self
            .edges
            .iter()
            .map(|edge| Edge {
                from: edge.to,
                to: edge.from,
                weight: edge.weight,
            })
            .collect();
        Graph {
            ids: self.ids.clone(),
            index: self.index.clone(),
            edges,
            adjacency: OnceLock::new(),
        }
    }

    fn intern(&mut self, node: N) -> Result<u32, GraphError> {
        if let Some(&index) = self.index.get(&node) {
            return Ok(index);
        }
        let index = u32::try_from(self.ids.len()).map_err(|_| GraphError::TooManyNodes)?;
        self.ids.push(node.clone());
        self.index.insert(node, index);
        self.adjacency = OnceLock::new();
        Ok(index)
    }

    /// Out-edges grouped by source, built once per version of the graph so
    /// that many reach queries cost one pass over the edges in all.
    fn adjacency(&self) -> &Adjacency {
        self.adjacency.get_or_init(|| self.build_adjacency())
    }

    /// Out-edges grouped by source (compressed sparse rows): the targets
    /// and weights of node `u` are `offsets[u]..offsets[u + 1]`.
    fn build_adjacency(&self) -> Adjacency {
        let nodes = self.ids.len();
        let mut offsets = vec![0usize; nodes + 1];
        for edge in &self.edges {
            offsets[edge.from as usize + 1] += 1;
        }
        for node in 0..nodes {
            offsets[node + 1] += offsets[node];
        }
        let mut next = offsets.clone();
        let mut targets = vec![0u32; self.edges.len()];
        let mut weights = vec![0.0f64; self.edges.len()];
        for edge in &self.edges {
            let slot = &mut next[edge.from as usize];
            targets[*slot] = edge.to;
            weights[*slot] = edge.weight;
            *slot += 1;
        }
        Adjacency {
            offsets,
            targets,
            weights,
        }
    }
}

#[derive(Clone, Debug)]
struct Adjacency {
    offsets: Vec<usize>,
    targets: Vec<u32>,
    weights: Vec<f64>,
}

impl Adjacency {
    fn range(&self, node: usize) -> std::ops::Range<usize> {
        self.offsets[node]..self.offsets[node + 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_first_appearance_order() -> Result<(), GraphError> {
        let mut graph = Graph::from_edges([("b".to_string(), "a".to_string(), 1.0)])?;
        graph.add_node("c".to_string())?;
        graph.add_node("a".to_string())?;
        assert_eq!(graph.nodes(), ["b", "a", "c"]);
        assert_eq!(graph.edge_count(), 1);
        Ok(())
    }

    #[test]
    fn rejects_bad_weights() {
        let mut graph: Graph = Graph::new();
        assert_eq!(graph.add_edge(1, 2, -1.0), Err(GraphError::Weight(-1.0)));
        assert!(graph.add_edge(1, 2, f64::NAN).is_err());
        assert!(graph.add_edge(1, 2, f64::INFINITY).is_err());
        assert_eq!(graph.node_count(), 0, "a rejected edge adds no nodes");
    }
}
