"""Neo4j Graph Data Science shell: the same algorithms as the embedded path, run in GDS.

Algorithm:
1. ``projection`` projects one SAE's features and one within-SAE relationship type as an
   undirected in-memory graph through the named query ``gds.project_sae`` (weight, cost and
   hop relationship properties computed by the same rules as ``saegraph.queries.analysis.graph``),
   and drops it with ``gds.drop_graph`` when the block ends (also on error).
2. Leiden (modularity, gamma), Louvain, WCC and PageRank write their result to the fixed
   ``:Feature`` property (docs/bundle.md); Dijkstra and Yen stream paths back.
Every statement is a named ``.cypher`` file under ``queries/gds/``; values pass as $params.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pandas as pd

from saegraph.queries.analysis.graph import COST_RULES, DEFAULT_COST, WEIGHT_COLUMN, rel_name


@contextmanager
def projection(store, sae_id: str, rel_type, *, cost_rule: str | None = None):
    """Project (and finally drop) the SAE's graph; yields the catalog name."""
    from saegraph.schema.graph import RelType

    rel = rel_name(rel_type)
    column, transform, _ = COST_RULES[cost_rule or DEFAULT_COST[rel]]
    name = f"saegraph-{rel.lower()}-{uuid.uuid4().hex[:12]}"
    store.run_named(
        "gds.project_sae",
        graphName=name,
        saeId=sae_id,
        relType=RelType.parse(rel),
        weightProperty=WEIGHT_COLUMN[rel],
        costProperty=column,
        costTransform=transform,
    )
    try:
        yield name
    finally:
        store.run_named("gds.drop_graph", graphName=name)


def write_algorithm(store, sae_id: str, rel_type, algorithm: str, prop, **params) -> pd.DataFrame:
    """Run leiden | louvain | wcc | pagerank in GDS and write ``prop``; returns GDS's summary row."""
    names = {
        "leiden": "gds.leiden_write",
        "louvain": "gds.louvain_write",
        "wcc": "gds.wcc_write",
        "pagerank": "gds.pagerank_write",
    }
    if algorithm not in names:
        raise ValueError(f"unknown GDS algorithm {algorithm!r}: use one of {', '.join(names)}")
    with projection(store, sae_id, rel_type) as name:
        return store.run_named(names[algorithm], graphName=name, writeProperty=prop, **params)


def paths(
    store, sae_id: str, rel_type, source: str, target: str, *, k: int = 1, weighted: bool = False
) -> pd.DataFrame:
    """rank, hops, cost, nodes, costs: Dijkstra (k = 1) or Yen (k > 1) in GDS."""
    with projection(store, sae_id, rel_type) as name:
        cost = "cost" if weighted else "hop"
        if k == 1:
            out = store.run_named(
                "gds.dijkstra_stream", graphName=name, source=source, target=target, costProperty=cost
            )
            out.insert(0, "rank", range(1, len(out) + 1))
        else:
            out = store.run_named(
                "gds.yen_stream", graphName=name, source=source, target=target, k=k, costProperty=cost
            )
    if out.empty:
        return pd.DataFrame(columns=["rank", "hops", "cost", "nodes", "costs"])
    out["hops"] = out["nodes"].map(len) - 1
    return out[["rank", "hops", "cost", "nodes", "costs"]]
