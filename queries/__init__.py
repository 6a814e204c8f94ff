"""saegraph read path: store connections, the named Cypher query library, graph algorithms and comparisons.

Never imports `ingest` (docs/architecture.md, "Dependency rules").

    from saegraph.queries import open_store, run
    store = open_store(store_dir="saegraph.db", read_only=True)
    run(store, "neighbors.top_k", featureId="s0:12", relType="CO_ACTIVATES", k=10)
"""

from saegraph.queries.registry import QueryError, get_query, list_queries, run
from saegraph.queries.stores import EmbeddedStore, Neo4jStore, Store, StoreError, open_store
from saegraph.schema.graph import AlgoKind, FeatureProperty, Label, RelType

__all__ = [
    "AlgoKind",
    "EmbeddedStore",
    "FeatureProperty",
    "Label",
    "Neo4jStore",
    "QueryError",
    "RelType",
    "Store",
    "StoreError",
    "get_query",
    "list_queries",
    "open_store",
    "run",
]
