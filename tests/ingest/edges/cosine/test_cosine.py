"""Decoder-cosine kNN against a dense brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

from saegraph.ingest.edges.cosine.kernel import blocked_topk, normalize_rows
from saegraph.ingest.edges.cosine.stage import chance_max_cosine, cosine_knn, directed_ranks, undirected_pairs


def dense_knn(w, k, floor):
    u = w / np.linalg.norm(w, axis=1, keepdims=True)
    s = u @ u.T
    np.fill_diagonal(s, -np.inf)
    out = []
    for r in range(s.shape[0]):
        order = sorted(range(s.shape[1]), key=lambda c: (-s[r, c], c))
        out += [(r, c, s[r, c]) for c in order[:k] if s[r, c] >= floor]
    return out


@pytest.mark.parametrize("block_rows", [7, 1000])
def test_knn_equals_dense_reference(rng, block_rows):
    w = rng.standard_normal((120, 8)).astype(np.float32)
    rows, cols, sims = cosine_knn(w, k=5, floor=0.3, block_rows=block_rows)
    ref = dense_knn(w.astype(np.float64), 5, 0.3)
    assert list(zip(rows.tolist(), cols.tolist())) == [(r, c) for r, c, _ in ref]
    np.testing.assert_allclose(sims, [s for *_, s in ref], atol=1e-5)


def test_topk_without_floor_and_zero_rows(rng):
    w = rng.standard_normal((30, 6)).astype(np.float32)
    w[4] = 0.0
    u = normalize_rows(w)
    assert np.all(u[4] == 0)
    idx, val = blocked_topk(u, u, 3, block_rows=8, exclude_self=False)
    s = u @ u.T
    np.testing.assert_allclose(val, -np.sort(-s, axis=1)[:, :3], atol=1e-6)


def test_undirected_pairs_store_once_with_smaller_rank():
    rows = np.array([0, 0, 1, 1, 2])
    cols = np.array([1, 2, 0, 2, 1])
    sims = np.array([0.9, 0.5, 0.9, 0.8, 0.8], dtype=np.float32)
    assert directed_ranks(rows).tolist() == [1, 2, 1, 2, 1]
    df = undirected_pairs(rows, cols, sims)
    assert df[["i", "j", "rank"]].values.tolist() == [[0, 1, 1], [0, 2, 2], [1, 2, 1]]


def test_planted_near_duplicates_found_and_chance_level(rng):
    d, f = 256, 400
    w = rng.standard_normal((f, d))
    w[200:210] = w[:10] + 0.1 * rng.standard_normal((10, d))
    rows, cols, sims = cosine_knn(w, k=4, floor=0.5)
    pairs = set(zip(rows.tolist(), cols.tolist()))
    assert {(k, 200 + k) for k in range(10)} <= pairs
    assert len(pairs) == 20  # nothing else clears 0.5 at d = 256 (chance ~0.2)
    u = normalize_rows(w[220:])
    s = u @ u.T
    np.fill_diagonal(s, 0.0)
    assert chance_max_cosine(s.shape[0], d) == pytest.approx(np.mean(np.abs(s).max(1)), rel=0.2)
