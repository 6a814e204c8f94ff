"""The within-sequence circular-shift null, one implementation for every stage.

Tokens of one sequence are not independent, so the nulls keep each feature's firing
pattern inside a sequence and only break its alignment with other features
(docs/methods.md, "Nulls"):
1. For feature f in sequence s of length L, the offset is ``splitmix64(seed, f, s) mod L``
   (``shift_offset``): independent across features and sequences, reproducible from the seed.
2. Every non-zero (t, f) of sequence s moves to t0 + (t − t0 + offset) mod L.
3. ``circular_shift_pattern`` applies it to the binary pattern (CSR indptr/indices);
   ``circular_shift_null`` to the activation values. Both draw the same null for one seed.
4. Segments are numbered from ``first_segment`` (default 0): a block of whole sequences read on
   its own (``stats.stream``) passes the number of segments before it and is shifted exactly as
   inside the stacked matrix.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import scipy.sparse as sp


@nb.njit(cache=True, nogil=True)
def _mix(seed, f, s):
    # splitmix64 on a combination of (seed, feature, sequence)
    z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
    z ^= np.uint64(f) * np.uint64(0xBF58476D1CE4E5B9)
    z ^= np.uint64(s) * np.uint64(0x94D049BB133111EB)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True, nogil=True)
def shift_offset(seed, f, s, length):
    """Offset in [0, length) by which feature f is rotated inside segment s."""
    return np.int64(_mix(seed, f, s) % np.uint64(length))


@nb.njit(cache=True, nogil=True)
def shifted_rows(indptr, indices, bounds, seed, new_rows, first_segment=0):
    """new_rows[p] = the row entry p moves to (entries of CSR row t, segments ``bounds``
    numbered from ``first_segment``)."""
    for s in range(bounds.shape[0] - 1):
        t0 = bounds[s]
        length = bounds[s + 1] - t0
        seg = s + first_segment
        for t in range(t0, t0 + length):
            for p in range(indptr[t], indptr[t + 1]):
                new_rows[p] = t0 + (t - t0 + shift_offset(seed, indices[p], seg, length)) % length


@nb.njit(cache=True, nogil=True)
def circular_shift_pattern(indptr, indices, bounds, seed, first_segment=0):
    """Rotate each feature's firings within each segment [bounds[s], bounds[s+1]) (pattern only;
    segments numbered from ``first_segment``)."""
    n_tokens = indptr.shape[0] - 1
    new_rows = np.empty(indices.shape[0], dtype=np.int64)
    shifted_rows(indptr, indices, bounds, seed, new_rows, first_segment)
    counts = np.zeros(n_tokens + 1, dtype=np.int64)
    for p in range(new_rows.shape[0]):
        counts[new_rows[p] + 1] += 1
    new_ptr = np.cumsum(counts)
    fill = new_ptr[:-1].copy()
    new_idx = np.empty(indices.shape[0], dtype=np.int32)
    for p in range(new_rows.shape[0]):
        nt = new_rows[p]
        new_idx[fill[nt]] = indices[p]
        fill[nt] += 1
    for t in range(n_tokens):
        new_idx[new_ptr[t] : new_ptr[t + 1]].sort()
    return new_ptr, new_idx


def circular_shift_null(
    acts: sp.csr_matrix, seq_starts: np.ndarray, seed: int, first_segment: int = 0
) -> sp.csr_matrix:
    """Each feature's column circularly shifted within every sequence (values kept; sequences
    numbered from ``first_segment``)."""
    new_rows = np.empty(acts.nnz, dtype=np.int64)
    shifted_rows(
        acts.indptr.astype(np.int64),
        acts.indices,
        np.asarray(seq_starts, dtype=np.int64),
        np.uint64(seed % (1 << 63)),
        new_rows,
        first_segment,
    )
    out = sp.csr_matrix((acts.data, (new_rows, acts.indices)), shape=acts.shape, dtype=np.float32)
    out.sort_indices()
    return out
