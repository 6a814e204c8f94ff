"""Universality across a family of SAEs (layers, widths, seeds): one row per SAE pair (pure core).

Algorithm (docs/methods.md, "Universality across a family"; Lan et al. 2024; Paulo & Belrose 2025):
1. Pairs: every two SAEs of the source with the same d_in, in the SAE table's order; each row
   names how they differ (``relation``: ``seed`` = same layer and width, ``width`` = same layer,
   ``layer`` = different layers).
2. Per pair, ``universality.universality_summary`` on the stored MATCHES (decoders when the
   source has them): mean max cosine both ways beside the extreme-value baseline of the best
   of M random directions, the shared fraction at each tau (one-to-one matches with cosine >=
   tau, over A's width) and the mean activation correlation of the one-to-one matches.
3. Max activation correlation both ways (``maxActCorrAB``: mean over A's live features of the
   max Pearson r against any feature of B on the shared tokens; ``maxActCorrBA`` the other
   way) and its null at the same token count (``actCorrNullAB/BA``: B's tokens circularly
   shifted by whole sequences, so frequencies and within-sequence structure stay and token
   alignment goes). The activations live on the write path: the caller passes the hook
   ``activation_correlation(saeA, saeB, stored) -> (values, info)``
   (``saegraph.ingest.edges.matches.actcorr_null.FamilyActivationCorrelation``; the CLI does).
   Without it the MATCHES stage's recorded statistic is used and the null is NaN; ``actCorrInfo``
   says which.
4. Feature frequency per SAE: the histogram of log10(density) of its live features over
   fixed bins (dead features counted apart), for the report's plot.
5. Splitting trees across widths and per-SAE graph structure: ``family_trees`` and
   ``family_layers`` (re-exported here).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from saegraph.queries.analysis.family_layers import layer_structure
from saegraph.queries.analysis.family_trees import splitting_trees
from saegraph.queries.analysis.universality import universality_summary

__all__ = ["family_table", "frequency_histograms", "layer_structure", "splitting_trees"]

DENSITY_BINS = np.arange(-7.0, 0.5, 0.5)  # log10(density) edges, 1e-7 .. 1
ACT_CORR_COLUMNS = ("maxActCorrAB", "maxActCorrBA", "actCorrNullAB", "actCorrNullBA")


def _relation(a: pd.Series, b: pd.Series) -> str:
    if int(a["layer"]) != int(b["layer"]):
        return "layer"
    return "width" if int(a["dSae"]) != int(b["dSae"]) else "seed"


def _num(x) -> float:
    return math.nan if x is None else float(x)


def _stored_act_corr(stored: dict) -> tuple[dict, str]:
    """The MATCHES stage's recorded max activation correlation, without the null (step 3)."""
    ac = stored.get("activationCorrelation") or {}
    row = {
        "maxActCorrAB": _num(ac.get("meanMaxAB")),
        "maxActCorrBA": _num(ac.get("meanMaxBA")),
        "actCorrNullAB": math.nan,
        "actCorrNullBA": math.nan,
        "tokens": int(ac.get("nTokens", 0)),
    }
    if "meanMaxAB" not in ac:
        return row, f"no activation correlation recorded ({ac.get('skipped', 'MATCHES stage not run')})"
    return row, "statistic from the MATCHES stage; null needs the activations (saegraph universality)"


def family_table(source, *, thresholds=(0.5, 0.7, 0.9), activation_correlation=None) -> pd.DataFrame:
    """One row per SAE pair with equal d_in (steps 1-3); ``activation_correlation``: step 3's hook."""
    if not hasattr(source, "bundle"):
        raise ValueError("the family table needs a bundle (its SAE table and decoders)")
    saes = source.bundle.frame("saes").set_index("saeId")
    ids = [str(s) for s in saes.index]
    width = {sid: len(source.features(sid)) for sid in ids}
    pair_stats = source.stats("matches").get("pairs", {})
    rows = []
    for x, sid_a in enumerate(ids):
        for sid_b in ids[x + 1 :]:
            a, b = saes.loc[sid_a], saes.loc[sid_b]
            if int(a["dIn"]) != int(b["dIn"]):
                continue
            n_a, n_b = width[sid_a], width[sid_b]
            uni = universality_summary(
                source.matches(sid_a, sid_b),
                n_a=n_a,
                n_b=n_b,
                d_in=int(a["dIn"]),
                thresholds=thresholds,
                dec_a=source.decoder(sid_a),
                dec_b=source.decoder(sid_b),
            )
            mcs = uni["mcs"].set_index("direction")
            shared = uni["shared"].set_index("threshold")["fractionOfA"]
            act = uni["actCorr"]
            row = {
                "saeA": sid_a,
                "saeB": sid_b,
                "relation": _relation(a, b),
                "layerA": int(a["layer"]),
                "layerB": int(b["layer"]),
                "widthA": n_a,
                "widthB": n_b,
                "mcsAB": float(mcs.loc["A->B", "mcs"]),
                "mcsBA": float(mcs.loc["B->A", "mcs"]),
                "baselineAB": float(mcs.loc["A->B", "baseline"]),
                "baselineBA": float(mcs.loc["B->A", "baseline"]),
            }
            for tau in thresholds:
                row[f"shared@{tau:g}"] = float(shared.get(tau, math.nan))
            row["meanActCorr"] = float(act["mean"].iloc[0]) if "mean" in act and len(act) else math.nan
            stored = pair_stats.get(f"{sid_a}->{sid_b}", {})
            if activation_correlation is None:
                values, info = _stored_act_corr(stored)
            else:
                values, info = activation_correlation(sid_a, sid_b, stored)
            row.update({k: values.get(k, math.nan) for k in ACT_CORR_COLUMNS})
            row["tokens"] = int(values.get("tokens", 0))
            row["actCorrInfo"] = info
            rows.append(row)
    return pd.DataFrame(rows)


def frequency_histograms(source) -> pd.DataFrame:
    """Per SAE: counts of live features per log10(density) bin, and the dead count (step 3)."""
    out = []
    for sid in source.sae_ids():
        density = source.features(sid)["density"].to_numpy(dtype=float)
        live = density[density > 0]
        counts, _ = np.histogram(np.log10(live), bins=DENSITY_BINS)
        out.append(
            {
                "saeId": sid,
                "dead": int((density <= 0).sum()),
                **{f"{lo:g}": int(c) for lo, c in zip(DENSITY_BINS[:-1], counts)},
            }
        )
    return pd.DataFrame(out)
