"""Both tails of the exact co-firing test, the exclusion family, and the null's estimate of the FDR.

Algorithm (docs/methods.md, "CO_ACTIVATES and EXCLUDES"):
1. Under independence, given the margins, the co-firing count of features i, j is
   C ~ Hypergeom(N, n_i, n_j). Co-occurrence p = P(C >= c) (``stats.significance.hypergeom_pvalues``).
2. Exclusion is tested against a minimum effect rather than the point null: H0 says the
   co-firing odds ratio is at least ω0 (``exclusion_odds_ratio``), so a rejection claims
   "co-firing is at least 1/ω0 times less likely than chance" and a tiny true deficit
   seen through noise is not enough (winner's curse). Given the margins, C follows Fisher's
   noncentral hypergeometric distribution with odds ω; P_ω(C <= c) is decreasing in ω,
   so p = P_ω0(C <= c) is valid for the whole composite H0 (``fisher_lower_pvalues``:
   the weights C(n_i, k) C(N − n_i, n_j − k) ω^k summed in log space with a running
   maximum, walking up from the lower end of the support until the terms past c are
   negligible). ω0 = 1 gives the central lower tail ``scipy.stats.hypergeom.cdf(c, …)``.
3. Exclusion family (Tarone 1990; Gilbert 2005): the smallest p a pair's margins allow is
   P(C = max(0, n_i + n_j − N)) under the central law (a lower bound of the ω0 one). Pairs
   whose bound exceeds q/K cannot reach BH's threshold; K is the smallest integer with
   #{pairs with bound <= q/K} <= K (bisection; the count is O(F log F) for one threshold since
   the bound falls with n_j at fixed n_i). BH then runs over those M(K) pairs. The family
   depends on the margins only, which the test conditions on, so BH's guarantee holds.
4. Null FDR of the kept set (target–decoy; Elias & Gygi 2007): the same tests on the
   within-sequence circular-shift null give p⁰. At threshold t the estimated FDR is
   #{p⁰ <= t} / #{p <= t}. ``null_calibrated_threshold`` lowers BH's threshold, if needed, to
   the largest t whose estimate is <= q, so the kept set answers both the independence
   model (BH) and the data's own within-sequence dependence (the null).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def log_pmf(c, n_tokens, a, b, logfact):
    """log P(C = c), C ~ Hypergeom(N, a, b), from a log-factorial table."""
    return (
        logfact[a]
        - logfact[c]
        - logfact[a - c]
        + logfact[n_tokens - a]
        - logfact[b - c]
        - logfact[n_tokens - a - b + c]
        - logfact[n_tokens]
        + logfact[b]
        + logfact[n_tokens - b]
    )


@nb.njit(cache=True, nogil=True)
def log_min_lower_p(n_tokens, a, b, logfact):
    """log of the smallest lower-tail p the margins allow: log P(C = max(0, a + b − N))."""
    lo = a + b - n_tokens
    if lo < 0:
        lo = 0
    return log_pmf(lo, n_tokens, a, b, logfact)


@nb.njit(cache=True, nogil=True)
def odds_ratio(c, n_tokens, a, b):
    """Sample odds ratio c (N − a − b + c) / ((a − c)(b − c)) of the 2×2 firing table (inf if a cell is 0)."""
    den = (a - c) * 1.0 * (b - c)
    if den <= 0.0:
        return np.inf
    return c * (n_tokens - a - b + c + 0.0) / den


@nb.njit(cache=True, nogil=True)
def fisher_lower_p(c, n_tokens, a, b, omega, logfact):
    """P(C <= c) for Fisher's noncentral hypergeometric law (N, a, b, odds ``omega``)."""
    lo = max(0, a + b - n_tokens)
    hi = min(a, b)
    if c >= hi:
        return 1.0
    lom = math.log(omega)
    cur = (
        logfact[a]
        - logfact[lo]
        - logfact[a - lo]
        + logfact[n_tokens - a]
        - logfact[b - lo]
        - logfact[n_tokens - a - b + lo]
        + lo * lom
    )
    top = cur
    total = 0.0
    below = 0.0
    k = lo
    while True:
        if cur > top:  # rescale the running sums to the new maximum
            scale = math.exp(top - cur)
            total *= scale
            below *= scale
            top = cur
        t = math.exp(cur - top)
        total += t
        if k <= c:
            below += t
        elif t < 1e-17 * total and cur < top:
            break
        if k >= hi:
            break
        cur += math.log(omega * (a - k) * (b - k + 0.0) / ((k + 1.0) * (n_tokens - a - b + k + 1.0)))
        k += 1
    return min(below / total, 1.0)


