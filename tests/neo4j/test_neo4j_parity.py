"""Every named query on Neo4j equals the same pandas / igraph reference as on the embedded store.

The cases and references are tests/integration/test_query_parity.py's, run against a Neo4j
loaded with the same bundle (ids under this session's prefix, so the SAE names ``s0``/``s1``
of the cases become ``<prefix>s0``/``<prefix>s1``). Whole-database queries (no SAE filter)
are compared on this session's rows only: other data on the server is not ours to judge.
"""

from __future__ import annotations

import pytest

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.neo4j import StoreRunner, load_bundle_neo4j
from saegraph.queries import FeatureProperty, RelType, run
from tests.helpers.store_fixtures import make_graph_bundle
from tests.integration import test_query_parity as ref
from tests.neo4j.conftest import delete_prefixed, ids, run_id

pytestmark = pytest.mark.neo4j

P = ids("parity")
_OWN = ("saeId", "sourceSae", "saeA", "runId", "featureId")  # a row is ours when its first such column is


def _prefixed(value):
    if isinstance(value, str) and value[:2] in ("s0", "s1"):
        return P + value
    return value


@pytest.fixture(scope="module")
def env(neo4j_store, tmp_path_factory):
    path = make_graph_bundle(
        tmp_path_factory.mktemp("neo_parity") / "bundle",
        n_saes=2,
        n_features=120,
        seed=3,
        prefix=P,
        run_id=run_id("parity"),
    )
    b = open_bundle(path)
    load_bundle_neo4j(path, StoreRunner(neo4j_store), batch_size=500, progress=False)
    feats = b.frame("features")
    edges = {t: b.frame(t.table) for t in RelType if b.has_table(t.table)}
    for t in ref.GRAPH_TYPES:
        for prop, values in ref.write_back(feats, edges[t]).items():
            neo4j_store.write_feature_property(FeatureProperty.of(prop, t), values)
            feats[FeatureProperty.of(prop, t).value] = feats.featureId.map(
                values.set_index("featureId").value
            )
    yield neo4j_store, b, feats, edges
    delete_prefixed(neo4j_store, P)


@pytest.mark.parametrize("name,params", ref.CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ref.CASES)])
def test_neo4j_query_matches_reference(env, name, params):
    store, b, feats, edges = env
    params = {k: _prefixed(v) for k, v in params.items()}
    got = run(store, name, **params)
    own = next((c for c in _OWN if c in got.columns), None)
    if own is not None and not any(k in params for k in ("saeId", "saeA", "featureId", "featureA", "source")):
        got = got[got[own].astype(str).str.startswith(P)]  # a whole-database query: our rows
    key = name.replace(".", "_")
    if hasattr(ref, "check_" + key):
        getattr(ref, "check_" + key)(got, b, feats, edges, **params)
        return
    want = getattr(ref, "ref_" + key)(b, feats, edges, **params).reset_index(drop=True)
    ref.assert_frames(got.reset_index(drop=True), want, name)
    assert len(want) > 0 or name in ("neighbors.common",), f"{name}: empty reference; the case tests nothing"
