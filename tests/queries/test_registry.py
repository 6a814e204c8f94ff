"""Registry: names, headers, parameter validation, Enum templates; schema/ mirrors the shipped DDL."""

from __future__ import annotations

from pathlib import Path

import pytest

from saegraph.queries.registry import (
    QueryError,
    bind,
    get_query,
    list_queries,
    prepare,
    render,
    strip_comments,
)
from saegraph.schema.ddl import ddl_statements
from saegraph.schema.graph import FeatureProperty, RelType

AREAS = ("lookup", "neighbors", "paths", "communities", "components", "centrality", "compare", "universality")
REPO = Path(__file__).resolve().parents[2]


def test_at_least_twenty_queries_cover_every_area():
    names = list_queries()
    assert len([n for n in names if n.split(".")[0] in AREAS]) >= 20
    for area in AREAS:
        assert any(n.startswith(area + ".") for n in names), area
    assert not any(n.startswith("_") for n in names)  # private statements are hidden


def test_every_query_declares_description_and_returns():
    for name in list_queries(include_private=True):
        q = get_query(name)
        assert q.description, name
        assert q.returns, f"{name} has no '// @returns' line"


def test_every_declared_param_is_used_and_every_used_param_declared():
    import re

    for name in list_queries(include_private=True):
        q = get_query(name)
        for kind in ("neo4j", "embedded"):
            body = "\n".join(l for l in q.text_for(kind).splitlines() if not l.strip().startswith("//"))
            used = set(re.findall(r"\$(\w+)", body))
            declared = {p.name for p in q.params if p.enum is None}
            assert used <= declared, f"{name} ({kind}) uses undeclared {used - declared}"


def test_unknown_name_lists_known_ones():
    with pytest.raises(QueryError, match="known queries are .*lookup.feature_card"):
        get_query("lookup.nope")


def test_unknown_and_missing_parameters_are_named():
    q = get_query("neighbors.top_k")
    with pytest.raises(QueryError, match=r"no parameter\(s\) \['bogus'\].*featureId"):
        bind(q, {"featureId": "s0:1", "relType": "LASSO", "bogus": 1})
    with pytest.raises(QueryError, match=r"needs parameter\(s\) \['relType'\]"):
        bind(q, {"featureId": "s0:1"})
    with pytest.raises(QueryError, match="not a valid int"):
        bind(q, {"featureId": "s0:1", "relType": "LASSO", "k": "ten"})


def test_enum_parameters_render_allowlisted_tokens_only():
    text, params = prepare(
        "neighbors.top_k", "neo4j", {"featureId": "s0:1", "relType": "co_activates", "k": "3"}
    )
    assert "[r:CO_ACTIVATES]" in text and "r.npmi" in text and "{{" not in text
    assert params == {"featureId": "s0:1", "k": 3, "runId": None}
    with pytest.raises(ValueError, match="unknown relationship type"):
        prepare("neighbors.top_k", "neo4j", {"featureId": "s0:1", "relType": "KNOWS) DETACH DELETE (n"})


def test_restricted_enum_rejects_matches_for_write_back_queries():
    with pytest.raises(QueryError, match="not allowed here"):
        prepare("communities.summary", "embedded", {"relType": "MATCHES"})
    text, _ = prepare("communities.summary", "embedded", {"relType": RelType.LASSO})
    assert "communityLasso" in text


def test_render_refuses_unfilled_slot():
    with pytest.raises(QueryError, match="has no value"):
        render("MATCH (n:{{label}}) RETURN n", {})


def test_embedded_override_is_used_only_for_embedded():
    q = get_query("paths.shortest_unweighted")
    assert "shortestPath" in q.text_for("neo4j")
    embedded = strip_comments(q.text_for("embedded"))
    assert "SHORTEST" in embedded and "shortestPath" not in embedded


def test_feature_property_allowlist():
    assert FeatureProperty.of("community", RelType.CO_ACTIVATES) is FeatureProperty.COMMUNITY_CO_ACTIVATES
    assert FeatureProperty.STRENGTH_COSINE.rel_type is RelType.COSINE
    assert FeatureProperty.DEGREE_LASSO.is_integer and not FeatureProperty.PAGERANK_LASSO.is_integer
    with pytest.raises(ValueError):
        FeatureProperty.of("community", RelType.MATCHES)
    assert len(FeatureProperty) == 15


def test_embedded_ddl_declares_every_write_back_property():
    feature_ddl = next(s for s in ddl_statements("embedded") if "NODE TABLE IF NOT EXISTS Feature(" in s)
    for prop in FeatureProperty:
        assert f" {prop.value} " in feature_ddl, prop


def test_neo4j_ddl_has_a_uniqueness_constraint_per_id_and_required_indexes():
    text = " ".join(ddl_statements("neo4j"))
    for prop in ("modelId", "saeId", "featureId", "datasetId", "runId"):
        assert f".{prop} IS UNIQUE" in text
    assert "ON (f.saeId)" in text and "ON (f.`index`)" in text
    for rel in RelType:
        assert f"[r:{rel.value}]-() ON (r.runId)" in text


def test_model_md_documents_every_property():
    model = (REPO / "schema" / "model.md").read_text(encoding="utf-8")
    import re

    for stmt in ddl_statements("embedded"):
        m = re.match(r"CREATE (?:NODE|REL) TABLE IF NOT EXISTS (\w+)\((.*)\)$", stmt, re.S)
        assert m, stmt
        assert f"`{m.group(1)}`" in model or f":{m.group(1)}" in model, m.group(1)
        for col in m.group(2).split(","):
            name = col.strip().split()[0].strip("`")
            if name in ("FROM", "PRIMARY"):
                continue
            assert f"`{name}`" in model, f"schema/model.md does not document {m.group(1)}.{name}"
