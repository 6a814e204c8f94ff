"""The relationship load statements find an existing relationship by expanding between its two
endpoints, never through a relationship index (ingest/stores/neo4j.py, step 4).

With index statistics sampled before a load, the planner answered MERGE's lookup from the
``runId`` relationship index and scanned every relationship of the run for each row: a
100k-relationship load ran at ~180 rels/s. The plan is read with EXPLAIN (nothing is written).
"""

from __future__ import annotations

import pytest

import saegraph.ingest.stores  # noqa: F401  (registers the _load statements)
from saegraph.queries.registry import prepare
from saegraph.schema.graph import RelType

pytestmark = pytest.mark.neo4j

STATEMENTS = ("_load.merge_rels", "_load.merge_rels_by_method")


def _operators(plan: dict) -> list[str]:
    """Operator names of an EXPLAIN plan (the driver gives it as nested dicts)."""
    return [plan["operatorType"], *(op for child in plan.get("children", []) for op in _operators(child))]


@pytest.mark.parametrize("name", STATEMENTS)
@pytest.mark.parametrize("rel", list(RelType), ids=lambda r: r.value)
def test_relationship_lookup_never_uses_a_relationship_index(neo4j_store, name, rel):
    row = {"source": "x:0", "target": "x:1", "runId": "r", "props": {"runId": "r", "method": "mnn"}}
    text, params = prepare(name, "neo4j", {"relType": rel, "rows": [row]})
    with neo4j_store.driver.session(database=neo4j_store.database) as session:
        plan = session.run("EXPLAIN " + text, params).consume().plan
    ops = _operators(plan)
    assert not [op for op in ops if "RelationshipIndex" in op], ops
    assert any(op.startswith("Expand(Into)") for op in ops), ops
