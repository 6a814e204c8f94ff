"""Random-graph nulls for a FeatureGraph (pure core, seeded).

Algorithm:
1. G(n, m) (Erdős–Rényi with the same node and edge counts): draw random unordered pairs
   i < j with numpy, drop self-pairs and duplicates, repeat until m distinct pairs exist.
   Edge weights and costs are the original ones in a random order (so the strength null
   keeps the weight distribution and only moves where weights sit).
2. Degree-preserving rewire: igraph ``Graph.rewire`` (double-edge swaps, no self-loops or
   multi-edges) with ``swaps_per_edge * m`` swap trials; edges keep their weight/cost
   attributes, so strengths are re-drawn while degrees stay exact.
3. ``null_graphs`` yields ``n_draws`` independent draws from one seed (``numpy``
   ``SeedSequence.spawn``); igraph's own RNG is seeded per draw through
   ``igraph.set_random_number_generator`` and restored afterwards.
Reference: Maslov & Sneppen, Science 296:910 (2002) for the rewire null.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from saegraph.queries.analysis.graph import FeatureGraph

NULL_KINDS = ("gnm", "rewire")


@contextmanager
def igraph_seed(seed: int):
    """Seed igraph's RNG for the duration of the block, then restore Python's ``random``."""
    import igraph as ig

    ig.set_random_number_generator(random.Random(int(seed)))
    try:
        yield
    finally:
        ig.set_random_number_generator(random)


def gnm_pairs(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """m distinct unordered pairs (i < j) of n nodes, uniformly at random."""
    if m > n * (n - 1) // 2:
        raise ValueError(f"G(n, m): m = {m} exceeds the {n * (n - 1) // 2} possible pairs")
    chosen = np.zeros(0, dtype=np.int64)
    while len(chosen) < m:
        need = m - len(chosen)
        i = rng.integers(0, n, size=int(need * 1.2) + 16)
        j = rng.integers(0, n, size=len(i))
        ok = i != j
        key = np.minimum(i, j)[ok] * n + np.maximum(i, j)[ok]
        merged = np.concatenate([chosen, key])
        _, first = np.unique(merged, return_index=True)
        chosen = merged[np.sort(first)][:m]
    return np.stack([chosen // n, chosen % n], axis=1)


def _copy_with_edges(fg: FeatureGraph, pairs: np.ndarray, weight, cost, kind: str) -> FeatureGraph:
    import igraph as ig

    g = ig.Graph(n=fg.n_nodes, edges=pairs.tolist(), directed=False)
    g.vs["name"] = fg.ids
    g.es["weight"] = list(weight)
    g.es["cost"] = list(cost)
    return FeatureGraph(g, fg.rel_type, fg.sae_id, fg.weight_column, fg.cost_rule, {"null": kind})


def gnm_null(fg: FeatureGraph, rng: np.random.Generator) -> FeatureGraph:
    """One G(n, m) draw with the original weights shuffled onto the new edges."""
    pairs = gnm_pairs(fg.n_nodes, fg.n_edges, rng)
    order = rng.permutation(fg.n_edges)
    w = fg.weights()[order]
    c = np.asarray(fg.graph.es["cost"], dtype=float)[order] if fg.n_edges else np.zeros(0)
    return _copy_with_edges(fg, pairs, w, c, "gnm")


def rewire_null(fg: FeatureGraph, seed: int, swaps_per_edge: int = 10) -> FeatureGraph:
    """One degree-preserving rewire of ``fg`` (weights re-attached by edge slot)."""
    g = fg.graph.copy()
    weight, cost = list(g.es["weight"]), list(g.es["cost"])
    if g.ecount() >= 2:
        with igraph_seed(seed):
            g.rewire(n=swaps_per_edge * g.ecount(), allowed_edge_types="simple")
        g.es["weight"] = weight
        g.es["cost"] = cost
    return FeatureGraph(g, fg.rel_type, fg.sae_id, fg.weight_column, fg.cost_rule, {"null": "rewire"})


def null_graphs(fg: FeatureGraph, kind: str, n_draws: int, seed: int) -> Iterator[FeatureGraph]:
    """``n_draws`` independent null graphs of ``kind`` ('gnm' or 'rewire')."""
    if kind not in NULL_KINDS:
        raise ValueError(f"unknown null {kind!r}: use one of {', '.join(NULL_KINDS)}")
    for child in np.random.SeedSequence(seed).spawn(n_draws):
        rng = np.random.default_rng(child)
        if kind == "gnm":
            yield gnm_null(fg, rng)
        else:
            yield rewire_null(fg, int(rng.integers(0, 2**31 - 1)))
