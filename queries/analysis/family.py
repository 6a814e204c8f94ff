"""Universality across a family of SAEs (layers, widths, seeds): one row per SAE pair (pure core).

Algorithm (docs/methods.md, "Universality across a family"; Lan et al. 2024; Paulo & Belrose 2025):
1. Pairs: every two SAEs of the source with the same d_in, in the SAE table's order; each row
   names how they differ (``relation``: ``seed`` = same layer and width, ``width`` = same layer,
   ``layer`` = different layers).
2. Per pair, ``universality.universality_summary`` on the stored MATCHES (decoders when the
   source has them): mean max cosine both ways beside the extreme-value baseline of the best
   of M random directions, the shared fraction at each tau (one-to-one matches with cosine >=
   tau, over A's width) and the mean activation correlation of the one-to-one matches.
3. Feature frequency per SAE: the histogram of log10(density) of its live features over
   fixed bins (dead features counted apart), for the report's plot.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from saegraph.queries.analysis.universality import universality_summary

DENSITY_BINS = np.arange(-7.0, 0.5, 0.5)  # log10(density) edges, 1e-7 .. 1


def _relation(a: pd.Series, b: pd.Series) -> str:
    if int(a["layer"]) != int(b["layer"]):
        return "layer"
    return "width" if int(a["dSae"]) != int(b["dSae"]) else "seed"


def family_table(source, *, thresholds=(0.5, 0.7, 0.9)) -> pd.DataFrame:
    """One row per SAE pair with equal d_in (steps 1-2)."""
    if not hasattr(source, "bundle"):
        raise ValueError("the family table needs a bundle (its SAE table and decoders)")
    saes = source.bundle.frame("saes").set_index("saeId")
    ids = [str(s) for s in saes.index]
    width = {sid: len(source.features(sid)) for sid in ids}
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
