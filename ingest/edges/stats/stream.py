"""Token blocks: one or two SAEs' activations read from disk in blocks of whole sequences.

The edge stages that sum over tokens (co-activation, MATCHES' activation correlation, FLOWS_TO's
activation check) take a ``TokenBlocks`` instead of one stacked token x feature matrix, so they
never hold every token once the activations exceed a memory budget (docs/scaling.md, "Memory per
stage").

Algorithm:
1. ``csr_bytes``: the size the SAEs' stacked CSR matrices would take, from the store's index
   alone (no chunk is read): ``ENTRY_BYTES`` per stored entry (float32 value + int32 column) and
   ``TOKEN_BYTES`` per token and SAE (int64 row pointer) plus ``META_BYTES`` per token (int64
   sequence id, int32 position).
2. ``token_blocks``: below the budget, the stacked matrices as one block (``in_memory``); above it,
   ``from_store``: every chunk in order, loaded with the named SAEs only and cut greedily at
   sequence boundaries into runs whose bytes (step 1's formula) stay within the budget (a run
   holds at least one sequence); each run is one block. A block never spans two chunks.
3. Every block carries ``first_segment``, the number of sequence segments (runs of equal sequence
   id, ``sequence_segments``) before it, so the within-sequence circular-shift null
   (``stats.nulls``) draws the offsets it draws on the stacked matrix.
4. ``accumulate_moments``: firings, Σa and Σa² per column added entry by entry in token order
   (numba), so the float64 sums equal ``np.bincount`` over the stacked matrix
   (``stats.moments.column_moments``) bit for bit, whatever the blocks.
Every sum over tokens that a stage accumulates block by block in token order is therefore the
sum it computes on the stacked matrix, and the streamed tables equal the in-memory ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.sparse as sp

from saegraph.ingest.edges.stats.moments import ColumnMoments

ENTRY_BYTES = 8
"""Bytes per stored activation: float32 value + int32 column index."""
TOKEN_BYTES = 8
"""Bytes per token and SAE: the int64 CSR row pointer."""
META_BYTES = 12
"""Bytes per token: int64 sequence id + int32 position."""


def sequence_segments(sequence_ids: np.ndarray) -> np.ndarray:
    """Boundaries of runs of equal sequence id (tokens of a sequence are contiguous)."""
    s = np.asarray(sequence_ids)
    if s.size == 0:
        return np.zeros(1, dtype=np.int64)
    change = np.flatnonzero(s[1:] != s[:-1]) + 1
    return np.r_[0, change, s.size].astype(np.int64)


def budget_bytes(token_memory_mb: float) -> int:
    """A ``token_memory_mb`` setting in bytes (at least 1)."""
    return max(1, int(float(token_memory_mb) * (1 << 20)))


def csr_bytes(store, sae_ids: Sequence[str]) -> int:
    """Bytes of the SAEs' stacked activations and token metadata (step 1), from the index."""
    total = 0
    for c in store.chunks:
        n = int(c["nTokens"])
        total += n * META_BYTES + sum(ENTRY_BYTES * int(c["nnz"][s]) + TOKEN_BYTES * n for s in sae_ids)
    return total


def _sorted_csr(m: sp.spmatrix) -> sp.csr_matrix:
    """``m`` as CSR float32 with sorted column indices (a sorted copy when they are not)."""
    m = sp.csr_matrix(m, dtype=np.float32)
    if not m.has_sorted_indices:
        m = m.copy()
        m.sort_indices()
    return m


@dataclass(frozen=True)
class TokenBlock:
    """Whole sequences of tokens: one CSR float32 matrix per SAE over the same rows."""

    acts: tuple[sp.csr_matrix, ...]
    sequence_ids: np.ndarray | None
    first_segment: int = 0
    """Sequence segments of all tokens before this block (the null's segment numbering)."""

    @property
    def n_tokens(self) -> int:
        return int(self.acts[0].shape[0])

    def segments(self) -> np.ndarray:
        """Local boundaries of the block's sequences (``sequence_segments``)."""
        if self.sequence_ids is None:
            raise ValueError("these token blocks carry no sequence ids")
        return sequence_segments(self.sequence_ids)


