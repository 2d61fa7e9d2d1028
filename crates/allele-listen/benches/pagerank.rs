//! PageRank and reach on a random graph with 1,000,000 weighted edges over
//! 100,000 nodes (about 1 in e^10 nodes have no out-edge, so dangling
//! handling is exercised too).
//!
//! Run: `cargo bench -p allele-listen --bench pagerank`

use allele_listen::{Graph, PageRankOptions};
use divan::Bencher;

fn main() {
    divan::main();
}

const NODES: u64 = 100_000;
const EDGES: usize = 1_000_000;

/// Deterministic pseudo-random edges (splitmix64), no rand dependency.
fn random_graph() -> Graph {
    let mut state: u64 = 2026;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let edges = (0..EDGES).map(|_| {
        let from = (next() % NODES) as u32;
        let to = (next() % NODES) as u32;
        let weight = 1.0 + (next() % 9) as f64;
        (from, to, weight)
    });
    Graph::from_edges(edges).unwrap_or_default()
}

/// Power iteration to networkx's default tolerance (includes building the
/// adjacency arrays, as every call does).
#[divan::bench(sample_count = 10)]
fn pagerank_1m_edges(bencher: Bencher) {
    let graph = random_graph();
    bencher.bench(|| graph.pagerank_scores(&PageRankOptions::default()));
}

/// Building the graph from 1,000,000 edge triples.
#[divan::bench(sample_count = 10)]
fn build_1m_edges() -> Graph {
    random_graph()
}

/// Distinct nodes within 3 hops of one node.
#[divan::bench(sample_count = 10)]
fn reach_3_hops(bencher: Bencher) {
    let graph = random_graph();
    bencher.bench(|| graph.reach(&0, 3));
}
