"""Property-based tests on the edge builders' pure cores (hypothesis).

For random sparse, non-negative activations (empty columns, single firings, duplicated
columns and constant columns included) and random decoders (zero and duplicate rows
included): every score is finite or, where the table allows it, documented NaN-free;
no self-edges; each undirected pair once with source < target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saegraph.ingest.config import CoactivationConfig, CosineConfig, LassoConfig
from saegraph.ingest.edges.coactivation.stage import coactivation_edges
from saegraph.ingest.edges.cosine.stage import cosine_knn, undirected_pairs
from saegraph.ingest.edges.lasso.stage import lasso_edges

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def sparse_activations(draw, max_tokens=400, max_features=24):
    """(CSR tokens x features, sequence ids, positions) with degenerate columns mixed in."""
    n_seq = draw(st.integers(2, 10))
    seq_len = draw(st.integers(4, max_tokens // n_seq))
    n = n_seq * seq_len
    f = draw(st.integers(2, max_features))
    density = draw(st.floats(0.0, 0.4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n, f)) < density, rng.exponential(1.0, (n, f)), 0.0).astype(np.float32)
    group = draw(st.integers(0, f // 2))  # a planted group that fires together (so edges exist)
    together = rng.random(n) < draw(st.floats(0.05, 0.5))
    dense[np.ix_(together, np.arange(f - group, f))] = rng.exponential(1.0, (int(together.sum()), group))
    if f >= 4 and draw(st.booleans()):
        dense[:, 1] = dense[:, 0]  # a duplicated column (perfect co-firing)
        dense[:, 2] = 0.0  # a dead feature
        dense[rng.integers(0, n), 3] = 1.0  # fires once
    if draw(st.booleans()):
        dense[:, -1] = np.where(dense[:, -1] > 0, 2.0, 0.0)  # constant magnitude when firing
    seq = np.repeat(np.arange(n_seq, dtype=np.int64), seq_len)
    pos = np.tile(np.arange(seq_len, dtype=np.int32), n_seq)
    return sp.csr_matrix(dense), seq, pos


def assert_clean_pairs(frame: pd.DataFrame, n_features: int) -> None:
    i, j = frame["i"].to_numpy(), frame["j"].to_numpy()
    assert (i < j).all(), "self-edge or reversed pair"
    assert ((i >= 0) & (j < n_features)).all()
    assert not frame.duplicated(["i", "j"]).any(), "duplicate undirected pair"


@SETTINGS
@given(
    data=sparse_activations(),
    min_count=st.integers(1, 5),
    top_k=st.integers(1, 8),
    q=st.sampled_from([0.01, 0.5, 0.99]),
    min_npmi=st.sampled_from([-1.0, 0.0, 0.1]),
)
def test_coactivation_scores_are_finite_and_pairs_unique(data, min_count, top_k, q, min_npmi):
    acts, seq, _ = data
    cfg = CoactivationConfig(min_count=min_count, fdr_q=q, min_npmi=min_npmi, top_k=top_k, block_rows=7)
    frame, stats = coactivation_edges(acts, cfg, sequence_ids=seq, seed=1)
    assert_clean_pairs(frame, acts.shape[1])
    scores = [
        "count",
        "jaccard",
        "npmi",
        "phi",
        "pTargetGivenSource",
        "pSourceGivenTarget",
        "pValue",
        "qValue",
    ]
    assert np.isfinite(frame[scores].to_numpy(dtype=float)).all(), frame[scores][
        ~np.isfinite(frame[scores]).all(1)
    ]
    assert not frame["pearson"].isna().any(), "pearson NaN (constant column?)"
    assert (frame["count"] >= min_count).all()
    assert frame["pValue"].between(0, 1).all() and frame["qValue"].between(0, 1).all()
    assert frame["npmi"].between(-1 - 1e-9, 1 + 1e-9).all() and frame["jaccard"].between(0, 1).all()
    assert stats["kept"] == len(frame)


@st.composite
def decoders(draw):
    f = draw(st.integers(2, 40))
    d = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = rng.normal(size=(f, d)).astype(np.float32)
    if f >= 3 and draw(st.booleans()):
        w[1] = w[0]  # duplicate direction (cosine 1)
        w[2] = 0.0  # zero row (undefined direction)
    return w


@SETTINGS
@given(
    w=decoders(), k=st.integers(1, 10), floor=st.sampled_from([-1.0, 0.0, 0.3]), block_rows=st.integers(1, 16)
)
def test_cosine_knn_pairs_are_clean(w, k, floor, block_rows):
    rows, cols, sims = cosine_knn(w, k, floor, block_rows=block_rows)
    assert (rows != cols).all(), "self-neighbour"
    assert np.isfinite(sims).all()
    frame = undirected_pairs(rows, cols, sims)
    assert_clean_pairs(frame, w.shape[0])
    assert np.isfinite(frame["similarity"]).all() and (frame["similarity"] >= floor - 1e-6).all()
    assert (
        (frame["similarity"] <= 1 + 1e-5).all() and (frame["rank"] >= 1).all() and (frame["rank"] <= k).all()
    )


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=sparse_activations(max_tokens=300, max_features=14),
    null=st.sampled_from(["circular_shift", "permutation"]),
    keep=st.sampled_from(["all", "significant"]),
)
def test_lasso_edges_are_clean(data, null, keep):
    acts, seq, pos = data
    cfg = LassoConfig(
        replicates=2, min_firings=2, min_count=1, candidates=6, n_lambdas=6, null=null, keep=keep
    )
    frame, stats = lasso_edges(acts, seq, pos, cfg, seed=3, sae_id="p")
    assert_clean_pairs(frame, acts.shape[1])
    for col in ("weight", "stability", "pValue", "qValue"):
        assert np.isfinite(frame[col].to_numpy(dtype=float)).all(), col
    assert frame["stability"].between(0, 1).all() and frame["pValue"].between(0, 1).all()
    assert (frame["nReplicates"] >= 1).all() and (frame["nReplicates"] <= cfg.replicates).all()
    assert stats["edgesSelectedOnce"] >= len(frame)


def test_cosine_config_defaults_are_exercised():
    """The property tests above use the stages' own config classes (a changed field name breaks them)."""
    assert CosineConfig().top_k >= 1 and CoactivationConfig().top_k == 0 and LassoConfig().replicates >= 1


