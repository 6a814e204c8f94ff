"""Blocked co-firing counting: block sizing, the binary pattern, counts and the one-tail scan.

Algorithm (docs/methods.md, "CO_ACTIVATES and EXCLUDES", step 3):
1. ``effective_block_rows``: rows per block of the dense int32 count buffer, cache-sized
   (``stats.blocks``; as large as allowed when the tokens stream from disk), capped by
   ``block_rows`` and ``block_memory_mb``.
2. ``binary_pattern``: the CSR pattern of A > 0 (indptr int64, sorted indices int32).
3. ``cofiring_counts``: the strict-upper-triangle co-firing counts of a row range, streamed
   over activation chunks (``kernel.count_block``); ``block_patterns``: the binary patterns
   (real or circularly shifted) of a ``stats.stream.TokenBlocks``, as the stage counts them.
4. ``significant_candidates``: the co-occurrence tail alone, block by block: pairs with
   c >= min_count and exact hypergeometric p <= q (the stage itself reads both tails at once,
   ``tails``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import scipy.sparse as sp

from saegraph.ingest.edges.coactivation import kernel as kern
from saegraph.ingest.edges.stats.blocks import target_block_cells
from saegraph.ingest.edges.stats.nulls import circular_shift_pattern
from saegraph.ingest.edges.stats.significance import hypergeom_pvalues, log_factorial_table
from saegraph.ingest.edges.stats.stream import TokenBlock, TokenBlocks

_BUFFER = 1 << 20


def effective_block_rows(
    n_features: int, block_rows: int, block_memory_mb: int, *, cache_sized: bool = True
) -> int:
    """Rows per block: a cache-sized int32 count buffer (``stats.blocks``) unless that takes
    more than ``MAX_PASSES`` passes over the tokens; never more than ``block_rows`` rows or
    ``block_memory_mb``. Without ``cache_sized`` (tokens streamed from disk, every pass reads
    them again) as many rows as ``block_rows`` and ``block_memory_mb`` allow."""
    F = max(n_features, 1)
    by_memory = max(1, (block_memory_mb << 20) // (4 * F))
    by_cache = target_block_cells(F * F, 4) // F if cache_sized else F
    return int(max(1, min(block_rows, by_memory, by_cache, F)))


def binary_pattern(acts: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """(indptr int64, indices int32) of A > 0 with sorted indices per row."""
    m = sp.csr_matrix(acts, copy=True)
    m.data = (m.data > 0).astype(np.int8)
    m.eliminate_zeros()
    m.sort_indices()
    return m.indptr.astype(np.int64), m.indices.astype(np.int32)


Patterns = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]


def block_patterns(blocks: TokenBlocks, null_seed: int | None = None) -> Patterns:
    """A callable yielding the binary pattern (indptr, indices) of every token block of the first
    SAE of ``blocks``, or of its within-sequence circular shift (``stats.nulls``) drawn with
    ``null_seed``; computed once when the blocks are in memory, again on every call when they
    stream from disk."""

    def pattern(b: TokenBlock) -> tuple[np.ndarray, np.ndarray]:
        ptr, idx = binary_pattern(b.acts[0])
        if null_seed is not None:
            ptr, idx = circular_shift_pattern(ptr, idx, b.segments(), np.uint64(null_seed), b.first_segment)
        return ptr, idx

    if not blocks.streamed:
        cached = [pattern(b) for b in blocks]
        return lambda: cached

    def stream() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return (pattern(b) for b in blocks)

    return stream


def cofiring_counts(chunks_iter: Iterable[sp.spmatrix], n_features: int, rows: tuple[int, int] | None = None):
    """Strict-upper-triangle co-firing counts C[a − r0, b] (b > a) for feature rows ``rows``.

    Streams the chunks (token x feature CSR matrices) one at a time; the result is a dense
    int32 [r1 − r0, F] block — call it with a row range at large F.
    """
    r0, r1 = rows if rows is not None else (0, n_features)
    out = np.zeros((r1 - r0, n_features), dtype=np.int32)
    for chunk in chunks_iter:
        if chunk.shape[1] != n_features:
            raise ValueError(f"chunk has {chunk.shape[1]} features, expected {n_features}")
        indptr, indices = binary_pattern(chunk)
        kern.count_block(indptr, indices, r0, r1, out)
    return out


def significant_candidates(
    indptr: np.ndarray,
    indices: np.ndarray,
    n_fires: np.ndarray,
    *,
    min_count: int,
    q: float,
    block_rows: int,
    block_memory_mb: int = 512,
    progress: bool = False,
    desc: str = "co-activation",
) -> tuple[dict[str, np.ndarray], dict]:
    """Pairs (i < j) with c >= min_count and exact p <= q, by blocked counting."""
    from tqdm.auto import tqdm

    n_features = int(n_fires.shape[0])
    n_tokens = int(indptr.shape[0] - 1)
    rows = effective_block_rows(n_features, block_rows, block_memory_mb)
    logfact = log_factorial_table(n_tokens)
    block = np.zeros((rows, n_features), dtype=np.int32)
    buf_i = np.empty(max(_BUFFER, n_features), np.int32)
    buf_j = np.empty_like(buf_i)
    buf_c = np.empty_like(buf_i)
    counters = np.zeros(2, dtype=np.int64)
    parts: list[tuple[np.ndarray, ...]] = []
    n_exact = 0
    t_count = t_scan = t_exact = 0.0

    def flush(w: int) -> None:
        nonlocal n_exact, t_exact
        t0 = time.perf_counter()
        i, j, c = buf_i[:w].copy(), buf_j[:w].copy(), buf_c[:w].copy()
        p = hypergeom_pvalues(c, n_tokens, n_fires[i], n_fires[j])
        keep = p <= q
        n_exact += w
        parts.append((i[keep], j[keep], c[keep], p[keep]))
        t_exact += time.perf_counter() - t0

    starts = range(0, n_features, rows)
    for r0 in tqdm(starts, desc=desc, unit="block", disable=not progress, leave=False):
        r1 = min(r0 + rows, n_features)
        view = block[: r1 - r0]
        t0 = time.perf_counter()
        kern.count_block(indptr, indices, r0, r1, view)
        t1 = time.perf_counter()
        t_count += t1 - t0
        row = 0
        while row < r1 - r0:
            w, row = kern.block_candidates(
                view, r0, row, n_fires, n_tokens, logfact, min_count, q, buf_i, buf_j, buf_c, counters
            )
            if w:
                flush(w)
        t_scan += time.perf_counter() - t1
    t_scan -= t_exact
    if parts:
        cand = {k: np.concatenate([pt[n] for pt in parts]) for n, k in enumerate(("i", "j", "c", "p"))}
    else:
        cand = {
            "i": np.zeros(0, np.int32),
            "j": np.zeros(0, np.int32),
            "c": np.zeros(0, np.int32),
            "p": np.zeros(0, np.float64),
        }
    stats = {
        "blockRows": rows,
        "pairsWithMinCount": int(counters[0]),
        "pairsPrescreenedOut": int(counters[1]),
        "pairsExactTested": int(n_exact),
        "pairsWithPAtMostQ": int(cand["p"].size),
        "secondsCounting": round(t_count, 3),
        "secondsScanning": round(t_scan, 3),
        "secondsExactP": round(t_exact, 3),
    }
    return cand, stats
