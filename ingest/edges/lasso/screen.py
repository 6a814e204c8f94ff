"""Sufficient statistics and the correlation screen for the nodewise LASSO.

Everything the LASSO needs is μ, σ and a few entries of S = AᵀA (docs/methods.md, LASSO);
S is never densified as F × F.

Algorithm:
1. ``stats.moments.column_moments``: n, Σa, Σa², firing counts per column → μ, σ (population).
2. ``split_features``: drop features firing fewer than ``min_firings`` times; features
   denser than ``dense_density`` become covariates (not nodes, in every regression).
3. ``screen_pairs``: rows of the upper triangle of S and C = BᵀB are accumulated in
   dense row blocks (cache-sized, at most ``block_entries`` cells; S and c of a pair side by
   side, one cache line per update) by a numba kernel over the sorted CSR rows. For every pair,
   r_ij = (S_ij/n − μ_i μ_j)/(σ_i σ_j); a pair is tested when |r_ij| ≥ ``min_abs_r`` (the
   effect floor) and, if r_ij > 0, c_ij ≥ ``min_count`` (a negative pair co-fires rarely by
   definition, so the co-firing floor would hide exactly the exclusion it shows):
   z = atanh(r)·sqrt(n_eff − 3), two-sided p; pairs with p ≤ q are kept, then
   Benjamini–Hochberg at q over all F(F−1)/2 pairs (untested pairs count as p = 1, so the
   prefilter loses nothing).
4. ``top_k_candidates``: per node, the k screened neighbours with the largest |r|.
5. ``gram_entries``: S at the requested pairs only (all pairs inside each node's block
   {i} ∪ candidates(i)): by merging sorted CSC columns when that is cheaper, else by a
   second blocked pass accumulating through a slot map.
6. ``assemble_blocks`` lays out each node's standardized Gram block and target vector,
   with the dense covariates appended, for ``solver.solve_nodes``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy import special

from saegraph.ingest.edges.stats.blocks import target_block_cells
from saegraph.ingest.edges.stats.moments import ColumnMoments


def split_features(
    mom: ColumnMoments, min_firings: int, dense_density: float
) -> tuple[np.ndarray, np.ndarray]:
    """(sparse node columns, dense covariate columns), both sorted global indices."""
    alive = (mom.firings >= min_firings) & (mom.sd > 0)
    dense = alive & (mom.firings > dense_density * mom.n)
    return np.flatnonzero(alive & ~dense), np.flatnonzero(dense)


def _blocks(F: int, block_entries: int, cache_sized: bool = True):
    """Row ranges [lo, hi) of the upper triangle, each at most ``block_entries`` cells.

    Blocks are cache-sized (``stats.blocks``: 16-byte (S, c) cells) unless that would take
    more than ``MAX_PASSES`` passes over the tokens; ``block_entries`` caps the memory.
    Without ``cache_sized`` (tokens read from disk on every pass) as large as it allows."""
    triangle = F * (F - 1) // 2
    target = min(block_entries, target_block_cells(triangle, 16)) if cache_sized else block_entries
    lo = 0
    while lo < F:
        rows = max(1, target // max(F - lo, 1))
        yield lo, min(F, lo + rows)
        lo += rows


@njit(cache=True)
def _accumulate_block(indptr, indices, data, ptr, lo, hi, acc):
    """acc[i − lo, j − lo] += (a_ti a_tj, 1) for every token t and co-active i < j with lo <= i < hi.

    S and the count of a pair share a cache line (one miss per update instead of two)."""
    for t in range(indptr.size - 1):
        a = ptr[t]
        end = indptr[t + 1]
        while a < end and indices[a] < hi:
            i = indices[a] - lo
            va = np.float64(data[a])
            for b in range(a + 1, end):
                j = indices[b] - lo
                acc[i, j, 0] += va * data[b]
                acc[i, j, 1] += 1.0
            a += 1
        ptr[t] = a


@njit(cache=True)
def _screen_block(acc, lo, hi, n, mean, sd, sqrt_dof, min_count, p_max, r_min):
    """Pairs of the block with |r| >= r_min, c >= min_count when r > 0, and Fisher-z p <= p_max:
    (i, j, r, p).

    r_min is the larger of the effect floor and the correlation at which p = p_max (less a
    margin), checked first, so atanh and erfc run only for pairs that can pass."""
    F = mean.size
    cap = 1024
    oi = np.empty(cap, np.int64)
    oj = np.empty(cap, np.int64)
    orr = np.empty(cap, np.float64)
    op = np.empty(cap, np.float64)
    cnt = 0
    for i in range(lo, hi):
        for j in range(i + 1, F):
            r = (acc[i - lo, j - lo, 0] / n - mean[i] * mean[j]) / (sd[i] * sd[j])
            if abs(r) < r_min:
                continue
            if r > 0 and acc[i - lo, j - lo, 1] < min_count:
                continue
            r = min(max(r, -1.0 + 1e-12), 1.0 - 1e-12)
            p = math.erfc(abs(math.atanh(r) * sqrt_dof) / math.sqrt(2.0))
            if p > p_max:
                continue
            if cnt == cap:
                cap *= 2
                oi2, oj2 = np.empty(cap, np.int64), np.empty(cap, np.int64)
                or2, op2 = np.empty(cap, np.float64), np.empty(cap, np.float64)
                oi2[:cnt], oj2[:cnt], or2[:cnt], op2[:cnt] = oi, oj, orr, op
                oi, oj, orr, op = oi2, oj2, or2, op2
            oi[cnt], oj[cnt], orr[cnt], op[cnt] = i, j, r, p
            cnt += 1
    return oi[:cnt], oj[:cnt], orr[:cnt], op[:cnt]


@dataclass
class ScreenResult:
    i: np.ndarray  # int64 pair endpoints (i < j), in the node index space
    j: np.ndarray
    r: np.ndarray  # correlation
    p: np.ndarray  # two-sided Fisher-z p-value
    n_tests: int  # F(F−1)/2
    n_prefiltered: int  # pairs past the floors with p ≤ q, before BH


def screen_pairs(
    x: sp.csr_matrix,
    mom: ColumnMoments,
    n_eff: float,
    *,
    min_count: int,
    q: float,
    block_entries: int,
    min_abs_r: float = 0.0,
) -> ScreenResult:
    """Fisher-z screen with BH at ``q`` over all pairs of the columns of ``x`` (see step 3)."""
    return screen_pairs_blocks(
        lambda: [x], mom, n_eff, min_count=min_count, q=q, block_entries=block_entries, min_abs_r=min_abs_r
    )


def screen_pairs_blocks(
    rows: Callable[[], Iterable[sp.csr_matrix]],
    mom: ColumnMoments,
    n_eff: float,
    *,
    min_count: int,
    q: float,
    block_entries: int,
    min_abs_r: float = 0.0,
    cache_sized: bool = True,
) -> ScreenResult:
    """``screen_pairs`` over the rows of ``rows()`` (blocks of tokens, sorted CSR over the same
    columns, in token order; called once per block of the triangle): every S and c cell is
    added token by token in token order, so the result does not depend on the blocks."""
    n, F = mom.n, mom.mean.size
    sqrt_dof = math.sqrt(max(n_eff - 3.0, 1.0))
    r_min = max(math.tanh(math.sqrt(2.0) * float(special.erfcinv(q)) / sqrt_dof) * (1.0 - 1e-9), min_abs_r)
    parts = []
    for lo, hi in _blocks(F, block_entries, cache_sized):
        acc = np.zeros((hi - lo, F - lo, 2), dtype=np.float64)
        for x in rows():
            indptr = x.indptr.astype(np.int64)
            ptr = _row_starts(indptr, x.indices, lo)
            _accumulate_block(indptr, x.indices, x.data, ptr, lo, hi, acc)
        parts.append(_screen_block(acc, lo, hi, float(n), mom.mean, mom.sd, sqrt_dof, min_count, q, r_min))
    i, j, r, p = (np.concatenate([pt[k] for pt in parts]) if parts else np.zeros(0) for k in range(4))
    m = F * (F - 1) // 2
    keep = bh_reject(p, q, m)
    return ScreenResult(i[keep].astype(np.int64), j[keep].astype(np.int64), r[keep], p[keep], m, int(p.size))


def bh_reject(p: np.ndarray, q: float, m: int) -> np.ndarray:
    """Benjamini–Hochberg rejections among ``p`` when ``m`` hypotheses were tested in all."""
    if p.size == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="stable")
    ok = p[order] <= q * np.arange(1, p.size + 1) / max(m, 1)
    if not ok.any():
        return np.zeros(p.size, dtype=bool)
    cutoff = p[order][np.flatnonzero(ok)[-1]]
    return p <= cutoff


def top_k_candidates(screen: ScreenResult, F: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per node, up to ``k`` screened neighbours by |r| (CSR layout: cand_ptr, cand_idx)."""
    src = np.concatenate([screen.i, screen.j])
    dst = np.concatenate([screen.j, screen.i])
    score = np.abs(np.concatenate([screen.r, screen.r]))
    order = np.lexsort((dst, -score, src))
    src, dst = src[order], dst[order]
    counts = np.bincount(src, minlength=F)
    starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
    rank = np.arange(src.size) - np.repeat(starts, counts)
    keep = rank < k
    src, dst = src[keep], dst[keep]
    cand_ptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=F))]).astype(np.int64)
    return cand_ptr, dst.astype(np.int64)


