"""Connected components of a feature graph (pure core).

Algorithm: 1. breadth-first search labels each node with its (weakly) connected component
(igraph ``connected_components``); 2. components are renumbered by decreasing size (0 =
largest; ties by smallest member index) so labels are deterministic and comparable with
GDS WCC after the same renumbering (``canonical_labels``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from saegraph.queries.analysis.graph import FeatureGraph


def canonical_labels(labels) -> np.ndarray:
    """Relabel a partition 0..k-1 by decreasing size, ties broken by first occurrence."""
    labels = np.asarray(labels)
    uniq, first, inverse, counts = np.unique(
        labels, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    return rank[inverse.ravel()]


def connected_components(fg: FeatureGraph) -> pd.DataFrame:
    """featureId, component (0 = largest)."""
    membership = fg.graph.connected_components(mode="weak").membership if fg.n_nodes else []
    return pd.DataFrame({"featureId": fg.ids, "component": canonical_labels(membership)})


def component_sizes(labels: pd.DataFrame, column: str = "component") -> pd.DataFrame:
    """component, size, sorted by size descending."""
    sizes = labels.groupby(column).size().rename("size").reset_index()
    return sizes.sort_values(["size", column], ascending=[False, True]).reset_index(drop=True)
