"""Exact blocked top-k of a similarity matrix that is never held whole.

Algorithm:
1. Normalise rows to unit length (zero rows stay zero, so their similarities are 0).
2. For a block of query rows compute S = Q_block · Kᵀ with one BLAS matmul (float32).
3. ``topk_rows`` scans each row of S once, keeping the k best entries >= floor in a small
   buffer whose minimum is tracked: an entry costs one comparison unless it beats the
   current k-th best (O(F + k·log(F/k)·k) per row instead of a 32 ns/element argpartition).
4. Each row's survivors are sorted by similarity (descending; ties by column index).
"""

from __future__ import annotations

import numba as nb
import numpy as np


def normalize_rows(w: np.ndarray) -> np.ndarray:
    """Unit-length float32 rows; all-zero rows stay zero."""
    w = np.asarray(w, dtype=np.float32)
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(norms > 0, w / np.where(norms > 0, norms, 1.0), 0.0)
    return out.astype(np.float32, copy=False)


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
                        if vv[s] < vv[worst]:
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
        # sort the row: value descending, then column ascending
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
    keys_t = np.ascontiguousarray(keys.T)
    for r0 in tqdm(range(0, n, block_rows), desc=desc, unit="block", disable=not progress, leave=False):
        r1 = min(r0 + block_rows, n)
        sims = queries[r0:r1] @ keys_t
        offset = r0 if exclude_self else NO_SELF
        bi, bv = topk_rows(sims, k_eff, np.float32(floor), offset)
        idx[r0:r1] = bi
        val[r0:r1] = bv
    return idx, val
