"""Embedded LadybugDB store: load, idempotent re-load, runs kept apart, write-back, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from ingest.bundle import open_bundle
from ingest.stores.embedded import load_bundle_embedded
from queries import FeatureProperty, RelType, open_store, run
from queries.stores import StoreError
from store_fixtures import make_graph_bundle

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


def test_write_back_and_read_only_reopen(tmp_path, bundles):
    a, _ = bundles
    path = tmp_path / "db"
    with open_store(store_dir=path, buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        feats = store.features("s0")
        n = store.write_feature_property(FeatureProperty.COMMUNITY_LASSO,
                                         pd.DataFrame({"featureId": feats.featureId, "value": feats["index"] % 3}))
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
