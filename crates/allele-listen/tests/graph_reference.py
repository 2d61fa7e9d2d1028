#!/usr/bin/env python3
"""Reference oracle for the listening graph helpers and the Wilson bound.

Reads one JSON document on stdin:
  {"pagerank": [{"nodes": [...], "edges": [[u, v, w], ...], "alpha": 0.85, "tol": 1e-6}],
   "reach":    [{"nodes": [...], "edges": [[u, v, w], ...], "source": s, "hops": k}],
   "wilson":   [[up, n, confidence], ...]}
and prints {"pagerank": [[score per node, in node order] | "no convergence"],
            "reach": [count, ...], "wilson": [lower bound, ...]}.

Graphs are networkx MultiDiGraphs, so parallel edges add up. The Wilson
bound is the closed form with scipy's normal quantile (Cephes ndtri, a
different algorithm from the Rust side's AS 241).

Exit status 3 means networkx or scipy is missing.
"""

import json
import math
import sys

try:
    import networkx as nx
    from scipy.stats import norm
except ImportError as error:  # the Rust test turns this into a skip or a CI failure
    sys.stderr.write(f"{error}: pip install networkx scipy numpy\n")
    sys.exit(3)


def build(case):
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(case["nodes"])
    graph.add_weighted_edges_from([tuple(edge) for edge in case["edges"]])
    return graph


def pagerank(case):
    graph = build(case)
    try:
        ranks = nx.pagerank(graph, alpha=case["alpha"], tol=case["tol"])
    except nx.PowerIterationFailedConvergence:
        return "no convergence"
    return [ranks[node] for node in case["nodes"]]


def reach(case):
    graph = build(case)
    if case["source"] not in graph:
        return 0
    lengths = nx.single_source_shortest_path_length(graph, case["source"], cutoff=case["hops"])
    return len(lengths) - 1


def wilson(up, n, confidence):
    if n == 0:
        return 0.0
    z = norm.ppf(1 - (1 - confidence) / 2)
    p = up / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, center - half)


def main():
    request = json.load(sys.stdin)
    answer = {
        "networkx": nx.__version__,
        "pagerank": [pagerank(case) for case in request.get("pagerank", [])],
        "reach": [reach(case) for case in request.get("reach", [])],
        "wilson": [float(wilson(*case)) for case in request.get("wilson", [])],
    }
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
