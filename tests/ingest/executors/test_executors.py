"""Executors (``saegraph.ingest.executors``): the edge stages on a local two-worker Ray cluster
give the tables of the in-process run; a unit whose worker dies is retried alone; executor
selection errors are one line; ``saegraph edges --executor ray --workers 2``."""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.config import MatchesConfig
from saegraph.ingest.edges.checkpoint import PER_PAIR, UNITS_DIR, StageUnits, unit_name
from saegraph.ingest.edges.matches.stage import matches_unit
from saegraph.ingest.edges.runner import STAGES, WORK_DIR, json_safe, run_edges
from saegraph.ingest.executors import Executor, ExecutorError, LocalExecutor, make_executor
from tests.helpers.builders import make_bundle_from_arrays, three_sae_arrays
from tests.helpers.ray_cluster import module_ray_cluster

EDGES = {"coactivation": {"min_count": 3}, "lasso": {"replicates": 2, "keep": "all"}}
TABLES = sorted({table for _, table in STAGES.values()} | {"excludes"})
PAIRS = [("a", "b"), ("a", "w"), ("b", "w")]


def _arrays():
    return three_sae_arrays(11, 800, 30, 16, 0.06)


@pytest.fixture
def make_bundle(tmp_path):
    acts, decoders = _arrays()

    def make(name: str) -> Path:
        return make_bundle_from_arrays(
            tmp_path / name,
            acts,
            decoders,
            sequence_length=40,
            layers={"a": 0, "b": 1, "w": 2},
            config={"edges": EDGES},
        )

    return make


@pytest.fixture(scope="module")
def ray_cluster():
    yield from module_ray_cluster(__name__)


def table_shas(path: Path) -> dict[str, str]:
    tables = open_bundle(path).manifest["tables"]
    return {t: tables[t]["sha256"] for t in TABLES}


def without_seconds(value):
    """Stats less their timings (which differ run to run), NaN as None (``json_safe``, as
    committed: a checkpoint's JSON round trip makes a new NaN, which equals no NaN)."""
    value = json_safe(value)
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if not k.startswith("seconds")}
    if isinstance(value, list):
        return [without_seconds(v) for v in value]
    return value


def test_local_executor_and_selection_errors(monkeypatch):
    local = make_executor("local")
    assert isinstance(local, LocalExecutor) and isinstance(local, Executor) and local.in_process
    assert local.map(lambda x: x * 2, [3, 1, 2]) == [6, 2, 4]
    with pytest.raises(ExecutorError) as err:
        make_executor("dask")
    assert str(err.value) == "unknown executor 'dask'; choose from local, ray"
    monkeypatch.setitem(sys.modules, "ray", None)  # Ray not installed: import fails
    with pytest.raises(ExecutorError, match=r"pip install 'saegraph\[ray\]'"):
        make_executor("ray")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--executor", "dask"], "unknown executor 'dask'; choose from local, ray"),
        (["--workers", "2"], "--workers needs --executor ray"),
        (["--executor", "ray"], "pip install 'saegraph[ray]'"),
    ],
)
def test_cli_executor_errors_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.setitem(sys.modules, "ray", None)
    res = CliRunner().invoke(cli, ["edges", str(tmp_path / "none"), *args, "--no-progress"])
    assert res.exit_code != 0
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], res.output


@pytest.mark.slow
def test_every_stage_on_ray_matches_the_local_run(make_bundle, ray_cluster):
    reference = make_bundle("local")
    local_stats = run_edges(reference, progress=False)
    path = make_bundle("ray")
    ray_exec = make_executor("ray", workers=2)
    ray_stats = run_edges(path, progress=False, executor=ray_exec)
    ray_exec.close()  # joined the fixture's cluster: leaves it running
    assert ray_cluster.is_initialized()
    assert list(ray_stats) == list(STAGES)
    assert table_shas(path) == table_shas(reference)  # byte-identical tables
    assert all(open_bundle(path).manifest["tables"][t]["rows"] > 0 for t in TABLES)
    assert without_seconds(ray_stats) == without_seconds(local_stats)
    assert not (path / WORK_DIR).exists()


def _dying(bundle, saes, *, inner, marker_dir: str, victim: tuple[str, ...], fail: str):
    """``inner`` that records each attempt; on its first attempt the victim unit kills its
    worker process (``fail="exit"``) or raises (``fail="raise"``)."""
    log = Path(marker_dir) / f"{unit_name(saes)}.attempts"
    with open(log, "a") as fh:
        fh.write("x\n")
        fh.flush()
        os.fsync(fh.fileno())
    if tuple(saes) == victim and log.read_text().count("x") == 1:
        if fail == "exit":
            os._exit(1)
        raise RuntimeError(f"unit {unit_name(saes)} failed")
    return inner(bundle, saes)


