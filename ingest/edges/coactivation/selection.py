"""Which candidate pairs the co-activation stage keeps, per tail, and what the kept set looks like.

Algorithm (docs/methods.md, "CO_ACTIVATES and EXCLUDES"; Benjamini & Hochberg 1995;
Elias & Gygi 2007 for the target–decoy estimate):
1. ``select_tail``: BH at q over a family of m tests (exact q-values,
   ``stats.significance.bh_qvalues``; pairs never tested count with p = 1); the BH
   threshold t is the largest real p that passes.
2. With a null (the same scan on shifted data), the null's estimate of the kept set's FDR at
   t is #null p <= t / #real p <= t (``stats.hypergeom.estimated_fdr``); with ``calibrate``
   and an estimate above q, t is lowered to the largest p whose estimate is <= q
   (``stats.hypergeom.null_calibrated_threshold``).
3. The kept set is every real p <= t; its size, the null's count and pass rate at t, the
   estimated FDR and whether the null moved the threshold go to the stats.
4. ``top_k_per_node``: an optional sparsification of the kept CO_ACTIVATES pairs, an edge
   kept when it is in the top k by score of either (or both) of its endpoints.
5. ``effect_quantiles``: min, 10/50/90 % quantiles and max of a kept set's effect sizes.
"""

from __future__ import annotations

import numpy as np

from saegraph.ingest.edges.stats.hypergeom import estimated_fdr, null_calibrated_threshold
from saegraph.ingest.edges.stats.significance import bh_qvalues


def select_tail(real_p: np.ndarray, null_p: np.ndarray | None, m: int, q: float, calibrate: bool):
    """Steps 1–3 (the stage's steps 5–6): BH at ``q`` over a family of ``m``; the null's estimated FDR of the kept set,
    and (``calibrate``) the BH threshold lowered to the largest p whose estimate is <= q.

    Returns (kept mask, q-values, statistics).
    """
    qv = bh_qvalues(real_p, max(int(m), 1))
    passed = qv <= q
    t_bh = float(real_p[passed].max()) if passed.any() else -1.0
    t = t_bh
    out: dict = {"familySize": int(m), "passedBH": int(passed.sum())}
    if null_p is not None:
        null_at_bh = int(np.count_nonzero(null_p <= t_bh)) if t_bh >= 0 else 0
        out["nullPassedBH"] = null_at_bh
        out["estimatedFdrAtBH"] = estimated_fdr(real_p, null_p, t_bh)
        if calibrate and out["estimatedFdrAtBH"] > q:
            t = null_calibrated_threshold(real_p, null_p, t_bh, q)
    keep = real_p <= t if t >= 0 else np.zeros(real_p.size, dtype=bool)
    out["pThreshold"] = t
    out["kept"] = int(keep.sum())
    if null_p is not None:
        n_null = int(np.count_nonzero(null_p <= t)) if t >= 0 else 0
        out["nullKept"] = n_null
        out["nullPassRate"] = n_null / max(int(m), 1)
        out["estimatedFdr"] = n_null / out["kept"] if out["kept"] else 0.0
        out["calibratedByNull"] = bool(t != t_bh)
    return keep, qv, out


def top_k_per_node(
    i: np.ndarray, j: np.ndarray, score: np.ndarray, k: int, mode: str = "either"
) -> np.ndarray:
    """Boolean mask of edges in the top ``k`` by ``score`` of either (or both) endpoints."""
    n = i.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    ends = np.concatenate([i, j]).astype(np.int64)
    edge = np.concatenate([np.arange(n), np.arange(n)])
    sc = np.concatenate([score, score])
    order = np.lexsort((edge, -sc, ends))  # by node, then score descending, ties by edge id
    ends_sorted = ends[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ends_sorted)) + 1]
    rank = np.arange(ends_sorted.size) - np.repeat(starts, np.diff(np.r_[starts, ends_sorted.size]))
    hits = np.bincount(edge[order][rank < k], minlength=n)
    return hits >= (2 if mode == "both" else 1)


def effect_quantiles(x: np.ndarray) -> dict[str, float] | None:
    """min, 10/50/90 % quantiles and max of an effect-size column (None when empty)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    v = np.quantile(x, [0.0, 0.1, 0.5, 0.9, 1.0])
    return dict(zip(("min", "q10", "median", "q90", "max"), (round(float(t), 6) for t in v), strict=True))
