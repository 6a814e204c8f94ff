"""The LASSO's tokens: one SAE's activations in (sequence, position) order, as blocks of whole
sequences held in memory or streamed from disk (docs/scaling.md, "Memory per stage").

Algorithm:
1. ``sorted_tokens`` (the stacked path): the matrix sorted by (sequence, position)
   (``resample.order_by_sequence``) as one in-memory ``stats.stream.TokenBlocks`` block.
   ``store_tokens`` (above ``edges.lasso.token_memory_mb``): the store's chunks in blocks of
   whole sequences within the budget (``TokenBlocks.from_store``), once ``check_store_order``
   has found, from the token metadata alone, that the store already is in the order the stacked
   path sorts into (ingest writes it so). ``check_streamable``: streaming needs the default
   circular-shift null and ``screen = "once"`` (the permutation null shuffles each column over
   all tokens; ``per_replicate`` subsamples the stacked matrix); other settings raise.
2. ``null_tokens``: the one matched null of ``screen = "once"``: every block circularly shifted
   within its sequences, numbered from the block's first sequence (``stats.nulls``), which is
   the shift of the stacked matrix; computed once in memory, again on every pass when streamed.
3. ``prepare``: one pass: column moments (``stats.stream.MomentAccumulator``, equal to
   ``column_moments`` bit for bit), stored entries and within-sequence lag-1 co-stored entries
   per column (integers, for n_eff), and the sequence lengths.
4. ``with_columns``: every block with its node columns (the screen's x), cached in memory.
5. ``dense_cross``: S_dx = Σ a_td a_tj (covariates d, nodes j) and S_dd = Σ a_td a_te over the
   tokens of the chosen sequences, float64, every cell added token by token in token order (the
   order in which scipy's product of the stacked matrices adds them), so any blocks give the
   same sums.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.sparse as sp

from saegraph.errors import SaegraphError
from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.resample import deflated_n_eff, permutation_null
from saegraph.ingest.edges.stats.moments import ColumnMoments
from saegraph.ingest.edges.stats.nulls import circular_shift_null
from saegraph.ingest.edges.stats.stream import MomentAccumulator, TokenBlock, TokenBlocks

STREAMED_SETTINGS = {"null": "circular_shift", "screen": "once"}
"""The LASSO settings whose values streaming needs (step 1)."""


class LassoStreamingError(SaegraphError, ValueError):
    """An SAE's activations exceed ``edges.lasso.token_memory_mb`` but cannot be streamed."""


def sorted_tokens(acts: sp.csr_matrix, seq_starts: np.ndarray) -> TokenBlocks:
    """Step 1, stacked: ``acts`` (rows sorted by sequence, ``seq_starts``) as one block."""
    seq_ids = np.repeat(np.arange(seq_starts.size - 1, dtype=np.int64), np.diff(seq_starts))
    return TokenBlocks.in_memory([acts], seq_ids)


def check_streamable(config: LassoConfig, sae_id: str) -> None:
    """Raise ``LassoStreamingError`` naming the setting that keeps the SAE from streaming (step 1)."""
    for name, value in STREAMED_SETTINGS.items():
        if getattr(config, name) != value:
            raise LassoStreamingError(
                f"LASSO {sae_id}: its activations exceed edges.lasso.token_memory_mb = "
                f'{config.token_memory_mb:g} and streaming them needs edges.lasso.{name} = "{value}" '
                f'(not "{getattr(config, name)}"): set it, or raise token_memory_mb'
            )


