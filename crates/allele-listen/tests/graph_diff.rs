//! Differential tests: PageRank and reach against networkx, the Wilson
//! bound against a closed form over scipy's normal quantile, all through
//! `tests/graph_reference.py`.
//!
//! Needs `python3` with networkx and scipy; without them the test skips
//! loudly, or fails when `CI=true`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use allele_listen::{Graph, GraphError, PageRankOptions, wilson_lower_bound};
use serde_json::{Value, json};

/// A named graph: edges in insertion order, then nodes without edges.
struct Case {
    name: String,
    edges: Vec<(u32, u32, f64)>,
    isolated: Vec<u32>,
    damping: f64,
}

impl Case {
    fn new(name: &str, edges: &[(u32, u32, f64)]) -> Self {
        Case {
            name: name.to_string(),
            edges: edges.to_vec(),
            isolated: Vec::new(),
            damping: 0.85,
        }
    }

    fn graph(&self) -> Graph {
        let mut graph = Graph::from_edges(self.edges.iter().copied()).expect("valid weights");
        for &node in &self.isolated {
            graph.add_node(node).expect("node");
        }
        graph
    }

    fn request(&self) -> Value {
        let graph = self.graph();
        json!({"nodes": graph.nodes(), "edges": self.edges, "alpha": self.damping, "tol": 1e-6})
    }
}

/// Seeded xorshift, so the random graphs are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

fn random_case(name: &str, seed: u64, nodes: u64, edges: usize, weighted: bool) -> Case {
    let mut rng = Rng(seed);
    let edges = (0..edges)
        .map(|_| {
            let weight = if weighted {
                rng.next(1000) as f64 / 100.0
            } else {
                1.0
            };
            (rng.next(nodes) as u32, rng.next(nodes) as u32, weight)
        })
        .collect::<Vec<_>>();
    Case::new(name, &edges)
}

fn cases() -> Vec<Case> {
    let cycle: Vec<_> = (0..5).map(|i| (i, (i + 1) % 5, 1.0)).collect();
    let out_star: Vec<_> = (1..8).map(|leaf| (0, leaf, 1.0)).collect();
    let in_star: Vec<_> = (1..8).map(|leaf| (leaf, 0, 1.0)).collect();
    let mut with_isolated = Case::new("chain plus isolated nodes", &[(0, 1, 1.0), (1, 2, 1.0)]);
    with_isolated.isolated = vec![7, 8];
    let mut low_damping = Case::new(
        "cycle with a tail, damping 0.5",
        &[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0), (2, 3, 1.0)],
    );
    low_damping.damping = 0.5;
    let mut high_damping = random_case("random, damping 0.95", 7, 50, 200, true);
    high_damping.damping = 0.95;
    vec![
        Case::new("single edge", &[(0, 1, 1.0)]),
        Case::new("cycle", &cycle),
        Case::new("out-star (dangling leaves)", &out_star),
        Case::new("in-star (dangling hub)", &in_star),
        Case::new("dangling chain", &[(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0)]),
        Case::new(
            "weighted triangle",
            &[
                (0, 1, 5.0),
                (0, 2, 1.0),
                (1, 2, 2.5),
                (2, 0, 0.25),
                (1, 0, 1.0),
            ],
        ),
        Case::new(
            "parallel edges add up",
            &[
                (0, 1, 1.0),
                (0, 1, 2.0),
                (0, 2, 1.0),
                (1, 0, 1.0),
                (2, 1, 1.0),
                (2, 1, 1.0),
            ],
        ),
        Case::new(
            "self-loops",
            &[(0, 0, 1.0), (0, 1, 1.0), (1, 1, 3.0), (1, 2, 1.0)],
        ),
        Case::new(
            "zero-weight out-edges make a node dangling",
            &[(0, 1, 1.0), (1, 2, 0.0), (2, 0, 1.0), (1, 0, 0.0)],
        ),
        Case::new(
            "two components",
            &[(0, 1, 1.0), (1, 0, 1.0), (2, 3, 1.0), (3, 4, 2.0)],
        ),
        with_isolated,
        low_damping,
        high_damping,
        random_case("random sparse", 1, 300, 600, false),
        random_case("random weighted", 2, 200, 2000, true),
        random_case("random dense", 3, 40, 1200, true),
    ]
}

fn reference(what: &str, request: &Value) -> Option<Value> {
    let script = common::crate_dir().join("tests/graph_reference.py");
    let output = common::run_python(what, &script, &[], request.to_string().as_bytes())?;
    Some(serde_json::from_str(&output).expect("reference prints JSON"))
}

