"""Structural comparison of two feature graphs against random-graph nulls (pure core).

Algorithm (docs/methods.md, Comparing two SAE graphs; question 1 of the co-activation-graph seed):
1. Degree and strength of every node of G_A and G_B (isolated nodes included; their
   counts are reported). Strengths are measured in units of the median edge weight of
   both graphs (``distributions.strength_unit``).
2. Observed divergence: JSD in bits (base 2, in [0, 1]) between A's and B's distributions
   on shared bins (integers to 50, then log bins; ``saegraph.queries.analysis.distributions``).
3. For each null kind (G(n, m) and degree-preserving rewire; ``saegraph.queries.analysis.nulls``)
   and each graph X in {A, B}: ``n_draws`` >= 20 draws N_1..N_d of X's null;
   * baseline JSD(X, N_i) (mean ± sd over draws; the seed's "random baseline"),
   * null-vs-null floor JSD(N_i, N_{i+1}), i = 1..d-1: how different two graphs from the
     same generator look by chance alone. Observed values near the floor mean "as similar
     as two draws of one generator".
4. Scalar statistics (global transitivity, mean local clustering, degree assortativity,
   number of components, largest-component fraction) of A and B with z-scores
   z = (observed - null mean) / null sd against both nulls (sd 0 gives z = NaN).
Reference: Maslov & Sneppen 2002 (rewire null); Lin 1991 (JSD).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from saegraph.queries.analysis.distributions import distribution_jsd, strength_unit
from saegraph.queries.analysis.graph import FeatureGraph
from saegraph.queries.analysis.nulls import NULL_KINDS, null_graphs

SCALAR_STATS = ("transitivity", "avgClustering", "assortativity", "nComponents", "largestComponentFraction")


def degree_strength(fg: FeatureGraph) -> tuple[np.ndarray, np.ndarray]:
    g = fg.graph
    deg = np.asarray(g.degree(), dtype=float)
    strength = np.asarray(g.strength(weights="weight"), dtype=float) if g.ecount() else np.zeros(g.vcount())
    return deg, strength


def scalar_stats(fg: FeatureGraph) -> dict[str, float]:
    g = fg.graph
    comps = g.connected_components().sizes() if g.vcount() else [0]
    assort = g.assortativity_degree(directed=False) if g.ecount() else float("nan")
    return {
        "transitivity": float(g.transitivity_undirected()) if g.ecount() else 0.0,
        "avgClustering": float(g.transitivity_avglocal_undirected(mode="zero")) if g.ecount() else 0.0,
        "assortativity": float("nan") if assort is None else float(assort),
        "nComponents": float(len(comps)),
        "largestComponentFraction": float(max(comps) / max(1, g.vcount())),
    }


def _mean_sd(values) -> tuple[float, float]:
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(arr) == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def _verdict(observed: float, null_mean: float, null_sd: float, z: float) -> str:
    """Plain words for a z-score, including the case a z-score cannot describe (a null
    without variance, e.g. a rewired graph keeps the component count exactly)."""
    if not null_sd or math.isnan(null_sd) or null_sd == 0:
        same = math.isclose(observed, null_mean, rel_tol=1e-9, abs_tol=1e-12)
        return (
            "equal to the null (the null keeps it fixed)" if same else "null is constant: no z-score; differs"
        )
    if math.isnan(z):
        return "undefined"
    if abs(z) < 2:
        return "within the null"
    return f"{'above' if z > 0 else 'below'} the null by {abs(z):.0f} sd"


def compare_structure(
    fg_a: FeatureGraph,
    fg_b: FeatureGraph,
    *,
    n_draws: int = 20,
    seed: int = 0,
    nulls=NULL_KINDS,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Returns {'jsd': long table, 'scalars': z-score table, 'graphs': size table,
    'null_degrees': per-draw degree arrays kept for plots (one draw per graph and null)}."""
    if n_draws < 2:
        raise ValueError(
            "n_draws must be >= 2 (the null-vs-null floor needs pairs); docs/methods.md asks for >= 20"
        )
    unit = strength_unit(fg_a.weights(), fg_b.weights())
    observed = {"A": degree_strength(fg_a), "B": degree_strength(fg_b)}
    jsd_rows = []
    for stat, k in (("degree", 0), ("strength", 1)):
        u = 1.0 if stat == "degree" else unit
        jsd_rows.append(
            {
                "statistic": stat,
                "comparison": "A vs B",
                "null": "observed",
                "jsdBits": distribution_jsd(observed["A"][k], observed["B"][k], u),
                "sd": 0.0,
                "nDraws": 1,
            }
        )
    scalar_rows = []
    examples: dict[str, dict[str, np.ndarray]] = {}
    total = len(nulls) * 2 * n_draws
    bar = tqdm(total=total, desc="null graphs", disable=not progress, leave=False)
    for kind in nulls:
        for label, fg in (("A", fg_a), ("B", fg_b)):
            base: dict[str, list[float]] = {"degree": [], "strength": []}
            floor: dict[str, list[float]] = {"degree": [], "strength": []}
            stats_draws: list[dict[str, float]] = []
            previous = None
            for i, null in enumerate(null_graphs(fg, kind, n_draws, seed + (0 if label == "A" else 7919))):
                ds = degree_strength(null)
                if i == 0:
                    examples[f"{label}:{kind}"] = {"degree": ds[0], "strength": ds[1]}
                for stat, k in (("degree", 0), ("strength", 1)):
                    u = 1.0 if stat == "degree" else unit
                    base[stat].append(distribution_jsd(observed[label][k], ds[k], u))
                    if previous is not None:
                        floor[stat].append(distribution_jsd(previous[k], ds[k], u))
                stats_draws.append(scalar_stats(null))
                previous = ds
                bar.update(1)
            for stat in ("degree", "strength"):
                m, s = _mean_sd(base[stat])
                jsd_rows.append(
                    {
                        "statistic": stat,
                        "comparison": f"{label} vs null({label})",
                        "null": kind,
                        "jsdBits": m,
                        "sd": s,
                        "nDraws": n_draws,
                    }
                )
                m, s = _mean_sd(floor[stat])
                jsd_rows.append(
                    {
                        "statistic": stat,
                        "comparison": f"null({label}) vs null({label})",
                        "null": kind,
                        "jsdBits": m,
                        "sd": s,
                        "nDraws": n_draws - 1,
                    }
                )
            obs = scalar_stats(fg)
            for name in SCALAR_STATS:
                m, s = _mean_sd([d[name] for d in stats_draws])
                z = (obs[name] - m) / s if s and s > 0 and not math.isnan(obs[name]) else float("nan")
                verdict = _verdict(obs[name], m, s, z)
                scalar_rows.append(
                    {
                        "statistic": name,
                        "graph": label,
                        "null": kind,
                        "observed": obs[name],
                        "nullMean": m,
                        "nullSd": s,
                        "z": z,
                        "verdict": verdict,
                    }
                )
    bar.close()
    graphs = pd.DataFrame(
        [
            {
                "graph": label,
                "saeId": fg.sae_id,
                "relType": fg.rel_type,
                "nodes": fg.n_nodes,
                "edges": fg.n_edges,
                "isolated": int((observed[label][0] == 0).sum()),
                "meanDegree": float(observed[label][0].mean()) if fg.n_nodes else 0.0,
                "strengthUnit": unit,
            }
            for label, fg in (("A", fg_a), ("B", fg_b))
        ]
    )
    return {
        "jsd": pd.DataFrame(jsd_rows),
        "scalars": pd.DataFrame(scalar_rows),
        "graphs": graphs,
        "null_examples": examples,
        "observed": observed,
    }


def floor_verdict(jsd: pd.DataFrame, statistic: str = "degree", null: str = "gnm") -> dict[str, float]:
    """Observed A-vs-B JSD beside the null-vs-null floor and the A-vs-null baseline of one null."""
    obs = jsd[(jsd.statistic == statistic) & (jsd.null == "observed")]["jsdBits"].iloc[0]
    sel = jsd[(jsd.statistic == statistic) & (jsd.null == null)]
    floor = sel[sel.comparison == "null(A) vs null(A)"].iloc[0]
    base = sel[sel.comparison == "A vs null(A)"].iloc[0]
    return {
        "observed": float(obs),
        "floorMean": float(floor.jsdBits),
        "floorSd": float(floor.sd),
        "baselineMean": float(base.jsdBits),
        "baselineSd": float(base.sd),
    }