def check_store_order(store, budget_mib: float) -> None:
    """Raise unless the store's tokens are in (sequence, position) order, every sequence within
    one chunk (step 1; reads only the token metadata)."""
    last = None
    for entry in store.chunks:
        chunk = store.load_chunk(entry["chunk"], sae_ids=[])
        seqs = np.asarray(chunk.sequence_ids, dtype=np.int64)
        pos = np.asarray(chunk.positions, dtype=np.int64)
        if seqs.size == 0:
            continue
        ds, dp = np.diff(seqs), np.diff(pos)
        ordered = bool(((ds > 0) | ((ds == 0) & (dp >= 0))).all()) and (last is None or seqs[0] > last)
        if not ordered:
            raise LassoStreamingError(
                f"LASSO streaming needs the activations of {store.path} in (sequence, position) order and "
                f"chunk {entry['chunk']} is not: raise edges.lasso.token_memory_mb above {budget_mib:g} to stack them"
            )
        last = seqs[-1]


def store_tokens(store, sae_id: str, budget: int) -> TokenBlocks:
    """Step 1, streamed: the SAE's chunks in blocks of whole sequences of at most ``budget`` bytes."""
    check_store_order(store, budget / (1 << 20))
    return TokenBlocks.from_store(store, (sae_id,), budget)


def stacked(tokens: TokenBlocks) -> tuple[sp.csr_matrix, np.ndarray]:
    """The in-memory tokens as one matrix and its sequence starts (never for streamed tokens)."""
    if tokens.streamed:
        raise LassoStreamingError("the streamed LASSO tokens cannot be stacked")
    blocks = list(tokens)
    acts = blocks[0].acts[0] if len(blocks) == 1 else sp.vstack([b.acts[0] for b in blocks], format="csr")
    lengths = np.concatenate([np.diff(b.segments()) for b in blocks])
    return acts, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def _cached(tokens: TokenBlocks, blocks: list[tuple[tuple[sp.csr_matrix, ...], np.ndarray | None]]):
    return TokenBlocks(tokens.widths, tokens.n_tokens, lambda: iter(blocks), streamed=False)


def null_tokens(tokens: TokenBlocks, kind: str, rng: np.random.Generator) -> TokenBlocks:
    """Step 2: the matched null of ``tokens`` (the seed is drawn as ``resample.matched_null`` draws it)."""
    if kind != "circular_shift":
        acts, starts = stacked(tokens)
        return sorted_tokens(permutation_null(acts, rng), starts)
    seed = int(rng.integers(0, 2**62))

    def shift(b: TokenBlock) -> sp.csr_matrix:
        return circular_shift_null(b.acts[0], b.segments(), seed, b.first_segment)

    if not tokens.streamed:
        return _cached(tokens, [((shift(b),), b.sequence_ids) for b in tokens])

    def blocks():
        for b in tokens:
            yield (shift(b),), b.sequence_ids

    return TokenBlocks(tokens.widths, tokens.n_tokens, blocks, streamed=True)


@dataclass(frozen=True)
class Prepared:
    """Step 3: what one pass over a dataset's tokens gives."""

    moments: ColumnMoments
    stored: np.ndarray  # int64 stored entries per column
    lagged: np.ndarray  # int64 columns stored at t and t + 1 of one sequence, per column
    seq_len: np.ndarray  # int64 tokens per sequence
    n_blocks: int
    seconds: float  # the pass's duration

    @property
    def n_sequences(self) -> int:
        return int(self.seq_len.size)

    def n_eff(self, mode: str) -> tuple[float, dict]:
        """``resample.effective_sample_size`` of the whole dataset, from the counts (float32, as
        that function sums them, so the values are its values)."""
        n, n_seq = int(self.moments.n), self.n_sequences
        if mode == "sequences" or n < 2:
            return float(n_seq), {"mode": "sequences", "nSequences": n_seq, "nTokens": n}
        return deflated_n_eff(self.stored.astype(np.float32), self.lagged.astype(np.float32), n, n_seq)


