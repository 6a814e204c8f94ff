"""MATCHES on the one-pass kernel and the rotated-sample null against the previous computation."""

from __future__ import annotations

import numpy as np
import pytest

from saegraph.ingest.edges.cosine.kernel import blocked_topk, normalize_rows
from saegraph.ingest.edges.matches.stage import match_saes, random_rotation


def previous_knn_and_null(w_a, w_b, knn, block_rows, rotation_null_rows, seed):
    """match_saes's kNN and rotation null before the one-pass kernel: two row-wise passes and
    all of B rotated."""
    wa, wb = normalize_rows(w_a), normalize_rows(w_b)
    ab = blocked_topk(wa, wb, knn, block_rows=block_rows)
    ba = blocked_topk(wb, wa, knn, block_rows=block_rows)
    rng = np.random.default_rng(seed)
    rows = rng.choice(wa.shape[0], size=min(rotation_null_rows, wa.shape[0]), replace=False)
    rotated = wb @ random_rotation(wa.shape[1], rng)
    _, v = blocked_topk(wa[rows], rotated, 1, block_rows=block_rows)
    return ab, ba, float(np.mean(v[:, 0]))


@pytest.mark.parametrize("block_rows", [7, 100, 2048])
@pytest.mark.parametrize("dense_max", [0, 10_000])
def test_match_saes_equals_the_previous_computation(rng, block_rows, dense_max):
    d = 32
    w_a = rng.standard_normal((230, d)).astype(np.float32)
    perm = rng.permutation(230)[:180]
    w_b = np.vstack([w_a[perm] + 0.4 * rng.standard_normal((180, d)), rng.standard_normal((70, d))])
    w_b = w_b.astype(np.float32)
    a_in, b_in = w_a.copy(), w_b.copy()
    res = match_saes(
        a_in,
        b_in,
        knn=8,
        dense_max=dense_max,
        block_rows=block_rows,
        rotation_null_rows=64,
        seed=5,
        overwrite=True,
    )
    assert np.allclose(np.linalg.norm(a_in, axis=1), 1.0, atol=1e-6)  # normalised in place
    ab, ba, null = previous_knn_and_null(w_a, w_b, 8, block_rows, 64, 5)
    # A -> B: the very same products, bitwise; B -> A: the same indices, values within rounding
    assert np.array_equal(res.knn_ab[0], ab[0]) and np.array_equal(res.knn_ab[1], ab[1])
    assert np.array_equal(res.knn_ba[0], ba[0])
    np.testing.assert_allclose(res.knn_ba[1], ba[1], atol=1e-6, rtol=0)
    assert res.stats["mcsRotationNullAB"] == pytest.approx(null, abs=1e-6)
    assert res.stats["rotationNullRows"] == 64
    # the one-to-one matches and mutual pairs do not depend on the last bits
    again = match_saes(w_a, w_b, knn=8, dense_max=dense_max, block_rows=block_rows)
    for x, y in zip(res.matched + res.mutual, again.matched + again.mutual):
        assert np.array_equal(x, y)
    assert res.stats["mcsBA"] == pytest.approx(float(np.mean(ba[1][:, 0])), abs=1e-6)


def test_rotating_the_sample_is_rotating_b(rng):
    """cos(a, row j of B Q) = (a Qᵀ)·b_j for every pair: the same null values, not only in law."""
    d = 20
    a = normalize_rows(rng.standard_normal((15, d)))
    b = normalize_rows(rng.standard_normal((40, d)))
    q = random_rotation(d, np.random.default_rng(3))
    np.testing.assert_allclose((a @ q.T) @ b.T, a @ (b @ q).T, atol=1e-6)
