"""Neo4j loader against a fake runner that records (query name, parameters)."""

from __future__ import annotations

import pytest
from neo4j.exceptions import ClientError, TransientError

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.common import LoadInterrupted
from saegraph.ingest.stores.neo4j import load_bundle_neo4j
from saegraph.queries.registry import get_query
from saegraph.schema.graph import Label, RelType
from tests.helpers.store_fixtures import make_graph_bundle

MERGES = ("_load.merge_rels", "_load.merge_rels_by_method")


class FakeRunner:
    def __init__(self, fail_first: dict[str, list[Exception]] | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.fail_first = fail_first or {}

    def __call__(self, name, params):
        get_query(name)  # every statement the loader sends must exist in the library
        pending = self.fail_first.get(name)
        if pending:
            raise pending.pop(0)
        self.calls.append((name, params))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_graph_bundle(tmp_path_factory.mktemp("b") / "bundle", n_saes=2, n_features=60, seed=1)


def test_nodes_before_relationships_and_run_completed_last(bundle):
    runner = FakeRunner()
    load_bundle_neo4j(bundle, runner, batch_size=25, progress=False, sleep=lambda s: None)
    names = [n for n, _ in runner.calls]
    first_rel = min(names.index(n) for n in MERGES if n in names)
    assert all(n != "_load.merge_nodes" for n in names[first_rel:])
    labels = [p["label"] for n, p in runner.calls if n == "_load.merge_nodes"]
    assert labels.index(Label.RUN) < labels.index(Label.FEATURE)
    assert names[-1] == "_load.set_run_complete" and runner.calls[-1][1]["complete"] is True


def test_batches_cover_every_row_once(bundle):
    b = open_bundle(bundle)
    runner = FakeRunner()
    report = load_bundle_neo4j(bundle, runner, batch_size=25, progress=False)
    feature_rows = [
        r
        for n, p in runner.calls
        if n == "_load.merge_nodes" and p["label"] is Label.FEATURE
        for r in p["rows"]
    ]
    assert sorted(r["featureId"] for r in feature_rows) == sorted(
        b.table("features")["featureId"].to_pylist()
    )
    assert all(len(p["rows"]) <= 25 for n, p in runner.calls if "rows" in p)
    for rel in RelType:
        rows = [r for n, p in runner.calls if n in MERGES and p["relType"] is rel for r in p["rows"]]
        assert len(rows) == b.table(rel.table).num_rows == report.relationships[rel.value]
        assert all(
            r["runId"] == b.run_id and "source" not in r["props"] and "runId" in r["props"] for r in rows
        )
        by_method = [
            r
            for n, p in runner.calls
            if n == "_load.merge_rels_by_method" and p["relType"] is rel
            for r in p["rows"]
        ]
        # the key includes the method exactly when the row has one (MATCHES: hungarian/mnn and parent)
        assert all(r["props"]["method"] is not None for r in by_method)
        assert len(by_method) == (
            b.table(rel.table).num_rows if "method" in b.table(rel.table).column_names else 0
        )


def test_provenance_run_node_and_links(bundle):
    b = open_bundle(bundle)
    runner = FakeRunner()
    load_bundle_neo4j(bundle, runner, batch_size=1000, progress=False)
    run_rows = [p["rows"] for n, p in runner.calls if n == "_load.merge_nodes" and p["label"] is Label.RUN]
    assert run_rows == [[{**run_rows[0][0], "runId": b.run_id, "complete": False}]]
    produced = [p for n, p in runner.calls if n == "_load.merge_produced"]
    assert produced == [{"runId": b.run_id, "saeIds": b.sae_ids}]
    assert [n for n, _ in runner.calls].count("_load.merge_used") == 1


def test_reload_sends_identical_merges(bundle):
    a, b = FakeRunner(), FakeRunner()
    load_bundle_neo4j(bundle, a, batch_size=40, progress=False)
    load_bundle_neo4j(bundle, b, batch_size=40, progress=False)
    assert a.calls == b.calls  # MERGE on ids: the same statements, so a re-load changes nothing


def test_transient_errors_are_retried_with_backoff(bundle):
    sleeps: list[float] = []
    runner = FakeRunner({"_load.merge_rels": [TransientError("deadlock"), TransientError("deadlock")]})
    load_bundle_neo4j(bundle, runner, batch_size=1000, progress=False, sleep=sleeps.append, backoff=0.5)
    assert sleeps == [0.5, 1.0]
    assert sum(1 for n, _ in runner.calls if n in MERGES) == len(RelType)


def test_non_transient_error_stops_the_load(bundle):
    runner = FakeRunner({"_load.merge_rels": [ClientError("syntax")]})
    with pytest.raises(ClientError):
        load_bundle_neo4j(bundle, runner, progress=False, sleep=lambda s: None)
    assert "_load.set_run_complete" not in [n for n, _ in runner.calls]


def test_retries_give_up_after_the_limit(bundle):
    runner = FakeRunner({"_load.merge_nodes": [TransientError("x")] * 3})
    with pytest.raises(LoadInterrupted, match="gave up after 2 retries at Model batch 1") as info:
        load_bundle_neo4j(bundle, runner, progress=False, retries=2, sleep=lambda s: None)
    assert isinstance(info.value.__cause__, TransientError)


def test_bad_batch_size(bundle):
    with pytest.raises(ValueError, match="batch_size"):
        load_bundle_neo4j(bundle, FakeRunner(), batch_size=0)
