"""Run the analyses on a bundle or a store and write results back (thin shell over the cores).

Algorithm:
1. ``load_graph``: the SAE's features (all of them, isolated included) and one edge type
   from the source -> ``FeatureGraph``.
2. Embedded store or bundle: communities / components / centrality / paths run in Python
   (igraph, leidenalg); on a store the labels are written back with
   ``Store.write_feature_property`` under the fixed names (community<Type>, ...).
3. Neo4j: Leiden-modularity, Louvain, WCC, PageRank, Dijkstra and Yen run in GDS
   (``saegraph.queries.analysis.gds``) and write the same properties; what GDS lacks (CPM, seed
   consensus) runs in Python and is written back the same way. ``engine`` in each result
   says which ran.
4. ``compare``: structure vs nulls, agreement through the MATCHES matching (its Leiden
   communities by GDS on Neo4j, ``matched_labels``), node-signature matching and the
   universality tables for one SAE pair.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from saegraph.queries.analysis import centrality as centrality_core
from saegraph.queries.analysis import communities as comm
from saegraph.queries.analysis.components import connected_components
from saegraph.queries.analysis.graph import PROPERTY_SUFFIX, FeatureGraph, build_graph, rel_name
from saegraph.queries.analysis.summaries import partition_summary

log = logging.getLogger(__name__)


def load_graph(source, sae_id: str, rel_type) -> tuple[FeatureGraph, pd.DataFrame]:
    rel = rel_name(rel_type)
    if rel == "MATCHES":
        raise ValueError("MATCHES links two SAEs: use `compare` for it, and CO_ACTIVATES|LASSO|COSINE here")
    features = source.features(sae_id)
    if features.empty:
        raise ValueError(f"no features of SAE {sae_id!r}: known SAEs are {source.sae_ids()}")
    edges = source.edges(rel, sae_id)
    return build_graph(edges, rel, node_ids=features["featureId"].tolist(), sae_id=sae_id), features


def _store_of(source):
    return getattr(source, "store", None)


def _is_neo4j(source) -> bool:
    store = _store_of(source)
    return store is not None and getattr(store, "kind", "") == "neo4j"


def _write(source, kind: str, rel: str, frame: pd.DataFrame, column: str) -> int:
    store = _store_of(source)
    if store is None:
        return 0
    from saegraph.schema.graph import FeatureProperty

    prop = FeatureProperty.of(kind, rel)
    return store.write_feature_property(prop, frame[["featureId", column]].rename(columns={column: "value"}))


def _read_back(source, sae_id: str, kind: str, rel: str) -> pd.DataFrame:
    from saegraph.schema.graph import FeatureProperty

    prop = FeatureProperty.of(kind, rel).value
    f = source.features(sae_id)
    return f[["featureId", prop]].rename(columns={prop: kind})


def communities(
    source,
    sae_id: str,
    rel_type,
    *,
    algorithm: str = "leiden",
    objective: str = "modularity",
    resolution: float = 1.0,
    n_seeds: int = 1,
    seed: int = 0,
    profile=None,
    write: bool = True,
) -> dict:
    """labels (featureId, community), summary, profile (optional), info."""
    rel = rel_name(rel_type)
    fg, features = load_graph(source, sae_id, rel)
    info = {
        "saeId": sae_id,
        "relType": rel,
        "algorithm": algorithm,
        "objective": objective,
        "resolution": resolution,
        "weight": fg.weight_column,
        "nodes": fg.n_nodes,
        "edges": fg.n_edges,
    }
    if _is_neo4j(source) and write and algorithm == "louvain" and resolution != 1.0:
        raise ValueError(
            f"Louvain with resolution {resolution} cannot run on Neo4j: GDS Louvain has no resolution "
            f"parameter (it optimises modularity at resolution 1). Use --algorithm leiden (GDS Leiden "
            f"takes gamma), resolution 1, or the embedded store / a bundle (igraph Louvain takes it)"
        )
    gds_ok = (
        _is_neo4j(source)
        and write
        and n_seeds == 1
        and (algorithm == "louvain" or (algorithm == "leiden" and objective == "modularity"))
    )
    if gds_ok:
        from saegraph.queries.analysis import gds
        from saegraph.schema.graph import FeatureProperty

        params = {"gamma": resolution, "seed": seed} if algorithm == "leiden" else {}
        gds.write_algorithm(
            _store_of(source), sae_id, rel, algorithm, FeatureProperty.of("community", rel), **params
        )
        labels = _read_back(source, sae_id, "community", rel)
        labels["community"] = comm.canonical_labels(labels["community"].to_numpy())
        info["engine"] = "gds"
    else:
        if algorithm == "louvain":
            membership = comm.louvain(fg, resolution=resolution, seed=seed)
        elif algorithm == "leiden" and n_seeds > 1:
            res = comm.consensus(fg, objective=objective, resolution=resolution, n_seeds=n_seeds, seed=seed)
            membership = res.labels
            info.update(
                consensusRounds=res.rounds, stabilityARI=res.stability_ari, consensusAgreed=res.agreed
            )
        elif algorithm == "leiden":
            membership = comm.leiden(fg, objective=objective, resolution=resolution, seed=seed)
        else:
            raise ValueError(f"unknown community algorithm {algorithm!r}: use leiden or louvain")
        labels = comm.community_frame(fg, membership)
        info["engine"] = "python (leidenalg/igraph)"
        if write:
            info["written"] = _write(source, "community", rel, labels, "community")
    info["modularity"] = comm.modularity(
        fg, labels.set_index("featureId").loc[fg.ids, "community"].to_numpy()
    )
    info["nCommunities"] = int(labels["community"].nunique())
    if write and _store_of(source) is not None:
        info["property"] = f"community{PROPERTY_SUFFIX[rel]}"
    out = {
        "labels": labels,
        "summary": partition_summary(labels, "community", features),
        "info": info,
        "graph": fg,
    }
    if profile is not None:
        out["profile"] = comm.resolution_profile(fg, profile, objective=objective, seed=seed)
    return out


def components(source, sae_id: str, rel_type, *, write: bool = True) -> dict:
    rel = rel_name(rel_type)
    fg, features = load_graph(source, sae_id, rel)
    info = {"saeId": sae_id, "relType": rel, "nodes": fg.n_nodes, "edges": fg.n_edges}
    if _is_neo4j(source) and write:
        from saegraph.queries.analysis import gds
        from saegraph.schema.graph import FeatureProperty

        gds.write_algorithm(_store_of(source), sae_id, rel, "wcc", FeatureProperty.of("component", rel))
        labels = _read_back(source, sae_id, "component", rel)
        labels["component"] = comm.canonical_labels(labels["component"].to_numpy())
        info["engine"] = "gds"
    else:
        labels = connected_components(fg)
        info["engine"] = "python (igraph)"
        if write:
            info["written"] = _write(source, "component", rel, labels, "component")
    info["nComponents"] = int(labels["component"].nunique())
    return {"labels": labels, "summary": partition_summary(labels, "component", features), "info": info}


def centrality(source, sae_id: str, rel_type, *, write: bool = True) -> dict:
    """degree, strength (Python on both stores) and PageRank (GDS on Neo4j) per feature."""
    rel = rel_name(rel_type)
    fg, _ = load_graph(source, sae_id, rel)
    table = centrality_core.centrality(fg)
    info = {"saeId": sae_id, "relType": rel, "weight": fg.weight_column, "engine": "python (igraph)"}
    if write and _store_of(source) is not None:
        _write(source, "degree", rel, table, "degree")
        _write(source, "strength", rel, table, "strength")
        if _is_neo4j(source):
            from saegraph.queries.analysis import gds
            from saegraph.schema.graph import FeatureProperty

            gds.write_algorithm(
                _store_of(source), sae_id, rel, "pagerank", FeatureProperty.of("pagerank", rel)
            )
            pr = _read_back(source, sae_id, "pagerank", rel).set_index("featureId")["pagerank"]
            pr = pr / pr.sum()  # GDS scores are unnormalised; stored, like igraph's, to sum 1 per SAE
            table["pagerank"] = pr.loc[table["featureId"]].to_numpy()
            _write(source, "pagerank", rel, table, "pagerank")
            info["engine"] = "python degree/strength, gds pageRank (normalised to sum 1)"
        else:
            _write(source, "pagerank", rel, table, "pagerank")
    return {"table": table.sort_values("pagerank", ascending=False).reset_index(drop=True), "info": info}


def path(
    source,
    feature_a: str,
    feature_b: str,
    rel_type,
    *,
    k: int = 1,
    weighted: bool = False,
    sae_id: str | None = None,
) -> dict:
    """Shortest (k = 1) or k shortest paths between two features of one SAE."""
    from saegraph.queries.analysis import paths

    rel = rel_name(rel_type)
    sae_id = sae_id or feature_a.rsplit(":", 1)[0]
    if feature_b.rsplit(":", 1)[0] != sae_id:
        raise ValueError(
            f"{feature_a} and {feature_b} are in different SAEs: within-SAE edge types link one SAE"
        )
    info = {"saeId": sae_id, "relType": rel, "weighted": weighted, "k": k}
    if _is_neo4j(source):
        from saegraph.queries.analysis import gds
        from saegraph.queries.analysis.graph import COST_RULES, DEFAULT_COST

        table = gds.paths(_store_of(source), sae_id, rel, feature_a, feature_b, k=k, weighted=weighted)
        info["engine"] = "gds (Dijkstra / Yen)"
        info["cost"] = COST_RULES[DEFAULT_COST[rel]][2] if weighted else "unweighted: cost = number of hops"
    else:
        fg, _ = load_graph(source, sae_id, rel)
        table = (
            paths.shortest_path(fg, feature_a, feature_b, weighted=weighted)
            if k == 1
            else paths.k_shortest_paths(fg, feature_a, feature_b, k, weighted=weighted)
        )
        info["engine"] = "python (igraph)"
        info["cost"] = paths.cost_rule_text(fg, weighted)
    return {"paths": table, "info": info}


def matched_labels(source, sae_id: str, rel: str, fg: FeatureGraph, seed: int) -> pd.Series:
    """Leiden (modularity, gamma 1) labels for the comparison: GDS on a Neo4j store (written
    back as community<Type>, the same result ``communities`` writes with these settings),
    leidenalg elsewhere."""
    if _is_neo4j(source) and fg.n_edges:
        labels = communities(source, sae_id, rel, seed=seed)["labels"].set_index("featureId")["community"]
        return pd.Series(labels.loc[fg.ids].to_numpy(), index=fg.ids)
    labels = comm.leiden(fg, objective="modularity", seed=seed) if fg.n_edges else np.arange(fg.n_nodes)
    return pd.Series(labels, index=fg.ids)
