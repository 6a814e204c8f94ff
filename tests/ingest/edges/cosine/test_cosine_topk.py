"""One-pass top-k kernels (``cosine.topk``) against a dense brute-force top-k, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from saegraph.ingest.edges.cosine.kernel import blocked_topk, normalize_rows
from saegraph.ingest.edges.cosine.stage import cosine_knn
from saegraph.ingest.edges.cosine.topk import blocked_topk_both, blocked_topk_self

BLOCKS = [1, 3, 7, 16, 64, 1000]  # most do not divide the row counts below


def dense_topk(s: np.ndarray, k: int, floor: float = -np.inf, exclude_self: bool = False):
    """Brute force on the full product: a stable argsort of -s (ties by the lower column),
    entries >= floor, self excluded on request; padded with -1 / -inf like the kernels."""
    n, m = s.shape
    k = max(1, min(k, m))
    idx = np.full((n, k), -1, dtype=np.int32)
    val = np.full((n, k), -np.inf, dtype=np.float32)
    order = np.argsort(-s, axis=1, kind="stable")
    for r in range(n):
        keep = [c for c in order[r] if s[r, c] >= floor and not (exclude_self and c == r)][:k]
        idx[r, : len(keep)] = keep
        val[r, : len(keep)] = s[r, keep]
    return idx, val


def tied(rng, n, d):
    """Small integer rows: many exactly equal products (ties), zero rows and duplicates."""
    w = rng.integers(-2, 3, (n, d)).astype(np.float32)
    if n > 3:
        w[1] = w[0]
        w[3] = 0.0
    return w


def assert_equal_lists(got, ref):
    assert np.array_equal(got[0], ref[0])
    assert np.array_equal(got[1], ref[1])


@pytest.mark.parametrize("block_rows", BLOCKS)
@pytest.mark.parametrize("floor", [-np.inf, 0.0, 2.0])
def test_both_ways_equal_dense_topk_with_ties(rng, block_rows, floor):
    a, b = tied(rng, 37, 4), tied(rng, 53, 4)
    s = a @ b.T
    ia, va, ib, vb = blocked_topk_both(a, b, 5, 6, floor, block_rows=block_rows)
    assert_equal_lists((ia, va), dense_topk(s, 5, floor))
    assert_equal_lists((ib, vb), dense_topk(np.ascontiguousarray(s.T), 6, floor))
    # the row-wise kernel keeps the same order (the B -> A pass it replaces)
    assert_equal_lists(blocked_topk(b, a, 6, floor, block_rows=block_rows), (ib, vb))


@pytest.mark.parametrize("block_rows", BLOCKS)
@pytest.mark.parametrize("floor", [-np.inf, 0.0, 2.0])
def test_self_equals_dense_topk_with_ties(rng, block_rows, floor):
    w = tied(rng, 45, 3)
    s = w @ w.T
    got = blocked_topk_self(w, 7, floor, block_rows=block_rows)
    ref = dense_topk(s, 7, floor, exclude_self=True)
    assert_equal_lists(got, ref)
    assert_equal_lists(blocked_topk(w, w, 7, floor, block_rows=block_rows, exclude_self=True), ref)


@pytest.mark.parametrize("block_rows", [5, 64, 301])
def test_kernels_on_continuous_data_equal_two_row_passes(rng, block_rows):
    """Unit rows, no exact ties: the same indices as the two row-wise passes they replace and
    the same values within float32 rounding (A -> B values are the very same products)."""
    a = normalize_rows(rng.standard_normal((300, 24)))
    b = normalize_rows(rng.standard_normal((257, 24)))
    ia, va, ib, vb = blocked_topk_both(a, b, 16, block_rows=block_rows)
    ra, rb = blocked_topk(a, b, 16, block_rows=block_rows), blocked_topk(b, a, 16, block_rows=block_rows)
    assert np.array_equal(ia, ra[0]) and np.array_equal(va, ra[1])
    assert np.array_equal(ib, rb[0])
    np.testing.assert_allclose(vb, rb[1], atol=1e-6, rtol=0)
    si, sv = blocked_topk_self(a, 16, 0.1, block_rows=block_rows)
    ri, rv = blocked_topk(a, a, 16, 0.1, block_rows=block_rows, exclude_self=True)
    assert np.array_equal(si, ri)
    np.testing.assert_allclose(sv, rv, atol=1e-6, rtol=0)
    di, dv = dense_topk(a.astype(np.float64) @ a.T.astype(np.float64), 16, 0.1, exclude_self=True)
    assert np.array_equal(si, di)
    np.testing.assert_allclose(sv, dv, atol=1e-6, rtol=0)


def test_degenerate_sizes(rng):
    one = normalize_rows(rng.standard_normal((1, 5)))
    idx, val = blocked_topk_self(one, 4)
    assert idx.tolist() == [[-1]] and val.tolist() == [[-np.inf]]
    ia, va, ib, vb = blocked_topk_both(one, normalize_rows(rng.standard_normal((3, 5))), 8, block_rows=2)
    assert ia.shape == (1, 3) and ib.shape == (3, 1) and (ib[:, 0] == 0).all()
    empty = np.zeros((0, 5), np.float32)
    assert blocked_topk_self(empty, 3)[0].shape == (0, 1)
    assert blocked_topk_both(empty, one, 3)[2].tolist() == [[-1]]


def old_normalize_rows(w):
    """normalize_rows before the in-place rewrite (the reference for bitwise equality)."""
    w = np.asarray(w, dtype=np.float32)
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(norms > 0, w / np.where(norms > 0, norms, 1.0), 0.0)
    return out.astype(np.float32, copy=False)


def test_normalize_rows_in_place_is_bitwise_the_old_copy(rng, monkeypatch):
    import saegraph.ingest.edges.cosine.kernel as kernel

    monkeypatch.setattr(kernel, "NORM_CHUNK_ROWS", 7)  # several chunks
    w = rng.standard_normal((40, 9)).astype(np.float32)
    w[5] = 0.0
    w[6] = -0.0
    ref = old_normalize_rows(w)
    copy = normalize_rows(w)
    assert copy is not w and np.array_equal(copy.view(np.uint32), ref.view(np.uint32))
    same = normalize_rows(w, overwrite=True)
    assert same is w and np.array_equal(w.view(np.uint32), ref.view(np.uint32))
    w64 = rng.standard_normal((10, 3))
    out = normalize_rows(w64, overwrite=True)  # not float32: a copy, the input untouched
    assert out.dtype == np.float32 and out is not w64
    assert np.array_equal(out, old_normalize_rows(w64))


def old_cosine_knn(w, k, floor, block_rows):
    """cosine_knn before the symmetric kernel: every row against all rows."""
    u = old_normalize_rows(w)
    idx, val = blocked_topk(u, u, k, floor, block_rows=block_rows, exclude_self=True)
    valid = idx >= 0
    rows = np.repeat(np.arange(u.shape[0], dtype=np.int32), valid.sum(axis=1))
    return rows, idx[valid].astype(np.int32), val[valid].astype(np.float32)


@pytest.mark.parametrize("block_rows", [7, 64, 4096])
def test_cosine_knn_equals_the_previous_implementation(rng, block_rows):
    w = rng.standard_normal((500, 16)).astype(np.float32)
    w[100:140] = w[:40] + 0.3 * rng.standard_normal((40, 16)).astype(np.float32)
    w[7] = 0.0
    got = cosine_knn(w.copy(), 8, 0.3, block_rows=block_rows, overwrite=True)
    ref = old_cosine_knn(w, 8, 0.3, block_rows)
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
    np.testing.assert_allclose(got[2], ref[2], atol=1e-6, rtol=0)
    tied_w = tied(rng, 60, 3)
    got, ref = cosine_knn(tied_w, 5, -1.0, block_rows=block_rows), old_cosine_knn(tied_w, 5, -1.0, block_rows)
    assert all(np.array_equal(x, y) for x, y in zip(got, ref))


def test_ties_at_the_kth_value_keep_the_lower_index():
    """[0.5, 0.5, 0.9], k = 2: the tie at the cut keeps column 0 (the row-wise kernel used to
    evict the lower index of a tie that filled its buffer)."""
    s = np.array([[0.5, 0.5, 0.9]], dtype=np.float32)
    assert blocked_topk(s, np.eye(3, dtype=np.float32), 2)[0].tolist() == [[2, 0]]
    assert blocked_topk_both(s, np.eye(3, dtype=np.float32), 2)[0].tolist() == [[2, 0]]