@nb.njit(cache=True, nogil=True)
def _stored_and_lagged(indptr, indices, bounds, stored, lagged):
    for s in range(bounds.shape[0] - 1):
        end = bounds[s + 1]
        for t in range(bounds[s], end):
            a, a_end = indptr[t], indptr[t + 1]
            for p in range(a, a_end):
                stored[indices[p]] += 1
            if t + 1 >= end:
                continue
            b, b_end = indptr[t + 1], indptr[t + 2]
            while a < a_end and b < b_end:
                if indices[a] < indices[b]:
                    a += 1
                elif indices[a] > indices[b]:
                    b += 1
                else:
                    lagged[indices[a]] += 1
                    a += 1
                    b += 1


def prepare(tokens: TokenBlocks) -> Prepared:
    """Step 3 in one pass over ``tokens`` (sorted CSR blocks of whole sequences)."""
    t0 = time.perf_counter()
    F = tokens.widths[0]
    acc = MomentAccumulator(F)
    stored, lagged = np.zeros(F, np.int64), np.zeros(F, np.int64)
    lengths, n_blocks = [], 0
    for b in tokens:
        m, bounds = b.acts[0], b.segments()
        acc.add(m)
        _stored_and_lagged(m.indptr.astype(np.int64), m.indices, bounds, stored, lagged)
        lengths.append(np.diff(bounds))
        n_blocks += 1
    seq_len = np.concatenate(lengths).astype(np.int64) if lengths else np.zeros(0, np.int64)
    return Prepared(acc.result(), stored, lagged, seq_len, n_blocks, time.perf_counter() - t0)


def node_matrix(acts: sp.csr_matrix, columns: np.ndarray) -> sp.csr_matrix:
    """``acts[:, columns]`` as CSR with sorted indices."""
    x = acts[:, columns].tocsr()
    x.sort_indices()
    return x


def with_columns(
    tokens: TokenBlocks, columns: np.ndarray
) -> Callable[[], Iterable[tuple[TokenBlock, sp.csr_matrix]]]:
    """Step 4: a callable yielding every block with ``node_matrix(block, columns)``."""
    if not tokens.streamed:
        cached = [(b, node_matrix(b.acts[0], columns)) for b in tokens]
        return lambda: cached
    return lambda: ((b, node_matrix(b.acts[0], columns)) for b in tokens)


@nb.njit(cache=True, nogil=True)
def _dense_cross(indptr, indices, data, bounds, chosen, first, node_map, dense_map, s_dx, s_dd):
    for s in range(bounds.shape[0] - 1):
        if not chosen[first + s]:
            continue
        for t in range(bounds[s], bounds[s + 1]):
            for a in range(indptr[t], indptr[t + 1]):
                u = dense_map[indices[a]]
                if u < 0:
                    continue
                va = np.float64(data[a])
                for b in range(indptr[t], indptr[t + 1]):
                    c = indices[b]
                    j = node_map[c]
                    if j >= 0:
                        s_dx[u, j] += va * data[b]
                    e = dense_map[c]
                    if e >= 0:
                        s_dd[u, e] += va * data[b]


def dense_cross(
    tokens: TokenBlocks, chosen: np.ndarray, nodes: np.ndarray, dense: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Step 5: (S_dx [dense, nodes], S_dd [dense, dense]) over the sequences where ``chosen``."""
    F = tokens.widths[0]
    node_map = np.full(F, -1, np.int64)
    node_map[nodes] = np.arange(nodes.size)
    dense_map = np.full(F, -1, np.int64)
    dense_map[dense] = np.arange(dense.size)
    s_dx = np.zeros((dense.size, nodes.size), np.float64)
    s_dd = np.zeros((dense.size, dense.size), np.float64)
    chosen = np.asarray(chosen, dtype=np.bool_)
    for b in tokens:
        m, bounds = b.acts[0], b.segments()
        if chosen[b.first_segment : b.first_segment + bounds.size - 1].any():
            _dense_cross(
                m.indptr.astype(np.int64),
                m.indices,
                m.data,
                bounds,
                chosen,
                b.first_segment,
                node_map,
                dense_map,
                s_dx,
                s_dd,
            )
    return s_dx, s_dd
