"""Concurrent readers: N threads run the query library while a second run loads.

LadybugDB allows one read-write process, and many readers/threads share one ``Database``
(``EmbeddedStore.reader`` in queries/embedded_store.py). Each reader thread here takes its own connection from
``EmbeddedStore.reader()`` and runs the library's named queries through it. Readers ask
only about run A (filtered by ``runId``), so their answers must be identical every time,
before, during and after the load of run B, and no query may fail -- with run B's
relationship types COPYed one after another and by two threads at once.
"""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.embedded import load_bundle_embedded
from saegraph.queries import RelType, open_store, run
from saegraph.queries.stores import StoreError
from tests.helpers.reliability import store_counts
from tests.helpers.store_fixtures import make_graph_bundle

N_READERS = 4
RUN_B = "20240505T000000-c0ffee00"
# Four readers pin pages while one or two COPY threads fill new ones: the 128 MiB pool of the
# other reliability tests ran full once on a loaded CI machine, so this test gets the demo's.
POOL = 512 << 20


def answers(reader, run_a: str, feature_ids: list[str]) -> dict:
    """Run-A-only answers from the query library, normalised for comparison."""
    out = {}
    for f in feature_ids:
        for rel in ("CO_ACTIVATES", "LASSO", "COSINE"):
            top = run(reader, "neighbors.top_k", featureId=f, relType=rel, k=5, runId=run_a)
            out[("top_k", f, rel)] = sorted(zip(top["neighborId"], top["weight"].round(12)))
    for rel in RelType:
        e = reader.edges(rel, run_id=run_a)
        out[("edges", rel.value)] = sorted(zip(e["source"], e["target"]))
    ov = run(reader, "lookup.sae_overview")
    out["overview"] = sorted(zip(ov["saeId"], ov["dSae"], ov["nFeatures"]))
    return out


@pytest.mark.parametrize("copy_threads", [1, 2])
def test_readers_see_a_consistent_run_while_another_loads(tmp_path, copy_threads):
    a = make_graph_bundle(tmp_path / "a", n_saes=2, n_features=60, seed=31)
    b = make_graph_bundle(tmp_path / "b", n_saes=2, n_features=60, seed=32, run_id=RUN_B)
    run_a = open_bundle(a).run_id
    probe = ["s0:0", "s0:7", "s1:3", "s1:20"]
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        with store.reader() as first_reader:
            reference = answers(first_reader, run_a, probe)
        assert all(reference[("edges", t.value)] for t in RelType), "reference must not be empty"

        loading = threading.Event()
        loaded = threading.Event()
        errors: list[BaseException] = []
        rounds_during_load = [0] * N_READERS
        rounds = [0] * N_READERS
        mismatches: list[tuple[int, int]] = []

        def reader(k: int) -> None:
            r = store.reader()
            try:
                loading.wait(30)
                while not loaded.is_set() or rounds[k] < 3:
                    during = not loaded.is_set()
                    got = answers(r, run_a, probe)
                    if got != reference:
                        mismatches.append((k, rounds[k]))
                    rounds[k] += 1
                    rounds_during_load[k] += during
            except BaseException as exc:
                errors.append(exc)
            finally:
                r.close()

        threads = [threading.Thread(target=reader, args=(k,)) for k in range(N_READERS)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        loading.set()
        try:
            load_bundle_embedded(b, store, progress=False, max_workers=copy_threads)
        finally:
            loaded.set()
            load_seconds = time.perf_counter() - t0
            for t in threads:
                t.join(120)
        assert not errors, f"reader errors: {errors[:3]}"
        assert not mismatches, f"inconsistent answers (reader, round): {mismatches[:5]}"
        assert sum(rounds_during_load) >= 1, f"no reader round overlapped the {load_seconds:.2f} s load"
        assert run(store, "lookup.runs").set_index("runId")["complete"].to_dict() == {
            run_a: True,
            RUN_B: True,
        }
        counts = store_counts(store)
        for t in RelType:
            assert (
                counts[t.value]
                == open_bundle(a).table(t.table).num_rows + open_bundle(b).table(t.table).num_rows
            )
        with store.reader() as last_reader:
            assert answers(last_reader, run_a, probe) == reference


def test_reader_is_read_only_and_closes_cleanly(tmp_path):
    a = make_graph_bundle(tmp_path / "a", n_saes=1, n_features=30, seed=33)
    with open_store(store_dir=tmp_path / "db", buffer_pool_size=POOL) as store:
        load_bundle_embedded(a, store, progress=False)
        with store.reader() as reader:
            assert reader.kind == "embedded"
            assert len(reader.features()) == len(store.features()) == 30
            with pytest.raises(StoreError, match="read-only"):
                reader.write_feature_property(
                    "communityLasso", pd.DataFrame({"featureId": ["s0:1"], "value": [1]})
                )
        with pytest.raises(StoreError, match="closed"):
            reader.run("MATCH (f:Feature) RETURN count(f) AS n")
        assert (
            store.run("MATCH (f:Feature) RETURN count(f) AS n")["n"].iloc[0] == 30
        )  # the store is unaffected