@njit(cache=True)
def _block_pair_keys(cand_ptr, cand_idx, F):
    total = 0
    for v in range(cand_ptr.size - 1):
        m = cand_ptr[v + 1] - cand_ptr[v] + 1
        total += m * (m - 1) // 2
    keys = np.empty(total, np.int64)
    e = 0
    for v in range(cand_ptr.size - 1):
        members = np.empty(cand_ptr[v + 1] - cand_ptr[v] + 1, np.int64)
        members[0] = v
        members[1:] = cand_idx[cand_ptr[v] : cand_ptr[v + 1]]
        for a in range(members.size):
            for b in range(a + 1, members.size):
                x, y = members[a], members[b]
                keys[e] = min(x, y) * F + max(x, y)
                e += 1
    return keys


def block_pair_keys(cand_ptr: np.ndarray, cand_idx: np.ndarray, F: int) -> np.ndarray:
    """Key min·F + max of every pair inside every node block, in block row-major order."""
    return _block_pair_keys(cand_ptr.astype(np.int64), cand_idx.astype(np.int64), F)


@njit(cache=True)
def _gather_block(indptr, indices, data, ptr, lo, hi, slot, out):
    for t in range(indptr.size - 1):
        a = ptr[t]
        end = indptr[t + 1]
        while a < end and indices[a] < hi:
            i = indices[a] - lo
            va = np.float64(data[a])
            for b in range(a + 1, end):
                s = slot[i, indices[b] - lo]
                if s >= 0:
                    out[s] += va * data[b]
            a += 1
        ptr[t] = a


