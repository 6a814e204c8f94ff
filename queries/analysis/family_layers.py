"""Per-SAE graph structure across the layers and widths of a family (pure core over a source).

Algorithm (docs/methods.md, "Universality across a family"):
1. Per SAE of the bundle's SAE table: layer, width (dSae), seed, features and live features
   (density > 0).
2. CO_ACTIVATES graph (``engine.load_graph``: every feature a node, one undirected edge per
   stored pair): edges, mean degree over the live features (2E / live; dead features cannot
   co-fire), max degree and the Gini coefficient of the live features' degrees
   (G = 2 Σ i x_(i) / (n Σ x) − (n + 1) / n over the sorted degrees; NaN without edges).
3. Leiden communities (modularity, resolution 1, seed ``seed``; ``engine.communities`` with
   no write-back): the number of communities of size >= 2 and the modularity.
4. FLOWS_TO (the ``flow`` stage): edges into and out of the SAE; for an SAE with an earlier
   layer in its group (same model and d_in; the stage's successor rule) the born fraction =
   1 − (features with a FLOWS_TO predecessor) / features, and for one with a later layer the
   continuing fraction = (features with a successor) / features; NaN otherwise.
A missing table (stage not run) gives NaN and says so in ``info``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from saegraph.queries.analysis import engine

COLUMNS = [
    "saeId",
    "layer",
    "dSae",
    "seed",
    "features",
    "liveFeatures",
    "coActivatesEdges",
    "meanDegree",
    "maxDegree",
    "degreeGini",
    "communities",
    "modularity",
    "flowsIn",
    "flowsOut",
    "bornFraction",
    "continuingFraction",
    "info",
]


def gini(x) -> float:
    """Gini coefficient of non-negative values (0 = all equal); NaN when they sum to 0."""
    x = np.sort(np.asarray(x, dtype=float))
    n, total = x.size, float(x.sum())
    if n == 0 or total <= 0:
        return math.nan
    return float(2.0 * np.sum(np.arange(1, n + 1) * x) / (n * total) - (n + 1) / n)


def _has(source, table: str) -> bool:
    return source.bundle.has_table(table) if hasattr(source, "bundle") else True


def _neighbours_in_layer(saes: pd.DataFrame) -> tuple[set[str], set[str]]:
    """(SAEs with an earlier layer, SAEs with a later layer) in their (model, d_in) group."""
    earlier, later = set(), set()
    s = saes[saes["layer"].astype(int) >= 0]
    keys = [c for c in ("modelId", "dIn") if c in s.columns]
    for _, group in s.groupby(keys) if keys else [(None, s)]:
        layers = group["layer"].astype(int)
        earlier |= set(group.loc[layers > layers.min(), "saeId"].astype(str))
        later |= set(group.loc[layers < layers.max(), "saeId"].astype(str))
    return earlier, later


def layer_structure(source, *, seed: int = 0, communities: bool = True) -> pd.DataFrame:
    """One row per SAE (module docstring)."""
    if not hasattr(source, "bundle"):
        raise ValueError("the per-layer table needs a bundle (its SAE table)")
    saes = source.bundle.frame("saes")
    saes = saes.assign(saeId=saes["saeId"].astype(str))
    earlier, later = _neighbours_in_layer(saes)
    have_co, have_flow = _has(source, "co_activates"), _has(source, "flows_to")
    flows = source.edges("FLOWS_TO") if have_flow else None
    rows = []
    for _, sae in saes.iterrows():
        sid = sae["saeId"]
        feats = source.features(sid)
        live = int((feats["density"] > 0).sum())
        info = []
        row = {
            "saeId": sid,
            "layer": int(sae["layer"]),
            "dSae": int(sae["dSae"]),
            "seed": int(sae["seed"]) if "seed" in sae and pd.notna(sae["seed"]) else -1,
            "features": len(feats),
            "liveFeatures": live,
        }
        row.update(_co_activates(source, sid, live, seed, communities) if have_co else {})
        if not have_co:
            info.append("no CO_ACTIVATES table (run `saegraph edges --only coactivation`)")
        if flows is not None:
            into = flows[flows["targetSae"] == sid]
            out = flows[flows["sourceSae"] == sid]
            n = max(len(feats), 1)
            row.update(
                flowsIn=len(into),
                flowsOut=len(out),
                bornFraction=1.0 - into["target"].nunique() / n if sid in earlier else math.nan,
                continuingFraction=out["source"].nunique() / n if sid in later else math.nan,
            )
        else:
            info.append("no FLOWS_TO table (run `saegraph edges --only flow`)")
        row["info"] = "; ".join(info)
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def _co_activates(source, sid: str, live: int, seed: int, communities: bool) -> dict:
    if communities:
        res = engine.communities(source, sid, "CO_ACTIVATES", seed=seed, write=False)
        fg = res["graph"]
        sizes = res["labels"]["community"].value_counts()
        extra = {"communities": int((sizes >= 2).sum()), "modularity": float(res["info"]["modularity"])}
    else:
        fg, _ = engine.load_graph(source, sid, "CO_ACTIVATES")
        extra = {}
    degree = np.asarray(fg.graph.degree(), dtype=float)
    density = source.features(sid).set_index("featureId")["density"]
    live_degree = degree[density.reindex(fg.ids).to_numpy() > 0]
    return {
        "coActivatesEdges": fg.n_edges,
        "meanDegree": 2.0 * fg.n_edges / live if live else math.nan,
        "maxDegree": int(degree.max()) if degree.size else 0,
        "degreeGini": gini(live_degree) if fg.n_edges else math.nan,
        **extra,
    }
