"""Embedded LadybugDB store: load, idempotent re-load, runs kept apart, write-back, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.embedded import load_bundle_embedded
from saegraph.queries import FeatureProperty, RelType, open_store, run
from saegraph.queries.stores import StoreError
from tests.helpers.store_fixtures import make_graph_bundle

POOL = 128 * 1024 * 1024


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("emb")
    a = make_graph_bundle(root / "a", n_saes=2, n_features=50, seed=4)
    b = make_graph_bundle(root / "b", n_saes=2, n_features=50, seed=5, run_id="20240202T000000-12345678")
    return a, b


def _counts(store):
    return {t: len(store.edges(t)) for t in RelType} | {"features": len(store.features())}


def test_load_matches_bundle_and_reload_is_idempotent(tmp_path, bundles):
    a, _ = bundles
    ba = open_bundle(a)
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        report = load_bundle_embedded(a, store, progress=False)
        first = _counts(store)
        assert first == {t: ba.table(t.table).num_rows for t in RelType} | {"features": 100}
        assert report.n_relationships == sum(first[t] for t in RelType)
        load_bundle_embedded(a, store, progress=False)
        assert _counts(store) == first
        got = store.edges(RelType.COSINE).sort_values(["source", "target"]).reset_index(drop=True)
        want = ba.frame("cosine").sort_values(["source", "target"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got[want.columns.tolist()], want, check_dtype=False)
        assert run(store, "lookup.runs")["complete"].tolist() == [True]


def test_two_runs_stay_apart_by_run_id(tmp_path, bundles):
    a, b = bundles
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        load_bundle_embedded(b, store, progress=False)
        ra, rb = open_bundle(a).run_id, open_bundle(b).run_id
        for t in RelType:
            assert len(store.edges(t, run_id=ra)) == open_bundle(a).table(t.table).num_rows
            assert len(store.edges(t, run_id=rb)) == open_bundle(b).table(t.table).num_rows
        assert len(store.features()) == 100  # feature nodes are shared by id
        assert len(run(store, "lookup.runs")) == 2
        load_bundle_embedded(a, store, progress=False)  # re-loading run a leaves run b intact
        assert len(store.edges(RelType.LASSO, run_id=rb)) == open_bundle(b).table("lasso").num_rows


def test_shortest_path_walks_one_run(tmp_path, bundles):
    """paths.shortest_unweighted walks only the current run's (or runId's) relationships."""
    from tests.integration import test_query_parity as ref

    a, b = bundles
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        load_bundle_embedded(b, store, progress=False)  # b is now the current run
        for bundle, extra in ((open_bundle(b), {}), (open_bundle(a), {"runId": open_bundle(a).run_id})):
            feats = bundle.frame("features")
            edges = {t: bundle.frame(t.table) for t in RelType}
            for t in (RelType.CO_ACTIVATES, RelType.LASSO, RelType.COSINE):
                for target in ("s0:9", "s0:23", "s0:41", "s1:2"):
                    got = run(
                        store,
                        "paths.shortest_unweighted",
                        source="s0:1",
                        target=target,
                        relType=t.value,
                        **extra,
                    )
                    ref.check_paths_shortest_unweighted(got, bundle, feats, edges, "s0:1", target, t.value)


def test_flow_traces_through_three_layers(tmp_path):
    """flow.trace_forward / trace_backward follow FLOWS_TO across layers 0 -> 1 -> 2."""
    from tests.integration import test_query_parity as ref

    path = make_graph_bundle(tmp_path / "b", n_saes=3, n_features=40, seed=9)
    b = open_bundle(path)
    edges = {t: b.frame(t.table) for t in RelType}
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        load_bundle_embedded(path, store, progress=False)
        deepest = 0
        for i in range(10):
            got = run(store, "flow.trace_forward", featureId=f"s0:{i}", minCosine=0.3)
            want = ref.ref_flow_trace_forward(b, None, edges, f"s0:{i}", minCosine=0.3)
            ref.assert_frames(got, want, f"trace_forward s0:{i}")
            deepest = max(deepest, int(got["hops"].max()))
            got = run(store, "flow.trace_backward", featureId=f"s2:{i}", hops=2, minCosine=0.3)
            want = ref.ref_flow_trace_backward(b, None, edges, f"s2:{i}", hops=2, minCosine=0.3)
            ref.assert_frames(got, want, f"trace_backward s2:{i}")
        assert deepest == 2, "features 0-9 continue through both steps: the trace reaches layer 2"


def test_write_back_and_read_only_reopen(tmp_path, bundles):
    a, _ = bundles
    path = tmp_path / "db"
    with open_store(store_dir=path, buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        feats = store.features("s0")
        n = store.write_feature_property(
            FeatureProperty.COMMUNITY_LASSO,
            pd.DataFrame({"featureId": feats.featureId, "value": feats["index"] % 3}),
        )
        assert n == 50
        with pytest.raises(ValueError, match="featureId, value"):
            store.write_feature_property(FeatureProperty.PAGERANK_LASSO, pd.DataFrame({"id": ["s0:1"]}))
    with open_store(store_dir=path, read_only=True, buffer_pool_size=POOL) as ro:
        summary = run(ro, "communities.summary", relType="LASSO")
        assert sorted(summary["size"].tolist()) == [16, 17, 17]
        assert ro.features("s1")["communityLasso"].isna().all()


def test_read_only_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="load a bundle first"):
        open_store(store_dir=tmp_path / "nope", read_only=True)


def test_reload_of_the_only_run_empties_its_tables_and_reloads_exactly(tmp_path, bundles):
    from saegraph.ingest.stores.embedded import _remove_run_relationships

    a, b = bundles
    ba = open_bundle(a)
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        feats = store.features("s0")
        store.write_feature_property(
            FeatureProperty.COMMUNITY_LASSO,
            pd.DataFrame({"featureId": feats.featureId, "value": feats["index"] % 3}),
        )
        assert _remove_run_relationships(store, ba.run_id) == "clear"
        assert all(len(store.edges(t)) == 0 for t in RelType)
        report = load_bundle_embedded(a, store, progress=False)
        assert _counts(store) == {t: ba.table(t.table).num_rows for t in RelType} | {"features": 100}
        assert report.rel_cpu_seconds > 0 and set(report.steps) >= {
            "remove previous",
            *(t.value for t in RelType),
        }
        assert store.features("s0")["communityLasso"].notna().all()  # node write-back survives a re-load
        assert len(run(store, "neighbors.top_k", featureId="s0:0", relType="CO_ACTIVATES", k=3)) > 0
        load_bundle_embedded(b, store, progress=False)
        assert _remove_run_relationships(store, ba.run_id) == "delete"  # another run present: row-wise delete
        assert (
            len(store.edges(RelType.COSINE, run_id=open_bundle(b).run_id))
            == open_bundle(b).table("cosine").num_rows
        )
        assert len(store.edges(RelType.COSINE, run_id=ba.run_id)) == 0


def test_a_rel_table_dropped_by_a_crash_is_recreated_on_open(tmp_path, bundles):
    a, _ = bundles
    path = tmp_path / "db"
    with open_store(store_dir=path, buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        store.conn.execute(
            "DROP TABLE LASSO"
        )  # a table lost outside the loader (clear_rel_table is one transaction)
    with open_store(store_dir=path, buffer_pool_size=POOL) as store:
        assert len(store.edges(RelType.LASSO)) == 0
        load_bundle_embedded(a, store, progress=False)
        assert len(store.edges(RelType.LASSO)) == open_bundle(a).table("lasso").num_rows
        with pytest.raises(ValueError, match="not a relationship table"):
            store.clear_rel_table("Feature")
        with pytest.raises(ValueError, match="unknown table"):
            store.clear_rel_table("Nope")