#[test]
fn pagerank_matches_networkx() {
    let cases = cases();
    let mut requests: Vec<Value> = cases.iter().map(Case::request).collect();
    // the same random graph with string ids, to cover Graph<String>
    let named = random_case("random, string ids", 4, 100, 400, true);
    let name = |id: u32| format!("user-{id}");
    let string_graph: Graph<String> = Graph::from_edges(
        named
            .edges
            .iter()
            .map(|&(from, to, weight)| (name(from), name(to), weight)),
    )
    .expect("graph");
    let string_edges: Vec<(String, String, f64)> = named
        .edges
        .iter()
        .map(|&(from, to, weight)| (name(from), name(to), weight))
        .collect();
    requests.push(
        json!({"nodes": string_graph.nodes(), "edges": string_edges, "alpha": 0.85, "tol": 1e-6}),
    );

    let Some(answer) = reference("pagerank vs networkx", &json!({"pagerank": requests})) else {
        return;
    };
    let expected = answer["pagerank"].as_array().expect("pagerank answers");
    assert_eq!(expected.len(), cases.len() + 1);

    let mut worst = 0.0f64;
    let mut results: Vec<(String, Result<Vec<f64>, GraphError>)> = cases
        .iter()
        .map(|case| {
            let options = PageRankOptions {
                damping: case.damping,
                ..PageRankOptions::default()
            };
            (case.name.clone(), case.graph().pagerank_scores(&options))
        })
        .collect();
    results.push((
        named.name.clone(),
        string_graph.pagerank_scores(&PageRankOptions::default()),
    ));
    for ((name, ours), theirs) in results.iter().zip(expected) {
        let ours = ours
            .as_ref()
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let theirs: Vec<f64> = serde_json::from_value(theirs.clone())
            .unwrap_or_else(|_| panic!("{name}: networkx said {theirs}"));
        assert_eq!(ours.len(), theirs.len(), "{name}: node count");
        for (node, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let difference = (a - b).abs();
            worst = worst.max(difference);
            assert!(
                difference <= 1e-6,
                "{name}: node #{node}: rust {a}, networkx {b}"
            );
        }
    }
    eprintln!(
        "pagerank: {} graphs match networkx {} (largest difference {worst:e})",
        results.len(),
        answer["networkx"].as_str().unwrap_or("?")
    );
}

#[test]
fn non_convergence_agrees_with_networkx() {
    // a 2-cycle never settles when damping is 1
    let mut case = Case::new("periodic", &[(0, 1, 1.0), (1, 0, 1.0), (1, 2, 1.0)]);
    case.damping = 1.0;
    let Some(answer) = reference(
        "pagerank non-convergence",
        &json!({"pagerank": [case.request()]}),
    ) else {
        return;
    };
    let options = PageRankOptions {
        damping: 1.0,
        ..PageRankOptions::default()
    };
    let ours = case.graph().pagerank(&options);
    match answer["pagerank"][0].as_str() {
        Some("no convergence") => assert_eq!(ours, Err(GraphError::NoConvergence(100))),
        _ => assert!(
            ours.is_ok(),
            "networkx converged ({}), rust did not",
            answer["pagerank"][0]
        ),
    }
}

#[test]
fn reach_matches_networkx() {
    let cases = cases();
    let mut requests = Vec::new();
    let mut ours = Vec::new();
    for case in &cases {
        let graph = case.graph();
        for source in [0u32, 1, 5, 99] {
            for hops in [0usize, 1, 2, 3, 10] {
                let mut request = case.request();
                request["source"] = json!(source);
                request["hops"] = json!(hops);
                requests.push(request);
                ours.push(graph.reach(&source, hops));
            }
        }
    }
    let Some(answer) = reference("reach vs networkx", &json!({"reach": requests})) else {
        return;
    };
    let theirs: Vec<usize> =
        serde_json::from_value(answer["reach"].clone()).expect("reach answers");
    assert_eq!(ours, theirs);
    eprintln!(
        "reach: {} (graph, source, k) triples match networkx",
        ours.len()
    );
}

#[test]
fn wilson_matches_the_closed_form() {
    let mut triples: Vec<(u64, u64, f64)> = vec![
        (0, 0, 0.95),
        (0, 10, 0.95),
        (1, 1, 0.95),
        (3, 3, 0.95),
        (95, 100, 0.95),
        (50, 100, 0.95),
        (1, 2, 0.5),
        (10, 10, 0.999),
        (123_456, 1_000_000, 0.99),
        (999_999, 1_000_000, 0.8),
        (1, 1_000_000_000, 0.95),
    ];
    let mut rng = Rng(42);
    for _ in 0..300 {
        let n = 1 + rng.next(10_000);
        let up = rng.next(n + 1);
        let confidence = [0.8, 0.9, 0.95, 0.975, 0.99, 0.999][rng.next(6) as usize];
        triples.push((up, n, confidence));
    }
    let request: Vec<Value> = triples
        .iter()
        .map(|&(up, n, c)| json!([up, n, c]))
        .collect();
    let Some(answer) = reference("wilson vs closed form", &json!({"wilson": request})) else {
        return;
    };
    let theirs: Vec<f64> =
        serde_json::from_value(answer["wilson"].clone()).expect("wilson answers");
    let mut worst = 0.0f64;
    for (&(up, n, confidence), expected) in triples.iter().zip(&theirs) {
        let ours = wilson_lower_bound(up, n, confidence).expect("valid input");
        let difference = (ours - expected).abs();
        worst = worst.max(difference);
        assert!(
            difference <= 1e-12,
            "wilson({up}, {n}, {confidence}): rust {ours}, python {expected}"
        );
    }
    eprintln!(
        "wilson: {} cases match (largest difference {worst:e})",
        triples.len()
    );
}
