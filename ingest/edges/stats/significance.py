"""Exact co-firing significance, Benjamini-Hochberg over an implicit pair set, pair scores.

Algorithm (docs/methods.md, CO_ACTIVATES and EXCLUDES):
1. Under independence the co-firing count of features i, j is
   c ~ Hypergeom(N tokens, n_i firings, n_j draws); the one-sided exact p-value is
   ``scipy.stats.hypergeom.sf(c − 1, N, n_i, n_j)`` (never a normal approximation: for
   rare features it is wrong by hundreds of orders of magnitude), computed in the tail by
   the pmf ratio recurrence (``hypergeom_pvalues``).
2. BH over all m = F(F−1)/2 pairs without materialising them: a pair absent from the
   candidate list has p > q (proven by the prescreen) or c < min_count (p := 1). The K
   candidates with p <= q_max are therefore exactly the K smallest of all m p-values, and
   for rank k <= K the BH q-value min_{l>=k} p_(l)·m / l equals the minimum over the
   candidates whenever that minimum is <= q_max (every term with l > K exceeds q_max).
   So q-values <= q_max are exact, identical to ``scipy.stats.false_discovery_control``
   applied to the full length-m vector (Benjamini & Hochberg 1995).
3. Effect sizes are elementwise in (c, n_i, n_j, N): Jaccard c/(n_i+n_j−c);
   NPMI log(N c/(n_i n_j)) / −log(c/N); phi (N c − n_i n_j)/sqrt(n_i n_j (N−n_i)(N−n_j));
   P(j|i) = c/n_i; weighted Pearson from S_ij = Σ_t a_ti a_tj and the column moments.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.special
import scipy.stats


def log_factorial_table(n: int) -> np.ndarray:
    """log(k!) for k = 0..n (float64), used by the prescreen kernel."""
    return scipy.special.gammaln(np.arange(n + 1, dtype=np.float64) + 1.0)


def hypergeom_pvalues(c, n_tokens: int, n_i, n_j) -> np.ndarray:
    """One-sided exact p = P(X >= c), X ~ Hypergeom(N, n_i, n_j).

    Above the mode (where every p that can be significant lies): the log pmf at c from
    ``scipy.stats.hypergeom.logpmf`` times the tail sum of pmf(k)/pmf(c) by the ratio
    recurrence pmf(k+1)/pmf(k) = (n_i−k)(n_j−k) / ((k+1)(N−n_i−n_j+k+1)), summed until the
    terms fall below 1e-17 of the sum (``_tail_ratio_sums``, numba). This equals
    ``scipy.stats.hypergeom.sf(c − 1, N, n_i, n_j)`` to about 1e-8 relative (1e-11 at
    N ~ 10³) and is much faster (docs/benchmarks.md, Measured design choices). At or below
    the mode the tail is not small and scipy's ``sf`` is used.
    """
    c = np.asarray(c, dtype=np.int64)
    if c.size == 0:
        return np.zeros(0, dtype=np.float64)
    n = int(n_tokens)
    ni = np.broadcast_to(np.asarray(n_i, np.int64), c.shape)
    nj = np.broadcast_to(np.asarray(n_j, np.int64), c.shape)
    p = np.empty(c.shape, dtype=np.float64)
    mode = (ni + 1) * (nj + 1) // (n + 2)
    upper = c > mode
    if upper.any():
        cu, iu, ju = c[upper], ni[upper], nj[upper]
        with np.errstate(divide="ignore"):
            log_p = scipy.stats.hypergeom.logpmf(cu, n, iu, ju) + np.log(_tail_ratio_sums(cu, n, iu, ju))
        p[upper] = np.exp(log_p)
    if (~upper).any():
        p[~upper] = scipy.stats.hypergeom.sf(c[~upper] - 1, n, ni[~upper], nj[~upper])
    return p


@numba.njit(cache=True)
def _tail_ratio_sums(c, n_tokens, n_i, n_j):  # pragma: no cover - numba
    """S_t = Σ_{k >= c_t} pmf(k) / pmf(c_t) for c_t above the mode (terms decrease)."""
    out = np.empty(c.shape[0])
    for t in range(c.shape[0]):
        k = c[t]
        a = n_i[t]
        b = n_j[t]
        kmax = min(a, b)
        total = 1.0
        term = 1.0
        while k < kmax:
            term *= (a - k) * (b - k) / ((k + 1.0) * (n_tokens - a - b + k + 1.0))
            total += term
            if term < 1e-17 * total:
                break
            k += 1
        out[t] = total
    return out


def bh_qvalues(p: np.ndarray, m: int) -> np.ndarray:
    """BH q-values of ``p`` as members of a family of ``m`` tests (the rest have larger p).

    Exact (equal to scipy's on the full vector) for every returned value <= max(p) of the
    unlisted tests' lower bound, i.e. for every q-value that can pass a level <= that bound.
    """
    p = np.asarray(p, dtype=np.float64)
    k = p.size
    if k == 0:
        return p.copy()
    if m < k:
        raise ValueError(f"the family size m={m} is smaller than the {k} listed p-values")
    order = np.argsort(p, kind="stable")
    ranked = p[order] * (m / np.arange(1, k + 1, dtype=np.float64))
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(k, dtype=np.float64)
    q[order] = np.minimum(ranked, 1.0)
    return q


def pair_scores(c, n_i, n_j, n_tokens: int) -> dict[str, np.ndarray]:
    """Jaccard, NPMI, phi and both conditional probabilities for co-firing counts ``c``."""
    c = np.asarray(c, dtype=np.float64)
    ni = np.asarray(n_i, dtype=np.float64)
    nj = np.asarray(n_j, dtype=np.float64)
    n = float(n_tokens)
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = c / (ni + nj - c)
        pmi = np.log(n * c / (ni * nj))
        denom = -np.log(c / n)
        npmi = np.where(c >= n, 1.0, pmi / denom)
        npmi = np.where(c <= 0, -1.0, npmi)
        phi = (n * c - ni * nj) / np.sqrt(ni * nj * (n - ni) * (n - nj))
        phi = np.where(np.isfinite(phi), phi, 0.0)
        p_j_given_i = np.where(ni > 0, c / ni, 0.0)
        p_i_given_j = np.where(nj > 0, c / nj, 0.0)
    return {
        "jaccard": np.nan_to_num(jaccard),
        "npmi": npmi,
        "phi": phi,
        "pTargetGivenSource": p_j_given_i,
        "pSourceGivenTarget": p_i_given_j,
    }


def pearson_from_moments(s_ij, sum_i, sum_j, sumsq_i, sumsq_j, n_tokens: int) -> np.ndarray:
    """Pearson correlation of two activation columns over all N tokens (zeros included)."""
    n = float(n_tokens)
    s_ij = np.asarray(s_ij, dtype=np.float64)
    mu_i = np.asarray(sum_i, np.float64) / n
    mu_j = np.asarray(sum_j, np.float64) / n
    var_i = np.maximum(np.asarray(sumsq_i, np.float64) / n - mu_i**2, 0.0)
    var_j = np.maximum(np.asarray(sumsq_j, np.float64) / n - mu_j**2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (s_ij / n - mu_i * mu_j) / np.sqrt(var_i * var_j)
    return np.clip(r, -1.0, 1.0)
