"""AND and OR rules combine the nodewise selections into undirected edges (replicate.combine_directions)."""

from __future__ import annotations

import numpy as np
import pytest

from saegraph.ingest.edge_config import LassoConfig
from saegraph.ingest.edges.lasso.replicate import combine_directions


def reference(node_of, cand, coef, n, rule):
    """Dict of undirected pair -> mean nonzero coefficient, by brute force."""
    directed = {}
    for a, b, w in zip(node_of, cand, coef):
        if w != 0:
            directed.setdefault((min(a, b), max(a, b)), []).append(w)
    keep = {k: v for k, v in directed.items() if rule == "or" or len(v) == 2}
    return {i * n + j: float(np.mean(v)) for (i, j), v in keep.items()}


@pytest.mark.parametrize("rule", ["and", "or"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rules_equal_a_brute_force_reference(rule, seed):
    rng = np.random.default_rng(seed)
    n, per_node = 30, 6
    node_of = np.repeat(np.arange(n), per_node)
    cand = np.concatenate([rng.choice(np.delete(np.arange(n), i), per_node, replace=False) for i in range(n)])
    coef = np.where(rng.random(node_of.size) < 0.4, rng.normal(size=node_of.size), 0.0)
    keys, weights = combine_directions(node_of, cand, coef, n, rule)
    want = reference(node_of, cand, coef, n, rule)
    assert keys.tolist() == sorted(want)
    np.testing.assert_allclose(weights, [want[k] for k in sorted(want)])


def test_or_keeps_a_superset_of_and():
    node_of, cand = np.array([0, 1, 2, 0]), np.array([1, 0, 0, 2])
    coef = np.array([0.5, 0.3, 0.0, 0.2])  # 0-1 both ways; 0-2 one way only
    k_and, _ = combine_directions(node_of, cand, coef, 3, "and")
    k_or, w_or = combine_directions(node_of, cand, coef, 3, "or")
    assert k_and.tolist() == [1] and k_or.tolist() == [1, 2]
    np.testing.assert_allclose(w_or, [0.4, 0.2])


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="edges.lasso.rule"):
        LassoConfig(rule="xor")  # type: ignore[arg-type]
