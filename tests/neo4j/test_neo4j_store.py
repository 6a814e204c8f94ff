"""Against a real Neo4j (NEO4J_URI set): schema, load, idempotent re-load, query parity with embedded."""

from __future__ import annotations

import os

import pytest

from saegraph.ingest.stores.embedded import load_bundle_embedded
from saegraph.ingest.stores.neo4j import StoreRunner, load_bundle_neo4j
from saegraph.queries import RelType, open_store
from tests.helpers.store_fixtures import make_graph_bundle

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("neo")
    bundle = make_graph_bundle(
        root / "bundle", n_saes=2, n_features=80, seed=7, run_id="20990101T000000-deadbeef"
    )
    neo = open_store(neo4j_uri=os.environ["NEO4J_URI"])
    load_bundle_neo4j(bundle, StoreRunner(neo), batch_size=100, apply_schema=neo.apply_schema, progress=False)
    emb = open_store(store_dir=root / "db", buffer_pool_size=128 * 1024 * 1024)
    load_bundle_embedded(bundle, emb, progress=False)
    yield bundle, neo, emb
    emb.close()
    neo.close()


def test_reload_is_idempotent(stores):
    bundle, neo, _ = stores
    before = {t: len(neo.edges(t, run_id="20990101T000000-deadbeef")) for t in RelType}
    load_bundle_neo4j(bundle, StoreRunner(neo), batch_size=100, progress=False)
    assert {t: len(neo.edges(t, run_id="20990101T000000-deadbeef")) for t in RelType} == before


@pytest.mark.parametrize(
    "name,params",
    [
        ("neighbors.top_k", {"featureId": "s0:3", "relType": "CO_ACTIVATES", "k": 5}),
        ("compare.degree_distribution", {"relType": "LASSO", "saeId": "s1"}),
        ("universality.match_stats", {}),
        ("paths.two_hop_reach", {"featureId": "s0:3", "relType": "COSINE"}),
    ],
)
def test_neo4j_text_matches_embedded(stores, name, params):
    from saegraph.queries import run

    _, neo, emb = stores
    a, b = run(neo, name, **params), run(emb, name, **params)
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for col in a.columns:
        assert [str(x) for x in a[col]] == [str(x) for x in b[col]] or a[col].astype(float).round(
            9
        ).tolist() == b[col].astype(float).round(9).tolist()
