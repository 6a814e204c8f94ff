"""Edge tests across LASSO replicates: counts, stratified empirical p-values, BH, stability.

Algorithm (docs/methods.md, LASSO, "edge test across replicates"):
1. ``count_replicates``: over the R real replicates, c_e = number of replicates whose
   AND-rule graph contains edge e (and the summed symmetrised coefficient); the same over
   the R matched-null replicates gives c⁰_e.
2. ``frequency_bins``: eligible features (enough firings to ever be a node) are cut into
   ``n_strata`` quantile bins of firing density; a pair's stratum is its (lower bin,
   higher bin). Selection probability depends strongly on endpoint frequency, so the
   null reference of a pair is the null counts of the pairs of its own stratum.
3. ``stratified_pvalues``, two tails (``null_tail``), M_s all eligible pairs of the
   stratum (pairs never selected in the null have c⁰ = 0):
   ``bound`` (default): p_e = (1 + Σ_{f ∈ stratum(e)} min(c⁰_f, c_e)) / (c_e (1 + M_s)), an
   estimate of the truncated-Markov bound P(C⁰ ≥ c) ≤ E[min(C⁰, c)]/c, which holds whatever
   the dependence between the (overlapping) replicates; the 1 is one pseudo null
   selection, so a null that selects nothing still gives p ∝ 1/c_e and q-values rank edges
   by their replicate count (an edge seen in 30 of 30 replicates gets a 30 times smaller p
   than one seen once);
   ``empirical``: p_e = (1 + #{f: c⁰_f ≥ c_e}) / (1 + M_s), the empirical tail of the
   null count distribution (all edges tie at the floor when the null selects nothing).
4. q-values (``fdr_control``); replicates are never pooled into a binomial test: they share
   data and are correlated.
   ``decoy`` (default), ``decoy_qvalues``: the null replicates' own edges get p-values the
   same way (each against its stratum's null counts), so real and null edges are ranked by
   one statistic. For a threshold t, FDP̂(t) = (1 + #{null edges with p ≤ t}) /
   #{real edges with p ≤ t}, the target-decoy estimate (Elias & Gygi 2007; Käll et al. 2008
   for q-values) with knockoff+'s +1 (Barber & Candès 2015); q_e = min over t ≥ p_e of FDP̂(t).
   Kept: q_e ≤ fdr_q, the longest p-ranked prefix whose estimated FDP is at most fdr_q (an
   estimate: the decoys are a matched-null dataset's edges, not exchangeable knockoffs).
   ``bh``: ``stats.significance.bh_qvalues``, Benjamini–Hochberg with m = all eligible pairs.
5. ``replicate_count_table``: for r in (1, 2, 3, 5, 10, 20, 30) ∩ [1, R], edges with
   c_e ≥ r, null edges with c⁰_e ≥ r, and the estimated FDR = null / real.
6. ``mb_bound``: stability selection (Meinshausen & Bühlmann 2010, Thm 1):
   E[V] ≤ q̄² / ((2π_thr − 1)·M), q̄ = mean edges selected per replicate, M = pairs.
``edge_table`` runs steps 1–4 for one SAE (``stage.lasso_edges``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.stats.significance import bh_qvalues

TABLE_LEVELS = (1, 2, 3, 5, 10, 20, 30)


def count_replicates(
    keys_per_replicate: list[np.ndarray], weights_per_replicate: list[np.ndarray] | None = None
):
    """(unique keys, replicate counts, summed weights) over replicates (keys unique per replicate)."""
    if not keys_per_replicate:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    keys = np.concatenate(keys_per_replicate).astype(np.int64)
    uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    if weights_per_replicate is None:
        return uniq, counts.astype(np.int64), np.zeros(uniq.size)
    weights = np.concatenate(weights_per_replicate).astype(np.float64)
    w = np.bincount(inv, weights=weights, minlength=uniq.size)
    return uniq, counts.astype(np.int64), w


def frequency_bins(firings: np.ndarray, min_firings: int, n_strata: int) -> np.ndarray:
    """Quantile bin (0..n_strata−1) of each feature's firing count; −1 when ineligible."""
    eligible = firings >= min_firings
    bins = np.full(firings.size, -1, dtype=np.int64)
    if not eligible.any():
        return bins
    vals = firings[eligible].astype(np.float64)
    edges = np.quantile(vals, np.linspace(0, 1, n_strata + 1)[1:-1])
    bins[eligible] = np.searchsorted(edges, vals, side="right")
    return bins


