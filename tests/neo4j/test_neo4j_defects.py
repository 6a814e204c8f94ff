"""Defects that only a real Neo4j + GDS shows, one test each (needs NEO4J_URI).

1. MATCHES: one run emits the same feature pair twice with different ``method``; both rows load.
2. Two runs on the same SAEs loaded together never leak into each other's answers: reads
   without ``runId`` answer for the SAE's current run (the last loaded), with ``runId`` for
   that run; the GDS projection holds one relationship per pair.
3. Louvain's resolution: refused on Neo4j (GDS Louvain has no such parameter), not ignored.
4. PageRank is written normalised to sum 1 over the SAE on both stores.
5. A null inside a list property does not fail its batch.
6. Optional filters do not defeat the indexes (an index seek when the value is given).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.neo4j import StoreRunner, batches, load_bundle_neo4j
from saegraph.queries import RelType, run
from saegraph.queries.analysis import engine
from saegraph.queries.analysis.sources import StoreSource
from saegraph.schema.graph import Label
from tests.helpers.store_fixtures import make_graph_bundle
from tests.neo4j.conftest import delete_prefixed, ids

pytestmark = pytest.mark.neo4j

P = ids("defects")
RUN_A, RUN_B = f"{P}runA", f"{P}runB"
S0, S1 = f"{P}s0", f"{P}s1"


@pytest.fixture(scope="module")
def two_runs(neo4j_store, tmp_path_factory):
    """Run A then run B on the same SAEs (same feature ids, different edges), both loaded."""
    root = tmp_path_factory.mktemp("defects")
    a = make_graph_bundle(root / "a", n_features=60, seed=11, run_id=RUN_A, prefix=P, parent_matches=6)
    b = make_graph_bundle(root / "b", n_features=60, seed=12, run_id=RUN_B, prefix=P, parent_matches=6)
    for bundle in (a, b):
        load_bundle_neo4j(bundle, StoreRunner(neo4j_store), batch_size=200, progress=False)
    yield open_bundle(a), open_bundle(b)
    delete_prefixed(neo4j_store, P)


def _frames(bundle):
    return bundle.frame("features"), {t: bundle.frame(t.table) for t in RelType if bundle.has_table(t.table)}


def test_matches_same_pair_two_methods_both_loaded(neo4j_store, two_runs):
    a, _ = two_runs
    want = a.frame("matches")
    assert (want.method == "parent").sum() == 6
    got = neo4j_store.edges(RelType.MATCHES, run_id=RUN_A)
    got = got[got.sourceSae.str.startswith(P)]
    assert len(got) == len(want)
    assert sorted(got.method.value_counts().items()) == sorted(want.method.value_counts().items())


@pytest.mark.parametrize("which", ["current", "A"])
def test_two_runs_do_not_leak(neo4j_store, two_runs, which):
    from tests.integration import test_query_parity as ref

    a, b = two_runs
    feats, _ = _frames(b)  # node properties: the last load's
    bundle = b if which == "current" else a
    _, edges = _frames(bundle)
    extra = {} if which == "current" else {"runId": RUN_A}
    f = f"{S0}:3"
    for t in RelType:
        if t not in edges:
            continue
        got = run(neo4j_store, "neighbors.top_k", featureId=f, relType=t.value, k=500, **extra)
        want = ref.ref_neighbors_top_k(bundle, feats, edges, f, t.value, k=500)
        ref.assert_frames(got.reset_index(drop=True), want.reset_index(drop=True), f"top_k {t.value}")
        got = run(neo4j_store, "compare.degree_distribution", relType=t.value, saeId=S1, **extra)
        want = ref.ref_compare_degree_distribution(bundle, feats, edges, t.value, S1)
        ref.assert_frames(got, want.reset_index(drop=True), f"degree_distribution {t.value}")
        got = run(neo4j_store, "paths.two_hop_reach", featureId=f, relType=t.value, **extra)
        want = ref.ref_paths_two_hop_reach(bundle, feats, edges, f, t.value)
        ref.assert_frames(got, want, f"two_hop_reach {t.value}")
        for target in (f"{S0}:{i}" for i in (11, 29, 47)):
            got = run(
                neo4j_store, "paths.shortest_unweighted", source=f, target=target, relType=t.value, **extra
            )
            ref.check_paths_shortest_unweighted(got, bundle, feats, edges, f, target, t.value)
        got = neo4j_store.edges(t, S0, run_id=extra.get("runId"))
        mine = edges[t]
        mine = mine[(mine.source.str.startswith(S0 + ":")) | (mine.target.str.startswith(S0 + ":"))]
        assert len(got) == len(mine), t
    got = run(neo4j_store, "universality.match_stats", **extra)
    got = got[got.sourceSae.str.startswith(P)].reset_index(drop=True)
    ref.assert_frames(got, ref.ref_universality_match_stats(bundle, feats, edges), "match_stats")
    # the feature-level reads: ego networks, common neighbours, the card's neighbour lists, matches
    for t in (RelType.CO_ACTIVATES, RelType.LASSO, RelType.COSINE):
        got = run(neo4j_store, "neighbors.ego_network", featureId=f, relType=t.value, **extra)
        want = ref.ref_neighbors_ego_network(bundle, feats, edges, f, t.value)
        ref.assert_frames(got, want.reset_index(drop=True), f"ego_network {t.value}")
        got = run(neo4j_store, "neighbors.common", featureA=f, featureB=f"{S0}:5", relType=t.value, **extra)
        want = ref.ref_neighbors_common(bundle, feats, edges, f, f"{S0}:5", t.value)
        ref.assert_frames(got, want.reset_index(drop=True), f"common {t.value}")
    for name in ("co_activates_of_feature", "lasso_of_feature", "excludes_of_feature"):
        got = run(neo4j_store, f"neighbors.{name}", featureId=f, k=50, **extra)
        want = getattr(ref, f"ref_neighbors_{name}")(bundle, feats, edges, f, k=50)
        ref.assert_frames(got, want.reset_index(drop=True), name)
    got = run(neo4j_store, "universality.matches_of_feature", featureId=f, **extra)
    want = ref.ref_universality_matches_of_feature(bundle, feats, edges, f)
    ref.assert_frames(got, want.reset_index(drop=True), "matches_of_feature")
    # the SAE-level summaries
    for t in (RelType.CO_ACTIVATES, RelType.LASSO, RelType.COSINE):
        got = run(neo4j_store, "compare.weight_summary", relType=t.value, **extra)
        got = got[got.saeId.str.startswith(P)].reset_index(drop=True)
        want = ref.ref_compare_weight_summary(bundle, feats, edges, t.value)
        ref.assert_frames(got, want.reset_index(drop=True), f"weight_summary {t.value}")
    got = run(neo4j_store, "universality.cosine_histogram", saeA=S0, saeB=S1, **extra)
    want = ref.ref_universality_cosine_histogram(bundle, feats, edges, S0, S1)
    ref.assert_frames(got, want.reset_index(drop=True), "cosine_histogram")
    got = run(neo4j_store, "universality.unmatched_features", saeA=S0, saeB=S1, k=500, **extra)
    want = ref.ref_universality_unmatched_features(bundle, feats, edges, S0, S1, k=500)
    ref.assert_frames(got, want.reset_index(drop=True), "unmatched_features")


def test_gds_projection_counts_one_run(neo4j_store, two_runs):
    _, b = two_runs
    co = b.frame("co_activates")
    n = int((co.saeId == S0).sum())
    out = neo4j_store.run_named(
        "gds.project_sae",
        graphName=f"{P}proj",
        saeId=S0,
        relType=RelType.CO_ACTIVATES,
        weightProperty="npmi",
        costProperty="jaccard",
        costTransform="neglog",
    )
    try:
        assert int(out["relationshipCount"].iloc[0]) == 2 * n  # undirected: each pair both ways
        assert int(out["nodeCount"].iloc[0]) == 60
    finally:
        neo4j_store.run_named("gds.drop_graph", graphName=f"{P}proj")


def test_louvain_resolution_refused_on_neo4j(neo4j_store, two_runs):
    source = StoreSource(neo4j_store)
    with pytest.raises(ValueError, match="resolution"):
        engine.communities(source, S0, "CO_ACTIVATES", algorithm="louvain", resolution=0.5)
    out = engine.communities(source, S0, "CO_ACTIVATES", algorithm="louvain")  # the default is honoured
    assert out["info"]["engine"] == "gds"


def test_pagerank_written_normalised(neo4j_store, two_runs):
    source = StoreSource(neo4j_store)
    table = engine.centrality(source, S0, "COSINE")["table"]
    written = source.features(S0).set_index("featureId")["pagerankCosine"]
    assert written.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.allclose(written.loc[table.featureId], table.pagerank, atol=1e-12)


def test_null_inside_a_list_loads(neo4j_store):
    prefix = f"{P}nulls"
    table = pa.table(
        {
            "featureId": [f"{prefix}s0:{i}" for i in range(3)],
            "saeId": [f"{prefix}s0"] * 3,
            "topTokens": pa.array([["a", None, "c"], ["x"], []], pa.list_(pa.string())),
            "topTokenActs": pa.array([[2.0, None, math.nan], [1.0], []], pa.list_(pa.float64())),
        }
    )
    runner = StoreRunner(neo4j_store)
    try:
        runner("_load.merge_nodes", {"label": Label.SAE, "rows": [{"saeId": f"{prefix}s0"}]})
        for rows in batches(table, 10):
            runner("_load.merge_nodes", {"label": Label.FEATURE, "rows": rows})
        got = neo4j_store.features(f"{prefix}s0").set_index("featureId")
        assert len(got) == 3
        first = got.loc[f"{prefix}s0:0"]
        assert list(first.topTokens) == ["a", "", "c"]
        acts = list(first.topTokenActs)
        assert acts[0] == 2.0 and math.isnan(acts[1]) and math.isnan(acts[2])
    finally:
        delete_prefixed(neo4j_store, prefix)


def _operators(store, text: str, params: dict) -> list[tuple[str, str]]:
    """(operator, details) of every step of the statement's plan."""
    with store.driver.session(database=store.database) as session:
        plan = session.run("EXPLAIN " + text, params).consume().plan
    ops: list[tuple[str, str]] = []

    def walk(node) -> None:
        ops.append((node["operatorType"].split("@")[0], str(node.get("args", {}).get("Details", ""))))
        for child in node.get("children", []):
            walk(child)

    walk(plan)
    return ops


@pytest.mark.parametrize(
    "name,params",
    [
        ("_store.features", {"saeId": "x"}),
        ("lookup.search_top_token", {"token": "t", "saeId": "x"}),
        ("centrality.top_pagerank", {"relType": "COSINE", "saeId": "x"}),
        ("centrality.top_strength", {"relType": "COSINE", "saeId": "x"}),
        ("components.sizes", {"relType": "COSINE", "saeId": "x"}),
        ("communities.summary", {"relType": "COSINE", "saeId": "x"}),
        *[(f"_store.edges_{t.table}", {"saeId": "x"}) for t in RelType],
    ],
)
def test_optional_filters_use_the_index(neo4j_store, name, params):
    from saegraph.queries.registry import prepare

    text, values = prepare(name, "neo4j", params)
    ops = _operators(neo4j_store, text, values)
    scans = [(op, d) for op, d in ops if ("Scan" in op or op == "AllNodesScan") and ":Feature" in d]
    assert not scans, (name, ops)  # a scan of the (large) SAE label is fine: a handful of nodes
    seeks = [(op, d) for op, d in ops if "IndexSeek" in op and ":Feature" in d]
    assert seeks, (name, ops)
