"""Interrupted ingestion: SIGKILL between activation chunks, re-run, compare with an uninterrupted run.

The resumed bundle must equal the uninterrupted one in content: every Parquet table
(``Table.equals``), every activation chunk array (token ids, sequence ids, positions, CSR
data/indices/indptr), the decoders, the ground truth, and the manifest except its
timestamps, timings and the resume bookkeeping (``chunks_resumed`` / ``chunks_written``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from saegraph.ingest.bundle import MANIFEST, open_bundle, partial_path
from tests.helpers.reliability import CHUNKED, cli_env, run_cli, saegraph_cmd

pytestmark = pytest.mark.slow  # real ingest subprocesses killed and resumed (~40 s)

# Manifest keys that legitimately differ between two runs of the same config.
VOLATILE_KEYS = {
    "createdAt",
    "updatedAt",
    "tokensPerSecond",
    "chunks_resumed",
    "chunks_written",
    "tokens_this_run",
}


def _strip_volatile(obj):
    if isinstance(obj, dict):
        return {
            k: _strip_volatile(v)
            for k, v in obj.items()
            if k not in VOLATILE_KEYS and not k.lower().startswith("seconds")
        }
    if isinstance(obj, list):
        return [_strip_volatile(v) for v in obj]
    return obj


def _recorded_chunks(index: Path) -> int:
    try:
        return len(json.loads(index.read_text())["chunks"])
    except (OSError, ValueError, KeyError):
        return 0


def _kill_after_first_chunk(cfg: Path, out: Path) -> int:
    """Start the ingest, SIGKILL it once >= 1 chunk is recorded; return the chunks recorded then."""
    index = partial_path(out) / "activations" / "index.json"
    proc = subprocess.Popen(
        saegraph_cmd("ingest", cfg, "-o", out, "--quiet"),
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while _recorded_chunks(index) < 1:
            if proc.poll() is not None:
                pytest.fail(f"ingest ended before writing a chunk: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no activation chunk recorded within 120 s")
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return _recorded_chunks(index)


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _assert_same_tree_of_arrays(a: Path, b: Path) -> None:
    """Same files; .npz / .npy compared array by array, other files byte by byte."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        if rel.suffix == ".npz":
            xa, xb = _npz_arrays(a / rel), _npz_arrays(b / rel)
            assert xa.keys() == xb.keys(), rel
            for k in xa:
                np.testing.assert_array_equal(xa[k], xb[k], err_msg=f"{rel}:{k}")
        elif rel.suffix == ".json":
            assert json.loads((a / rel).read_text()) == json.loads((b / rel).read_text()), rel
        else:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("interrupted")
    cfg = root / "run.toml"
    cfg.write_text(CHUNKED)
    clean, resumed = root / "clean", root / "resumed"
    # the uninterrupted run goes on beside the kill + resume (2 cores)
    clean_proc = subprocess.Popen(
        saegraph_cmd("ingest", cfg, "-o", clean, "--quiet"),
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        at_kill = _kill_after_first_chunk(cfg, resumed)
        assert not (resumed / MANIFEST).exists(), "the killed run must not leave a finished bundle"
        again = run_cli("ingest", cfg, "-o", resumed, "--quiet")
        assert again.returncode == 0, again.stderr[-3000:]
        _, err = clean_proc.communicate(timeout=300)
        assert clean_proc.returncode == 0, err[-3000:]
    finally:
        if clean_proc.poll() is None:
            clean_proc.kill()
            clean_proc.wait()
    total = open_bundle(clean).activations.n_chunks
    return clean, resumed, at_kill, total


def test_kill_landed_between_chunks(runs):
    clean, resumed, at_kill, total = runs
    assert 1 <= at_kill < total, f"killed after {at_kill} of {total} chunks: not mid-pass"
    stats = open_bundle(resumed).stats["activations"]
    assert stats["chunks_resumed"] >= 1 and stats["chunks_resumed"] + stats["chunks_written"] == total
    assert not partial_path(resumed).exists()


def test_parquet_tables_equal(runs):
    clean, resumed, *_ = runs
    a, b = open_bundle(clean), open_bundle(resumed)
    assert sorted(a.tables) == sorted(b.tables)
    for name in a.tables:
        ta, tb = pq.read_table(a.table_path(name)), pq.read_table(b.table_path(name))
        assert ta.schema.equals(tb.schema), name
        assert ta.equals(tb), f"table {name} differs between the resumed and the clean run"


def test_activation_chunks_equal(runs):
    clean, resumed, *_ = runs
    _assert_same_tree_of_arrays(clean / "activations", resumed / "activations")


def test_decoders_and_ground_truth_equal(runs):
    clean, resumed, *_ = runs
    _assert_same_tree_of_arrays(clean / "decoders", resumed / "decoders")
    _assert_same_tree_of_arrays(clean / "ground_truth", resumed / "ground_truth")


def _manifests(runs) -> tuple[dict, dict]:
    clean, resumed, *_ = runs
    return json.loads((clean / MANIFEST).read_text()), json.loads((resumed / MANIFEST).read_text())


def test_manifest_equal_except_time(runs):
    """Everything but timestamps, timings and the activation pass's own counters (next test)."""
    ma, mb = _manifests(runs)
    assert ma["runId"] == mb["runId"] and ma["tables"] == mb["tables"] and ma["dataset"] == mb["dataset"]
    for m in (ma, mb):
        m["stats"].pop("activations")
    assert _strip_volatile(ma) == _strip_volatile(mb)


def test_manifest_activation_counts_cover_the_whole_bundle(runs):
    ma, mb = _manifests(runs)
    assert _strip_volatile(ma["stats"]["activations"]) == _strip_volatile(mb["stats"]["activations"])
