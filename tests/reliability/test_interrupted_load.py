"""Interrupted embedded loads, idempotent re-loads, and two runs side by side.

- An exception injected into any one COPY of the loader (nodes, structural links,
  feature-to-feature relationships), then a re-load: counts equal the bundle's, no
  duplicate nodes or relationships, the run marked complete.
- A real ``kill -9`` of ``python -m saegraph load`` in the middle of the relationship COPYs,
  then a re-load through the CLI: the same. With one COPY thread the COPYs committed before
  the kill are all there; with two (parallel COPYs, checkpointed together at the end) each
  table holds all of its rows or none, and the run is incomplete either way.
- Loading the same bundle twice changes nothing; two bundles with different runIds keep
  both runs' relationships apart (features shared by id).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.embedded import load_bundle_embedded
from saegraph.queries import RelType, open_store, run
from saegraph.queries.stores import EmbeddedStore
from tests.helpers.reliability import POOL, cli_env, distinct_rel_keys, run_cli, store_counts
from tests.helpers.store_fixtures import make_graph_bundle

RUN_B = "20240303T000000-0badc0de"
COPY_TABLES = (
    "Feature",
    "IN_SAE",
    "OF_MODEL",  # a failure between the node and link COPYs: the links come back
    "PRODUCED",
    "CO_ACTIVATES",
    "MATCHES",
)


class InjectedFailure(RuntimeError):
    pass


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("load")
    a = make_graph_bundle(root / "a", n_saes=2, n_features=40, seed=11)
    b = make_graph_bundle(root / "b", n_saes=2, n_features=40, seed=12, run_id=RUN_B)
    return a, b


def expected_counts(*bundle_paths) -> dict[str, int]:
    """What a store holding exactly these bundles must count (features / SAEs shared by id)."""
    bundles = [open_bundle(p) for p in bundle_paths]
    features = {f for b in bundles for f in b.table("features")["featureId"].to_pylist()}
    saes = {s for b in bundles for s in b.sae_ids}
    out = {
        "Model": len({m for b in bundles for m in b.table("models")["modelId"].to_pylist()}),
        "SAE": len(saes),
        "Dataset": len({b.table("datasets")["datasetId"][0].as_py() for b in bundles}),
        "Run": len(bundles),
        "Feature": len(features),
        "IN_SAE": len(features),
        "OF_MODEL": len(saes),
        "PRODUCED": sum(len(b.sae_ids) for b in bundles),
        "USED": len(bundles),
    }
    for rel in RelType:
        out[rel.value] = sum(b.table(rel.table).num_rows for b in bundles)
    return out


def assert_no_duplicates(store) -> None:
    for label, key in (("Feature", "featureId"), ("SAE", "saeId"), ("Run", "runId")):
        ids = store.run(f"MATCH (n:{label}) RETURN n.{key} AS id")["id"]
        assert ids.is_unique, f"duplicate {label} ids"
    for rel in RelType:
        total, distinct = distinct_rel_keys(store, rel.value)
        assert total == distinct, (
            f"{rel.value}: {total} relationships but {distinct} distinct (source, target, runId)"
        )


def assert_complete(store, *bundle_paths) -> None:
    assert store_counts(store) == expected_counts(*bundle_paths)
    assert_no_duplicates(store)
    assert run(store, "lookup.runs")["complete"].tolist() == [True] * len(bundle_paths)


@pytest.mark.parametrize("fail_at", COPY_TABLES)
def test_failed_copy_then_reload_is_exact(tmp_path, bundles, monkeypatch, fail_at):
    a, _ = bundles
    real_copy = EmbeddedStore.copy_from

    def failing_copy(self, table, data):
        if table == fail_at:
            raise InjectedFailure(f"injected failure in COPY {table}")
        return real_copy(self, table, data)

    with monkeypatch.context() as m:
        m.setattr(EmbeddedStore, "copy_from", failing_copy)
        with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
            with pytest.raises(InjectedFailure):
                load_bundle_embedded(a, store, progress=False)
            assert run(store, "lookup.runs")["complete"].tolist() == [False]
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        assert_complete(store, a)


KILLER = textwrap.dedent("""
    import os, signal, sys
    from saegraph.queries.stores import EmbeddedStore
    real = EmbeddedStore.copy_from
    def copy_then_die(self, table, data):
        real(self, table, data)
        if table == "LASSO":  # CO_ACTIVATES and LASSO committed, COSINE and MATCHES not yet
            os.kill(os.getpid(), signal.SIGKILL)
    EmbeddedStore.copy_from = copy_then_die
    from saegraph.cli import main
    sys.argv = ["saegraph", "load", sys.argv[1], "--store", sys.argv[2], "--no-progress", "--threads", sys.argv[3]]
    main()
""")


@pytest.mark.parametrize("threads", [1, 2])
def test_kill9_mid_load_then_cli_reload(tmp_path, bundles, threads):
    a, _ = bundles
    db = tmp_path / "db"
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(a), str(db), str(threads)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with open_store(store_dir=db, read_only=True, buffer_pool_size=POOL) as store:
        partial = store_counts(store)
        full = expected_counts(a)
        if threads == 1:
            assert partial["LASSO"] == full["LASSO"]  # the kill came mid-load
            assert partial["COSINE"] == 0 and partial["MATCHES"] == 0
        else:
            assert all(partial[rel.value] in (0, full[rel.value]) for rel in RelType), partial
        assert run(store, "lookup.runs")["complete"].tolist() == [False]
    done = run_cli("load", a, "--store", db, "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    with open_store(store_dir=db, read_only=True, buffer_pool_size=POOL) as store:
        assert_complete(store, a)


def test_loading_twice_is_idempotent(tmp_path, bundles):
    a, _ = bundles
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        first = store_counts(store)
        edges_first = {
            t: store.edges(t).sort_values(["source", "target"]).reset_index(drop=True) for t in RelType
        }
        load_bundle_embedded(a, store, progress=False)
        assert store_counts(store) == first
        assert_complete(store, a)
        for t in RelType:
            again = store.edges(t).sort_values(["source", "target"]).reset_index(drop=True)
            assert again.equals(edges_first[t]), t


def test_two_runs_kept_apart_by_run_id(tmp_path, bundles):
    a, b = bundles
    ra, rb = open_bundle(a), open_bundle(b)
    assert ra.run_id != rb.run_id
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        load_bundle_embedded(b, store, progress=False)
        assert_complete(store, a, b)
        for t in RelType:
            for bundle in (ra, rb):
                got = store.edges(t, run_id=bundle.run_id)
                want = bundle.frame(t.table)
                assert len(got) == len(want), (t, bundle.run_id)
                assert set(zip(got.source, got.target)) == set(zip(want.source, want.target)), (
                    t,
                    bundle.run_id,
                )
        load_bundle_embedded(b, store, progress=False)  # re-loading one run leaves the other intact
        assert_complete(store, a, b)
        assert sorted(run(store, "lookup.runs")["runId"]) == sorted([ra.run_id, rb.run_id])
