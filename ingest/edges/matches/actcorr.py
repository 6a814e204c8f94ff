"""Activation correlation between the features of two SAEs that saw the same tokens.

Algorithm (docs/methods.md, MATCHES; the same kernel as co-activation, on [A₁|A₂]):
1. Column moments over all N tokens (zeros included): μ, σ from Σa and Σa².
2. For blocks of A's features accumulate the dense cross block S = A_blockᵀ B
   (``coactivation.kernel.cross_dot_block``; only tokens where both fire contribute), then
   r = (S/N − μ_a μ_b) / (σ_a σ_b) for the whole block (pairs that never co-fire get their
   exact, negative, correlation), and keep each row's max and argmax and a running max per
   column of B. Memory: block_rows x F_B float32, capped by ``block_memory_mb``.
3. Correlations of a given list of pairs merge the two sorted CSC columns of each pair
   (``coactivation.kernel.pair_dots_add``), which also yields the co-firing count used by
   P(parent fires | child fires) in the splitting analysis.
Every sum over tokens is added token block by token block in token order
(``stats.stream.TokenBlocks``: the stacked matrices as one block, or blocks of whole sequences
streamed from disk above the stage's token_memory_mb), so streamed and in-memory results are
equal; the ``*_blocks`` functions take the blocks, the others two matrices.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from saegraph.ingest.edges.coactivation import kernel as kern
from saegraph.ingest.edges.stats.moments import ColumnMoments
from saegraph.ingest.edges.stats.significance import pearson_from_moments
from saegraph.ingest.edges.stats.stream import MomentAccumulator, TokenBlocks, accumulate_moments


def _csr(acts) -> sp.csr_matrix:
    m = sp.csr_matrix(acts, dtype=np.float32, copy=True)
    m.sort_indices()
    return m


def pair_blocks(acts_a, acts_b) -> TokenBlocks:
    """Two activation matrices over the same tokens as one in-memory token block."""
    a, b = _csr(acts_a), _csr(acts_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"the two SAEs saw different numbers of tokens ({a.shape[0]} vs {b.shape[0]})")
    return TokenBlocks.in_memory([a, b])


def max_activation_correlation(
    acts_a, acts_b, *, block_rows: int = 2048, block_memory_mb: int = 512, progress: bool = False
):
    """Per feature of A: (argmax_b, max r); per feature of B: (argmax_a, max r). NaN for dead."""
    return max_activation_correlation_blocks(
        pair_blocks(acts_a, acts_b), block_rows=block_rows, block_memory_mb=block_memory_mb, progress=progress
    )


def max_activation_correlation_blocks(
    blocks: TokenBlocks,
    *,
    block_rows: int = 2048,
    block_memory_mb: int = 512,
    progress: bool = False,
    moments: tuple[ColumnMoments, ColumnMoments] | None = None,
):
    """``max_activation_correlation`` of the two SAEs of ``blocks`` (A first); ``moments``: their
    column moments when already known. Streamed blocks are read once per block of A's features."""
    from tqdm.auto import tqdm

    n = blocks.n_tokens
    fa, fb = blocks.widths
    ma, mb = moments if moments is not None else accumulate_moments(blocks)
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
    for r0 in tqdm(
        range(0, fa, rows), desc="activation correlation", unit="block", disable=not progress, leave=False
    ):
        r1 = min(r0 + rows, fa)
        view = buf[: r1 - r0]
        view[:] = 0.0
        for block in blocks:
            a, b = block.acts
            ptr_a, ptr_b = a.indptr.astype(np.int64), b.indptr.astype(np.int64)
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
    counts, r, _ = pair_correlations_blocks(pair_blocks(acts_a, acts_b), ia, ib)
    return counts, r


def _sorted_csc(m: sp.csr_matrix) -> sp.csc_matrix:
    out = sp.csc_matrix(m, dtype=np.float32, copy=True)
    out.sort_indices()
    return out


def pair_correlations_blocks(
    blocks: TokenBlocks, ia: np.ndarray, ib: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[ColumnMoments, ColumnMoments]]:
    """(co-firing counts, Pearson r) of the pairs (column ia[k] of A, column ib[k] of B) of the two
    SAEs of ``blocks``, and the two SAEs' column moments, in one pass over the tokens."""
    ia = np.asarray(ia, np.int64)
    ib = np.asarray(ib, np.int64)
    counts = np.zeros(ia.size, np.int64)
    dots = np.zeros(ia.size, np.float64)
    scratch_c = np.zeros(ia.size, np.int64)
    scratch_d = np.zeros(ia.size, np.float64)
    acc = [MomentAccumulator(w) for w in blocks.widths]
    for block in blocks:
        for m, x in zip(acc, block.acts):
            m.add(x)
        a, b = (_sorted_csc(x) for x in block.acts)
        pa, pb = (_sorted_csc(x > 0) for x in block.acts)
        # counts on the firing pattern (act > 0), dots on the values
        kern.pair_dots_add(
            pa.indptr.astype(np.int64),
            pa.indices,
            pa.data,
            pb.indptr.astype(np.int64),
            pb.indices,
            pb.data,
            ia,
            ib,
            counts,
            scratch_d,
        )
        kern.pair_dots_add(
            a.indptr.astype(np.int64), a.indices, a.data, b.indptr.astype(np.int64), b.indices, b.data, ia, ib,
            scratch_c, dots,
        )  # fmt: skip
    ma, mb = (m.result() for m in acc)
    r = pearson_from_moments(dots, ma.sums[ia], mb.sums[ib], ma.sumsq[ia], mb.sumsq[ib], blocks.n_tokens)
    return counts, r, (ma, mb)
