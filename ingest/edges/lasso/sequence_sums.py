"""Per-sequence sums for the screen-once LASSO (``sufficient``): every statistic a replicate
needs, as one row per sequence, so a subsample of whole sequences is a 0/1 weight vector.

Algorithm (each function works sequence by sequence, so a block of whole sequences gives the
rows the stacked matrix gives for those sequences, in the same order and bit for bit):
1. ``sequence_pair_sums``: S_s[p] = Σ_{t∈s} x_ti x_tj at the sorted block pair keys p, by one
   numba pass looking each co-firing pair up in P's per-node sorted partner lists (a short
   partner list is searched in the token's row, a long one by binary search); raises
   ``TooManySequencePairs`` past ``max_entries`` kept sums.
2. ``sequence_column_sums``: per-sequence Σa, Σa² and firings (a > 0) of chosen columns.
3. ``sequence_lag``: per-sequence firings and lag-1 co-firings (t, t+1 of one sequence) of
   every column, by sparse products with the sequence-membership matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit

from saegraph.errors import SaegraphError
from saegraph.ingest.edges.coactivation.kernel import first_at_least


def sequence_membership(seq_starts: np.ndarray) -> sp.csr_matrix:
    """[n_seq, tokens] 0/1 matrix: row s marks the tokens of sequence s."""
    n_seq, n = seq_starts.size - 1, int(seq_starts[-1])
    return sp.csr_matrix(
        (np.ones(n, dtype=np.float64), np.arange(n), seq_starts.astype(np.int64)), shape=(n_seq, n)
    )


class TooManySequencePairs(SaegraphError, RuntimeError):
    """The per-sequence pair sums would exceed ``max_sequence_pair_entries``."""


@njit(cache=True)
def _accumulate(k, s, value, acc, stamp, touched, nt):
    """acc[k] += value for sequence s (acc[k] reset and k listed as touched on its first use in s); returns nt."""
    if stamp[k] != s:
        stamp[k] = s
        acc[k] = 0.0
        touched[nt] = k
        nt += 1
    acc[k] += value
    return nt


@njit(cache=True)
def _sequence_pair_sums(indptr, indices, data, seq_starts, p_ptr, p_partner, max_entries):
    n_pairs = p_partner.size
    n_cols = p_ptr.size - 1
    acc = np.zeros(n_pairs, np.float64)
    stamp = np.full(n_pairs, -1, np.int64)
    seen_at = np.full(n_cols, -1, np.int64)  # token t marks its active columns ...
    where = np.empty(n_cols, np.int64)  # ... and where they sit in its row
    touched = np.empty(n_pairs, np.int64)
    cap = max(16, n_pairs)
    out_slot = np.empty(cap, np.int64)
    out_val = np.empty(cap, np.float64)
    out_ptr = np.zeros(seq_starts.size, np.int64)
    pos = 0
    for s in range(seq_starts.size - 1):
        nt = 0
        for t in range(seq_starts[s], seq_starts[s + 1]):
            end = indptr[t + 1]
            for a in range(indptr[t], end):
                seen_at[indices[a]] = t
                where[indices[a]] = a
            for a in range(indptr[t], end):
                i = indices[a]
                lo, hi = p_ptr[i], p_ptr[i + 1]
                if lo == hi:
                    continue
                va = np.float64(data[a])
                if hi - lo <= end - a:  # few partners: look each one up in the token's row
                    for k in range(lo, hi):
                        j = p_partner[k]
                        if seen_at[j] == t:
                            nt = _accumulate(k, s, va * data[where[j]], acc, stamp, touched, nt)
                    continue
                k = lo
                for b in range(a + 1, end):  # many partners: search each later active column among them
                    j = indices[b]
                    k = first_at_least(p_partner, k, hi, j)
                    if k == hi:
                        break
                    if p_partner[k] == j:
                        nt = _accumulate(k, s, va * data[b], acc, stamp, touched, nt)
        if pos + nt > max_entries:
            return out_ptr, out_slot[:0], out_val[:0], False
        if pos + nt > cap:
            cap = min(max(2 * cap, pos + nt), max_entries)
            grown_slot = np.empty(cap, np.int64)
            grown_val = np.empty(cap, np.float64)
            grown_slot[:pos] = out_slot[:pos]
            grown_val[:pos] = out_val[:pos]
            out_slot, out_val = grown_slot, grown_val
        for e in range(nt):
            out_slot[pos + e] = touched[e]
            out_val[pos + e] = acc[touched[e]]
        pos += nt
        out_ptr[s + 1] = pos
    return out_ptr, out_slot[:pos], out_val[:pos], True


@njit(cache=True)
def _sequence_column_sums(indptr, indices, data, seq_starts, col_map, n_cols):
    acc = np.zeros((n_cols, 3), np.float64)
    stamp = np.full(n_cols, -1, np.int64)
    touched = np.empty(n_cols, np.int64)
    out_ptr = np.zeros(seq_starts.size, np.int64)
    out_col = np.empty(indices.size, np.int32)
    out_sum = np.empty(indices.size, np.float64)
    out_sq = np.empty(indices.size, np.float64)
    out_fired = np.empty(indices.size, np.float64)
    pos = 0
    for s in range(seq_starts.size - 1):
        nt = 0
        for a in range(indptr[seq_starts[s]], indptr[seq_starts[s + 1]]):
            c = col_map[indices[a]]
            if c < 0:
                continue
            if stamp[c] != s:
                stamp[c] = s
                acc[c, 0] = acc[c, 1] = acc[c, 2] = 0.0
                touched[nt] = c
                nt += 1
            v = np.float64(data[a])
            acc[c, 0] += v
            acc[c, 1] += v * v
            acc[c, 2] += 1.0 if v > 0 else 0.0
        for e in range(nt):
            c = touched[e]
            out_col[pos + e] = c
            out_sum[pos + e], out_sq[pos + e], out_fired[pos + e] = acc[c, 0], acc[c, 1], acc[c, 2]
        pos += nt
        out_ptr[s + 1] = pos
    return out_ptr, out_col[:pos], out_sum[:pos], out_sq[:pos], out_fired[:pos]


def sequence_column_sums(acts: sp.csr_matrix, seq_starts: np.ndarray, columns: np.ndarray):
    """Per-sequence Σa, Σa² and firings (a > 0) of ``acts[:, columns]``: three [n_seq, len(columns)] CSR."""
    col_map = np.full(acts.shape[1], -1, dtype=np.int64)
    col_map[columns] = np.arange(columns.size)
    ptr, col, *vals = _sequence_column_sums(
        acts.indptr.astype(np.int64),
        acts.indices,
        acts.data,
        seq_starts.astype(np.int64),
        col_map,
        int(columns.size),
    )
    shape = (seq_starts.size - 1, int(columns.size))
    return tuple(sp.csr_matrix((v, col, ptr), shape=shape) for v in vals)


def sequence_pair_sums(
    x: sp.csr_matrix, seq_starts: np.ndarray, pair_keys: np.ndarray, max_entries: int = 2**62
) -> sp.csr_matrix:
    """[n_seq, |P|] CSR of Σ_{t∈s} x_ti x_tj for the sorted pair keys i·n_cols + j (i < j) of ``x``.

    Raises ``TooManySequencePairs`` as soon as more than ``max_entries`` non-zeros would be kept."""
    n_cols = x.shape[1]
    first = pair_keys // max(n_cols, 1)
    p_ptr = np.concatenate([[0], np.cumsum(np.bincount(first, minlength=n_cols))]).astype(np.int64)
    p_partner = (pair_keys % max(n_cols, 1)).astype(np.int64)
    ptr, slot, val, fits = _sequence_pair_sums(
        x.indptr.astype(np.int64),
        x.indices.astype(np.int64),
        x.data,
        seq_starts.astype(np.int64),
        p_ptr,
        p_partner,
        int(max_entries),
    )
    if not fits:
        raise TooManySequencePairs(
            f"more than {max_entries:,} (sequence, block pair) sums for {pair_keys.size:,} "
            f"block pairs over {seq_starts.size - 1:,} sequences"
        )
    return sp.csr_matrix((val, slot, ptr), shape=(seq_starts.size - 1, pair_keys.size))


def sequence_lag(acts: sp.csr_matrix, seq_starts: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per-sequence firings and lag-1 co-firings (t, t+1 in the same sequence) of every column
    (two [n_seq, F] CSR)."""
    member = sequence_membership(seq_starts)
    fires = acts.copy()
    fires.data = np.ones(fires.data.size, dtype=np.float64)
    n = acts.shape[0]
    if n < 2:
        return sp.csr_matrix(member @ fires), sp.csr_matrix((seq_starts.size - 1, acts.shape[1]))
    same_seq = np.ones(n - 1, dtype=np.float64)
    same_seq[seq_starts[1:-1] - 1] = 0.0
    lagged = (sp.diags(same_seq) @ fires[:-1]).multiply(fires[1:]).tocsr()
    return sp.csr_matrix(member @ fires), sp.csr_matrix(member[:, :-1] @ lagged)
