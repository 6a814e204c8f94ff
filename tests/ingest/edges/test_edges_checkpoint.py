"""Per-unit checkpoints of the edge stages and partial rebuilds (``run_edges(sae_ids=...)``,
``saegraph edges --sae``) on a small bundle of three SAEs at three layers."""

from __future__ import annotations

import importlib
import logging
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.ingest.bundle import Bundle, open_bundle
from saegraph.ingest.config import CoactivationConfig, EdgesConfig
from saegraph.ingest.edges.checkpoint import (
    KEY_FILE,
    UNITS_DIR,
    UnitCheckpoints,
    merge_units,
    rows_by_unit,
    unit_name,
)
from saegraph.ingest.edges.runner import STAGES, WORK_DIR, EdgeStageError, run_edges
from tests.helpers.builders import make_bundle_from_arrays, three_sae_arrays

EDGES = {"coactivation": {"min_count": 3}, "lasso": {"replicates": 2, "keep": "all"}}

# stage -> (what holds the call computing one unit, its name, the unit its arguments name)
UNIT_CALLS = {
    "coactivation": (STAGES["coactivation"][0], "nonempty_activations", lambda args, kw: (args[1],)),
    "cosine": (Bundle, "decoder", lambda args, kw: (args[1],)),  # read once per SAE, by cosine only
    "matches": (STAGES["matches"][0], "compare_pair", lambda args, kw: (args[1], args[2])),
    "flow": (STAGES["flow"][0], "flow_between", lambda args, kw: (args[1], args[2])),
    "lasso": (STAGES["lasso"][0], "lasso_edges", lambda args, kw: (kw["sae_id"],)),
}


def _arrays():
    return three_sae_arrays(7, 1200, 40, 24, 0.05, second_parent=True)


@pytest.fixture
def make_bundle(tmp_path):
    acts, decoders = _arrays()

    def make(name: str = "bundle"):
        return make_bundle_from_arrays(
            tmp_path / name,
            acts,
            decoders,
            sequence_length=40,
            layers={"a": 0, "b": 1, "w": 2},
            config={"edges": EDGES},
        )

    return make


def count_units(monkeypatch, stage: str, fail_on: tuple[str, ...] | None = None) -> Counter:
    """Count the per-unit computations of ``stage`` (raising on unit ``fail_on``)."""
    owner, attr, unit_of = UNIT_CALLS[stage]
    owner = importlib.import_module(owner) if isinstance(owner, str) else owner
    real = getattr(owner, attr)
    calls: Counter = Counter()

    def counted(*args, **kw):
        unit = unit_of(args, kw)
        if unit == fail_on:
            raise RuntimeError(f"interrupted at {unit}")
        calls[unit] += 1
        return real(*args, **kw)

    monkeypatch.setattr(owner, attr, counted)
    return calls


def table_sha(path, stage: str) -> tuple[int, str]:
    entry = open_bundle(path).manifest["tables"][STAGES[stage][1]]
    return entry["rows"], entry["sha256"]


@pytest.mark.parametrize(
    "stage, first, second",
    [
        ("coactivation", ("a",), ("b",)),
        ("cosine", ("a",), ("b",)),
        ("matches", ("a", "b"), ("a", "w")),
        ("flow", ("a", "b"), ("b", "w")),
    ],
)
def test_interrupted_stage_resumes_per_unit(make_bundle, monkeypatch, caplog, stage, first, second):
    reference = make_bundle("reference")
    run_edges(reference, only=[stage], progress=False)
    path = make_bundle()
    with monkeypatch.context() as m:
        calls = count_units(m, stage, fail_on=second)
        with pytest.raises(RuntimeError, match="interrupted"):
            run_edges(path, only=[stage], progress=False)
    assert calls == {first: 1}
    assert not open_bundle(path).has_table(STAGES[stage][1])  # nothing committed
    units = path / WORK_DIR / stage / UNITS_DIR
    assert (units / KEY_FILE).is_file() and len(list(units.glob("*.json"))) == 1

    calls = count_units(monkeypatch, stage)
    with caplog.at_level(logging.INFO, logger="saegraph.ingest.edges.checkpoint"):
        stats = run_edges(path, only=[stage], progress=False)[stage]
    assert first not in calls and second in calls  # the finished unit was loaded, not recomputed
    noun = "SAE pairs" if len(first) == 2 else "SAEs"
    n_units = len(stats.get("perSae", stats.get("pairs", {})))
    assert f"resumed 1 of {n_units} {noun} from checkpoints" in caplog.text
    assert table_sha(path, stage) == table_sha(reference, stage)  # byte-identical table
    if stage == "coactivation":
        assert (
            open_bundle(path).manifest["tables"]["excludes"]["sha256"]
            == (open_bundle(reference).manifest["tables"]["excludes"]["sha256"])
        )
    assert not (path / WORK_DIR).exists()


def test_changed_config_clears_the_checkpoints(make_bundle, monkeypatch, caplog):
    path = make_bundle()
    with monkeypatch.context() as m:
        count_units(m, "coactivation", fail_on=("b",))
        with pytest.raises(RuntimeError):
            run_edges(path, only=["coactivation"], progress=False)
    other = EdgesConfig(coactivation=CoactivationConfig(min_count=2))
    calls = count_units(monkeypatch, "coactivation")
    with caplog.at_level(logging.INFO, logger="saegraph.ingest.edges.checkpoint"):
        run_edges(path, other, only=["coactivation"], progress=False)
    assert calls == {("a",): 1, ("b",): 1, ("w",): 1}
    assert "dropping its unit checkpoints" in caplog.text
    assert "resumed" not in caplog.text
    assert open_bundle(path).manifest["stats"]["coactivation"]["perSae"]["a"]["minCount"] == 2


