"""The schema's one source (saegraph.schema.graph) agrees with both DDLs, model.md and the writers."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from saegraph.ingest.edges.coactivation.stage import CO_ACTIVATES_SCHEMA
from saegraph.ingest.edges.cosine.stage import COSINE_SCHEMA
from saegraph.ingest.edges.lasso.stage import LASSO_SCHEMA
from saegraph.ingest.edges.matches.stage import MATCHES_SCHEMA
from saegraph.schema.ddl import ddl_statements
from saegraph.schema.graph import (
    COST_RULES,
    LINK_TYPES,
    TABLES,
    WRITE_BACK_PROPERTIES,
    AlgoKind,
    FeatureProperty,
    Label,
    RelType,
)

REPO = Path(__file__).resolve().parents[2]
LADYBUG_TYPE = {pa.string(): "STRING", pa.float64(): "DOUBLE", pa.int64(): "INT64", pa.bool_(): "BOOLEAN"}
_TABLE = re.compile(r"CREATE (NODE|REL) TABLE IF NOT EXISTS (\w+)\((.*)\)$", re.S)


def _embedded_tables() -> dict[str, list[tuple[str, str]]]:
    tables = {}
    for stmt in ddl_statements("embedded"):
        m = _TABLE.match(stmt.strip())
        if m:
            cols = [c.strip() for c in m.group(3).split(",")]
            tables[m.group(2)] = [tuple(c.split()[:2]) for c in cols if not c.startswith(("FROM", "PRIMARY"))]
    return tables


@pytest.mark.parametrize("rel", list(RelType), ids=lambda r: r.value)
def test_embedded_rel_table_equals_the_arrow_schema(rel):
    expected = [
        (f.name, LADYBUG_TYPE[f.type]) for f in rel.arrow_schema() if f.name not in ("source", "target")
    ]
    assert _embedded_tables()[rel.value] == expected


def test_stage_writers_use_the_schema():
    for rel, schema in [
        (RelType.CO_ACTIVATES, CO_ACTIVATES_SCHEMA),
        (RelType.LASSO, LASSO_SCHEMA),
        (RelType.COSINE, COSINE_SCHEMA),
        (RelType.MATCHES, MATCHES_SCHEMA),
    ]:
        assert schema.equals(rel.arrow_schema()), rel


def test_every_table_of_the_schema_is_in_the_embedded_ddl_and_back():
    assert set(_embedded_tables()) == set(TABLES)
    assert set(LINK_TYPES) <= TABLES


def test_write_back_properties_are_declared_by_the_feature_table_and_model_md():
    feature = dict(_embedded_tables()["Feature"])
    model = (REPO / "schema" / "model.md").read_text(encoding="utf-8")
    assert WRITE_BACK_PROPERTIES == {f"{k.value}{r.suffix}" for k in AlgoKind for r in RelType.graph_types()}
    for prop in FeatureProperty:
        assert prop.value in feature, prop
        assert f"`{prop.value}`" in model, prop


@pytest.mark.parametrize("rel", list(RelType), ids=lambda r: r.value)
def test_model_md_documents_every_relationship_property_and_the_weight(rel):
    model = (REPO / "schema" / "model.md").read_text(encoding="utf-8")
    section = model.split(f"### `{rel.value}`", 1)[1].split("###", 1)[0]
    for name in rel.properties:
        if name != "runId":
            assert f"`{name}`" in section, (rel, name)
    assert rel.weight in rel.properties and COST_RULES[rel.cost_rule][0] in rel.properties


def test_neo4j_ddl_constrains_every_label_id():
    text = "\n".join(ddl_statements("neo4j"))
    for label in Label:
        assert re.search(rf"\(\w+:{label.value}\)\s+REQUIRE\s+\w+\.{label.id_property}\s+IS UNIQUE", text), (
            label
        )


def test_lasso_weight_is_the_non_negative_selection_frequency():
    assert RelType.LASSO.weight == "stability" and RelType.LASSO.cost_rule == "neg_log_stability"
