"""The sharded activation pass (``saegraph.ingest.activation_shards``) gives the single-process
pass's activations and features: in-process, on a two-worker local Ray cluster, with a shard
whose worker dies, after an interrupted run, and after a single-process partial run."""

from __future__ import annotations

import os
from functools import partial
from itertools import takewhile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.ingest import sources
from saegraph.ingest.activation_shards import (
    DONE_FILE,
    SHARDS_DIR,
    plan_shards,
    run_sharded_pass,
    shard_size,
)
from saegraph.ingest.activation_store import ActivationStore
from saegraph.ingest.activations import run_activation_pass
from saegraph.ingest.bundle import open_bundle, partial_path
from saegraph.ingest.config import load_config
from saegraph.ingest.executors import make_executor
from saegraph.ingest.pipeline import run_ingest
from tests.helpers.ray_cluster import module_ray_cluster

# 128 sequences of 64 tokens, batches of 8; single-process chunks end at 32, 64, 96, 128;
# shard_sequences 44 -> 48: shards [0, 48), [48, 96), [96, end), chunks ending at 32, 48 | 80, 96 | 128.
TINY = """
[run]
name = "shards"
[model]
source = "synthetic"
[synthetic]
num_features = 64
hidden_dim = 32
n_correlated_pairs = 8
hierarchy_branching = 2
sequence_length = 64
[dataset]
source = "synthetic"
n_tokens = 8192
context_size = 64
[activations]
batch_size = 8
chunk_tokens = 2000
shard_sequences = {k}
[[saes]]
id = "a"
source = "synthetic"
synthetic_mode = "truth"
seed = 1
[[saes]]
id = "b"
source = "synthetic"
train_tokens = 4096
seed = 2
"""
TRUTH = Path("ground_truth") / "true_activations"


def config_file(directory: Path, k: int) -> Path:
    path = directory / f"shards-{k}.toml"
    path.write_text(TINY.format(k=k))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The single-process bundle (no edges)."""
    d = tmp_path_factory.mktemp("single")
    return run_ingest(load_config(config_file(d, 0)), d / "bundle", progress=False, edges=False)


@pytest.fixture(scope="module")
def ray_cluster():
    yield from module_ray_cluster(__name__)


def assert_same_activations(got: Path, want: Path) -> None:
    """Every SAE's stacked activations, the token metadata and the ground truth are equal."""
    for sub, ids in (("activations", ("a", "b")), (TRUTH, ("truth",))):
        a, b = ActivationStore(got / sub), ActivationStore(want / sub)
        for sid in ids:
            (m, seq, pos), (m2, seq2, pos2) = a.stack(sid), b.stack(sid)
            for attr in ("data", "indices", "indptr"):
                np.testing.assert_array_equal(getattr(m, attr), getattr(m2, attr))
            np.testing.assert_array_equal(seq, seq2)
            np.testing.assert_array_equal(pos, pos2)
        np.testing.assert_array_equal(a.token_metadata()[0], b.token_metadata()[0])
        assert a.n_chunks == ActivationStore(got / "activations").n_chunks  # the truth stays aligned
    assert ActivationStore(got / "activations").chunks[-1]["nextSequence"] == 128


def assert_same_bundle(got: Path, want: Path) -> None:
    assert_same_activations(got, want)
    a, b = open_bundle(got), open_bundle(want)
    assert pq.read_table(a.table_path("features")).equals(pq.read_table(b.table_path("features")))
    assert not (partial_path(got) / SHARDS_DIR).exists() and not (got / ".work").exists()


def test_plan_rounds_to_batches_and_starts_where_the_store_ends(tmp_path):
    cfg = load_config(config_file(tmp_path, 44))
    assert shard_size(cfg) == 48
    plan = plan_shards(cfg, tmp_path, 0, truth=True)
    assert [(t.index, t.start, t.stop) for t in plan] == [(0, 0, 48), (1, 48, 96), (2, 96, None)]
    assert [(t.index, t.start, t.stop) for t in plan_shards(cfg, tmp_path, 64, truth=True)] == [
        (1, 64, 96),
        (2, 96, None),
    ]
    assert plan_shards(cfg, tmp_path, 128, truth=True) == []
    assert repr(plan[2]) == "shard 2 (sequences 96-end)"


def test_local_shards_equal_the_single_process_pass(reference, tmp_path):
    out = run_ingest(load_config(config_file(tmp_path, 44)), tmp_path / "bundle", progress=False, edges=False)
    assert_same_bundle(out, reference)
    store = open_bundle(out).activations
    assert [c["nextSequence"] for c in store.chunks] == [32, 48, 80, 96, 128]  # boundaries differ
    stats = open_bundle(out).stats["activations"]
    assert (stats["shards"], stats["shards_reused"], stats["shard_sequences"]) == (3, 0, 48)
    assert stats["tokens_this_run"] == stats["tokens_seen"] == 8192 and stats["chunks_written"] == 5


