"""What the LASSO stage says about itself: the words stated in its outputs (caveats, the
null and screen used), the matched null's pass rate, and the kept set's statistics.

1. ``null_name`` / ``CAVEATS`` / ``NULL_TAILS`` / ``FDR_CONTROLS``: the plain-words descriptions written into
   every SAE's stats (docs/methods.md, LASSO).
2. ``null_pass_rate``: edges per replicate of the null against the real data, at the screen
   and after the fit.
3. ``kept_set_statistics``: the kept edges' size, the null's estimate of their FDR (the
   replicate-count table's estimator at the kept set's own threshold) and effect sizes.
4. ``sae_statistics``: every statistic of one SAE, as ``stage.lasso_edges`` writes them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.fdr import mb_bound, replicate_count_table
from saegraph.ingest.edges.lasso.replicate import ReplicateEdges

CAVEATS = (
    "SAE activations are zero-inflated and non-negative, so a LASSO edge is the support of the best "
    "linear predictor of one latent from the others, not a test of conditional independence. TopK SAEs "
    "(a fixed number of active latents per token) create spurious negative partial correlations: "
    "negative weights between latents of a TopK SAE may be artefacts of the activation rule."
)
NULL_NAMES = {
    "circular_shift": "each latent's column circularly shifted within every sequence (independent shift per "
    "latent and sequence)",
    "permutation": "each latent's firings moved to uniformly random distinct tokens",
}
SCREEN_NAMES = {
    "once": "Fisher-z BH screen and top-k candidates computed once on all sequences (real data, and separately "
    "one matched-null dataset); each replicate refits the LASSO on its subsample from per-sequence "
    "sufficient statistics",
    "per_replicate": "every subsample screened again (Fisher-z BH, top-k), with a freshly drawn null per replicate",
}


def null_name(null: str, screen: str) -> str:
    """How the matched null of a replicate is built, in words (stated in the outputs)."""
    if screen == "once":
        return (
            f"{NULL_NAMES[null]}: one null dataset drawn for the whole data, restricted to the same "
            f"sequences as each real replicate"
        )
    return f"{NULL_NAMES[null]}, drawn afresh on the same subsample as the real replicate"


FDR_CONTROLS = {
    "decoy": "target-decoy: real and null edges ranked by p; kept = the longest prefix with "
    "(1 + null edges) / real edges <= fdrLevel; qValue = the smallest such estimate over the prefixes "
    "holding the edge (knockoff+ +1; Barber & Candes 2015)",
    "bh": "Benjamini-Hochberg over eligiblePairs on the null-tail p-values",
}
NULL_TAILS = {
    "bound": "p = (1 + sum over the stratum's null pairs of min(c0, c)) / (c (1 + M_s)): truncated-Markov "
    "bound P(C0 >= c) <= E[min(C0, c)]/c with one pseudo null selection (valid under any dependence "
    "between replicates; ranks edges by c when the null selects nothing)",
    "empirical": "p = (1 + #{null pairs of the stratum with c0 >= c}) / (1 + M_s): empirical null tail",
}


def null_pass_rate(real: list[ReplicateEdges], null: list[ReplicateEdges], screened: dict) -> dict:
    """How much the matched null lets through, at the screen and after the LASSO, against the real data."""
    real_mean = float(np.mean([x.keys.size for x in real])) if real else 0.0
    null_mean = float(np.mean([x.keys.size for x in null])) if null else 0.0
    out = {
        "edgesPerReplicate": {"real": real_mean, "null": null_mean},
        "ratio": float(null_mean / real_mean) if real_mean else (0.0 if null_mean == 0 else 1.0),
    }
    if "real" in screened and "null" in screened:
        rs, ns = screened["real"]["screenPassed"], screened["null"]["screenPassed"]
        out["screenPassed"] = {
            "real": int(rs),
            "null": int(ns),
            "ratio": float(ns / rs) if rs else float(ns > 0),
        }
    return out


def kept_set_statistics(
    kept: pd.DataFrame, null_counts: np.ndarray, n_replicates: int, fdr_q: float, decoy: dict | None = None
) -> dict:
    """The kept (significant) edges: size, the null's estimate of their FDR and their effect sizes.

    estimatedFdr: with the target-decoy cut (``decoy``: its cut p and the null edges at or below
    it), null edges at the cut / kept edges, the estimate the cut itself bounds (it used 1 + null
    edges); with BH, #{null pairs seen in at least as many replicates as the least stable kept
    edge} / kept edges (the replicate-count table's estimator at the kept set's own threshold),
    which is reported under both as ``replicateThresholdFdr``. ``effectSize`` describes |weight|
    (the mean signed standardized coefficient) and the replicate fraction (stability) of the
    kept edges."""
    n = int(len(kept))
    if n == 0:
        return {"edges": 0, "estimatedFdr": 0.0, "fdrLevel": fdr_q}
    r_min = int(kept["nReplicates"].min())
    null_at = int((null_counts >= r_min).sum())
    by_count = float(min(1.0, null_at / n))
    w = kept["weight"].to_numpy()
    qs = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]
    return {
        "edges": n,
        "fdrLevel": fdr_q,
        "minReplicates": r_min,
        "nullEdgesAtMinReplicates": null_at,
        "replicateThresholdFdr": by_count,
        **(
            {"estimatedFdr": float(min(1.0, decoy["nullEdgesAtCut"] / n)), **decoy}
            if decoy is not None
            else {"estimatedFdr": by_count}
        ),
        "largestQValue": float(kept["qValue"].max()),
        "effectSize": {
            "absWeightQuantiles": dict(
                zip([str(x) for x in qs], np.quantile(np.abs(w), qs).round(4).tolist())
            ),
            "negativeEdges": int((w < 0).sum()),
            "stabilityQuantiles": dict(
                zip([str(x) for x in qs], np.quantile(kept["stability"].to_numpy(), qs).round(4).tolist())
            ),
        },
        "replicates": n_replicates,
    }


def mean_seconds(reps: list[ReplicateEdges]) -> dict:
    keys = sorted({k for rep in reps for k in rep.info.get("seconds", {})})
    return {k: round(float(np.mean([rep.info["seconds"].get(k, 0.0) for rep in reps])), 4) for k in keys}


def sae_statistics(
    config: LassoConfig,
    real: list[ReplicateEdges],
    null: list[ReplicateEdges],
    screened: dict,
    scope: str,
    head: dict,
    counts: np.ndarray,
    ncounts: np.ndarray,
    n_selected: int,
    n_significant: int,
    p_floor: float,
    kept_stats: dict,
) -> dict:
    """One SAE's statistics (``stage.lasso_edges``, step 4): ``head`` (its sizes) first, then the
    replicates, the screen, the null, the count table, the kept set, stability and the means."""
    R = config.replicates
    m_pairs = head["eligiblePairs"]
    mean_sel = float(np.mean([x.keys.size for x in real])) if real else 0.0
    stable = counts >= config.stability_threshold * R
    n_eff_vals = [x.info["nEff"] for x in real]
    return {
        **head,
        "replicates": R,
        "subsampleFraction": config.subsample_fraction,
        "nEff": {
            "mode": config.n_eff,
            "meanPerReplicate": float(np.mean(n_eff_vals)) if n_eff_vals else 0.0,
            "details": real[0].info["nEffInfo"] if real else {},
            "usedFor": "Fisher-z screen z = atanh(r)*sqrt(n_eff-3) and EBIC = n_eff*log(sigma2) + "
            "df*(log(n_eff) + 2*gamma*log(p)), p = node latents of the replicate - 1",
        },
        "screen": {"scope": scope, "description": SCREEN_NAMES[scope], **screened},
        "null": {
            "kind": config.null,
            "name": null_name(config.null, scope),
            "edgesPerReplicateMean": float(np.mean([x.keys.size for x in null])) if null else 0.0,
        },
        "edgesPerReplicateMean": mean_sel,
        "replicateCountTable": replicate_count_table(counts, ncounts, R),
        "fdrLevel": config.fdr_q,
        "frequencyStrata": config.frequency_strata,
        "edgesSelectedOnce": int(n_selected),
        "significantEdges": int(n_significant),
        "pValueFloor": p_floor,
        "pValueFloorNote": "smallest attainable p (1/(1 + pairs of the smallest stratum), divided by R for "
        "the truncated-Markov bound); with fdr_control = 'bh', BH over eligiblePairs rejects nothing unless "
        "about pValueFloor*eligiblePairs/fdrLevel edges reach it",
        "nullTail": NULL_TAILS[config.null_tail],
        "fdrControl": FDR_CONTROLS[config.fdr_control],
        "nullPassRate": null_pass_rate(real, null, screened),
        "keptSet": kept_stats,
        "effectFloors": {
            "minAbsCorrelation": config.min_abs_correlation,
            "minAbsCoefficient": config.min_abs_coefficient,
            "minFirings": config.min_firings,
            "minCountPositive": config.min_count,
        },
        "stability": {
            "threshold": config.stability_threshold,
            "stableEdges": int(stable.sum()),
            "stableNullEdges": int((ncounts >= config.stability_threshold * R).sum()),
            "mbBound": mb_bound(mean_sel, config.stability_threshold, m_pairs),
            "mbBoundFormula": "E[V] <= qbar^2 / ((2*pi_thr - 1) * M), qbar = mean AND-rule edges per "
            "replicate, M = eligible pairs (Meinshausen & Buhlmann 2010)",
        },
        "denseCovariates": sorted({d for x in real for d in x.info["denseCovariates"]}),
        "meanNodes": float(np.mean([x.info["nodes"] for x in real])) if real else 0.0,
        "meanScreenPassed": float(np.mean([x.info["screenPassed"] for x in real])) if real else 0.0,
        "meanCandidates": float(np.mean([x.info["meanCandidates"] for x in real])) if real else 0.0,
        "meanNodesFitted": float(np.mean([x.info.get("nodesFitted", x.info["nodes"]) for x in real]))
        if real
        else 0.0,
        "secondsPerReplicate": {"real": mean_seconds(real), "null": mean_seconds(null)},
    }
