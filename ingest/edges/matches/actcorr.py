"""Activation correlation between the features of two SAEs that saw the same tokens.

Algorithm (docs/methods.md, MATCHES; the same kernel as co-activation, on [A₁|A₂]):
1. Column moments over all N tokens (zeros included): μ, σ from Σa and Σa².
2. For blocks of A's features accumulate the dense cross block S = A_blockᵀ B
   (``coactivation.kernel.cross_dot_block``; only tokens where both fire contribute), then
   r = (S/N − μ_a μ_b) / (σ_a σ_b) for the whole block (pairs that never co-fire get their
   exact, negative, correlation), and keep each row's max and argmax and a running max per
   column of B. Memory: block_rows x F_B float32, capped by ``block_memory_mb``.
3. Correlations of a given list of pairs merge the two sorted CSC columns of each pair
   (``coactivation.kernel.pair_dots``), which also yields the co-firing count used by
   P(parent fires | child fires) in the splitting analysis.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from saegraph.ingest.edges.coactivation import kernel as kern
from saegraph.ingest.edges.stats.moments import column_moments
from saegraph.ingest.edges.stats.significance import pearson_from_moments


def _csr(acts) -> sp.csr_matrix:
    m = sp.csr_matrix(acts, dtype=np.float32, copy=True)
    m.sort_indices()
    return m


def max_activation_correlation(
    acts_a, acts_b, *, block_rows: int = 2048, block_memory_mb: int = 512, progress: bool = False
):
    """Per feature of A: (argmax_b, max r); per feature of B: (argmax_a, max r). NaN for dead."""
    from tqdm.auto import tqdm

    a, b = _csr(acts_a), _csr(acts_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"the two SAEs saw different numbers of tokens ({a.shape[0]} vs {b.shape[0]})")
    n = a.shape[0]
    fa, fb = a.shape[1], b.shape[1]
    ma, mb = column_moments(a), column_moments(b)
    sa, qa, sb, qb = ma.sums, ma.sumsq, mb.sums, mb.sumsq
    mu_a, mu_b = sa / n, sb / n
    sd_a = np.sqrt(np.maximum(qa / n - mu_a**2, 0.0))
    sd_b = np.sqrt(np.maximum(qb / n - mu_b**2, 0.0))
    rows = int(max(1, min(block_rows, (block_memory_mb << 20) // (4 * max(fb, 1)))))
    best_ab = np.full(fa, -1, np.int64)
    r_ab = np.full(fa, np.nan)
    best_ba = np.full(fb, -1, np.int64)
    r_ba = np.full(fb, -np.inf)
    buf = np.zeros((rows, fb), dtype=np.float32)
    ptr_a, ptr_b = a.indptr.astype(np.int64), b.indptr.astype(np.int64)
    for r0 in tqdm(
        range(0, fa, rows), desc="activation correlation", unit="block", disable=not progress, leave=False
    ):
        r1 = min(r0 + rows, fa)
        view = buf[: r1 - r0]
        view[:] = 0.0
        kern.cross_dot_block(ptr_a, a.indices, a.data, ptr_b, b.indices, b.data, r0, r1, view)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (view / n - mu_a[r0:r1, None] * mu_b[None, :]) / (sd_a[r0:r1, None] * sd_b[None, :])
        r = np.where(np.isfinite(r), r, -np.inf)
        arg = np.argmax(r, axis=1)
        best = r[np.arange(r1 - r0), arg]
        valid = np.isfinite(best)
        best_ab[r0:r1] = np.where(valid, arg, -1)
        r_ab[r0:r1] = np.where(valid, best, np.nan)
        col_arg = np.argmax(r, axis=0)
        col_best = r[col_arg, np.arange(fb)]
        better = col_best > r_ba
        r_ba[better] = col_best[better]
        best_ba[better] = col_arg[better] + r0
    r_ba = np.where(np.isfinite(r_ba), r_ba, np.nan)
    return best_ab, np.clip(r_ab, -1, 1), best_ba, np.clip(r_ba, -1, 1)


def pair_correlations(acts_a, acts_b, ia: np.ndarray, ib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(co-firing counts, Pearson r) of the pairs (column ia[k] of A, column ib[k] of B)."""
    a = sp.csc_matrix(acts_a, dtype=np.float32, copy=True)
    b = sp.csc_matrix(acts_b, dtype=np.float32, copy=True)
    a.sort_indices()
    b.sort_indices()
    n = a.shape[0]
    ia = np.asarray(ia, np.int64)
    ib = np.asarray(ib, np.int64)
    counts = np.empty(ia.size, np.int64)
    dots = np.empty(ia.size, np.float64)
    pa = sp.csc_matrix(a > 0)
    pb = sp.csc_matrix(b > 0)
    pa.sort_indices()
    pb.sort_indices()
    # counts on the firing pattern (act > 0), dots on the values
    kern.pair_dots(
        pa.indptr.astype(np.int64),
        pa.indices,
        pa.data.astype(np.float32),
        pb.indptr.astype(np.int64),
        pb.indices,
        pb.data.astype(np.float32),
        ia,
        ib,
        counts,
        dots,
    )
    kern.pair_dots(
        a.indptr.astype(np.int64),
        a.indices,
        a.data,
        b.indptr.astype(np.int64),
        b.indices,
        b.data,
        ia,
        ib,
        np.empty(ia.size, np.int64),
        dots,
    )
    ma, mb = column_moments(a), column_moments(b)
    sa, qa, sb, qb = ma.sums, ma.sumsq, mb.sums, mb.sumsq
    r = pearson_from_moments(dots, sa[ia], sb[ib], qa[ia], qb[ib], n)
    return counts, r
