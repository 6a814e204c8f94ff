"""Splitting trees across widths and the per-SAE structure table equal direct computations.

The bundle is a width ladder on layer 0 -- n (6 features), m (12), x (24): features 0-3 of n
split in two in m, m's 0-3 split again in x, the rest continue one to one -- plus y at layer 1
(m's first 8 directions and 4 new ones). Leaves fire by topic (one topic per token), every
parent fires when one of its children does, so the MATCHES stage writes ``parent`` edges along
the ladder and CO_ACTIVATES has two blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.ingest.edges.runner import run_edges
from saegraph.queries.analysis.family import layer_structure, splitting_trees
from saegraph.queries.analysis.family_layers import gini
from saegraph.queries.analysis.sources import BundleSource
from tests.helpers.builders import make_bundle_from_arrays

D, L, S = 32, 40, 60


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def ladder(tmp_path_factory):
    rng = np.random.default_rng(11)
    u = _unit(rng.standard_normal((6, D)))
    m_dirs = [u[i] + 0.6 * _unit(rng.standard_normal(D)) for i in range(4) for _ in range(2)]
    m_dirs += [u[i] + 0.3 * _unit(rng.standard_normal(D)) for i in (4, 5)]
    m_parent = [i for i in range(4) for _ in range(2)] + [4, 5]  # m feature -> n feature (10 of 12)
    m_dirs += list(_unit(rng.standard_normal((2, D))))
    w_m = np.array(m_dirs, np.float32)
    x_dirs, x_parent = [], []
    for j in range(10):
        for _ in range(2 if j < 4 else 1):
            x_dirs.append(w_m[j] + 0.4 * _unit(rng.standard_normal(D)))
            x_parent.append(j)
    leaves = len(x_dirs)  # 14
    x_dirs += list(_unit(rng.standard_normal((24 - leaves, D))))
    w_x = np.array(x_dirs, np.float32)
    w_y = np.vstack([w_m[:8] + 0.2 * rng.standard_normal((8, D)), rng.standard_normal((4, D))])

    n_tok = L * S
    topic = rng.integers(0, 3, n_tok)  # per token: topic 0, 1, or none (2)
    root_of_leaf = np.array([m_parent[j] for j in x_parent])
    in_topic = np.where(root_of_leaf[None, :] < 3, topic[:, None] == 0, topic[:, None] == 1)
    fire_x = np.zeros((n_tok, 24), bool)
    fire_x[:, :leaves] = in_topic & (rng.random((n_tok, leaves)) < 0.35)
    fire_x[:, leaves:] = rng.random((n_tok, 24 - leaves)) < 0.03
    fire_m = rng.random((n_tok, 12)) < 0.03
    fire_m[:, :10] = False
    for leaf, j in enumerate(x_parent):
        fire_m[:, j] |= fire_x[:, leaf]
    fire_n = np.zeros((n_tok, 6), bool)
    for j, i in enumerate(m_parent):
        fire_n[:, i] |= fire_m[:, j]
    fire_y = np.hstack([fire_m[:, :8], rng.random((n_tok, 4)) < 0.03])

    def acts(fire):
        return sp.csr_matrix(fire * rng.uniform(0.5, 2.0, fire.shape), dtype=np.float32)

    path = make_bundle_from_arrays(
        tmp_path_factory.mktemp("ladder") / "bundle",
        {"n": acts(fire_n), "m": acts(fire_m), "x": acts(fire_x), "y": acts(fire_y)},
        {"n": u.astype(np.float32), "m": w_m, "x": w_x, "y": w_y.astype(np.float32)},
        sequence_length=L,
        layers={"n": 0, "m": 0, "x": 0, "y": 1},
    )
    run_edges(path, only=["matches", "coactivation", "flow"], progress=False)
    return path


def _parent_rows(path, narrow, wide):
    m = BundleSource(path).bundle.frame("matches")
    m = m[m.method == "parent"]
    fwd = m[(m.sourceSae == narrow) & (m.targetSae == wide)][["source", "target", "cosine"]]
    rev = m[(m.sourceSae == wide) & (m.targetSae == narrow)].rename(
        columns={"source": "target", "target": "source"}
    )[["source", "target", "cosine"]]
    return pd.concat([fwd, rev]).rename(columns={"source": "parent", "target": "child"})


def test_trees_equal_a_direct_grouping_of_the_parent_rows(ladder):
    res = splitting_trees(BundleSource(ladder))
    trees, summary = res["trees"], res["summary"].set_index(["parentSae", "childSae"])
    assert sorted(summary.index) == [("m", "x"), ("n", "m"), ("n", "x")]  # y is another layer
    assert bool(summary.loc[("n", "m"), "consecutive"]) and not bool(summary.loc[("n", "x"), "consecutive"])
    for (p, c), row in summary.iterrows():
        rows = _parent_rows(ladder, p, c)
        want = rows.groupby("parent").agg(n=("child", "size"), cos=("cosine", "mean"), kids=("child", set))
        got = trees[(trees.parentSae == p) & (trees.childSae == c)].set_index("parent")
        assert sorted(got.index) == sorted(want.index), (p, c)
        for parent, w in want.iterrows():
            assert got.loc[parent, "nChildren"] == w.n
            assert got.loc[parent, "meanCosine"] == pytest.approx(w.cos)
            assert set(got.loc[parent, "children"]) == w.kids
        assert row.parents == len(want) and row.children == len(rows)
        assert row.parentsWithTwoOrMore == int((want.n >= 2).sum())
        assert row.meanChildren == pytest.approx(want.n.mean())
    # the planted ladder: n:0-3 have two children in m, each m:0-3 two in x
    assert summary.loc[("n", "m"), "parentsWithTwoOrMore"] == 4
    assert summary.loc[("m", "x"), "parentsWithTwoOrMore"] == 4
    assert summary.loc[("n", "m"), "maxDepth"] == 2 and summary.loc[("m", "x"), "maxDepth"] == 1
    assert summary.loc[("n", "x"), "maxDepth"] == 1


def test_chains_follow_the_parent_edges_width_by_width(ladder):
    res = splitting_trees(BundleSource(ladder))
    nm, mx = _parent_rows(ladder, "n", "m"), _parent_rows(ladder, "m", "x")
    want = set()
    for _, a in nm.iterrows():
        for _, b in mx[mx.parent == a.child].iterrows():
            want.add((a.parent, a.child, b.child))
    chains = res["chains"]
    assert set(map(tuple, chains["path"])) == want
    assert (chains.nWidths == 3).all() and (chains.saes.map(tuple) == ("n", "m", "x")).all()
    assert {p[0] for p in want} >= {"n:0", "n:1"}  # planted: n:0 -> m:0 -> x:0, ...
    assert len(want) >= 8


def test_layer_table_equals_direct_counts(ladder):
    source = BundleSource(ladder)
    layers = layer_structure(source).set_index("saeId")
    co = source.bundle.frame("co_activates")
    flows = source.bundle.frame("flows_to")
    assert co.groupby("saeId").size().min() > 0  # the planted blocks gave edges
    for sid, row in layers.iterrows():
        feats = source.features(sid)
        live = feats.density.to_numpy() > 0
        e = co[co.saeId == sid]
        idx = {f: i for i, f in enumerate(feats.featureId)}
        deg = np.bincount(np.r_[e.source.map(idx), e.target.map(idx)].astype(int), minlength=len(feats))
        assert row.coActivatesEdges == len(e)
        assert row.liveFeatures == live.sum()
        assert row.meanDegree == pytest.approx(2 * len(e) / live.sum())
        assert row.maxDegree == deg.max()
        assert row.degreeGini == pytest.approx(gini(deg[live]))
        assert row.flowsIn == (flows.targetSae == sid).sum()
        assert row.flowsOut == (flows.sourceSae == sid).sum()
        reached = flows[flows.targetSae == sid].target.nunique()
        if sid == "y":
            assert row.bornFraction == pytest.approx(1 - reached / len(feats))
            assert row.bornFraction > 0  # new directions are born
        else:
            assert np.isnan(row.bornFraction)
        assert row.communities >= (2 if sid == "x" else 1)
        assert 0 < row.modularity <= 1


def test_gini_against_the_pairwise_definition():
    x = np.array([0, 1, 1, 3, 7, 2], float)
    pairwise = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x) == pytest.approx(pairwise)
    assert gini(np.ones(5)) == pytest.approx(0.0)


def test_cli_writes_the_full_report(ladder, tmp_path):
    out = CliRunner().invoke(cli, ["universality", str(ladder), "--out", str(tmp_path / "rep")])
    assert out.exit_code == 0, out.output
    assert "splitting across widths" in out.output and "per SAE" in out.output
    assert "actCorrNullAB" in out.output
    for name in ("universality.csv", "splitting.csv", "chains.csv", "layers.csv", "mcs.png", "layers.png"):
        assert (tmp_path / "rep" / name).stat().st_size > 0, name
    table = pd.read_csv(tmp_path / "rep" / "universality.csv")
    assert table.actCorrNullAB.notna().all() and (table.tokens == L * S).all()


def test_named_queries_agree_with_the_family_tables(ladder, tmp_path):
    """family.pairs / family.layer_degrees on the embedded store equal the bundle-side tables."""
    from saegraph.ingest.stores.embedded import load_bundle_embedded
    from saegraph.queries import open_store, run
    from saegraph.queries.analysis.family import family_table

    source = BundleSource(ladder)
    store = open_store(store_dir=tmp_path / "db", buffer_pool_size=256 * 1024 * 1024)
    try:
        load_bundle_embedded(ladder, store, progress=False)
        pairs = run(store, "family.pairs").set_index(["saeA", "saeB"])
        degrees = run(store, "family.layer_degrees").set_index("saeId")
    finally:
        store.close()
    table = family_table(source).set_index(["saeA", "saeB"])
    assert sorted(pairs.index) == sorted(table.index)
    summary = splitting_trees(source)["summary"].set_index(["parentSae", "childSae"])
    for key, row in pairs.iterrows():
        assert row.sharedFraction == pytest.approx(table.loc[key, "shared@0.7"])
        if key in summary.index:
            assert row.nParent == summary.loc[key, "children"]
    assert pairs.loc[("n", "m"), "nParent"] == 10
    layers = layer_structure(source, communities=False).set_index("saeId")
    for sid, row in degrees.iterrows():
        assert row.coActivatesEdges == layers.loc[sid, "coActivatesEdges"]
        assert row.meanDegree == pytest.approx(layers.loc[sid, "meanDegree"])
        assert row.maxDegree == layers.loc[sid, "maxDegree"]
        assert row.nLive == layers.loc[sid, "liveFeatures"]
