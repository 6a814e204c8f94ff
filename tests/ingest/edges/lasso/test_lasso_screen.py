"""Sufficient statistics, the Fisher-z screen, Gram gathering and resampling vs dense references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats

from saegraph.ingest.edges.lasso.resample import (
    effective_sample_size,
    order_by_sequence,
    permutation_null,
    subsample_sequences,
)
from saegraph.ingest.edges.lasso.screen import (
    assemble_blocks,
    block_pair_keys,
    gram_entries,
    screen_pairs,
    split_features,
    top_k_candidates,
)
from saegraph.ingest.edges.stats.moments import column_moments
from saegraph.ingest.edges.stats.nulls import circular_shift_null


def sparse_acts(rng, n=3000, F=40, planted=((0, 1), (2, 3), (5, 30), (7, 8))):
    dens = rng.uniform(0.01, 0.15, F)
    b = rng.random((n, F)) < dens
    for i, j in planted:
        if j >= F:
            continue
        b[:, j] |= b[:, i] & (rng.random(n) < 0.6)
    return sp.csr_matrix((rng.uniform(0.5, 2.0, b.shape) * b).astype(np.float32))


def test_column_moments_and_split(rng):
    A = sparse_acts(rng)
    D = A.toarray().astype(np.float64)
    mom = column_moments(A)
    np.testing.assert_allclose(mom.mean, D.mean(0), rtol=1e-6)
    np.testing.assert_allclose(mom.sd, D.std(0), rtol=1e-5)
    np.testing.assert_array_equal(mom.firings, (D > 0).sum(0))
    nodes, dense = split_features(mom, min_firings=100, dense_density=0.12)
    assert set(dense) == set(np.flatnonzero((D > 0).mean(0) > 0.12))
    assert set(nodes) == set(np.flatnonzero(((D > 0).sum(0) >= 100) & ((D > 0).mean(0) <= 0.12)))


@pytest.mark.parametrize("block_entries", [60, 100_000])
def test_screen_equals_dense_reference(rng, block_entries):
    A = sparse_acts(rng)
    n, F = A.shape
    D = A.toarray().astype(np.float64)
    mom = column_moments(A)
    n_eff, q, min_count = 300.0, 0.05, 5
    res = screen_pairs(A, mom, n_eff, min_count=min_count, q=q, block_entries=block_entries)
    R = np.corrcoef(D, rowvar=False)
    C = (D > 0).T.astype(int) @ (D > 0).astype(int)
    iu, ju = np.triu_indices(F, 1)
    z = np.arctanh(np.clip(R[iu, ju], -1 + 1e-12, 1 - 1e-12)) * np.sqrt(n_eff - 3)
    p = np.where(C[iu, ju] >= min_count, 2 * scipy.stats.norm.sf(np.abs(z)), 1.0)
    reject = scipy.stats.false_discovery_control(p, method="bh") <= q
    assert res.n_tests == iu.size
    assert set(zip(res.i.tolist(), res.j.tolist())) == set(zip(iu[reject].tolist(), ju[reject].tolist()))
    np.testing.assert_allclose(res.r, R[res.i, res.j], atol=1e-6)
    for a, b in [(0, 1), (2, 3), (7, 8)]:
        assert ((res.i == a) & (res.j == b)).any()


def test_top_k_candidates(rng):
    A = sparse_acts(rng)
    res = screen_pairs(A, column_moments(A), 300.0, min_count=5, q=0.05, block_entries=10_000)
    F, k = A.shape[1], 2
    cand_ptr, cand_idx = top_k_candidates(res, F, k)
    for v in range(F):
        nb = {int(b): abs(r) for a, b, r in zip(res.i, res.j, res.r) if a == v}
        nb.update({int(a): abs(r) for a, b, r in zip(res.i, res.j, res.r) if b == v})
        got = cand_idx[cand_ptr[v] : cand_ptr[v + 1]]
        expected = sorted(nb, key=lambda u: (-nb[u], u))[:k]
        assert list(got) == expected


@pytest.mark.parametrize("block_entries", [50, 1_000_000])
def test_gram_entries_equal_dense_product(rng, block_entries):
    A = sparse_acts(rng, F=30)
    F = A.shape[1]
    S = (A.T @ A).toarray().astype(np.float64)
    iu, ju = np.triu_indices(F, 1)
    pick = rng.choice(iu.size, 100, replace=False)
    keys = np.sort(iu[pick] * F + ju[pick])
    np.testing.assert_allclose(
        gram_entries(A, keys, block_entries=block_entries), S[keys // F, keys % F], rtol=1e-5
    )


def test_assembled_blocks_equal_correlation_submatrices(rng):
    A = sparse_acts(rng, F=12)
    D = A.toarray().astype(np.float64)
    R = np.corrcoef(D, rowvar=False)
    nodes, dense = np.arange(10), np.array([10, 11])
    cand_ptr = np.array([0, 3, 3, 5] + [5] * 7 + [5])[:11]
    cand_idx = np.array([4, 1, 7, 0, 9])
    keys = block_pair_keys(cand_ptr, cand_idx, nodes.size)
    entry_corr = R[keys // nodes.size, keys % nodes.size]
    g_flat, g_off, b_flat, b_off, pen = assemble_blocks(
        cand_ptr, cand_idx, entry_corr, R[np.ix_(dense, nodes)], R[np.ix_(dense, dense)]
    )
    for v in range(nodes.size):
        preds = np.concatenate([cand_idx[cand_ptr[v] : cand_ptr[v + 1]], dense])
        p = preds.size
        G = g_flat[g_off[v] : g_off[v] + p * p].reshape(p, p)
        np.testing.assert_allclose(G, R[np.ix_(preds, preds)], atol=1e-10)
        np.testing.assert_allclose(b_flat[b_off[v] : b_off[v + 1]], R[preds, v], atol=1e-10)
        assert list(pen[b_off[v] : b_off[v + 1]]) == [True] * (p - 2) + [False, False]


def sequence_data(rng, n_seq=50, F=8):
    lengths = rng.integers(5, 20, n_seq)
    seq = np.repeat(np.arange(n_seq), lengths)
    pos = np.concatenate([np.arange(L) for L in lengths])
    A = sp.random(seq.size, F, density=0.2, format="csr", random_state=1, dtype=np.float32)
    return A, seq, pos


def test_order_and_subsample_keep_whole_sequences(rng):
    A, seq, pos = sequence_data(rng)
    perm = rng.permutation(seq.size)
    acts, starts = order_by_sequence(A[perm], seq[perm], pos[perm])
    np.testing.assert_array_equal(acts.toarray(), A.toarray())
    sub, sub_starts = subsample_sequences(acts, starts, 0.5, np.random.default_rng(3))
    assert sub_starts.size - 1 == 25
    lengths = np.diff(starts)
    assert sorted(np.diff(sub_starts).tolist()) != [] and set(np.diff(sub_starts)) <= set(lengths)
    assert sub.shape[0] == sub_starts[-1]


def test_circular_shift_rotates_each_column_within_each_sequence(rng):
    A, seq, pos = sequence_data(rng)
    acts, starts = order_by_sequence(A, seq, pos)
    null = circular_shift_null(acts, starts, seed=5)
    D, N = acts.toarray(), null.toarray()
    rotated_somewhere = False
    for s in range(starts.size - 1):
        a, b = starts[s], starts[s + 1]
        for f in range(D.shape[1]):
            col, ncol = D[a:b, f], N[a:b, f]
            assert any(np.array_equal(np.roll(col, k), ncol) for k in range(b - a))
            rotated_somewhere |= not np.array_equal(col, ncol)
    assert rotated_somewhere
    np.testing.assert_array_equal(circular_shift_null(acts, starts, seed=5).toarray(), N)


def test_permutation_null_keeps_column_values(rng):
    A, seq, pos = sequence_data(rng)
    null = permutation_null(A, np.random.default_rng(0))
    for f in range(A.shape[1]):
        before, after = A[:, f].toarray().ravel(), null[:, f].toarray().ravel()
        np.testing.assert_array_equal(np.sort(before), np.sort(after))


def test_effective_sample_size(rng):
    A, seq, pos = sequence_data(rng)
    acts, starts = order_by_sequence(A, seq, pos)
    n_seq_eff, info = effective_sample_size(acts, starts, "sequences")
    assert n_seq_eff == starts.size - 1 and info["mode"] == "sequences"
    deflated, info = effective_sample_size(acts, starts, "deflated")
    assert starts.size - 1 <= deflated <= acts.shape[0]
    # a persistent signal (runs of firings) deflates more than independent firings
    runs = sp.csr_matrix(
        np.repeat(rng.random((acts.shape[0] // 4 + 1, 8)) < 0.2, 4, axis=0)[: acts.shape[0]].astype(
            np.float32
        )
    )
    assert effective_sample_size(runs, starts, "deflated")[0] < deflated


def test_gram_entries_merge_path_equals_dense_product(rng):
    A = sparse_acts(rng, F=30)
    F = A.shape[1]
    S = (A.T @ A).toarray().astype(np.float64)
    keys = np.array([0 * F + 1, 2 * F + 3, 5 * F + 29])  # few pairs: the column merge is cheaper
    np.testing.assert_allclose(gram_entries(A, keys, block_entries=10_000), S[keys // F, keys % F], rtol=1e-5)