@nb.njit(cache=True, nogil=True)
def fisher_lower_pvalues(c, n_tokens, a, b, omega, logfact):
    """Vector form of :func:`fisher_lower_p` (int64 arrays ``c``, ``a``, ``b``)."""
    out = np.empty(c.shape[0])
    for t in range(c.shape[0]):
        out[t] = fisher_lower_p(c[t], n_tokens, a[t], b[t], omega, logfact)
    return out


@nb.njit(cache=True, nogil=True)
def fisher_lower_pvalues_each(c, n_tokens, a, b, omegas, logfact):
    """:func:`fisher_lower_pvalues` with one odds ratio per pair (float64 array ``omegas``)."""
    out = np.empty(c.shape[0])
    for t in range(c.shape[0]):
        out[t] = fisher_lower_p(c[t], n_tokens, a[t], b[t], omegas[t], logfact)
    return out


def lower_pvalues(c, n_tokens: int, n_i, n_j, logfact: np.ndarray, omega=1.0) -> np.ndarray:
    """Exclusion p = P_ω(C <= c); ω = 1 equals ``scipy.stats.hypergeom.cdf(c, N, n_i, n_j)``.
    ``omega``: one odds ratio, or one per pair."""
    c = np.ascontiguousarray(c, dtype=np.int64)
    a = np.ascontiguousarray(np.broadcast_to(np.asarray(n_i, np.int64), c.shape))
    b = np.ascontiguousarray(np.broadcast_to(np.asarray(n_j, np.int64), c.shape))
    if c.size == 0:
        return np.zeros(0, dtype=np.float64)
    if np.ndim(omega) == 0:
        return fisher_lower_pvalues(c, int(n_tokens), a, b, float(omega), logfact)
    omegas = np.ascontiguousarray(np.broadcast_to(np.asarray(omega, np.float64), c.shape))
    return fisher_lower_pvalues_each(c, int(n_tokens), a, b, omegas, logfact)


@nb.njit(cache=True, nogil=True)
def _count_testable(n_sorted, n_tokens, logfact, log_thr):
    F = n_sorted.shape[0]
    total = 0
    for i in range(F):
        a = n_sorted[i]
        if a == 0:
            continue
        lo, hi = 0, F
        while lo < hi:  # first position whose bound is <= the threshold (the bound falls with n_j)
            mid = (lo + hi) >> 1
            b = n_sorted[mid]
            if b > 0 and b <= n_tokens - a and log_min_lower_p(n_tokens, a, b, logfact) <= log_thr:
                hi = mid
            else:
                lo = mid + 1
        hi2 = F  # n_j > N − n_i: the bound stops falling; such pairs are too dense to exclude
        while hi2 > lo and n_sorted[hi2 - 1] > n_tokens - a:
            hi2 -= 1
        cnt = hi2 - lo
        if lo <= i < hi2:
            cnt -= 1
        total += cnt
    return total // 2


def exclusion_family(n_fires: np.ndarray, n_tokens: int, logfact: np.ndarray, q: float) -> tuple[int, float]:
    """(M(K), log(q/K)) of step 3: the testable exclusion pairs and their bound threshold."""
    ns = np.sort(np.asarray(n_fires, dtype=np.int64))
    F = ns.size
    lo, hi = 1, max(F * (F - 1) // 2, 1)
    while lo < hi:
        K = (lo + hi) // 2
        if _count_testable(ns, int(n_tokens), logfact, math.log(q / K)) <= K:
            hi = K
        else:
            lo = K + 1
    thr = math.log(q / lo)
    return int(_count_testable(ns, int(n_tokens), logfact, thr)), thr


def null_calibrated_threshold(real_p: np.ndarray, null_p: np.ndarray, t_max: float, q: float) -> float:
    """Largest t <= t_max among ``real_p`` with #{null_p <= t} / #{real_p <= t} <= q (−1 if none)."""
    ps = np.sort(np.asarray(real_p, dtype=np.float64))
    ps = ps[ps <= t_max]
    if ps.size == 0:
        return -1.0
    ns = np.sort(np.asarray(null_p, dtype=np.float64))
    ratio = np.searchsorted(ns, ps, side="right") / np.searchsorted(ps, ps, side="right")
    ok = np.flatnonzero(ratio <= q)
    return float(ps[ok[-1]]) if ok.size else -1.0


def estimated_fdr(real_p: np.ndarray, null_p: np.ndarray, t: float) -> float:
    """Target–decoy estimate #{null_p <= t} / #{real_p <= t} (0 when nothing is kept)."""
    k = int(np.count_nonzero(np.asarray(real_p) <= t))
    return float(np.count_nonzero(np.asarray(null_p) <= t) / k) if k and t >= 0 else 0.0
