"""Neo4j tests share one server with everything else on it: each test session gets its own id
prefix, creates nodes only under it, and deletes exactly those nodes at the end (nothing
wipes a database). Ids: SAEs ``<prefix><name>s<k>``, features ``<saeId>:<i>``, model,
dataset and run ids start with the prefix too (``make_graph_bundle(prefix=...)``).
"""

from __future__ import annotations

import os
import uuid

import pytest

SESSION = f"t{uuid.uuid4().hex[:8]}"  # unique to this test session


def ids(name: str) -> str:
    """The id prefix of one test module's data (unique to the session)."""
    return f"{SESSION}{name}-"


def run_id(name: str) -> str:
    return f"{ids(name)}run"


# Test-only cleanup statements (the product never deletes nodes): every node under a prefix.
_DELETE = {
    "Feature": (
        "MATCH (n:Feature) WHERE n.saeId STARTS WITH $p "
        "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS"
    ),
    "SAE": "MATCH (n:SAE) WHERE n.saeId STARTS WITH $p DETACH DELETE n",
    "Model": "MATCH (n:Model) WHERE n.modelId STARTS WITH $p DETACH DELETE n",
    "Dataset": "MATCH (n:Dataset) WHERE n.datasetId STARTS WITH $p DETACH DELETE n",
    "Run": "MATCH (n:Run) WHERE n.runId STARTS WITH $p DETACH DELETE n",
}


def delete_prefixed(store, prefix: str) -> None:
    """Delete every node whose id starts with ``prefix`` (and its relationships)."""
    assert prefix.startswith(SESSION), "tests delete only their own session's data"
    for stmt in _DELETE.values():
        if "IN TRANSACTIONS" in stmt:
            with store.driver.session(database=store.database) as s:
                s.run(stmt, p=prefix).consume()
        else:
            store.run(stmt, {"p": prefix})


def count_prefixed(store, prefix: str) -> int:
    out = store.run(
        "MATCH (n) WHERE coalesce(n.saeId, n.modelId, n.datasetId, n.runId) STARTS WITH $p "
        "RETURN count(n) AS n",
        {"p": prefix},
    )
    return int(out["n"].iloc[0])


@pytest.fixture(scope="session")
def neo4j_store():
    from saegraph.queries.stores import open_store

    store = open_store(neo4j_uri=os.environ["NEO4J_URI"])
    store.apply_schema()
    yield store
    delete_prefixed(store, SESSION)  # whatever a module left behind
    store.close()