def pair_strata(keys: np.ndarray, n_features: int, bins: np.ndarray, n_strata: int) -> np.ndarray:
    """Stratum id lo·n_strata + hi of each pair key (i·F + j); −1 if an endpoint is ineligible."""
    bi, bj = bins[keys // n_features], bins[keys % n_features]
    lo, hi = np.minimum(bi, bj), np.maximum(bi, bj)
    return np.where(lo < 0, -1, lo * n_strata + hi)


def stratum_sizes(bins: np.ndarray, n_strata: int) -> np.ndarray:
    """M_s: number of eligible pairs in every stratum (indexed lo·n_strata + hi)."""
    per_bin = np.bincount(bins[bins >= 0], minlength=n_strata).astype(np.int64)
    sizes = np.zeros(n_strata * n_strata, dtype=np.int64)
    for a in range(n_strata):
        for b in range(a, n_strata):
            same = per_bin[a] * (per_bin[a] - 1) // 2
            sizes[a * n_strata + b] = same if a == b else per_bin[a] * per_bin[b]
    return sizes


def stratified_pvalues(
    real_keys, real_counts, null_keys, null_counts, n_features: int, bins, n_strata: int, tail: str = "bound"
):
    """Null-tail p-value of every real count against its stratum's null counts (step 3)."""
    sizes = stratum_sizes(bins, n_strata)
    s_real = pair_strata(real_keys, n_features, bins, n_strata)
    s_null = pair_strata(null_keys, n_features, bins, n_strata)
    p = np.ones(real_keys.size)
    for s in np.unique(s_real[s_real >= 0]):
        null_sorted = np.sort(null_counts[s_null == s]).astype(np.float64)
        here = s_real == s
        c = real_counts[here].astype(np.float64)
        below = np.searchsorted(null_sorted, c, side="left")
        if tail == "bound":
            cum = np.concatenate([[0.0], np.cumsum(null_sorted)])
            truncated = cum[below] + (null_sorted.size - below) * c  # sum of min(c0_f, c)
            p[here] = (1.0 + truncated) / (np.maximum(c, 1.0) * (1.0 + sizes[s]))
        else:
            p[here] = (1.0 + null_sorted.size - below) / (1.0 + sizes[s])
    return np.minimum(p, 1.0)


def decoy_qvalues(p_real: np.ndarray, p_null: np.ndarray) -> np.ndarray:
    """Target-decoy q-value of every real edge (step 4, ``decoy``). Only the real p-values need
    be tried as thresholds: N(t) changes only there and N0(t) never falls as t grows."""
    if p_real.size == 0:
        return np.zeros(0)
    order = np.argsort(p_real, kind="stable")
    at = p_real[order]
    n_real = np.searchsorted(at, at, side="right").astype(np.float64)
    n_null = np.searchsorted(np.sort(p_null), at, side="right").astype(np.float64)
    fdp = np.minimum(1.0, (1.0 + n_null) / n_real)
    q = np.empty(p_real.size)
    q[order] = np.minimum.accumulate(fdp[::-1])[::-1]
    return q


def replicate_count_table(
    real_counts: np.ndarray,
    null_counts: np.ndarray,
    n_replicates: int,
    levels: tuple[int, ...] = TABLE_LEVELS,
) -> list[dict]:
    """Rows {r, edges, nullEdges, estimatedFdr} for the levels r ≤ R."""
    rows = []
    for r in levels:
        if r > n_replicates:
            break
        real = int((real_counts >= r).sum())
        null = int((null_counts >= r).sum())
        rows.append(
            {
                "r": r,
                "edges": real,
                "nullEdges": null,
                "estimatedFdr": float(min(1.0, null / real)) if real else (0.0 if null == 0 else 1.0),
            }
        )
    return rows


def mb_bound(mean_selected: float, threshold: float, n_pairs: int) -> float | None:
    """Meinshausen–Bühlmann bound on expected false stable edges (None when π_thr ≤ 0.5)."""
    if threshold <= 0.5 or n_pairs <= 0:
        return None
    return float(mean_selected**2 / ((2 * threshold - 1) * n_pairs))


def edge_table(real, null, firings: np.ndarray, n_features: int, config: LassoConfig):
    """Steps 1–4 for one SAE from its real and null replicates (``ReplicateEdges``): (the frame
    of every edge seen in a real replicate: i < j, weight = mean coefficient, stability,
    nReplicates, nullReplicates, pValue, qValue; the real and null counts; eligible features;
    eligible pairs; the smallest attainable p; with ``decoy``, the kept set's cut p and the null
    edges at or below it, else None)."""
    F, R = n_features, config.replicates
    keys, counts, wsum = count_replicates([x.keys for x in real], [x.weights for x in real])
    nkeys, ncounts, _ = count_replicates([x.keys for x in null])
    bins = frequency_bins(firings, config.min_firings, config.frequency_strata)
    n_eligible = int((bins >= 0).sum())
    m_pairs = n_eligible * (n_eligible - 1) // 2
    p = stratified_pvalues(
        keys, counts, nkeys, ncounts, F, bins, config.frequency_strata, tail=config.null_tail
    )
    if config.fdr_control == "decoy":
        p_null = stratified_pvalues(
            nkeys, ncounts, nkeys, ncounts, F, bins, config.frequency_strata, tail=config.null_tail
        )
        q = decoy_qvalues(p, p_null)
        kept_p = p[q <= config.fdr_q]
        cut = float(kept_p.max()) if kept_p.size else None
        decoy = {"cutPValue": cut, "nullEdgesAtCut": int((p_null <= cut).sum()) if cut is not None else 0}
    else:
        q = bh_qvalues(p, m_pairs)
        decoy = None
    pos = np.searchsorted(nkeys, keys)
    hit = (
        (pos < nkeys.size) & (nkeys[np.minimum(pos, max(nkeys.size - 1, 0))] == keys)
        if nkeys.size
        else np.zeros(keys.size, bool)
    )
    null_of_real = np.where(hit, ncounts[np.minimum(pos, max(nkeys.size - 1, 0))] if nkeys.size else 0, 0)
    sizes = stratum_sizes(bins, config.frequency_strata)
    p_floor = float(1.0 / (1.0 + sizes[sizes > 0].min())) if (sizes > 0).any() else 1.0
    if config.null_tail == "bound":
        p_floor /= R
    frame = pd.DataFrame(
        {
            "i": keys // max(F, 1),
            "j": keys % max(F, 1),
            "weight": wsum / np.maximum(counts, 1),
            "stability": counts / R,
            "nReplicates": counts,
            "nullReplicates": null_of_real.astype(np.int64),
            "pValue": p,
            "qValue": q,
        }
    )
    return frame, counts, ncounts, n_eligible, m_pairs, p_floor, decoy