def test_a_rerun_reuses_finished_shards_and_resumes_a_broken_one(reference, tmp_path, monkeypatch):
    real = sources.iter_batches

    def breaks_at_80(cfg, model, *, start_sequence=0):
        for batch in real(cfg, model, start_sequence=start_sequence):
            if batch.sequence_ids[0] == 80:
                raise RuntimeError("stopped at sequence 80")
            yield batch

    cfg = load_config(config_file(tmp_path, 44))
    monkeypatch.setattr(sources, "iter_batches", breaks_at_80)
    with pytest.raises(RuntimeError, match="stopped at sequence 80"):
        run_ingest(cfg, tmp_path / "bundle", progress=False, edges=False)
    shards = partial_path(tmp_path / "bundle") / SHARDS_DIR
    assert (shards / "shard-0" / DONE_FILE).exists() and not (shards / "shard-1" / DONE_FILE).exists()
    assert ActivationStore(shards / "shard-1" / "activations").n_chunks == 1  # [48, 80)
    monkeypatch.setattr(sources, "iter_batches", real)
    out = run_ingest(cfg, tmp_path / "bundle", progress=False, edges=False)
    assert_same_bundle(out, reference)
    stats = open_bundle(out).stats["activations"]
    assert stats["shards_reused"] == 1 and stats["tokens_this_run"] == (128 - 80) * 64


def test_shards_continue_a_single_process_partial_store(reference, tmp_path):
    cfg = load_config(config_file(tmp_path, 44))
    model = sources.load_model(cfg)
    saes = sources.load_saes(cfg, model)
    out = tmp_path / "partial"

    def first_40(start):
        return takewhile(
            lambda b: b.sequence_ids[0] < 40, sources.iter_batches(cfg, model, start_sequence=start)
        )

    run_activation_pass(
        cfg, model, saes, first_40, out / "activations", truth_dir=out / TRUTH, progress=False
    )
    assert [c["nextSequence"] for c in ActivationStore(out / "activations").chunks] == [32, 40]
    stats = run_sharded_pass(
        cfg, saes, out / "activations", out / SHARDS_DIR, truth_dir=out / TRUTH, loaded=(model, saes)
    )
    assert (stats.chunks_resumed, stats.tokens_this_run) == (2, (128 - 40) * 64)
    assert_same_activations(out, reference)


def _dying(task, *, fn, marker_dir: str, victim: int):
    """``fn`` that records each attempt; the victim shard's first attempt kills its worker."""
    log = Path(marker_dir) / f"shard-{task.index}.attempts"
    with open(log, "a") as fh:
        fh.write("x\n")
    if task.index == victim and log.read_text().count("x") == 1:
        os._exit(1)
    return fn(task)


class DyingExecutor:
    """A Ray executor whose tasks go through ``_dying``."""

    name, in_process = "ray", False

    def __init__(self, marker_dir: Path, victim: int):
        self.inner, self.marker_dir, self.victim = make_executor("ray", workers=2), str(marker_dir), victim

    def map(self, fn, tasks):
        return self.inner.map(partial(_dying, fn=fn, marker_dir=self.marker_dir, victim=self.victim), tasks)

    def close(self):
        self.inner.close()


@pytest.mark.slow
def test_ray_shards_equal_the_single_process_pass(reference, ray_cluster, tmp_path):
    args = ["ingest", str(config_file(tmp_path, 44)), "-o", str(tmp_path / "bundle"), "--quiet"]
    res = CliRunner().invoke(
        cli, [*args, "--no-edges", "--threads", "2", "--executor", "ray", "--workers", "2"]
    )
    assert res.exit_code == 0, res.output
    assert ray_cluster.is_initialized()  # the CLI joined the fixture's cluster and left it running
    assert_same_bundle(tmp_path / "bundle", reference)
    assert open_bundle(tmp_path / "bundle").stats["activations"]["executor"] == "ray"


@pytest.mark.slow
def test_a_shard_whose_worker_dies_is_retried_alone(reference, ray_cluster, tmp_path):
    markers = tmp_path / "attempts"
    markers.mkdir()
    executor = DyingExecutor(markers, victim=1)
    cfg = load_config(config_file(tmp_path, 44))
    out = run_ingest(cfg, tmp_path / "bundle", progress=False, edges=False, executor=executor)
    executor.close()
    attempts = {p.name.removesuffix(".attempts"): p.read_text().count("x") for p in markers.iterdir()}
    assert attempts == {"shard-0": 1, "shard-1": 2, "shard-2": 1}
    assert_same_bundle(out, reference)
