"""Communities: Leiden (modularity or CPM), resolution profile, seed consensus, Louvain.

Algorithm (docs/methods.md, Communities):
1. Leiden (Traag, Waltman & van Eck, Sci. Rep. 9:5233, 2019) through ``leidenalg`` with an
   explicit objective: ``modularity`` = RBConfigurationVertexPartition (Reichardt-Bornholdt
   modularity with resolution gamma; gamma = 1 is Newman modularity, what ``gds.leiden``
   optimises) or ``cpm`` = CPMVertexPartition (constant Potts model, resolution = density
   threshold). Iterated until no improvement (n_iterations = -1), seeded; communities are
   guaranteed connected. igraph's own ``community_leiden`` defaults to CPM, so it is not used.
2. Resolution profile: step 1 over a grid of resolutions; per value the number of
   communities, the objective's quality and Newman modularity.
3. Consensus over seeds (Lancichinetti & Fortunato, Sci. Rep. 2:336, 2012): run step 1 with
   ``n_seeds`` seeds; weight each edge by the fraction of runs that put its endpoints
   together; drop edges below ``threshold``; repeat on that consensus graph until every run
   agrees (or ``max_rounds``). Stability = mean pairwise ARI of the first round's runs.
4. Louvain (Blondel et al. 2008) with igraph ``community_multilevel`` (modularity, seeded).
Labels are renumbered by decreasing community size (0 = largest).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from saegraph.queries.analysis.components import canonical_labels
from saegraph.queries.analysis.graph import FeatureGraph
from saegraph.queries.analysis.nulls import igraph_seed

OBJECTIVES = ("modularity", "cpm")


def _partition_type(objective: str):
    import leidenalg as la

    if objective == "modularity":
        return la.RBConfigurationVertexPartition
    if objective == "cpm":
        return la.CPMVertexPartition
    raise ValueError(f"unknown Leiden objective {objective!r}: use 'modularity' or 'cpm'")


def _weights(g, weighted: bool):
    return g.es["weight"] if (weighted and g.ecount()) else None


def leiden_partition(
    graph, *, objective: str = "modularity", resolution: float = 1.0, seed: int = 0, weighted: bool = True
):
    """Run Leiden on an igraph Graph; returns the leidenalg partition object."""
    import leidenalg as la

    return la.find_partition(
        graph,
        _partition_type(objective),
        weights=_weights(graph, weighted),
        resolution_parameter=resolution,
        n_iterations=-1,
        seed=int(seed),
    )


def leiden(
    fg: FeatureGraph,
    *,
    objective: str = "modularity",
    resolution: float = 1.0,
    seed: int = 0,
    weighted: bool = True,
) -> np.ndarray:
    """Community label per node (0 = largest community)."""
    part = leiden_partition(
        fg.graph, objective=objective, resolution=resolution, seed=seed, weighted=weighted
    )
    return canonical_labels(part.membership)


def louvain(fg: FeatureGraph, *, resolution: float = 1.0, seed: int = 0, weighted: bool = True) -> np.ndarray:
    """Louvain (igraph multilevel) labels, 0 = largest community."""
    with igraph_seed(seed):
        cl = fg.graph.community_multilevel(weights=_weights(fg.graph, weighted), resolution=resolution)
    return canonical_labels(cl.membership)


def modularity(fg: FeatureGraph, labels, weighted: bool = True) -> float:
    if fg.n_edges == 0:
        return 0.0
    return float(fg.graph.modularity(list(labels), weights=_weights(fg.graph, weighted)))


def resolution_profile(
    fg: FeatureGraph, resolutions, *, objective: str = "modularity", seed: int = 0, weighted: bool = True
) -> pd.DataFrame:
    """resolution, nCommunities, largest, quality (objective), modularity (Newman, gamma=1)."""
    rows = []
    for r in resolutions:
        part = leiden_partition(
            fg.graph, objective=objective, resolution=float(r), seed=seed, weighted=weighted
        )
        labels = np.asarray(part.membership)
        rows.append(
            {
                "resolution": float(r),
                "nCommunities": int(labels.max() + 1) if len(labels) else 0,
                "largest": int(np.bincount(labels).max()) if len(labels) else 0,
                "quality": float(part.quality()),
                "modularity": modularity(fg, labels, weighted),
            }
        )
    return pd.DataFrame(rows)


@dataclass
class Consensus:
    labels: np.ndarray
    rounds: int
    stability_ari: float  # mean pairwise ARI between the first round's seeded runs
    agreed: bool


def consensus(
    fg: FeatureGraph,
    *,
    objective: str = "modularity",
    resolution: float = 1.0,
    n_seeds: int = 10,
    seed: int = 0,
    threshold: float = 0.5,
    max_rounds: int = 10,
    weighted: bool = True,
) -> Consensus:
    """Consensus clustering over ``n_seeds`` Leiden runs (module docstring, step 3)."""
    import igraph as ig
    from sklearn.metrics import adjusted_rand_score

    g = fg.graph
    seeds = [seed + k for k in range(n_seeds)]
    runs = [
        np.asarray(
            leiden_partition(
                g, objective=objective, resolution=resolution, seed=s, weighted=weighted
            ).membership
        )
        for s in seeds
    ]
    pairs = list(itertools.combinations(range(len(runs)), 2))
    stability = float(np.mean([adjusted_rand_score(runs[a], runs[b]) for a, b in pairs])) if pairs else 1.0
    rounds = 1
    current_weighted = weighted
    while rounds < max_rounds and not all(
        np.array_equal(canonical_labels(runs[0]), canonical_labels(r)) for r in runs[1:]
    ):
        el = np.asarray(g.get_edgelist(), dtype=np.int64).reshape(-1, 2)
        together = np.mean([r[el[:, 0]] == r[el[:, 1]] for r in runs], axis=0) if len(el) else np.zeros(0)
        keep = together >= threshold
        g = ig.Graph(n=fg.n_nodes, edges=el[keep].tolist(), directed=False)
        g.es["weight"] = together[keep].tolist()
        current_weighted = True
        runs = [
            np.asarray(
                leiden_partition(
                    g, objective=objective, resolution=resolution, seed=s, weighted=current_weighted
                ).membership
            )
            for s in seeds
        ]
        rounds += 1
    agreed = all(np.array_equal(canonical_labels(runs[0]), canonical_labels(r)) for r in runs[1:])
    return Consensus(canonical_labels(runs[0]), rounds, stability, agreed)


def community_frame(fg: FeatureGraph, labels, column: str = "community") -> pd.DataFrame:
    """featureId, <column>."""
    return pd.DataFrame({"featureId": fg.ids, column: np.asarray(labels, dtype=np.int64)})
