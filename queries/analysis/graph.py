"""Edge tables -> undirected igraph graphs keyed by featureId (pure core).

Algorithm:
1. The node set is the given feature ids (so isolated features count: they have degree 0),
   or, when none are given, the union of edge endpoints, sorted.
2. Each relationship row (stored once per unordered pair, docs/bundle.md) becomes one
   undirected edge; duplicate pairs (e.g. both directions) are merged keeping the maximum
   weight and the minimum cost; self-loops are dropped.
3. Every edge carries ``weight`` (the strength/community weight of its type, below) and
   ``cost`` (the additive path cost of its type, below), both non-negative.

Weights and path costs per relationship type (stated in every output that uses them):
- CO_ACTIVATES: weight = npmi; cost = -log2(jaccard), jaccard = P(both fire | either fires).
- LASSO: weight = stability (fraction of replicates selecting the edge; the schema's weight,
  saegraph.schema.graph); cost = -log2(stability).
- COSINE: weight = decoder cosine similarity; cost = 1 - similarity.
- MATCHES: weight = cosine; cost = 1 - cosine.
Reference: Csardi & Nepusz, "The igraph software package" (2006).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from saegraph.schema.graph import COST_RULES, RelType

if TYPE_CHECKING:
    import igraph  # imported lazily at run time (graph construction)

# Weight and cost columns come from the schema (saegraph.schema.graph); these views key them
# by relationship-type name for the analysis code.
WEIGHT_COLUMN = {rel.value: rel.weight for rel in RelType}
DEFAULT_COST = {rel.value: rel.cost_rule for rel in RelType}
TABLE_OF = {rel.value: rel.table for rel in RelType}
PROPERTY_SUFFIX = {rel.value: rel.suffix for rel in RelType.graph_types()}
_EPS = 1e-12


def rel_name(rel_type) -> str:
    """'CO_ACTIVATES' from a RelType member, its value, name, table or suffix."""
    if isinstance(rel_type, str):
        rel_type = rel_type.strip()
        upper = rel_type.upper()
        if upper in TABLE_OF:
            return upper
    return RelType.parse(rel_type).value


def cost_values(edges: pd.DataFrame, rule: str) -> np.ndarray:
    """Apply a named cost rule to an edge table; returns non-negative float costs."""
    if rule not in COST_RULES:
        raise ValueError(f"unknown cost rule {rule!r}: use one of {', '.join(COST_RULES)}")
    column, transform, _ = COST_RULES[rule]
    if column not in edges.columns:
        raise ValueError(f"cost rule {rule!r} needs column {column!r}, edges have {list(edges.columns)}")
    x = edges[column].to_numpy(dtype=float)
    if transform == "neglog":
        out = -np.log2(np.clip(x, _EPS, 1.0))
    else:
        out = 1.0 - x
    return np.clip(out, 0.0, None)


@dataclass
class FeatureGraph:
    """An undirected feature graph: ``graph`` has vertex attribute ``name`` = featureId and
    edge attributes ``weight`` and ``cost``."""

    graph: igraph.Graph
    rel_type: str
    sae_id: str | None = None
    weight_column: str = ""
    cost_rule: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return self.graph.vs["name"]

    @property
    def n_nodes(self) -> int:
        return self.graph.vcount()

    @property
    def n_edges(self) -> int:
        return self.graph.ecount()

    @property
    def cost_description(self) -> str:
        return COST_RULES[self.cost_rule][2] if self.cost_rule else "unweighted"

    def index_of(self, feature_id: str) -> int:
        try:
            return self.graph.vs.find(name=feature_id).index
        except (ValueError, KeyError):
            raise KeyError(
                f"feature {feature_id!r} is not in the {self.rel_type} graph of "
                f"{self.sae_id or 'this selection'}: check the id (format 'saeId:index')"
            ) from None

    def edge_array(self) -> np.ndarray:
        """int64 [m, 2] vertex indices, smaller first."""
        el = np.asarray(self.graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
        return np.sort(el, axis=1)

    def weights(self) -> np.ndarray:
        return np.asarray(self.graph.es["weight"], dtype=float) if self.n_edges else np.zeros(0)


def build_graph(
    edges: pd.DataFrame,
    rel_type,
    *,
    node_ids=None,
    sae_id: str | None = None,
    weight_column: str | None = None,
    cost_rule: str | None = None,
) -> FeatureGraph:
    """Build the undirected graph of one relationship type (see module docstring).

    ``edges`` needs ``source`` and ``target`` (featureIds) plus the weight/cost columns;
    when ``sae_id`` is given and edges have a ``saeId`` column, rows are filtered to it."""
    import igraph as ig

    rel = rel_name(rel_type)
    weight_column = weight_column or WEIGHT_COLUMN[rel]
    cost_rule = cost_rule or DEFAULT_COST[rel]
    if sae_id is not None and "saeId" in edges.columns:
        edges = edges[edges["saeId"] == sae_id]
    missing = {"source", "target"} - set(edges.columns)
    if missing:
        raise ValueError(f"edge table lacks columns {sorted(missing)}: pass the {TABLE_OF[rel]} table")
    src = edges["source"].astype(str).to_numpy()
    dst = edges["target"].astype(str).to_numpy()
    if node_ids is None:
        ids = sorted(set(src) | set(dst))
    else:
        ids = [str(x) for x in node_ids]
        unknown = (set(src) | set(dst)) - set(ids)
        if unknown:
            raise ValueError(
                f"{len(unknown)} edge endpoints are not among the given features, e.g. "
                f"{sorted(unknown)[:3]}: pass the features of the same SAE"
            )
    position = pd.Index(ids)
    if position.has_duplicates:
        raise ValueError("duplicate feature ids given as nodes")
    s = position.get_indexer(src)
    t = position.get_indexer(dst)
    w = edges[weight_column].to_numpy(dtype=float) if len(edges) else np.zeros(0)
    if weight_column in ("weight",):
        w = np.abs(w)
    c = cost_values(edges, cost_rule) if len(edges) else np.zeros(0)
    keep = s != t
    frame = pd.DataFrame(
        {
            "u": np.minimum(s, t)[keep],
            "v": np.maximum(s, t)[keep],
            "weight": np.nan_to_num(w[keep]),
            "cost": c[keep],
        }
    )
    frame = frame.groupby(["u", "v"], as_index=False).agg(weight=("weight", "max"), cost=("cost", "min"))
    g = ig.Graph(n=len(ids), edges=list(zip(frame["u"].tolist(), frame["v"].tolist())), directed=False)
    g.vs["name"] = ids
    g.es["weight"] = frame["weight"].tolist()
    g.es["cost"] = frame["cost"].tolist()
    return FeatureGraph(g, rel, sae_id, weight_column, cost_rule)


def from_edge_list(n: int, edge_list, weights=None, prefix: str = "g") -> FeatureGraph:
    """A FeatureGraph over nodes ``{prefix}:{i}`` from integer pairs (tests, nulls, notebooks)."""
    el = np.asarray(edge_list, dtype=np.int64).reshape(-1, 2)
    w = np.ones(len(el)) if weights is None else np.asarray(weights, dtype=float)
    edges = pd.DataFrame(
        {
            "source": [f"{prefix}:{i}" for i in el[:, 0]],
            "target": [f"{prefix}:{j}" for j in el[:, 1]],
            "similarity": w,
        }
    )
    return build_graph(edges, "COSINE", node_ids=[f"{prefix}:{i}" for i in range(n)], sae_id=prefix)
