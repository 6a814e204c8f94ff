"""Screen once, refit every replicate from per-sequence sufficient statistics.

The nodewise LASSO needs, per replicate, only μ, σ and S = AᵀA at the pairs inside each
node's block (docs/methods.md, LASSO). Those are sums over tokens, so they are sums over
sequences, and a replicate (a subsample of whole sequences) is a 0/1 weight vector w over
sequences: its statistics are w·M for per-sequence matrices M computed once.

Algorithm (``screen_dataset`` once per dataset: the real one and its one matched null):
1. ColumnMoments, firing floor and dense covariates on the whole dataset; n_eff; Fisher-z screen
   with BH and the top-k candidates per node (``screen``), exactly as a replicate
   would, but on all sequences.
2. P = every pair inside every node block {i} ∪ candidates(i), as sorted keys.
3. One numba pass over the tokens, sequence by sequence: S_s[p] = Σ_{t∈s} a_ti a_tj for
   p ∈ P (an n_seq × |P| CSR), looking each co-firing pair up in P's per-node sorted
   partner lists. Per-sequence Σa, Σa² and firings of the node and covariate columns
   (and lag-1 co-firings of every column when n_eff is ``deflated``) by sparse products
   with the sequence-membership matrix.
Per replicate (``replicate_from_dataset``):
4. w = 1 on the chosen sequences. n = w·lengths; moments = w·M; S at P = w·S_s. This is
   exactly the replicate's statistics; the cost does not depend on the token count.
5. Firing floor within the replicate: nodes with fewer than ``min_firings`` firings (or
   σ = 0) in the subsample leave every block. Covariate cross-products come from the
   covariates' rows weighted by w (few columns).
6. Standardize, solve, AND rule (``replicate.fit_blocks``).
The matched null is one null dataset (each latent's column circularly shifted within
every sequence, or permuted), restricted to the same sequences as the real replicate: a
spurious correlation of a finite real sample persists across overlapping subsamples, and
so does the null's, so the null replicate counts match the real ones in that respect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit

from saegraph.errors import SaegraphError
from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.coactivation.kernel import first_at_least
from saegraph.ingest.edges.lasso.replicate import (
    ReplicateEdges,
    dense_statistics,
    fit_blocks,
    screen_candidates,
    to_global,
)
from saegraph.ingest.edges.lasso.resample import deflated_n_eff
from saegraph.ingest.edges.lasso.screen import block_pair_keys


@dataclass
class ScreenedDataset:
    """One dataset screened once: what every replicate of it needs (module docstring, steps 1–3)."""

    n_features: int
    seq_len: np.ndarray  # tokens per sequence
    nodes: np.ndarray  # global ids of the node columns (sorted)
    dense: np.ndarray  # global ids of the dense covariates (sorted)
    cand_ptr: np.ndarray  # top-k candidates per node, CSR over the node index space
    cand_idx: np.ndarray
    pair_keys: np.ndarray  # sorted block pair keys min·n_nodes + max
    seq_pairs: sp.csr_matrix  # [n_seq, |P|] S per sequence at the block pairs
    seq_moments: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]  # Σa, Σa², firings [n_seq, nodes + dense]
    seq_lag: (
        tuple[sp.csr_matrix, sp.csr_matrix] | None
    )  # (firings, lag-1 co-firings) [n_seq, F] when deflated
    x: sp.csr_matrix  # [tokens, nodes]
    a_dense: sp.csr_matrix  # [tokens, dense]
    info: dict


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


def _sequence_lag(acts: sp.csr_matrix, seq_starts: np.ndarray):
    """Per-sequence firings and lag-1 co-firings (t, t+1 in the same sequence) of every column."""
    member = sequence_membership(seq_starts)
    fires = acts.copy()
    fires.data = np.ones(fires.data.size, dtype=np.float64)
    n = acts.shape[0]
    same_seq = np.ones(max(n - 1, 0), dtype=np.float64)
    same_seq[seq_starts[1:-1] - 1] = 0.0
    lagged = (sp.diags(same_seq) @ fires[:-1]).multiply(fires[1:]).tocsr()
    return sp.csr_matrix(member @ fires), sp.csr_matrix(member[:, :-1] @ lagged) if n > 1 else None


def screen_dataset(acts: sp.csr_matrix, seq_starts: np.ndarray, config: LassoConfig) -> ScreenedDataset:
    """Steps 1–3 of the module docstring on one dataset (rows sorted by sequence, ``seq_starts``)."""
    sc = screen_candidates(acts, seq_starts, config)
    nodes, dense, x, cand_ptr, cand_idx = sc.nodes, sc.dense, sc.x, sc.cand_ptr, sc.cand_idx
    t0 = time.perf_counter()
    pair_keys = np.unique(block_pair_keys(cand_ptr, cand_idx, nodes.size))
    seq_pairs = sequence_pair_sums(x, seq_starts, pair_keys, config.max_sequence_pair_entries)
    a_dense = acts[:, dense].tocsr()
    seq_moments = sequence_column_sums(acts, seq_starts, np.concatenate([nodes, dense]))
    seq_lag = _sequence_lag(acts, seq_starts) if config.n_eff == "deflated" else None
    info = {
        "nEffWhole": float(sc.n_eff),
        "nEffWholeInfo": sc.n_eff_info,
        "screenPrefiltered": int(sc.screen.n_prefiltered),
        "screenPassed": int(sc.screen.i.size),
        "blockPairs": int(pair_keys.size),
        "sequencePairEntries": int(seq_pairs.nnz),
        "seconds": {
            "screen": round(sum(sc.seconds.values()), 4),
            "statistics": round(time.perf_counter() - t0, 4),
        },
    }
    return ScreenedDataset(
        acts.shape[1],
        np.diff(seq_starts).astype(np.int64),
        nodes,
        dense,
        cand_ptr,
        cand_idx,
        pair_keys,
        seq_pairs,
        seq_moments,
        seq_lag,
        x,
        a_dense,
        info,
    )


def _replicate_n_eff(
    ds: ScreenedDataset, w: np.ndarray, n: float, n_seq: int, mode: str
) -> tuple[float, dict]:
    """``resample.effective_sample_size`` from per-sequence sums (same formula, ``deflated_n_eff``)."""
    if mode == "sequences" or ds.seq_lag is None:
        return float(n_seq), {"mode": "sequences", "nSequences": n_seq, "nTokens": int(n)}
    fires, lagged = ds.seq_lag
    return deflated_n_eff(fires.T @ w, lagged.T @ w, n, n_seq)


def _alive_candidates(cand_ptr: np.ndarray, cand_idx: np.ndarray, alive: np.ndarray):
    """The candidate lists of alive nodes, keeping only alive candidates (same order)."""
    owner = np.repeat(np.arange(cand_ptr.size - 1), np.diff(cand_ptr))
    keep = alive[owner] & alive[cand_idx]
    counts = np.bincount(owner[keep], minlength=cand_ptr.size - 1)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), cand_idx[keep]


def replicate_from_dataset(ds: ScreenedDataset, chosen: np.ndarray, config: LassoConfig) -> ReplicateEdges:
    """Steps 4–6 of the module docstring: the replicate of ``ds`` on the sequences ``chosen``."""
    t0 = time.perf_counter()
    w = np.zeros(ds.seq_len.size, dtype=np.float64)
    w[chosen] = 1.0
    n = float(ds.seq_len @ w)
    sums, squares, fired = (m.T @ w for m in ds.seq_moments)
    mean = sums / max(n, 1.0)
    sd = np.sqrt(np.maximum(squares / max(n, 1.0) - mean * mean, 0.0))
    k = ds.nodes.size
    alive = (fired[:k] >= config.min_firings) & (sd[:k] > 0)
    dense_ok = sd[k:] > 0
    n_eff, n_eff_info = _replicate_n_eff(ds, w, n, int(chosen.size), config.n_eff)
    cand_ptr, cand_idx = _alive_candidates(ds.cand_ptr, ds.cand_idx, alive)
    needed = np.unique(block_pair_keys(cand_ptr, cand_idx, k))
    pair_s = (ds.seq_pairs.T @ w)[np.searchsorted(ds.pair_keys, needed)]
    token_w = np.repeat(w, ds.seq_len)
    with np.errstate(divide="ignore", invalid="ignore"):  # columns of nodes dead in this replicate are unused
        dense_corr, dense_gram = dense_statistics(
            sp.diags(token_w) @ ds.a_dense[:, dense_ok],
            ds.x,
            n,
            mean[k:][dense_ok],
            sd[k:][dense_ok],
            mean[:k],
            sd[:k],
        )
        t_stats = time.perf_counter() - t0
        t0 = time.perf_counter()
        fit = fit_blocks(
            cand_ptr,
            cand_idx,
            needed,
            pair_s,
            n,
            mean[:k],
            sd[:k],
            dense_corr,
            dense_gram,
            n_eff,
            int(alive.sum()) - 1,
            config,
        )
    info = {
        "nTokens": int(n),
        "nSequences": int(chosen.size),
        "nEff": float(n_eff),
        "nEffInfo": n_eff_info,
        "nodes": int(alive.sum()),
        "denseCovariates": [int(d) for d in ds.dense[dense_ok]],
        "screenPrefiltered": ds.info["screenPrefiltered"],
        "screenPassed": ds.info["screenPassed"],
        "meanCandidates": float(cand_idx.size / max(int(alive.sum()), 1)),
        "gramEntries": int(needed.size),
        "directedSelected": fit.directed_selected,
        "seconds": {"statistics": round(t_stats, 4), "solve": round(time.perf_counter() - t0, 4)},
    }
    return to_global(fit, ds.nodes, ds.n_features, info)
