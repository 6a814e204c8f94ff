"""Exact top-k both ways from one blocked pass over a similarity product (``kernel`` for the rest).

``blocked_topk_both(A, B)``: the top-k of A·Bᵀ per row (A -> B) and per column (B -> A).
``blocked_topk_self(W)``: the top-k of the symmetric W·Wᵀ per row, self excluded.
Both give what two ``kernel.blocked_topk`` passes give (A -> B and B -> A; W against itself)
from half the matmul work: the B -> A pass recomputed every product of the A -> B pass, and
the self pass every product twice, (i, j) and (j, i).

Algorithm:
1. Running lists, one per row and one per column (``blocked_topk_self``: one per row, serving
   both): index [n, k] and value [n, k], with per list the number filled, the slot of its
   worst entry and the threshold a candidate must reach (the floor until k are kept, then
   the worst value). Worst = lowest value, among equal values the higher index.
2. ``blocked_topk_both``: for each block of ``block_rows`` rows of A, one BLAS matmul S =
   A_block · Bᵀ (into a buffer reused across blocks) and one scan of S: each entry is
   offered to its row's list and to its column's list; an entry below both thresholds
   costs two comparisons.
3. ``blocked_topk_self``: for each block of rows [r0, r1), S = W[r0:r1] · W[r0:]ᵀ (the
   blocks on and above the diagonal: about F²/2 products in all); each entry (i, j) with
   j > i, i.e. strictly above the diagonal (self pairs and the mirrored half of the
   diagonal block are skipped), is offered to row i's list as j and to row j's list as i,
   with the one value computed for the pair.
4. An offer is kept when the list is not full, or when it beats the worst entry: a higher
   value, or the same value and a lower index. The kept set is therefore exactly the first
   k of the entries >= floor in (-value, index) order, whatever order they arrive in.
5. Each list is sorted by value descending, ties by index ascending; empty slots are -1 / -inf.
Memory: block_rows x F_B floats (the buffer) plus the lists, 8 B x k per row and per column.
The values equal those of ``kernel.blocked_topk`` within float32 rounding: BLAS may round
A_i·B_j and B_j·A_i (or the same product at another offset in a block) to neighbouring floats.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from saegraph.ingest.edges.cosine.kernel import sort_row


def _lists(n: int, k: int, floor: np.float32):
    """Empty running top-k lists for n rows: (idx, val, filled, worst, thr)."""
    return (
        np.full((n, k), -1, dtype=np.int32),
        np.full((n, k), -np.inf, dtype=np.float32),
        np.zeros(n, dtype=np.int32),
        np.zeros(n, dtype=np.int32),
        np.full(n, floor, dtype=np.float32),
    )


@nb.njit(cache=True, nogil=True)
def _offer(idx, val, filled, worst, thr, r, c, x, floor):
    """Offer (c, x) to list r; the caller has checked x >= thr[r]."""
    k = idx.shape[1]
    n = filled[r]
    if n < k:
        idx[r, n] = c
        val[r, n] = x
        n += 1
        filled[r] = n
        if n < k:
            return
    else:
        w = worst[r]
        if x == val[r, w] and c > idx[r, w]:
            return  # a tie with the worst entry: the lower index stays
        idx[r, w] = c
        val[r, w] = x
    w = 0
    for s in range(1, k):
        if val[r, s] < val[r, w] or (val[r, s] == val[r, w] and idx[r, s] > idx[r, w]):
            w = s
    worst[r] = w
    thr[r] = max(floor, val[r, w])


@nb.njit(cache=True, nogil=True)
def _scan_both(block, r0, floor, ridx, rval, rfill, rworst, rthr, cidx, cval, cfill, cworst, cthr):
    """Offer every entry of ``block`` (rows r0.. of A x all of B) to its row's and its column's list."""
    n_rows, n_cols = block.shape
    for i in range(n_rows):
        r = r0 + i
        t = rthr[r]
        for c in range(n_cols):
            x = block[i, c]
            if x >= t:
                _offer(ridx, rval, rfill, rworst, rthr, r, c, x, floor)
                t = rthr[r]
            if x >= cthr[c]:
                _offer(cidx, cval, cfill, cworst, cthr, c, r, x, floor)


@nb.njit(cache=True, nogil=True)
def _scan_self(block, r0, floor, idx, val, filled, worst, thr):
    """``block`` = W[r0:r1] · W[r0:]ᵀ: offer each entry above the diagonal to both its rows."""
    n_rows, n_cols = block.shape
    for i in range(n_rows):
        r = r0 + i
        t = thr[r]
        for c in range(i + 1, n_cols):
            x = block[i, c]
            j = r0 + c
            if x >= t:
                _offer(idx, val, filled, worst, thr, r, j, x, floor)
                t = thr[r]
            if x >= thr[j]:
                _offer(idx, val, filled, worst, thr, j, r, x, floor)


@nb.njit(cache=True, nogil=True)
def _sort_lists(idx, val, filled):
    """Sort each list: value descending, then index ascending (``kernel.sort_row``)."""
    for r in range(idx.shape[0]):
        sort_row(idx[r], val[r], filled[r])


def _blocks(n: int, block_rows: int, progress: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(range(0, n, block_rows), desc=desc, unit="block", disable=not progress, leave=False)


def blocked_topk_both(
    a: np.ndarray,
    b: np.ndarray,
    k_ab: int,
    k_ba: int | None = None,
    floor: float = -np.inf,
    *,
    block_rows: int = 2048,
    progress: bool = False,
    desc: str = "top-k both ways",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact top-k of ``a @ b.T`` per row of a and per row of b (both already normalised),
    from one pass over the product.

    Returns (idx_ab, val_ab, idx_ba, val_ba): int32 [F_A, min(k_ab, F_B)], float32 likewise,
    int32 [F_B, min(k_ba, F_A)], float32; slots beyond a list's hits are -1 / -inf. ``k_ba``
    defaults to ``k_ab``. Equals ``blocked_topk(a, b, k_ab, floor)`` and ``blocked_topk(b, a,
    k_ba, floor)`` (module docstring)."""
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    fa, fb = a.shape[0], b.shape[0]
    k_ba = k_ab if k_ba is None else k_ba
    f32 = np.float32(floor)
    rows = _lists(fa, int(max(1, min(k_ab, fb))), f32)
    cols = _lists(fb, int(max(1, min(k_ba, fa))), f32)
    b_t = b.T  # a view: BLAS reads b transposed
    buf = np.empty(min(block_rows, max(fa, 1)) * fb, dtype=np.float32)
    for r0 in _blocks(fa, block_rows, progress, desc):
        r1 = min(r0 + block_rows, fa)
        sims = np.matmul(a[r0:r1], b_t, out=buf[: (r1 - r0) * fb].reshape(r1 - r0, fb))
        _scan_both(sims, r0, f32, *rows, *cols)
    del buf
    _sort_lists(rows[0], rows[1], rows[2])
    _sort_lists(cols[0], cols[1], cols[2])
    return rows[0], rows[1], cols[0], cols[1]


def blocked_topk_self(
    w: np.ndarray,
    k: int,
    floor: float = -np.inf,
    *,
    block_rows: int = 2048,
    progress: bool = False,
    desc: str = "top-k",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of ``w @ w.T`` per row, self excluded (w already normalised), from the
    blocks on and above the diagonal only.

    Returns (idx int32 [F, min(k, F)], val float32 [F, min(k, F)]); slots beyond a row's hits
    are -1 / -inf. Equals ``blocked_topk(w, w, k, floor, exclude_self=True)`` (module
    docstring)."""
    w = np.asarray(w, dtype=np.float32)
    n = w.shape[0]
    f32 = np.float32(floor)
    lists = _lists(n, int(max(1, min(k, n))), f32)
    buf = np.empty(min(block_rows, max(n, 1)) * n, dtype=np.float32)
    for r0 in _blocks(n, block_rows, progress, desc):
        r1 = min(r0 + block_rows, n)
        width = n - r0
        sims = np.matmul(w[r0:r1], w[r0:].T, out=buf[: (r1 - r0) * width].reshape(r1 - r0, width))
        _scan_self(sims, r0, f32, *lists)
    del buf
    _sort_lists(lists[0], lists[1], lists[2])
    return lists[0], lists[1]
