"""Degree, strength and PageRank of a feature graph (pure core).

Algorithm:
1. degree = number of distinct neighbours; strength = sum of incident edge weights
   (weight per relationship type: see ``saegraph.queries.analysis.graph``).
2. PageRank on the undirected graph (each edge both ways), damping 0.85, edge weights as
   transition weights when ``weighted``; igraph's PRPACK solver (exact), normalised to sum 1.
   GDS ``gds.pageRank`` iterates (maxIterations 20, tolerance 1e-7) and does not normalise,
   so compare the two after normalising, to ~1e-3.
Reference: Brin & Page (1998); Gleich, "PageRank beyond the web", SIAM Review 2015.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from saegraph.queries.analysis.graph import FeatureGraph


def centrality(fg: FeatureGraph, *, damping: float = 0.85, weighted: bool = True) -> pd.DataFrame:
    """featureId, degree, strength, pagerank (one row per node)."""
    g = fg.graph
    weights = "weight" if (weighted and g.ecount()) else None
    degree = np.asarray(g.degree(), dtype=np.int64)
    strength = np.asarray(g.strength(weights="weight"), dtype=float) if g.ecount() else np.zeros(g.vcount())
    pr = np.asarray(g.pagerank(damping=damping, weights=weights, directed=False), dtype=float)
    return pd.DataFrame({"featureId": fg.ids, "degree": degree, "strength": strength, "pagerank": pr})