def _attempts(marker_dir: Path) -> dict[str, int]:
    return {p.name.removesuffix(".attempts"): p.read_text().count("x") for p in marker_dir.iterdir()}


def _matches_units(path: Path, compute, executor) -> list:
    bundle = open_bundle(path)
    config = MatchesConfig()
    units = StageUnits(
        bundle,
        "matches",
        config,
        run_id=bundle.run_id,
        seed=0,
        work_dir=path / WORK_DIR / "matches",
        tables=("matches",),
        layout=PER_PAIR,
    )
    return units.run(PAIRS, compute, executor)


def _same_units(got, want) -> None:
    assert [u.name for u in got] == [u.name for u in want] == [unit_name(p) for p in PAIRS]
    for g, w in zip(got, want):
        pd.testing.assert_frame_equal(g.frames["matches"], w.frames["matches"])
        assert without_seconds(g.stats) == without_seconds(w.stats)


@pytest.mark.slow
def test_a_killed_task_is_retried_alone(make_bundle, ray_cluster, tmp_path):
    path = make_bundle("killed")
    inner = partial(matches_unit, config=MatchesConfig(), run_id=open_bundle(path).run_id, seed=0)
    want = _matches_units(make_bundle("reference"), inner, LocalExecutor())
    markers = tmp_path / "attempts"
    markers.mkdir()
    dying = partial(_dying, inner=inner, marker_dir=str(markers), victim=("a", "w"), fail="exit")
    got = _matches_units(path, dying, make_executor("ray", workers=2))
    assert _attempts(markers) == {"a->b": 1, "a->w": 2, "b->w": 1}  # the killed unit, twice
    _same_units(got, want)


@pytest.mark.slow
def test_a_failed_task_is_not_retried_and_a_rerun_redoes_it_alone(make_bundle, ray_cluster, tmp_path):
    path = make_bundle("failed")
    inner = partial(matches_unit, config=MatchesConfig(), run_id=open_bundle(path).run_id, seed=0)
    markers = tmp_path / "attempts"
    markers.mkdir()
    dying = partial(_dying, inner=inner, marker_dir=str(markers), victim=("a", "w"), fail="raise")
    with pytest.raises(RuntimeError, match="unit a->w failed"):
        _matches_units(path, dying, make_executor("ray", workers=2))
    assert _attempts(markers) == {"a->b": 1, "a->w": 1, "b->w": 1}  # an exception is not retried
    done = sorted(p.name for p in (path / WORK_DIR / "matches" / UNITS_DIR).glob("*.json"))
    assert done == ["a-%3Eb.json", "b-%3Ew.json"]  # the other units committed their checkpoints
    got = _matches_units(path, dying, make_executor("ray", workers=2))
    assert _attempts(markers) == {"a->b": 1, "a->w": 2, "b->w": 1}  # the re-run redid a->w alone
    _same_units(got, _matches_units(make_bundle("reference"), inner, LocalExecutor()))


@pytest.mark.slow
def test_cli_edges_on_ray(make_bundle, ray_cluster, monkeypatch):
    reference = make_bundle("local")
    run_edges(reference, only=["cosine", "matches"], progress=False)
    path = make_bundle("cli")
    monkeypatch.chdir(path.parent)  # a relative BUNDLE: the workers run in another directory
    args = ["edges", path.name, "--only", "cosine", "--only", "matches", "--no-progress"]
    res = CliRunner().invoke(cli, [*args, "--executor", "ray", "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert "cosine" in res.output and "matches" in res.output
    got, want = open_bundle(path).manifest["tables"], open_bundle(reference).manifest["tables"]
    assert [got[t]["sha256"] for t in ("cosine", "matches")] == [
        want[t]["sha256"] for t in ("cosine", "matches")
    ]
    assert "--executor" in CliRunner().invoke(cli, ["edges", "--help"]).output


@pytest.mark.slow
def test_a_task_that_dies_past_its_retries_is_a_one_line_error(make_bundle, ray_cluster, tmp_path):
    from saegraph.ingest.executors.ray_executor import RayExecutor

    path = make_bundle("dead")
    inner = partial(matches_unit, config=MatchesConfig(), run_id=open_bundle(path).run_id, seed=0)
    markers = tmp_path / "attempts"
    markers.mkdir()
    dying = partial(_dying, inner=inner, marker_dir=str(markers), victim=("b", "w"), fail="exit")
    with pytest.raises(
        ExecutorError, match=r"ray task 3 of 3 \(\('b', 'w'\)\) failed after 0 retries: \w+"
    ) as err:
        _matches_units(path, dying, RayExecutor(num_workers=2, max_retries=0))
    assert "\n" not in str(err.value), str(err.value)
    assert _attempts(markers) == {"a->b": 1, "a->w": 1, "b->w": 1}
