"""Numba kernels that count co-firings without ever holding an F x F matrix.

Inputs are the binary firing pattern of a token x feature CSR matrix (``indptr`` int64,
``indices`` int32, each row's indices sorted ascending).

Algorithm (blocked rows, exact; docs/methods.md, CO_ACTIVATES and EXCLUDES):
1. For a block of feature rows [r0, r1), scan every token once: binary-search the first
   active feature >= r0, and for each active a in the block add 1 to ``C[a - r0, b]`` for
   every later active feature b > a of the same token. This is the strict upper triangle
   of Bᵀ B restricted to the block: W = Σ_t L_t (L_t − 1) / 2 updates over all blocks.
2. ``block_candidates`` then walks each row of the block from column a + 1, zeroing
   entries as it reads them (so the buffer is ready for the next block without a memset),
   and keeps the pairs with c >= min_count whose hypergeometric tail cannot be shown to
   exceed q by a rigorous lower bound (step 3). Only those go to the exact p-value.
3. Prescreen: P(X >= c) >= Σ_{x=c}^{c+K} pmf(x) with pmf from a log-factorial table and
   the ratio pmf(x+1)/pmf(x) = (n_i−x)(n_j−x)/((x+1)(N−n_i−n_j+x+1)). The pmf is
   log-concave, so once the ratio r < 1 the rest of the tail is at most term·r/(1−r):
   the sum stops as soon as it proves p > q (pair dropped) or p <= q is possible
   (pair kept for the exact ``scipy.stats.hypergeom.sf``).
4. The within-sequence circular-shift null (``stats.nulls``, shared with LASSO): each
   feature's firing times are rotated inside each sequence by an offset drawn from a
   hash of (seed, feature, sequence), so every feature keeps its count and its own
   autocorrelation while its alignment with other features is broken.
5. ``pair_dots`` merges two sorted CSC columns per requested pair to get the co-firing
   count and Σ_t a_ti a_tj (the weighted S = AᵀA entry) for a list of pairs only;
   ``pair_dots_add`` adds one block of rows to running counts and sums (streamed tokens).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def first_at_least(indices, lo, hi, value):
    """First position in [lo, hi) of the sorted ``indices`` holding a value >= ``value`` (hi if none)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(cache=True, nogil=True)
def count_block(indptr, indices, r0, r1, out):
    """Add the strict-upper-triangle co-firing counts of rows [r0, r1) into ``out``."""
    n_tokens = indptr.shape[0] - 1
    for t in range(n_tokens):
        s = indptr[t]
        e = indptr[t + 1]
        if e - s < 2:
            continue
        p = first_at_least(indices, s, e, r0)
        while p < e - 1:
            a = indices[p]
            if a >= r1:
                break
            row = a - r0
            for q in range(p + 1, e):
                out[row, indices[q]] += 1
            p += 1


@nb.njit(cache=True, nogil=True)
def tail_may_be_at_most(c, n_tokens, ni, nj, logfact, q):
    """False only when P(X >= c) > q is proven for X ~ Hypergeom(N, n_i, n_j)."""
    hi = min(ni, nj)
    rest = n_tokens - ni - nj + c
    if c > hi or rest < 0:
        return True  # impossible count: leave it to the exact test
    lp = (
        logfact[ni]
        - logfact[c]
        - logfact[ni - c]
        + logfact[n_tokens - ni]
        - logfact[nj - c]
        - logfact[rest]
        - logfact[n_tokens]
        + logfact[nj]
        + logfact[n_tokens - nj]
    )
    thr = q * (1.0 + 1e-6)
    term = math.exp(lp)
    total = term
    x = c
    for _ in range(512):
        if total > thr:
            return False
        if x >= hi:
            return True
        r = (ni - x) * 1.0 * (nj - x) / ((x + 1.0) * (rest + 1.0 + (x - c)))
        if r < 1.0 and total + term * r / (1.0 - r) <= thr:
            return True  # the whole tail is below q: keep for the exact test
        term *= r
        total += term
        x += 1
    return total <= thr


@nb.njit(cache=True, nogil=True)
def block_candidates(
    block, r0, start_row, n_fires, n_tokens, logfact, min_count, q, out_i, out_j, out_c, stats
):
    """Collect (i, j, c) with c >= min_count that may have p <= q; zero the rows read.

    Processes rows from ``start_row`` until the output buffers could overflow; returns
    (rows written, next row). ``stats[0]`` += pairs with c >= min_count,
    ``stats[1]`` += pairs the prescreen removed.
    """
    n_rows, n_features = block.shape
    cap = out_i.shape[0]
    w = 0
    row = start_row
    while row < n_rows:
        if cap - w < n_features:
            break
        i = r0 + row
        ni = n_fires[i]
        for j in range(i + 1, n_features):
            c = block[row, j]
            if c == 0:
                continue
            block[row, j] = 0
            if c < min_count:
                continue
            stats[0] += 1
            if tail_may_be_at_most(c, n_tokens, ni, n_fires[j], logfact, q):
                out_i[w] = i
                out_j[w] = j
                out_c[w] = c
                w += 1
            else:
                stats[1] += 1
        row += 1
    return w, row


@nb.njit(cache=True, nogil=True)
def pair_dots_add(ptr_a, rows_a, vals_a, ptr_b, rows_b, vals_b, ia, ib, counts, dots):
    """For each pair k: add the co-firing count and Σ a·b of column ia[k] of A and ib[k] of B
    (CSC) to counts[k] and dots[k]. The sum continues from dots[k] in row order, so calling it
    on consecutive row blocks gives the float64 sum of one call on the stacked rows."""
    for k in range(ia.shape[0]):
        pa = ptr_a[ia[k]]
        ea = ptr_a[ia[k] + 1]
        pb = ptr_b[ib[k]]
        eb = ptr_b[ib[k] + 1]
        c = 0
        s = dots[k]
        while pa < ea and pb < eb:
            ra = rows_a[pa]
            rb = rows_b[pb]
            if ra == rb:
                c += 1
                s += np.float64(vals_a[pa]) * vals_b[pb]
                pa += 1
                pb += 1
            elif ra < rb:
                pa += 1
            else:
                pb += 1
        counts[k] += c
        dots[k] = s


@nb.njit(cache=True, nogil=True)
def pair_dots(ptr_a, rows_a, vals_a, ptr_b, rows_b, vals_b, ia, ib, counts, dots):
    """For each pair k: co-firing count and Σ a·b of column ia[k] of A and ib[k] of B (CSC)."""
    counts[:] = 0
    dots[:] = 0.0
    pair_dots_add(ptr_a, rows_a, vals_a, ptr_b, rows_b, vals_b, ia, ib, counts, dots)


@nb.njit(cache=True, nogil=True)
def cross_dot_block(ptr_a, idx_a, val_a, ptr_b, idx_b, val_b, r0, r1, out):
    """out[a − r0, b] += Σ_t A[t, a] B[t, b] for a in [r0, r1) (both CSR over the same tokens)."""
    n_tokens = ptr_a.shape[0] - 1
    for t in range(n_tokens):
        s = ptr_a[t]
        e = ptr_a[t + 1]
        if s == e or ptr_b[t] == ptr_b[t + 1]:
            continue
        p = first_at_least(idx_a, s, e, r0)
        while p < e:
            a = idx_a[p]
            if a >= r1:
                break
            va = val_a[p]
            row = a - r0
            for q in range(ptr_b[t], ptr_b[t + 1]):
                out[row, idx_b[q]] += va * val_b[q]
            p += 1
