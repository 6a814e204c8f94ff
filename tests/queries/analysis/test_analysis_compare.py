"""Structural comparison vs nulls, matching-based agreement, signature matching."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pareto
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from saegraph.queries.analysis.graph import from_edge_list
from saegraph.queries.analysis.matching import community_agreement, edge_overlap, node_matching
from saegraph.queries.analysis.nulls import gnm_null, rewire_null
from saegraph.queries.analysis.signatures import retrieval_scores, signature_matching, truth_ranks
from saegraph.queries.analysis.structure import compare_structure, floor_verdict


def dcsbm(seed, n=600, prefix=None):
    """Degree-corrected planted graph with a fixed expected-degree sequence; edges random."""
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % 5
    theta = pareto.ppf((np.arange(n) + 0.5) / n, 2.5)
    i, j = np.triu_indices(n, 1)
    p = np.minimum(1, theta[i] * theta[j] * np.where(truth[i] == truth[j], 0.05, 0.003))
    keep = rng.random(len(i)) < p
    edges = np.stack([i[keep], j[keep]], axis=1)
    return from_edge_list(n, edges, rng.uniform(0.2, 1.0, len(edges)), prefix=prefix or f"s{seed}"), truth


@pytest.fixture(scope="module")
def same_generator():
    a, _ = dcsbm(1)
    b, _ = dcsbm(2)
    return a, b, compare_structure(a, b, n_draws=20, seed=0, progress=False)


def test_same_generator_scores_near_null_vs_null_floor(same_generator):
    a, b, res = same_generator
    v = floor_verdict(res["jsd"], "degree", "gnm")
    assert v["baselineMean"] > 5 * v["floorMean"]
    # much nearer the floor than the random baseline (heavy-tailed degrees add sampling noise that
    # the G(n, m) floor, with Poisson degrees, does not have; so "near" is "within a third of the gap")
    assert v["observed"] < v["floorMean"] + (v["baselineMean"] - v["floorMean"]) / 3
    jsd = res["jsd"]
    assert (jsd["jsdBits"].between(0, 1)).all()
    assert set(jsd["null"]) == {"observed", "gnm", "rewire"}
    assert (jsd[jsd.null != "observed"]["nDraws"] >= 19).all()
    # degree-preserving rewire keeps degrees exactly: JSD 0
    rw = jsd[(jsd.null == "rewire") & (jsd.statistic == "degree")]
    assert (rw["jsdBits"] == 0).all()


def test_randomised_graph_scores_far_from_floor(same_generator):
    a, _, _ = same_generator
    c = gnm_null(a, np.random.default_rng(5))
    v = floor_verdict(compare_structure(a, c, n_draws=20, seed=0, progress=False)["jsd"])
    assert v["observed"] > v["floorMean"] + 10 * v["floorSd"]


def test_clustering_z_scores_separate_planted_from_rewired(same_generator):
    a, _, res = same_generator
    sc = res["scalars"].set_index(["statistic", "graph", "null"])
    assert sc.loc[("transitivity", "A", "rewire"), "z"] > 10
    rewired = rewire_null(a, seed=3)
    sc2 = compare_structure(rewired, a, n_draws=20, seed=1, progress=False)["scalars"]
    z = sc2.set_index(["statistic", "graph", "null"]).loc[("transitivity", "A", "rewire"), "z"]
    assert abs(z) < 4


def _labels(ids, values):
    return pd.Series(values, index=ids)


def test_community_agreement_equals_sklearn_and_detects_signal():
    rng = np.random.default_rng(0)
    n = 300
    la = rng.integers(0, 6, n)
    lb = np.where(rng.random(n) < 0.7, la, rng.integers(0, 6, n))
    ids_a = [f"a:{i}" for i in range(n)]
    ids_b = [f"b:{i}" for i in range(n)]
    perm = rng.permutation(n)  # matching a:i -> b:perm[i]
    lab_b = np.empty(n, dtype=int)
    lab_b[perm] = lb
    matching = pd.DataFrame({"source": ids_a, "target": [ids_b[p] for p in perm], "cosine": 0.9})
    out = community_agreement(_labels(ids_a, la), _labels(ids_b, lab_b), matching, n_perm=1000, seed=0)
    out = out.set_index("metric")
    assert out.loc["AMI", "observed"] == pytest.approx(adjusted_mutual_info_score(la, lb), abs=1e-9)
    assert out.loc["ARI", "observed"] == pytest.approx(adjusted_rand_score(la, lb), abs=1e-9)
    assert out.loc["AMI", "p"] < 0.01 and abs(out.loc["AMI", "nullMean"]) < 0.02
    noise = community_agreement(
        _labels(ids_a, la), _labels(ids_b, rng.integers(0, 6, n)), matching, n_perm=1000, seed=0
    ).set_index("metric")
    assert noise.loc["ARI", "p"] > 0.01


def test_edge_overlap_identity_and_null():
    a, _ = dcsbm(3, n=200, prefix="a")
    rng = np.random.default_rng(1)
    perm = rng.permutation(200)
    el = a.edge_array()
    edges_a = pd.DataFrame({"source": [f"a:{u}" for u in el[:, 0]], "target": [f"a:{v}" for v in el[:, 1]]})
    edges_b = pd.DataFrame(
        {"source": [f"b:{perm[u]}" for u in el[:, 0]], "target": [f"b:{perm[v]}" for v in el[:, 1]]}
    )
    matching = pd.DataFrame(
        {
            "source": [f"a:{i}" for i in range(200)],
            "target": [f"b:{perm[i]}" for i in range(200)],
            "cosine": 1.0,
        }
    )
    out = edge_overlap(edges_a, edges_b, matching, n_perm=1000, seed=0).iloc[0]
    assert out["observed"] == 1.0 and out["p"] < 0.01
    density = len(el) / (200 * 199 / 2)
    assert out["nullMean"] == pytest.approx(density, rel=0.5)


def test_node_matching_prefers_hungarian_and_is_one_to_one():
    m = pd.DataFrame(
        {
            "source": ["a:0", "a:0", "a:1", "a:2"],
            "target": ["b:0", "b:1", "b:1", "b:2"],
            "cosine": [0.9, 0.8, 0.7, 0.2],
            "method": ["hungarian", "mnn", "hungarian", "hungarian"],
        }
    )
    out = node_matching(m, min_cosine=0.5)
    assert out["source"].tolist() == ["a:0", "a:1"] and out["target"].tolist() == ["b:0", "b:1"]


def test_retrieval_scores_tie_handling():
    ranks = pd.DataFrame({"less": [0, 0, 9], "ties": [1, 4, 1]})
    s = retrieval_scores(ranks, n_b=100)
    assert s["hits@1"] == pytest.approx((1 + 0.25 + 0) / 3)
    assert s["hits@10"] == pytest.approx(1.0)
    assert s["MRR"] == pytest.approx((1 + (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4 + 1 / 10) / 3)


def test_signature_matching_beats_degree_only_and_chance():
    a, _ = dcsbm(4, n=300, prefix="a")
    rng = np.random.default_rng(2)
    perm = rng.permutation(300)
    el = a.edge_array()
    keep = rng.random(len(el)) > 0.05  # B = relabelled A with 5% of edges removed
    b = from_edge_list(300, np.stack([perm[el[keep, 0]], perm[el[keep, 1]]], axis=1), prefix="b")
    truth = pd.DataFrame(
        {"source": [f"a:{i}" for i in range(300)], "target": [f"b:{perm[i]}" for i in range(300)]}
    )
    out = signature_matching(a, b, truth).set_index("method")
    assert out.loc["signature", "MRR"] > out.loc["degreeOnly", "MRR"] > out.loc["chance", "MRR"]
    assert out.loc["signature", "hits@10"] > 3 * out.loc["chance", "hits@10"]
    ranks = truth_ranks(
        pd.DataFrame({"x": [0.0, 1.0]}, index=["a:0", "a:1"]),
        pd.DataFrame({"x": [1.0, 0.0, 0.0]}, index=["b:0", "b:1", "b:2"]),
        pd.DataFrame({"source": ["a:0", "a:1"], "target": ["b:1", "b:0"]}),
    )
    assert ranks["less"].tolist() == [0, 0] and ranks["ties"].tolist() == [2, 1]


def test_zero_variance_null_gets_a_verdict_not_a_bare_nan():
    from saegraph.queries.analysis.structure import _verdict

    assert _verdict(249.0, 249.0, 0.0, float("nan")).startswith("equal to the null")
    assert _verdict(249.0, 1.0, 0.0, float("nan")).startswith("null is constant")
    assert _verdict(0.3, 0.02, 0.001, 280.0) == "above the null by 280 sd"
    assert _verdict(0.1, 0.1, 0.01, 0.5) == "within the null"


def test_distribution_figure_is_a_monotone_ccdf_without_gaps():
    from saegraph.queries.analysis.report import distribution_figure

    degrees = np.array([0, 0, 1, 3, 3, 3, 40, 90])  # sparse tail: a histogram would zig-zag here
    fig = distribution_figure("t", {"a": degrees}, "degree (edges per feature)")
    y = np.asarray(fig["series"][0]["y"])
    assert y[0] == 1.0 and np.all(np.diff(y) < 0) and y[-1] == 1 / len(degrees)
    assert fig["ylabel"].startswith("fraction of features with degree")