class TokenBlocks:
    """A re-iterable sequence of ``TokenBlock``s over all tokens, in token order; every
    iteration reads the blocks again (from disk when ``streamed``)."""

    def __init__(
        self,
        widths: Sequence[int],
        n_tokens: int,
        blocks: Callable[[], Iterator[tuple[tuple[sp.csr_matrix, ...], np.ndarray | None]]],
        *,
        streamed: bool,
        has_sequences: bool = True,
    ):
        self.widths = tuple(int(w) for w in widths)
        self.n_tokens = int(n_tokens)
        self.streamed = bool(streamed)
        self.has_sequences = bool(has_sequences)
        self._blocks = blocks
        self.n_blocks: int | None = None
        """Blocks seen by the last complete iteration."""
        self.n_segments: int | None = None
        """Sequence segments seen by the last complete iteration."""

    def __iter__(self) -> Iterator[TokenBlock]:
        segment = 0
        count = 0
        for acts, seqs in self._blocks():
            block = TokenBlock(acts, seqs, segment)
            yield block
            count += 1
            if seqs is not None:
                segment += int(block.segments().size - 1)
        self.n_blocks, self.n_segments = count, segment

    def reordered(self, order: Sequence[int]) -> TokenBlocks:
        """The same tokens with the SAEs in ``order`` (e.g. ``(1, 0)`` swaps a pair)."""
        order = tuple(order)

        def blocks():
            for b in self:
                yield tuple(b.acts[k] for k in order), b.sequence_ids

        return TokenBlocks(
            [self.widths[k] for k in order],
            self.n_tokens,
            blocks,
            streamed=self.streamed,
            has_sequences=self.has_sequences,
        )

    @classmethod
    def in_memory(cls, acts: Sequence[sp.spmatrix], sequence_ids: np.ndarray | None = None) -> TokenBlocks:
        """Matrices over the same tokens as one block (the path below the budget)."""
        mats = tuple(_sorted_csr(a) for a in acts)
        if len({m.shape[0] for m in mats}) != 1:
            raise ValueError(f"the SAEs saw different numbers of tokens ({[m.shape[0] for m in mats]})")
        seqs = None if sequence_ids is None else np.asarray(sequence_ids)
        return cls(
            [m.shape[1] for m in mats],
            mats[0].shape[0],
            lambda: iter([(mats, seqs)]),
            streamed=False,
            has_sequences=seqs is not None,
        )

    @classmethod
    def from_store(cls, store, sae_ids: Sequence[str], budget: int) -> TokenBlocks:
        """The store's chunks of ``sae_ids`` as blocks of at most ``budget`` bytes (step 2)."""
        sids = list(sae_ids)

        def blocks():
            for entry in store.chunks:
                chunk = store.load_chunk(entry["chunk"], sids)
                mats = [_sorted_csr(chunk.acts[s]) for s in sids]
                seqs = np.asarray(chunk.sequence_ids)
                bounds = sequence_segments(seqs)
                row_cost = (ENTRY_BYTES * sum(np.diff(m.indptr) for m in mats)).astype(np.int64)
                row_cost += TOKEN_BYTES * len(mats) + META_BYTES
                cum = np.r_[0, np.cumsum(row_cost)][bounds]
                start, n_seg = 0, bounds.size - 1
                while start < n_seg:
                    end = int(np.searchsorted(cum, cum[start] + budget, side="right")) - 1
                    end = min(max(end, start + 1), n_seg)
                    r0, r1 = int(bounds[start]), int(bounds[end])
                    if r0 == 0 and r1 == seqs.size:
                        yield tuple(mats), seqs
                    else:
                        yield tuple(m[r0:r1] for m in mats), seqs[r0:r1]
                    start = end

        return cls([store.d_sae(s) for s in sids], store.n_tokens, blocks, streamed=True)


def token_blocks(store, sae_ids: Sequence[str], token_memory_mb: float, stack=None) -> TokenBlocks:
    """The SAEs' tokens (step 2): one stacked block when their ``csr_bytes`` fit
    ``token_memory_mb``, else streamed blocks within it. ``stack(sid)`` loads one SAE's stacked
    (acts, sequence ids, positions) (default: ``store.stack``)."""
    budget = budget_bytes(token_memory_mb)
    if store.n_tokens == 0:
        raise ValueError(f"no activations of {', '.join(sae_ids)} in {store.path}: re-run `saegraph ingest`")
    if csr_bytes(store, sae_ids) > budget:
        return TokenBlocks.from_store(store, sae_ids, budget)
    stack = stack or store.stack
    stacked = [stack(s) for s in sae_ids]
    return TokenBlocks.in_memory([s[0] for s in stacked], stacked[0][1])


@nb.njit(cache=True, nogil=True)
def _add_moments(indices, data, firings, sums, sumsq):
    for p in range(indices.shape[0]):
        c = indices[p]
        d = np.float64(data[p])
        if d > 0:
            firings[c] += 1
        sums[c] += d
        sumsq[c] += d * d


class MomentAccumulator:
    """``stats.moments.column_moments`` of a stacked CSR matrix, added block by block (step 4)."""

    def __init__(self, n_features: int):
        self.n = 0
        self.firings = np.zeros(n_features, np.int64)
        self.sums = np.zeros(n_features, np.float64)
        self.sumsq = np.zeros(n_features, np.float64)

    def add(self, acts: sp.csr_matrix) -> None:
        self.n += int(acts.shape[0])
        _add_moments(acts.indices, acts.data, self.firings, self.sums, self.sumsq)

    def result(self) -> ColumnMoments:
        n = self.n
        mean = self.sums / max(n, 1)
        sd = np.sqrt(np.maximum(self.sumsq / max(n, 1) - mean * mean, 0.0))
        return ColumnMoments(n=n, firings=self.firings, sums=self.sums, sumsq=self.sumsq, mean=mean, sd=sd)


def accumulate_moments(blocks: TokenBlocks) -> list[ColumnMoments]:
    """The column moments of each SAE of ``blocks``, in one pass (step 4)."""
    acc = [MomentAccumulator(w) for w in blocks.widths]
    for b in blocks:
        for a, m in zip(acc, b.acts):
            a.add(m)
    return [a.result() for a in acc]