@njit(cache=True)
def _merge_dots(indptr, rows, vals, ki, kj, out):
    for e in range(ki.size):
        a, a_end = indptr[ki[e]], indptr[ki[e] + 1]
        b, b_end = indptr[kj[e]], indptr[kj[e] + 1]
        acc = 0.0
        while a < a_end and b < b_end:
            if rows[a] < rows[b]:
                a += 1
            elif rows[a] > rows[b]:
                b += 1
            else:
                acc += np.float64(vals[a]) * vals[b]
                a += 1
                b += 1
        out[e] = acc


def gram_entries(x: sp.csr_matrix, keys: np.ndarray, *, block_entries: int) -> np.ndarray:
    """S_ij = Σ_t x_ti x_tj for the sorted unique pair keys i·F + j (i < j).

    Uses a merge of the two sorted CSC columns per pair when Σ (n_i + n_j) is below the
    cost of a blocked pass over all co-firing pairs (Σ_t L_t²/2), else the blocked pass."""
    n, F = x.shape
    out = np.zeros(keys.size, dtype=np.float64)
    if keys.size == 0:
        return out
    ki, kj = keys // F, keys % F
    per_col = np.bincount(x.indices, minlength=F)
    merge_cost = float(per_col[ki].sum() + per_col[kj].sum())
    row_len = np.diff(x.indptr).astype(np.float64)
    if merge_cost < float((row_len * row_len).sum() / 2):
        csc = x.tocsc()
        csc.sort_indices()
        _merge_dots(csc.indptr.astype(np.int64), csc.indices, csc.data, ki, kj, out)
        return out
    ptr = x.indptr[:-1].astype(np.int64).copy()
    indptr = x.indptr.astype(np.int64)
    for lo, hi in _blocks(F, block_entries):
        a, b = np.searchsorted(ki, [lo, hi])
        if a == b:
            _advance(indptr, x.indices, ptr, hi)
            continue
        slot = np.full((hi - lo, F - lo), -1, dtype=np.int64)
        slot[ki[a:b] - lo, kj[a:b] - lo] = np.arange(a, b)
        _gather_block(indptr, x.indices, x.data, ptr, lo, hi, slot, out)
    return out


