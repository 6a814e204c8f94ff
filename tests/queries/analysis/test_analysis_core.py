"""Graph building, JSD, nulls, centrality, components and paths against references."""

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from saegraph.queries.analysis.centrality import centrality
from saegraph.queries.analysis.components import canonical_labels, connected_components
from saegraph.queries.analysis.distributions import distribution_jsd, histogram, jsd_bits, shared_bins
from saegraph.queries.analysis.graph import build_graph, from_edge_list
from saegraph.queries.analysis.nulls import gnm_pairs, null_graphs
from saegraph.queries.analysis.paths import k_shortest_paths, shortest_path


def random_weighted(n=30, p=0.15, seed=0):
    rng = np.random.default_rng(seed)
    g = nx.gnp_random_graph(n, p, seed=seed)
    for u, v in g.edges:
        g[u][v]["w"] = float(rng.uniform(0.05, 0.95))
    fg = from_edge_list(n, list(g.edges), [g[u][v]["w"] for u, v in g.edges])
    for u, v in g.edges:
        g[u][v]["cost"] = 1.0 - g[u][v]["w"]
    return g, fg


def test_jsd_hand_computed_toy_pair():
    # P = (1/2, 1/2, 0), Q = (0, 1/2, 1/2): M = (1/4, 1/2, 1/4), H(M) = 1.5 bits, H(P) = H(Q) = 1 bit
    assert jsd_bits([0.5, 0.5, 0], [0, 0.5, 0.5]) == pytest.approx(0.5)
    # degree samples {0, 1} vs {1, 2} give exactly those histograms
    assert distribution_jsd(np.array([0, 1]), np.array([1, 2])) == pytest.approx(0.5)
    assert jsd_bits([1, 0], [0, 1]) == pytest.approx(1.0)


def test_jsd_matches_scipy_distance_squared():
    rng = np.random.default_rng(1)
    for _ in range(5):
        p, q = rng.random(12), rng.random(12)
        assert jsd_bits(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-12)


def test_bins_integer_then_log():
    bins = shared_bins(np.array([3, 700]))
    assert np.array_equal(bins[:52], np.arange(52))
    widths = np.diff(bins[51:])
    assert (widths > 1).all() and bins[-1] > 700
    h = histogram(np.array([0, 50, 700]), bins)
    assert h[0] == pytest.approx(1 / 3) and h[50] == pytest.approx(1 / 3) and h.sum() == pytest.approx(1)


def test_build_graph_keeps_isolated_nodes_and_merges_duplicates():
    edges = pd.DataFrame(
        {
            "source": ["s:0", "s:1", "s:0"],
            "target": ["s:1", "s:0", "s:2"],
            "saeId": "s",
            "similarity": [0.5, 0.9, 0.4],
        }
    )
    fg = build_graph(edges, "COSINE", node_ids=["s:0", "s:1", "s:2", "s:3"])
    assert fg.n_nodes == 4 and fg.n_edges == 2
    assert sorted(fg.weights()) == [0.4, 0.9]
    assert fg.graph.degree()[3] == 0
    with pytest.raises(ValueError, match="not among the given features"):
        build_graph(edges, "COSINE", node_ids=["s:0"])
    with pytest.raises(ValueError, match="unknown relationship type"):
        build_graph(edges, "FRIENDS")


def test_coactivation_cost_is_neg_log2_jaccard():
    edges = pd.DataFrame({"source": ["s:0"], "target": ["s:1"], "npmi": [0.4], "jaccard": [0.25]})
    fg = build_graph(edges, "CO_ACTIVATES")
    assert fg.graph.es[0]["cost"] == pytest.approx(2.0)
    assert "jaccard" in fg.cost_description


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paths_equal_networkx(seed):
    g, fg = random_weighted(seed=seed)
    comps = sorted(nx.connected_components(g), key=len, reverse=True)[0]
    nodes = sorted(comps)
    a, b = nodes[0], nodes[-1]
    unweighted = shortest_path(fg, f"g:{a}", f"g:{b}")
    assert unweighted.iloc[0]["hops"] == nx.shortest_path_length(g, a, b)
    weighted = shortest_path(fg, f"g:{a}", f"g:{b}", weighted=True)
    ref = nx.shortest_path(g, a, b, weight="cost")
    assert weighted.iloc[0]["cost"] == pytest.approx(nx.path_weight(g, ref, "cost"))
    assert weighted.iloc[0]["nodes"] == [f"g:{v}" for v in ref]  # random real costs: unique path
    ours = k_shortest_paths(fg, f"g:{a}", f"g:{b}", k=5, weighted=True)
    theirs = [
        nx.path_weight(g, p, "cost") for _, p in zip(range(5), nx.shortest_simple_paths(g, a, b, "cost"))
    ]
    assert np.allclose(ours["cost"].to_numpy(), theirs)
    hops = k_shortest_paths(fg, f"g:{a}", f"g:{b}", k=4)
    theirs = [len(p) - 1 for _, p in zip(range(4), nx.shortest_simple_paths(g, a, b))]
    assert hops["hops"].tolist() == theirs


def test_path_disconnected_and_unknown():
    fg = from_edge_list(4, [(0, 1), (2, 3)])
    assert shortest_path(fg, "g:0", "g:3").empty
    with pytest.raises(KeyError, match="saeId:index"):
        shortest_path(fg, "g:0", "g:9")


def test_centrality_matches_networkx():
    g, fg = random_weighted(n=40, p=0.1, seed=3)
    frame = centrality(fg).set_index("featureId")
    pr = nx.pagerank(g, alpha=0.85, weight="w", tol=1e-12, max_iter=1000)
    for v in g.nodes:
        assert frame.loc[f"g:{v}", "degree"] == g.degree(v)
        assert frame.loc[f"g:{v}", "strength"] == pytest.approx(g.degree(v, weight="w"))
        assert frame.loc[f"g:{v}", "pagerank"] == pytest.approx(pr[v], abs=1e-6)


def test_components_match_networkx_and_are_canonical():
    g, fg = random_weighted(n=50, p=0.03, seed=4)
    comp = connected_components(fg).set_index("featureId")["component"]
    ref = sorted(nx.connected_components(g), key=lambda c: (-len(c), min(c)))
    for k, c in enumerate(ref):
        assert {comp[f"g:{v}"] for v in c} == {k}
    assert canonical_labels([5, 5, 2, 9, 9, 9]).tolist() == [1, 1, 2, 0, 0, 0]


def test_gnm_pairs_distinct_and_nulls_preserve_what_they_should():
    rng = np.random.default_rng(0)
    pairs = gnm_pairs(20, 150, rng)
    assert len(pairs) == 150 and (pairs[:, 0] < pairs[:, 1]).all()
    assert len({tuple(p) for p in pairs.tolist()}) == 150
    g, fg = random_weighted(n=60, p=0.1, seed=5)
    for null in null_graphs(fg, "rewire", 3, seed=1):
        assert null.graph.degree() == fg.graph.degree()
        assert sorted(null.weights()) == sorted(fg.weights())
        assert null.graph.is_simple()
    a = [n.graph.get_edgelist() for n in null_graphs(fg, "gnm", 2, seed=1)]
    b = [n.graph.get_edgelist() for n in null_graphs(fg, "gnm", 2, seed=1)]
    assert a == b and a[0] != a[1]
    assert all(len(e) == fg.n_edges for e in a)
    with pytest.raises(ValueError, match="unknown null"):
        next(null_graphs(fg, "bogus", 1, 0))
    assert not math.isnan(distribution_jsd(np.array(fg.graph.degree()), np.array(fg.graph.degree())))
