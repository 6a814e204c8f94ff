"""The Neo4j loader when the server goes away mid-load (unit version, no server).

``FakeNeo4j`` is a runner that applies the loader's named statements with MERGE semantics
to in-memory dicts (nodes keyed by label + id, relationships by type + source + target +
runId) and can become unreachable (``ServiceUnavailable``) after k batches, for a while or
for good. Proven here: transient outages are retried with exponential backoff and the load
completes exactly; when the server stays down the loader gives up after ``retries`` with a
``LoadInterrupted`` that names the last committed batch, and a re-run continues after it
(from the resume record on the ``:Run`` node, so committed batches are not sent again) and
completes the load with no duplicates.
"""

from __future__ import annotations

import pytest
from neo4j.exceptions import ServiceUnavailable

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.common import LoadInterrupted
from saegraph.ingest.stores.neo4j import PROGRESS_KEYS, load_bundle_neo4j
from saegraph.queries.registry import get_query
from saegraph.schema.graph import Label, RelType
from tests.helpers.store_fixtures import make_graph_bundle

BATCH = 30


class FakeNeo4j:
    """In-memory MERGE store; ``down_after`` successful batches it refuses ``down_for`` calls."""

    def __init__(self, down_after: int | None = None, down_for: int = 0):
        self.nodes: dict[tuple[str, str], dict] = {}
        self.rels: dict[tuple[str, str, str, str], dict] = {}
        self.links: set[tuple] = set()
        self.committed = 0
        self.down_after, self.down_for = down_after, down_for
        self.refused = 0
        self.rows_sent = 0  # rows of merge statements received (PRODUCED / USED count 1)
        self.last_merge: str | None = None  # label / type of the last merge statement applied

    def __call__(self, name: str, params: dict):
        get_query(name)  # the statement must exist in the library
        if self.down_after is not None and self.committed >= self.down_after and self.refused < self.down_for:
            self.refused += 1
            raise ServiceUnavailable("connection refused (server unreachable)")
        result = None
        if name.startswith("_load.merge_"):
            self.rows_sent += len(params.get("rows", [None]))
            self.last_merge = {
                "_load.merge_nodes": getattr(params.get("label"), "value", None),
                "_load.merge_rels": getattr(params.get("relType"), "value", None),
                "_load.merge_rels_by_method": getattr(params.get("relType"), "value", None),
                "_load.merge_in_sae": "IN_SAE",
                "_load.merge_of_model": "OF_MODEL",
                "_load.merge_produced": "PRODUCED",
                "_load.merge_used": "USED",
            }[name]
        if name == "_load.load_progress":
            run = self.nodes.get(("Run", params["runId"]))
            result = [] if run is None else [{"complete": run.get("complete"), "props": dict(run)}]
        elif name == "_load.set_load_progress":
            run = self.nodes.get(("Run", params["runId"]))
            if run is not None:  # SET r += $progress: null values remove the keys
                for key, value in params["progress"].items():
                    if value is None:
                        run.pop(key, None)
                    else:
                        run[key] = value
        elif name == "_load.merge_nodes":
            label: Label = params["label"]
            for row in params["rows"]:
                self.nodes.setdefault((label.value, row[label.id_property]), {}).update(row)
        elif name in ("_load.merge_rels", "_load.merge_rels_by_method"):
            rel: RelType = params["relType"]
            by_method = name == "_load.merge_rels_by_method"
            for row in params["rows"]:
                key = (rel.value, row["source"], row["target"], row["runId"])
                key += (row["props"]["method"],) if by_method else ()
                self.rels.setdefault(key, {}).update(row["props"])
        elif name == "_load.merge_in_sae":
            self.links.update(("IN_SAE", r["featureId"], r["saeId"]) for r in params["rows"])
        elif name == "_load.merge_of_model":
            self.links.update(("OF_MODEL", r["saeId"], r["modelId"]) for r in params["rows"])
        elif name == "_load.merge_produced":
            self.links.update(("PRODUCED", params["runId"], s) for s in params["saeIds"])
        elif name == "_load.merge_used":
            self.links.add(("USED", params["runId"], params["datasetId"]))
        elif name == "_load.set_run_complete":
            self.nodes[("Run", params["runId"])]["complete"] = params["complete"]
        self.committed += 1
        return result

    def heal(self) -> None:
        self.down_after = None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for label, _ in self.nodes:
            out[label] = out.get(label, 0) + 1
        for rel, *_ in self.rels:
            out[rel] = out.get(rel, 0) + 1
        for link, *_ in self.links:
            out[link] = out.get(link, 0) + 1
        return out


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_graph_bundle(tmp_path_factory.mktemp("retry") / "b", n_saes=2, n_features=60, seed=41)