def test_properties_also_hold_on_a_planted_input_with_many_edges():
    """Random draws often give few edges; this fixed input with a strong planted group gives many."""
    rng = np.random.default_rng(7)
    n_seq, seq_len, f = 40, 50, 12
    n = n_seq * seq_len
    dense = np.where(rng.random((n, f)) < 0.05, rng.exponential(1.0, (n, f)), 0.0)
    parent = np.where(rng.random(n) < 0.2, rng.exponential(1.0, n), 0.0)
    for k in range(4):  # features 0..3 follow the parent linearly, with noise
        dense[:, k] = np.where(parent > 0, parent * (1 + 0.5 * k) + 0.05 * rng.random(n), 0.0)
    acts = sp.csr_matrix(dense.astype(np.float32))
    seq = np.repeat(np.arange(n_seq, dtype=np.int64), seq_len)
    pos = np.tile(np.arange(seq_len, dtype=np.int32), n_seq)
    co, _ = coactivation_edges(acts, CoactivationConfig(), sequence_ids=seq, seed=1)
    assert len(co) >= 6
    test_coactivation_scores_are_finite_and_pairs_unique.hypothesis.inner_test(
        (acts, seq, pos), min_count=5, top_k=8, q=0.01, min_npmi=0.1
    )
    # the planted group fires on ~20% of tokens: above the default dense_density (0.2) it would
    # enter every regression as covariates instead of being nodes
    la, _ = lasso_edges(
        acts, seq, pos, LassoConfig(replicates=4, min_firings=10, keep="all", dense_density=0.5), seed=3
    )
    assert len(la) >= 1
    test_lasso_edges_are_clean.hypothesis.inner_test((acts, seq, pos), null="circular_shift", keep="all")
    w = rng.normal(size=(30, 8)).astype(np.float32)
    w[1] = w[0]
    test_cosine_knn_pairs_are_clean.hypothesis.inner_test(w, k=5, floor=-1.0, block_rows=7)