@njit(cache=True)
def _row_starts(indptr, indices, lo):
    """The first entry of every (sorted) row with a column >= lo, by binary search."""
    ptr = np.empty(indptr.size - 1, np.int64)
    for t in range(indptr.size - 1):
        a, b = indptr[t], indptr[t + 1]
        while a < b:
            m = (a + b) >> 1
            if indices[m] < lo:
                a = m + 1
            else:
                b = m
        ptr[t] = a
    return ptr


@njit(cache=True)
def _advance(indptr, indices, ptr, hi):
    for t in range(indptr.size - 1):
        a = ptr[t]
        while a < indptr[t + 1] and indices[a] < hi:
            a += 1
        ptr[t] = a


@njit(cache=True)
def _assemble(
    cand_ptr, cand_idx, targets, entry_corr, dense_corr, dense_gram, g_off, b_off, g_flat, b_flat, pen
):
    d = dense_gram.shape[0]
    e = 0
    for v in range(cand_ptr.size - 1):
        k = cand_ptr[v + 1] - cand_ptr[v]
        p = k + d
        G = g_flat[g_off[v] : g_off[v] + p * p].reshape((p, p))
        bv = b_flat[b_off[v] : b_off[v] + p]
        cands = cand_idx[cand_ptr[v] : cand_ptr[v + 1]]
        for a in range(k + 1):  # member 0 is the node itself
            for c in range(a + 1, k + 1):
                val = entry_corr[e]
                e += 1
                if a == 0:
                    bv[c - 1] = val
                else:
                    G[a - 1, c - 1] = val
                    G[c - 1, a - 1] = val
        for a in range(k):
            G[a, a] = 1.0
            pen[b_off[v] + a] = True
            for u in range(d):
                G[a, k + u] = dense_corr[u, cands[a]]
                G[k + u, a] = dense_corr[u, cands[a]]
        for u in range(d):
            bv[k + u] = dense_corr[u, targets[v]]
            pen[b_off[v] + k + u] = False
            for w in range(d):
                G[k + u, k + w] = dense_gram[u, w]


def assemble_blocks(cand_ptr, cand_idx, entry_corr, dense_corr, dense_gram, targets=None):
    """Flattened per-node Gram blocks [candidates..., dense covariates...] and targets.

    Block v is the node whose column of ``dense_corr`` is ``targets[v]`` (default v), and
    ``cand_idx`` are columns of ``dense_corr`` too."""
    d = dense_gram.shape[0]
    targets = np.arange(cand_ptr.size - 1) if targets is None else targets
    sizes = np.diff(cand_ptr) + d
    b_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    g_off = np.concatenate([[0], np.cumsum(sizes * sizes)]).astype(np.int64)
    g_flat = np.zeros(int(g_off[-1]), dtype=np.float64)
    b_flat = np.zeros(int(b_off[-1]), dtype=np.float64)
    pen = np.zeros(int(b_off[-1]), dtype=np.bool_)
    _assemble(
        cand_ptr.astype(np.int64),
        cand_idx.astype(np.int64),
        np.asarray(targets, dtype=np.int64),
        np.asarray(entry_corr, dtype=np.float64),
        np.ascontiguousarray(dense_corr, dtype=np.float64),
        np.ascontiguousarray(dense_gram, dtype=np.float64),
        g_off,
        b_off,
        g_flat,
        b_flat,
        pen,
    )
    return g_flat, g_off[:-1], b_flat, b_off, pen
