"""Both tails of the co-firing test in one pass over each counted block.

Algorithm (docs/methods.md, "CO_ACTIVATES and EXCLUDES"; tests in ``stats.hypergeom``):
1. ``kernel.count_block`` fills a block of strict-upper-triangle co-firing counts.
2. ``scan_block`` reads every pair (i, j > i) of the block once, zeroing what it reads:
   a. c above its expectation E = n_i n_j / N (co-occurrence side): kept as a candidate when
      c >= min_count, phi >= min_phi (the effect floor, applied before the test so that BH's
      guarantee covers the kept set) and the rigorous lower-bound prescreen
      (``kernel.tail_may_be_at_most``) leaves P(C >= c) <= q possible;
   b. c at or below E (exclusion side): kept when the pair is in the exclusion family (its
      smallest attainable p, log P(C = max(0, n_i + n_j − N)), is <= the family threshold),
      its sample odds ratio is <= ω0, and the one-term lower bound P(C = c) of the central
      lower tail (itself a lower bound of the ω0 tail) is <= q.
3. ``two_tail_candidates`` runs 1–2 over all blocks (its counts summed over the token blocks
   of ``two_tail_candidates_blocks`` when the tokens are streamed) and computes the exact p-values of the
   candidates: P(C >= c) (``significance.hypergeom_pvalues``) and P_ω0(C <= c)
   (``hypergeom.lower_pvalues``); pairs with p > q are dropped (they cannot pass BH at q).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

import numba as nb
import numpy as np

from saegraph.ingest.edges.coactivation.kernel import count_block, tail_may_be_at_most
from saegraph.ingest.edges.stats.hypergeom import log_min_lower_p, log_pmf, lower_pvalues
from saegraph.ingest.edges.stats.significance import hypergeom_pvalues, log_factorial_table

_BUFFER = 1 << 20


@nb.njit(cache=True, nogil=True)
def scan_block(
    block,
    r0,
    start_row,
    n_fires,
    n_tokens,
    logfact,
    min_count,
    min_phi,
    q,
    exclusion,
    log_family_thr,
    omega,
    pi,
    pj,
    pc,
    xi,
    xj,
    xc,
    stats,
):
    """Collect both tails' candidates from rows ``start_row``.. of ``block``; returns (wp, wx, next row).

    ``stats[0]`` += pairs past the co-occurrence floors, ``stats[1]`` += exclusion pairs tested.
    """
    n_rows, n_features = block.shape
    cap = min(pi.shape[0], xi.shape[0])
    log_q = math.log(q) + 1e-9
    wp = 0
    wx = 0
    row = start_row
    while row < n_rows:
        if cap - wp < n_features or cap - wx < n_features:
            break
        i = r0 + row
        a = n_fires[i]
        for j in range(i + 1, n_features):
            c = block[row, j]
            if c != 0:
                block[row, j] = 0
            b = n_fires[j]
            if a == 0 or b == 0:
                continue
            if c * 1.0 * n_tokens > a * 1.0 * b:
                if c < min_count:
                    continue
                phi = (n_tokens * 1.0 * c - a * 1.0 * b) / math.sqrt(
                    a * 1.0 * b * (n_tokens - a) * (n_tokens - b)
                )
                if phi < min_phi:
                    continue
                stats[0] += 1
                if tail_may_be_at_most(c, n_tokens, a, b, logfact, q):
                    pi[wp] = i
                    pj[wp] = j
                    pc[wp] = c
                    wp += 1
            elif exclusion:
                if c * (n_tokens - a - b + c + 0.0) > omega * (a - c + 0.0) * (b - c):
                    continue  # sample odds ratio above ω0
                if a + b > n_tokens or log_min_lower_p(n_tokens, a, b, logfact) > log_family_thr:
                    continue  # outside the exclusion family
                stats[1] += 1
                if log_pmf(c, n_tokens, a, b, logfact) <= log_q:
                    xi[wx] = i
                    xj[wx] = j
                    xc[wx] = c
                    wx += 1
        row += 1
    return wp, wx, row


def _empty() -> dict[str, np.ndarray]:
    return {
        "i": np.zeros(0, np.int32),
        "j": np.zeros(0, np.int32),
        "c": np.zeros(0, np.int32),
        "p": np.zeros(0, np.float64),
    }


def _concat(parts: list[tuple[np.ndarray, ...]]) -> dict[str, np.ndarray]:
    if not parts:
        return _empty()
    return {k: np.concatenate([pt[n] for pt in parts]) for n, k in enumerate(("i", "j", "c", "p"))}


def two_tail_candidates(
    indptr: np.ndarray, indices: np.ndarray, n_fires: np.ndarray, **kwargs
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """(co-occurrence candidates, exclusion candidates, scan statistics), each with p <= q, of
    one binary pattern (CSR indptr/indices over all tokens); ``kwargs`` as for
    ``two_tail_candidates_blocks``."""
    pattern = [(indptr, indices)]
    return two_tail_candidates_blocks(lambda: pattern, n_fires, n_tokens=int(indptr.shape[0] - 1), **kwargs)


def two_tail_candidates_blocks(
    patterns: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]],
    n_fires: np.ndarray,
    *,
    n_tokens: int,
    rows: int,
    min_count: int,
    min_phi: float,
    q: float,
    exclusion: bool,
    log_family_thr: float,
    omega: float,
    progress: bool = False,
    desc: str = "co-activation",
    row_range: tuple[int, int] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """(co-occurrence candidates, exclusion candidates, scan statistics), each with p <= q.

    ``patterns()`` yields the binary pattern (indptr, indices) of consecutive token blocks; it is
    called once per block of feature rows, whose counts add up over the token blocks.
    ``row_range`` (r0, r1) scans the pairs (i, j > i) with i in [r0, r1) only, in blocks of
    ``rows`` from r0 (``row_blocks``): the candidates of consecutive ranges, concatenated, are
    those of the whole scan, in the same (i, j) order."""
    from tqdm.auto import tqdm

    n_features = int(n_fires.shape[0])
    lo, hi = row_range if row_range is not None else (0, n_features)
    logfact = log_factorial_table(n_tokens)
    block = np.zeros((max(1, min(rows, hi - lo)), n_features), dtype=np.int32)
    cap = max(_BUFFER, 2 * n_features)
    bufs = [np.empty(cap, np.int32) for _ in range(6)]
    pi, pj, pc, xi, xj, xc = bufs  # the kernel's output buffers: positive tail, exclusion tail
    counters = np.zeros(2, dtype=np.int64)
    pos: list[tuple[np.ndarray, ...]] = []
    exc: list[tuple[np.ndarray, ...]] = []
    n_exact = [0, 0]
    t_count = t_scan = t_exact = 0.0
    fires = np.ascontiguousarray(n_fires, dtype=np.int64)
    for r0 in tqdm(range(lo, hi, rows), desc=desc, unit="block", disable=not progress, leave=False):
        r1 = min(r0 + rows, hi)
        view = block[: r1 - r0]
        t0 = time.perf_counter()
        for indptr, indices in patterns():
            count_block(indptr, indices, r0, r1, view)
        t1 = time.perf_counter()
        t_count += t1 - t0
        row = 0
        while row < r1 - r0:
            wp, wx, row = scan_block(
                view,
                r0,
                row,
                fires,
                n_tokens,
                logfact,
                min_count,
                min_phi,
                q,
                exclusion,
                log_family_thr,
                omega,
                pi,
                pj,
                pc,
                xi,
                xj,
                xc,
                counters,
            )
            t2 = time.perf_counter()
            if wp:
                i, j, c = (b[:wp].copy() for b in bufs[:3])
                p = hypergeom_pvalues(c, n_tokens, fires[i], fires[j])
                keep = p <= q
                pos.append((i[keep], j[keep], c[keep], p[keep]))
                n_exact[0] += wp
            if wx:
                i, j, c = (b[:wx].copy() for b in bufs[3:])
                p = lower_pvalues(c, n_tokens, fires[i], fires[j], logfact, omega)
                keep = p <= q
                exc.append((i[keep], j[keep], c[keep], p[keep]))
                n_exact[1] += wx
            t_exact += time.perf_counter() - t2
        t_scan += time.perf_counter() - t1
    stats = {
        "blockRows": int(rows),
        "pairsPastFloors": int(counters[0]),
        "pairsExactTested": int(n_exact[0]),
        "exclusionPairsTested": int(counters[1]),
        "exclusionExactTested": int(n_exact[1]),
        "secondsCounting": round(t_count, 3),
        "secondsScanning": round(t_scan - t_exact, 3),
        "secondsExactP": round(t_exact, 3),
    }
    return _concat(pos), _concat(exc), stats
