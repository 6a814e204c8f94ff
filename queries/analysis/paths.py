"""Shortest and k-shortest paths between two features (pure core, igraph).

Algorithm:
1. Unweighted: breadth-first search (every edge costs 1 hop).
2. Weighted: Dijkstra on the edge ``cost`` attribute, whose rule is fixed per relationship
   type and stated in the result (``saegraph.queries.analysis.graph``: 1 - similarity for
   COSINE/MATCHES, -log2 jaccard for CO_ACTIVATES, -log2 stability for LASSO); costs are >= 0.
3. k shortest loopless paths: Yen's algorithm (Yen, Management Science 17:712, 1971) via
   igraph ``get_k_shortest_paths``, ordered by total cost (hops when unweighted).
Ties between equal-cost paths are broken by igraph's search order; the *costs* are unique
answers and are what the Neo4j (GDS Dijkstra/Yen) parity test compares, plus the node
sequence where the path is unique.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from saegraph.queries.analysis.graph import FeatureGraph


def _path_cost(fg: FeatureGraph, vpath: list[int], weighted: bool) -> tuple[float, list[float]]:
    steps = [0.0]
    for u, v in zip(vpath[:-1], vpath[1:]):
        if weighted:
            eid = fg.graph.get_eid(u, v)
            steps.append(steps[-1] + float(fg.graph.es[eid]["cost"]))
        else:
            steps.append(steps[-1] + 1.0)
    return steps[-1], steps


def _as_frame(fg: FeatureGraph, paths: list[list[int]], weighted: bool) -> pd.DataFrame:
    rows = []
    for rank, vpath in enumerate(paths, start=1):
        total, cumulative = _path_cost(fg, vpath, weighted)
        ids = [fg.ids[v] for v in vpath]
        rows.append({"rank": rank, "hops": len(vpath) - 1, "cost": total, "nodes": ids, "costs": cumulative})
    return pd.DataFrame(rows, columns=["rank", "hops", "cost", "nodes", "costs"])


def cost_rule_text(fg: FeatureGraph, weighted: bool) -> str:
    return fg.cost_description if weighted else "unweighted: cost = number of hops"


def shortest_path(fg: FeatureGraph, source: str, target: str, *, weighted: bool = False) -> pd.DataFrame:
    """One shortest path as a one-row frame: rank, hops, cost, nodes (featureIds), costs
    (cumulative). Empty when the two features are not connected."""
    s, t = fg.index_of(source), fg.index_of(target)
    with warnings.catch_warnings():  # igraph warns when the target is unreachable; we return no rows
        warnings.simplefilter("ignore", RuntimeWarning)
        vpath = fg.graph.get_shortest_paths(s, to=t, weights="cost" if weighted else None, output="vpath")[0]
    if not vpath:
        return _as_frame(fg, [], weighted)
    return _as_frame(fg, [vpath], weighted)


def k_shortest_paths(
    fg: FeatureGraph, source: str, target: str, k: int = 3, *, weighted: bool = False
) -> pd.DataFrame:
    """Up to k loopless shortest paths (Yen), best first; same columns as ``shortest_path``."""
    if k < 1:
        raise ValueError("k must be >= 1")
    s, t = fg.index_of(source), fg.index_of(target)
    if s == t:
        return _as_frame(fg, [[s]], weighted)
    paths = fg.graph.get_k_shortest_paths(
        s, to=t, k=k, weights="cost" if weighted else None, mode="all", output="vpath"
    )
    frame = _as_frame(fg, [p for p in paths if p], weighted)
    if len(frame):
        frame = frame.sort_values(["cost", "hops"], kind="stable").reset_index(drop=True)
        frame["rank"] = np.arange(1, len(frame) + 1)
    return frame


def path_steps(path_row: pd.Series) -> pd.DataFrame:
    """One path as a table: step, featureId, cumulativeCost."""
    return pd.DataFrame(
        {
            "step": range(len(path_row["nodes"])),
            "featureId": path_row["nodes"],
            "cumulativeCost": path_row["costs"],
        }
    )