def expected(bundle_path) -> dict[str, int]:
    b = open_bundle(bundle_path)
    n_feat = b.table("features").num_rows
    out = {
        "Model": 1,
        "Dataset": 1,
        "SAE": len(b.sae_ids),
        "Run": 1,
        "Feature": n_feat,
        "IN_SAE": n_feat,
        "OF_MODEL": len(b.sae_ids),
        "PRODUCED": len(b.sae_ids),
        "USED": 1,
    }
    out.update({t.value: b.table(t.table).num_rows for t in RelType})
    return out


def total_batches(bundle_path) -> int:
    server = FakeNeo4j()
    load_bundle_neo4j(bundle_path, server, batch_size=BATCH, progress=False)
    return server.committed


def total_rows(bundle_path) -> int:
    server = FakeNeo4j()
    load_bundle_neo4j(bundle_path, server, batch_size=BATCH, progress=False)
    return server.rows_sent


def test_clean_load_is_exact(bundle):
    server = FakeNeo4j()
    load_bundle_neo4j(bundle, server, batch_size=BATCH, progress=False)
    assert server.counts() == expected(bundle)
    assert server.nodes[("Run", open_bundle(bundle).run_id)]["complete"] is True


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_brief_outage_is_retried_with_backoff(bundle, fraction):
    down_after = int(total_batches(bundle) * fraction)
    server = FakeNeo4j(down_after=down_after, down_for=3)
    sleeps: list[float] = []
    load_bundle_neo4j(
        bundle, server, batch_size=BATCH, progress=False, retries=5, backoff=0.5, sleep=sleeps.append
    )
    assert sleeps == [0.5, 1.0, 2.0]  # exponential backoff, then the server is back
    assert server.counts() == expected(bundle)
    assert server.nodes[("Run", open_bundle(bundle).run_id)]["complete"] is True


def _give_up(bundle, down_after: int):
    server = FakeNeo4j(down_after=down_after, down_for=10**9)
    sleeps: list[float] = []
    with pytest.raises(LoadInterrupted) as info:
        load_bundle_neo4j(
            bundle, server, batch_size=BATCH, progress=False, retries=3, backoff=0.25, sleep=sleeps.append
        )
    assert isinstance(info.value.__cause__, ServiceUnavailable)
    return server, sleeps, info.value


