"""Cross-SAE matching: permutation recovery, sparse vs dense, EVT baseline, splitting."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from saegraph.ingest.edges.cosine.kernel import blocked_topk, normalize_rows
from saegraph.ingest.edges.matches.actcorr import max_activation_correlation, pair_correlations
from saegraph.ingest.edges.matches.matching import dense_one_to_one, matching_cost, sparse_one_to_one
from saegraph.ingest.edges.matches.splitting import nnls_r2, parent_child
from saegraph.ingest.edges.matches.stage import evt_max_cosine_baseline, match_saes


def perturbed_permutation(rng, f=300, d=48, noise=0.3):
    w_a = rng.standard_normal((f, d))
    perm = rng.permutation(f)
    w_b = w_a[perm] + noise * rng.standard_normal((f, d))  # B row k is A row perm[k]
    return w_a, w_b, perm


@pytest.mark.parametrize("dense_max", [0, 10_000])
def test_matching_recovers_a_permutation(rng, dense_max):
    w_a, w_b, perm = perturbed_permutation(rng)
    res = match_saes(w_a, w_b, knn=8, dense_max=dense_max)
    a, b, cos = res.matched
    assert a.size == 300
    assert np.array_equal(perm[b], a)
    assert ("sparse" in res.stats["matchingMethod"]) == (dense_max == 0)
    assert res.stats["mutualNearest"] == 300
    assert res.stats["sharedFraction"]["0.9"]["fractionOfA"] == pytest.approx(np.mean(cos >= 0.9))


def test_sparse_equals_dense_optimum_when_knn_covers_floor(rng):
    w_a = normalize_rows(rng.standard_normal((60, 6)))
    w_b = normalize_rows(rng.standard_normal((80, 6)))
    floor = 0.6
    s = w_a @ w_b.T
    rows, cols = np.nonzero(s >= floor)
    a, b, cos = sparse_one_to_one(rows, cols, s[rows, cols], 60, 80, floor)
    da, db, dcos = dense_one_to_one(s, floor)
    assert matching_cost(cos, 60, floor) == pytest.approx(matching_cost(dcos, 60, floor), abs=1e-5)
    assert len(set(b.tolist())) == b.size and np.all(cos >= floor)
    np.testing.assert_allclose(cos, s[a, b], atol=1e-6)


def test_mcs_of_random_decoders_matches_extreme_value_baseline(rng):
    d = 256
    res = match_saes(
        rng.standard_normal((1024, d)), rng.standard_normal((2048, d)), knn=2, rotation_null_rows=256
    )
    st = res.stats
    assert st["mcsAB"] == pytest.approx(evt_max_cosine_baseline(2048, d), rel=0.10)
    assert st["mcsBA"] == pytest.approx(evt_max_cosine_baseline(1024, d), rel=0.10)
    assert st["mcsRotationNullAB"] == pytest.approx(st["mcsAB"], rel=0.10)
    assert evt_max_cosine_baseline(4096, 512) == pytest.approx(0.155, abs=0.002)


def test_max_activation_correlation_equals_dense(rng):
    n = 800
    a = sp.random(n, 30, density=0.1, format="csr", random_state=1, dtype=np.float32)
    b = sp.hstack([a[:, ::-1], sp.random(n, 10, density=0.1, format="csr", random_state=2)]).tocsr()
    best_ab, r_ab, best_ba, r_ba = max_activation_correlation(a, b, block_rows=7)
    da, db = a.toarray().astype(np.float64), b.toarray().astype(np.float64)
    corr = np.corrcoef(np.c_[da, db].T)[:30, 30:]
    np.testing.assert_allclose(r_ab, corr.max(1), atol=1e-5)
    np.testing.assert_allclose(r_ba, corr.max(0), atol=1e-5)
    assert np.array_equal(best_ab, corr.argmax(1))
    ia, ib = np.array([0, 3, 5]), np.array([29, 1, 35])
    counts, r = pair_correlations(a, b, ia, ib)
    np.testing.assert_allclose(r, corr[ia, ib], atol=1e-6)
    assert counts.tolist() == [int(((da[:, i] > 0) & (db[:, j] > 0)).sum()) for i, j in zip(ia, ib)]


def test_splitting_finds_planted_children(rng):
    d, n = 32, 3000
    narrow = rng.standard_normal((20, d))
    # wide: features 0..5 are children of narrow 0 (two) and narrow 1 (three) + unrelated ones
    kids = {0: [0, 1], 1: [2, 3, 4]}
    wide = rng.standard_normal((40, d))
    for par, ks in kids.items():
        for k in ks:
            wide[k] = narrow[par] + 0.6 * rng.standard_normal(d)
    # activations: a child fires only when its parent fires; exactly one child at a time
    act_n = (rng.random((n, 20)) < 0.05).astype(np.float32)
    act_w = (rng.random((n, 40)) < 0.05).astype(np.float32)
    act_w[:, :5] = 0
    for par, ks in kids.items():
        fires = np.flatnonzero(act_n[:, par] > 0)
        act_w[fires, rng.choice(ks, fires.size)] = 1.0
    children, parents, stats = parent_child(
        narrow,
        wide,
        min_cosine=0.5,
        min_cooccurrence=0.8,
        acts_narrow=sp.csr_matrix(act_n),
        acts_wide=sp.csr_matrix(act_w),
    )
    got = {(int(p), int(c)) for p, c in zip(children["parent"], children["child"])}
    assert got == {(p, k) for p, ks in kids.items() for k in ks}
    assert parents.set_index("parent")["nChildren"].to_dict() == {0: 2, 1: 3}
    assert np.allclose(parents["exclusivity"], 1.0)
    assert stats["cooccurrenceCriterion"] is True
    assert nnls_r2(np.array([1.0, 1.0]), np.array([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(1.0)
    # without activations only cosine decides
    children2, _, st2 = parent_child(narrow, wide, min_cosine=0.5)
    assert got <= {(int(p), int(c)) for p, c in zip(children2["parent"], children2["child"])}
    assert st2["cooccurrenceCriterion"] is False


def test_knn_rank_and_topk_cross(rng):
    w_a = normalize_rows(rng.standard_normal((10, 5)))
    w_b = normalize_rows(rng.standard_normal((15, 5)))
    idx, val = blocked_topk(w_a, w_b, 4, block_rows=3)
    s = w_a @ w_b.T
    assert np.array_equal(idx, np.argsort(-s, axis=1)[:, :4])