def test_unit_checkpoints_roundtrip_and_key(tmp_path):
    frame = pd.DataFrame({"x": [1, 2], "s": ["p", "q"], "f": [0.5, np.nan]})
    ck = UnitCheckpoints(tmp_path, "k1")
    calls = []

    def compute():
        calls.append(1)
        return {"t": frame}, {"n": np.int64(2), "nan": float("nan")}

    ck.save("a->b", *compute())
    again = UnitCheckpoints(tmp_path, "k1")
    frames, stats = again.get("a->b", compute)
    assert len(calls) == 1 and again.resumed == 1
    pd.testing.assert_frame_equal(frames["t"], frame)
    assert stats["n"] == 2 and np.isnan(stats["nan"])
    (tmp_path / UNITS_DIR / "a-%3Eb.json").write_text("{broken")  # unreadable: recomputed
    assert UnitCheckpoints(tmp_path, "k1").get("a->b", compute)[1]["n"] == 2 and len(calls) == 2
    UnitCheckpoints(tmp_path, "k2")  # another key empties the directory
    assert sorted(p.name for p in (tmp_path / UNITS_DIR).iterdir()) == [KEY_FILE]


def test_rows_by_unit_and_merge_units():
    table = pa.table(
        {
            "sourceSae": ["a", "a", "b", "a"],
            "targetSae": ["b", "b", "w", "w"],
            "v": [1, 2, 3, 4],
        }
    )
    split = rows_by_unit(table, ("sourceSae", "targetSae"))
    assert list(split) == ["a->b", "b->w", "a->w"]
    assert split["a->b"]["v"].tolist() == [1, 2]
    assert rows_by_unit(table.slice(0, 0), ("sourceSae", "targetSae")) == {}
    kept = {u: ({"t": f}, {"u": u, "old": True}) for u, f in split.items()}
    new = {"a->w": ({"t": split["a->w"].assign(v=40)}, {"u": "a->w", "old": False})}
    merged = merge_units([("a", "b"), ("a", "w"), ("b", "w")], kept, new)
    assert [u.name for u in merged] == ["a->b", "a->w", "b->w"]
    assert [u.stats["old"] for u in merged] == [True, False, True]
    assert merged[1].frames["t"]["v"].tolist() == [40] and merged[1].saes == ("a", "w")
    assert unit_name(("a",)) == "a"


@pytest.mark.parametrize(
    "stage, rebuilt",
    [
        ("coactivation", {("b",)}),
        ("cosine", {("b",)}),
        ("matches", {("a", "b"), ("b", "w")}),
        ("flow", {("a", "b"), ("b", "w")}),
        ("lasso", {("b",)}),
    ],
)
def test_partial_rebuild_matches_a_full_run(make_bundle, monkeypatch, stage, rebuilt):
    path = make_bundle()
    full = run_edges(path, only=[stage], progress=False)[stage]
    before = table_sha(path, stage)
    excludes = open_bundle(path).manifest["tables"]["excludes"]["sha256"] if stage == "coactivation" else None
    calls = count_units(monkeypatch, stage)
    part = run_edges(path, only=[stage], sae_ids=["b"], progress=False)[stage]
    assert set(calls) == rebuilt and all(v == 1 for v in calls.values())
    assert table_sha(path, stage) == before  # the union, in a full run's order
    assert part["rebuiltSaes"] == ["b"] and part["edges"] == full["edges"] > 0
    per = "pairs" if stage in ("matches", "flow") else "perSae"
    assert list(part[per]) == list(full[per])
    kept = [u for u in full[per] if u not in {unit_name(r) for r in rebuilt}]
    assert all(part[per][u] == full[per][u] for u in kept)  # kept stats untouched
    if stage == "coactivation":
        assert part["nullEdges"] == full["nullEdges"] and part["excludesEdges"] == full["excludesEdges"] > 0
        assert open_bundle(path).manifest["tables"]["excludes"]["sha256"] == excludes
    if stage == "lasso":
        assert part["replicateCountTable"] == full["replicateCountTable"]


def test_partial_rebuild_refuses_other_settings_and_builds_what_is_missing(make_bundle, monkeypatch):
    path = make_bundle()
    run_edges(path, only=["cosine"], progress=False)
    run_edges(path, only=["coactivation"], progress=False)  # the bundle's min_count=3
    other = EdgesConfig(coactivation=CoactivationConfig(min_count=2))
    with pytest.raises(EdgeStageError, match="other \\[edges.coactivation\\] settings"):
        run_edges(path, other, only=["coactivation"], sae_ids=["a"], progress=False)
    # a stage never committed: every SAE is computed, so the table is complete
    calls = count_units(monkeypatch, "flow")
    run_edges(path, only=["flow"], sae_ids=["w"], progress=False)
    assert set(calls) == {("a", "b"), ("b", "w")}


def test_cli_sae(make_bundle):
    path = make_bundle()
    runner = CliRunner()
    res = runner.invoke(cli, ["edges", str(path), "--only", "cosine", "--no-progress"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli, ["edges", str(path), "--only", "cosine", "--sae", "w", "--sae", "a", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    assert open_bundle(path).manifest["stats"]["cosine"]["rebuiltSaes"] == ["a", "w"]
    bad = runner.invoke(cli, ["edges", str(path), "--only", "cosine", "--sae", "zz", "--no-progress"])
    assert bad.exit_code != 0
    lines = [line for line in bad.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown SAE id(s) zz" in lines[0] and "known: a, b, w" in lines[0]
    assert "--sae" in runner.invoke(cli, ["edges", "--help"]).output