@pytest.mark.parametrize("fraction", [0.3, 0.8])
def test_gives_up_then_rerun_completes_without_duplicates(bundle, fraction):
    down_after = int(total_batches(bundle) * fraction)
    server, sleeps, _ = _give_up(bundle, down_after)
    assert sleeps == [0.25, 0.5, 1.0]  # retries exhausted with backoff
    assert server.committed == down_after
    run_id = open_bundle(bundle).run_id
    assert server.nodes.get(("Run", run_id), {}).get("complete") is not True  # never marked complete
    server.heal()
    load_bundle_neo4j(bundle, server, batch_size=BATCH, progress=False)  # the re-run
    assert server.counts() == expected(bundle)  # MERGE keys: nothing twice
    assert server.nodes[("Run", run_id)]["complete"] is True


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
def test_give_up_error_names_the_last_committed_batch(bundle, fraction):
    down_after = int(total_batches(bundle) * fraction)
    server, _, error = _give_up(bundle, down_after)
    text = str(error)
    assert "\n" not in text
    assert "batch" in text.lower() and "committed" in text.lower(), text
    assert error.last_committed is not None and error.last_committed.startswith(
        server.last_merge + " batch "
    ), (error.last_committed, server.last_merge)
    assert f"the last committed batch was {error.last_committed}" in text
    assert "re-run" in text


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
def test_rerun_continues_after_the_last_committed_batch(bundle, fraction):
    total = total_rows(bundle)
    server, _, error = _give_up(bundle, int(total_batches(bundle) * fraction))
    sent_before = server.rows_sent
    run_id = open_bundle(bundle).run_id
    recorded, last = server.nodes[("Run", run_id)]["loadStep"], error.last_committed.split(" batch ")[0]
    # the record is written after its batch; when the outage hit that write, it still names an
    # earlier batch (ingest/stores/neo4j.py: at worst one batch is MERGEd again)
    assert recorded == last or "recording progress after" in str(error), (recorded, str(error))
    server.heal()
    server.rows_sent = 0
    report = load_bundle_neo4j(bundle, server, batch_size=BATCH, progress=False)
    assert report.resumed_from is not None
    # committed batches are not sent again (at most the one whose progress record was lost)
    assert server.rows_sent <= total - sent_before + BATCH, (server.rows_sent, total, sent_before)
    assert server.rows_sent < total
    assert server.counts() == expected(bundle)
    run = server.nodes[("Run", run_id)]
    assert run["complete"] is True and not set(PROGRESS_KEYS) & set(run)  # the resume record is gone


def test_resume_record_of_another_bundle_or_resume_off_is_ignored(bundle):
    total = total_rows(bundle)
    server, _, _ = _give_up(bundle, int(total_batches(bundle) * 0.7))
    server.heal()
    run = server.nodes[("Run", open_bundle(bundle).run_id)]
    run["loadBundle"] = "0" * 16  # the bundle was rebuilt since: its record no longer applies
    server.rows_sent = 0
    assert load_bundle_neo4j(bundle, server, batch_size=BATCH, progress=False).resumed_from is None
    assert server.rows_sent == total and server.counts() == expected(bundle)
    server, _, _ = _give_up(bundle, int(total_batches(bundle) * 0.7))
    server.heal()
    server.rows_sent = 0
    assert (
        load_bundle_neo4j(bundle, server, batch_size=BATCH, progress=False, resume=False).resumed_from is None
    )
    assert server.rows_sent == total and server.counts() == expected(bundle)


class FakeNeo4jStore:
    """What ``saegraph load --neo4j`` opens, backed by a :class:`FakeNeo4j` (no server)."""

    kind = "neo4j"

    def __init__(self, server: FakeNeo4j):
        self.server = server

    def apply_schema(self) -> int:
        return 0

    def run_named(self, name: str, **params):
        return self.server(name, params)

    def close(self) -> None:
        pass


def test_cli_load_gives_up_in_one_line_then_continues(bundle, monkeypatch):
    import functools

    from click.testing import CliRunner

    import saegraph.ingest.stores.neo4j as neo4j_loader
    import saegraph.queries.stores
    from saegraph.cli import cli

    server = FakeNeo4j(down_after=int(total_batches(bundle) * 0.6), down_for=10**9)
    monkeypatch.setattr(saegraph.queries.stores, "open_store", lambda **kwargs: FakeNeo4jStore(server))
    monkeypatch.setattr(
        neo4j_loader,
        "load_bundle_neo4j",
        functools.partial(neo4j_loader.load_bundle_neo4j, sleep=lambda s: None),
    )
    argv = ["load", str(bundle), "--neo4j", "bolt://fake:7687", "--no-progress", "--batch-size", str(BATCH)]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert "the last committed batch was" in errors[0] and "re-run" in errors[0], errors[0]
    server.heal()
    again = CliRunner().invoke(cli, argv)
    assert again.exit_code == 0, again.output
    assert "resumed at" in again.output
    assert server.counts() == expected(bundle)
