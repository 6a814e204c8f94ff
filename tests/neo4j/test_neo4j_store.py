"""Against a real Neo4j (NEO4J_URI set): schema, load, idempotent re-load, query parity with embedded."""

from __future__ import annotations

import pytest

from saegraph.ingest.stores.embedded import load_bundle_embedded
from saegraph.ingest.stores.neo4j import StoreRunner, load_bundle_neo4j
from saegraph.queries import RelType, open_store
from tests.helpers.store_fixtures import make_graph_bundle
from tests.neo4j.conftest import delete_prefixed, ids, run_id

P = ids("store")
RUN = run_id("store")

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def stores(tmp_path_factory, neo4j_store):
    root = tmp_path_factory.mktemp("neo")
    bundle = make_graph_bundle(root / "bundle", n_saes=2, n_features=80, seed=7, run_id=RUN, prefix=P)
    neo = neo4j_store
    load_bundle_neo4j(bundle, StoreRunner(neo), batch_size=100, apply_schema=neo.apply_schema, progress=False)
    emb = open_store(store_dir=root / "db", buffer_pool_size=128 * 1024 * 1024)
    load_bundle_embedded(bundle, emb, progress=False)
    yield bundle, neo, emb
    emb.close()
    delete_prefixed(neo, P)


def test_reload_is_idempotent(stores):
    bundle, neo, _ = stores
    before = {t: len(neo.edges(t, run_id=RUN)) for t in RelType}
    load_bundle_neo4j(bundle, StoreRunner(neo), batch_size=100, progress=False)
    assert {t: len(neo.edges(t, run_id=RUN)) for t in RelType} == before


@pytest.mark.parametrize(
    "name,params",
    [
        ("neighbors.top_k", {"featureId": f"{P}s0:3", "relType": "CO_ACTIVATES", "k": 5}),
        ("compare.degree_distribution", {"relType": "LASSO", "saeId": f"{P}s1"}),
        ("universality.match_stats", {}),
        ("paths.two_hop_reach", {"featureId": f"{P}s0:3", "relType": "COSINE"}),
    ],
)
def test_neo4j_text_matches_embedded(stores, name, params):
    from saegraph.queries import run

    _, neo, emb = stores
    a, b = run(neo, name, **params), run(emb, name, **params)
    if "sourceSae" in a.columns:  # a whole-database query: this session's rows only
        a = a[a.sourceSae.str.startswith(P)].reset_index(drop=True)
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for col in a.columns:
        assert [str(x) for x in a[col]] == [str(x) for x in b[col]] or a[col].astype(float).round(
            9
        ).tolist() == b[col].astype(float).round(9).tolist()
