"""Parallel relationship COPYs of the embedded loader (step 5 of saegraph.ingest.stores.embedded).

- Loading with several COPY threads gives exactly the rows of a one-thread load: every
  relationship table's count and every property of every row, for a first run (empty
  tables, emptied at once) and for a second run beside it (rows appended to full tables).
- An exception inside one worker thread reaches the caller unchanged, after every started
  COPY has ended; the ``:Run`` stays ``complete = false``, auto-checkpoint is back on, no
  worker thread is left, and a re-load is exact. An engine error (an endpoint missing from
  the store) reads the same with one thread and with four.
"""

from __future__ import annotations

import threading

import pandas as pd
import pyarrow as pa
import pytest

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores import embedded
from saegraph.ingest.stores.embedded import load_bundle_embedded
from saegraph.queries import RelType, open_store, run
from saegraph.queries.stores import EmbeddedStore
from tests.helpers.store_fixtures import make_graph_bundle

POOL = 128 * 1024 * 1024
RUN_B = "20240606T000000-beadfeed"


class InjectedFailure(RuntimeError):
    pass


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("parallel")
    a = make_graph_bundle(root / "a", n_saes=3, n_features=60, seed=21)
    b = make_graph_bundle(root / "b", n_saes=3, n_features=60, seed=22, run_id=RUN_B)
    return a, b


def snapshot(store) -> dict:
    """Every relationship row with every property (sorted), the features, and the runs."""
    out = {}
    runs = run(store, "lookup.runs")["runId"].tolist()
    for rel in RelType:  # every run's rows (a read without runId answers for each SAE's current run)
        frame = pd.concat([store.edges(rel, run_id=r) for r in runs], ignore_index=True)
        out[rel.value] = frame.sort_values(["runId", "source", "target"]).reset_index(drop=True)
    out["features"] = store.features().reset_index(drop=True)
    out["runs"] = run(store, "lookup.runs")[["runId", "complete"]].sort_values("runId").reset_index(drop=True)
    return out


def load_both(tmp_path, bundles, workers: int) -> tuple[dict, dict, list]:
    a, b = bundles
    with open_store(store_dir=tmp_path / f"db{workers}", buffer_pool_size=POOL) as store:
        reports = [load_bundle_embedded(a, store, progress=False, max_workers=workers)]
        first = snapshot(store)
        reports.append(load_bundle_embedded(b, store, progress=False, max_workers=workers))
        return first, snapshot(store), reports


def copy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("saegraph-copy")]


def test_parallel_load_gives_exactly_the_rows_of_a_sequential_load(tmp_path, bundles):
    seq_first, seq_both, seq_reports = load_both(tmp_path, bundles, workers=1)
    par_first, par_both, par_reports = load_both(tmp_path, bundles, workers=4)
    assert [r.copy_threads for r in seq_reports] == [1, 1]
    assert [r.copy_threads for r in par_reports] == [4, 4]
    for seq, par in ((seq_first, par_first), (seq_both, par_both)):
        assert seq.keys() == par.keys()
        for key in seq:
            assert seq[key].equals(par[key]), key
    for rel in RelType:  # and both equal the bundles
        assert len(par_both[rel.value]) == sum(open_bundle(p).table(rel.table).num_rows for p in bundles)
    assert par_both["runs"]["complete"].tolist() == [True, True]
    for report, path in zip(par_reports, bundles):
        assert report.relationships == {
            rel.value: open_bundle(path).table(rel.table).num_rows for rel in RelType
        }
        assert report.rel_seconds > 0 and report.rel_cpu_seconds > 0
        assert all(report.steps[rel.value] <= report.rel_seconds for rel in RelType)
    assert not copy_threads()


def auto_checkpoint(store) -> str:
    return str(store.run("CALL current_setting('auto_checkpoint') RETURN *").iloc[0, 0]).lower()


def test_error_in_one_worker_propagates_and_leaves_the_run_incomplete(tmp_path, bundles, monkeypatch):
    a, _ = bundles
    real_copy = EmbeddedStore.copy_from
    seen: dict[str, str] = {}

    def failing_copy(self, table, data):
        seen[table] = threading.current_thread().name
        if table == "LASSO":
            raise InjectedFailure("injected failure in COPY LASSO")
        return real_copy(self, table, data)

    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        with monkeypatch.context() as m:
            m.setattr(EmbeddedStore, "copy_from", failing_copy)
            with pytest.raises(InjectedFailure, match="COPY LASSO"):
                load_bundle_embedded(a, store, progress=False, max_workers=2)
        assert seen["LASSO"].startswith("saegraph-copy")  # it failed inside a worker thread
        assert not copy_threads()
        assert run(store, "lookup.runs")["complete"].tolist() == [False]
        assert auto_checkpoint(store) == "true"
        assert len(store.edges(RelType.LASSO)) == 0
        load_bundle_embedded(a, store, progress=False, max_workers=2)
        for rel in RelType:
            assert len(store.edges(rel)) == open_bundle(a).table(rel.table).num_rows, rel
        assert run(store, "lookup.runs")["complete"].tolist() == [True]


def test_two_failing_workers_raise_the_first_with_the_other_as_a_note(tmp_path, bundles, monkeypatch):
    a, _ = bundles

    def failing_copy(self, table, data):
        if table in ("LASSO", "MATCHES"):
            raise InjectedFailure(f"injected failure in COPY {table}")
        return real_copy(self, table, data)

    real_copy = EmbeddedStore.copy_from
    monkeypatch.setattr(EmbeddedStore, "copy_from", failing_copy)
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        with pytest.raises(InjectedFailure) as info:
            load_bundle_embedded(a, store, progress=False, max_workers=4)
        failed = {str(info.value).rsplit(" ", 1)[-1]} | {
            n.split()[1] for n in getattr(info.value, "__notes__", [])
        }
        assert failed == {"LASSO", "MATCHES"}
        assert run(store, "lookup.runs")["complete"].tolist() == [False]


@pytest.mark.parametrize("workers", [1, 4])
def test_engine_error_reads_the_same_with_one_thread_and_four(tmp_path, bundles, monkeypatch, workers):
    a, _ = bundles
    real_rel_table = embedded.rel_table

    def bad_endpoint(bundle, rel):
        table = real_rel_table(bundle, rel)
        if rel is RelType.COSINE:  # point one relationship at a feature the store does not hold
            target = table.column("target").to_pylist()
            table = table.set_column(1, "target", pa.array(["s9:404", *target[1:]]))
        return table

    monkeypatch.setattr(embedded, "rel_table", bad_endpoint)
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        with pytest.raises(RuntimeError, match="s9:404") as info:
            load_bundle_embedded(a, store, progress=False, max_workers=workers)
        assert type(info.value) is RuntimeError  # the engine's own error, as from a one-thread load
        assert run(store, "lookup.runs")["complete"].tolist() == [False]
        assert len(store.edges(RelType.COSINE)) == 0
