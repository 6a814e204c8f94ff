"""Exact blocked top-k of a similarity matrix that is never held whole.

Algorithm:
1. Normalise rows to unit length (zero rows stay zero, so their similarities are 0): one
   float32 copy (or the caller's float32 array, in place), norms taken in row chunks.
2. For a block of query rows compute S = Q_block · Kᵀ with one BLAS matmul (float32) into
   a buffer reused across blocks (Kᵀ is a view: BLAS reads K transposed, no copy).
3. ``topk_rows`` scans each row of S once, keeping the k best entries >= floor in a small
   buffer whose minimum is tracked: an entry costs one comparison unless it beats the
   current k-th best (O(F + k·log(F/k)·k) per row instead of a 32 ns/element argpartition).
4. Each row's survivors are sorted by similarity (descending; ties by column index).
Two passes that need the product both ways share it (``topk.py``): ``blocked_topk_both``
(top-k of A·Bᵀ per row and per column, one pass over A·Bᵀ) and ``blocked_topk_self`` (top-k
of the symmetric Ŵ·Ŵᵀ, blocks on and above the diagonal only).
Order everywhere: similarity descending, ties by the lower index, so a row's list is the first
k of its entries >= floor sorted by (-similarity, index), whatever order they are scanned in.
"""

from __future__ import annotations

import numba as nb
import numpy as np

NORM_CHUNK_ROWS = 8192  # rows per norm computation (np.linalg.norm squares its input in a temporary)


def normalize_rows(w: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """Unit-length float32 rows; all-zero rows stay zero (+0.0).

    One float32 copy of ``w``; with ``overwrite`` a writable C-contiguous float32 ``w`` is
    normalised in place and returned (the caller's array changes). The values are those of
    ``w / ||w||`` row by row (each row's norm is the same float32 reduction at any chunking)."""
    if (
        overwrite
        and isinstance(w, np.ndarray)
        and w.dtype == np.float32
        and w.flags.c_contiguous
        and w.flags.writeable
    ):
        out = w
    else:
        out = np.array(w, dtype=np.float32, order="C", copy=True)
    if out.ndim != 2:
        raise ValueError(f"normalize_rows expects a 2-d array, got shape {out.shape}")
    for r0 in range(0, out.shape[0], NORM_CHUNK_ROWS):
        part = out[r0 : r0 + NORM_CHUNK_ROWS]
        norms = np.linalg.norm(part, axis=1, keepdims=True)
        nonzero = norms[:, 0] > 0
        np.divide(part, norms, out=part, where=nonzero[:, None])
        part[~nonzero] = 0.0
    return out


@nb.njit(cache=True, nogil=True)
def sort_row(vi, vv, filled):
    """Sort the first ``filled`` entries: value descending, then index ascending (insertion sort,
    k is small); the order every top-k list of this package is returned in."""
    for a in range(1, filled):
        ci = vi[a]
        cv = vv[a]
        b = a - 1
        while b >= 0 and (vv[b] < cv or (vv[b] == cv and vi[b] > ci)):
            vi[b + 1] = vi[b]
            vv[b + 1] = vv[b]
            b -= 1
        vi[b + 1] = ci
        vv[b + 1] = cv


@nb.njit(cache=True, nogil=True)
def topk_rows(block, k, floor, self_offset):
    """Top-k columns per row with value >= floor, skipping column ``row + self_offset``
    (pass ``NO_SELF`` to skip nothing). Missing slots are -1 / -inf."""
    n_rows, n_cols = block.shape
    idx = np.full((n_rows, k), -1, dtype=np.int32)
    val = np.full((n_rows, k), -np.inf, dtype=np.float32)
    for r in range(n_rows):
        vi = idx[r]
        vv = val[r]
        filled = 0
        worst = 0  # slot holding the current minimum once filled
        thr = floor
        skip = r + self_offset
        for c in range(n_cols):
            x = block[r, c]
            if x < thr or c == skip:
                continue
            if filled < k:
                vi[filled] = c
                vv[filled] = x
                filled += 1
                if filled == k:
                    worst = 0
                    for s in range(1, k):
                        if vv[s] < vv[worst] or (vv[s] == vv[worst] and vi[s] > vi[worst]):
                            worst = s
                    thr = max(floor, vv[worst])
                continue
            if x == thr and c > vi[worst]:
                continue  # ties: keep the lower column index
            vi[worst] = c
            vv[worst] = x
            worst = 0
            for s in range(1, k):
                if vv[s] < vv[worst] or (vv[s] == vv[worst] and vi[s] > vi[worst]):
                    worst = s
            thr = max(floor, vv[worst])
        sort_row(vi, vv, filled)
    return idx, val


NO_SELF = -(1 << 62)


def blocked_topk(
    queries: np.ndarray,
    keys: np.ndarray,
    k: int,
    floor: float = -np.inf,
    *,
    block_rows: int = 2048,
    exclude_self: bool = False,
    progress: bool = False,
    desc: str = "top-k",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of ``queries @ keys.T`` per query row (both already normalised).

    Returns (idx int32 [n, k], val float32 [n, k]); slots beyond a row's hits are -1 / -inf.
    """
    from tqdm.auto import tqdm

    n = queries.shape[0]
    k_eff = int(max(1, min(k, keys.shape[0])))
    idx = np.full((n, k_eff), -1, dtype=np.int32)
    val = np.full((n, k_eff), -np.inf, dtype=np.float32)
    keys_t = keys.T  # a view: BLAS reads keys transposed (same values as a contiguous copy)
    buf = np.empty(min(block_rows, n) * keys.shape[0], dtype=np.result_type(queries, keys))
    for r0 in tqdm(range(0, n, block_rows), desc=desc, unit="block", disable=not progress, leave=False):
        r1 = min(r0 + block_rows, n)
        sims = np.matmul(
            queries[r0:r1], keys_t, out=buf[: (r1 - r0) * keys.shape[0]].reshape(r1 - r0, keys.shape[0])
        )
        offset = r0 if exclude_self else NO_SELF
        bi, bv = topk_rows(sims, k_eff, np.float32(floor), offset)
        idx[r0:r1] = bi
        val[r0:r1] = bv
    return idx, val
