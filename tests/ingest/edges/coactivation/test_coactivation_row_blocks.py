"""Co-activation's count phase sharded by row blocks (``coactivation.row_blocks``,
``[edges.coactivation] row_block_tasks``): the same tables and statistics as one unsharded scan
on the local executor (tokens in memory or streamed) and on a two-worker Ray cluster; a block
whose worker dies is retried alone; a re-run reuses the blocks that finished."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.config import CoactivationConfig
from saegraph.ingest.edges.checkpoint import UNITS_DIR
from saegraph.ingest.edges.coactivation import row_blocks as rb
from saegraph.ingest.edges.coactivation.row_blocks import BLOCKS_DIR, RowBlocks, block_dir, row_ranges
from saegraph.ingest.edges.coactivation.stage import build_from_bundle, coactivation_unit
from saegraph.ingest.executors import LocalExecutor, make_executor
from tests.helpers.builders import make_bundle_from_arrays
from tests.helpers.ray_cluster import module_ray_cluster, strip_bookkeeping

TINY_MB = 4 / 1024  # 4 KiB: about two sequences per token block
BOOKKEEPING = ("seconds", "rowBlocks")  # timings, and how the rows were split


def _arrays():
    rng = np.random.default_rng(5)
    n = 1200
    base = rng.random((n, 40)) < 0.05
    base[:, 1] |= base[:, 0]
    base[:, 3] |= base[:, 2] & (rng.random(n) < 0.7)
    base[:, 30] |= base[:, 3] & (rng.random(n) < 0.6)  # a pair across row blocks
    base[:, 4] = rng.random(n) < 0.4  # 4 and 5 fire often but never together: EXCLUDES
    base[:, 5] = ~base[:, 4] & (rng.random(n) < 0.5)
    acts = sp.csr_matrix((base * rng.uniform(0.5, 2, base.shape)).astype(np.float32))
    noise = sp.csr_matrix((rng.random((n, 40)) < 0.04) * rng.uniform(0.5, 2, (n, 40)), dtype=np.float32)
    wide = sp.hstack([acts, noise]).tocsr()
    decoders = {"a": rng.standard_normal((40, 8)), "w": rng.standard_normal((80, 8))}
    return {"a": acts, "w": wide}, {k: v.astype(np.float32) for k, v in decoders.items()}


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory) -> Path:
    acts, decoders = _arrays()
    return make_bundle_from_arrays(
        tmp_path_factory.mktemp("row_blocks") / "bundle",
        acts,
        decoders,
        sequence_length=40,
        sequences_per_chunk=12,  # 3 chunks: streamed blocks split chunks
    )


@pytest.fixture(scope="module")
def ray_cluster():
    yield from module_ray_cluster(__name__)


def _strip(value):
    return strip_bookkeeping(value, BOOKKEEPING)


def _stage(path: Path, config: CoactivationConfig, work_dir: Path, executor=None):
    bundle = open_bundle(path)
    return build_from_bundle(
        bundle, config, run_id=bundle.run_id, seed=3, work_dir=work_dir, executor=executor or LocalExecutor()
    )


def _assert_same_stage(got, want) -> None:
    assert got.table.num_rows > 0 and want.extra_tables["excludes"].num_rows > 0
    assert got.table.equals(want.table)
    assert got.extra_tables["excludes"].equals(want.extra_tables["excludes"])
    assert _strip(got.stats) == _strip(want.stats)


def _unit(path: Path, config: CoactivationConfig, sid: str, row_blocks=None):
    bundle = open_bundle(path)
    return coactivation_unit(bundle, (sid,), config=config, run_id="r", seed=3, row_blocks=row_blocks)


def _assert_same_unit(got, want) -> None:
    (f_got, s_got), (f_want, s_want) = got, want
    assert f_got.keys() == f_want.keys()
    for name in f_want:
        assert len(f_want[name]) > 0
        pd.testing.assert_frame_equal(f_got[name], f_want[name], check_exact=True)
    assert _strip(s_got) == _strip(s_want)


def _dying_scan(blocks, n_fires, common, null_seed, row_range, *, marker_dir: str, victim, fail: str):
    """``scan_rows`` that records each attempt per range; the victim range's first attempt
    kills its worker process (``fail="exit"``) or raises (``fail="raise"``)."""
    log = Path(marker_dir) / f"{row_range[0]}-{row_range[1]}.attempts"
    with open(log, "a") as fh:
        fh.write("x\n")
        fh.flush()
        os.fsync(fh.fileno())
    if tuple(row_range) == tuple(victim) and log.read_text().count("x") == 1:
        if fail == "exit":
            os._exit(1)
        raise RuntimeError(f"row block {row_range} failed")
    return rb.scan_rows(blocks, n_fires, common, null_seed, row_range)


def _attempts(marker_dir: Path) -> dict[str, int]:
    return {p.name.removesuffix(".attempts"): p.read_text().count("x") for p in marker_dir.iterdir()}


# ------------------------------------------------------------------ ranges
def test_row_ranges_cover_the_rows_in_whole_count_blocks_when_they_can():
    assert row_ranges(80, 16, 3) == [(0, 16), (16, 48), (48, 80)]  # 5 blocks of 16 rows in 3 runs
    assert row_ranges(40, 16, 3) == [(0, 16), (16, 32), (32, 40)]
    assert row_ranges(40, 40, 3) == [(0, 13), (13, 26), (26, 40)]  # one block: even split
    assert row_ranges(2, 40, 3) == [(0, 1), (1, 2)]  # never an empty range
    for f, rows, n in [(131072, 4096, 7), (1000, 3, 8), (5, 1, 5)]:
        ranges = row_ranges(f, rows, n)
        assert ranges[0][0] == 0 and ranges[-1][1] == f and len(ranges) == min(n, f)
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    with pytest.raises(ValueError, match="row_block_tasks must be >= 0"):
        CoactivationConfig(row_block_tasks=-1)


# ------------------------------------------------------------------ (a) local executor
@pytest.mark.parametrize(
    "token_memory_mb, block_rows",
    [(1024.0, 16), (TINY_MB, 16), (1024.0, 4096)],
    ids=["in-memory", "streamed", "one-count-block"],
)
def test_local_row_blocks_equal_the_unsharded_stage(bundle_path, tmp_path, token_memory_mb, block_rows):
    config = CoactivationConfig(min_count=3, block_rows=block_rows, token_memory_mb=token_memory_mb)
    want = _stage(bundle_path, config, tmp_path / "plain")
    sharded = replace(config, row_block_tasks=3)
    got = _stage(bundle_path, sharded, tmp_path / "sharded")
    _assert_same_stage(got, want)
    per_sae = got.stats["perSae"]
    assert [per_sae[s]["rowBlocks"] for s in ("a", "w")] == [3, 3]
    assert per_sae["w"]["streamed"] is (token_memory_mb == TINY_MB)
    files = sorted(p.name for p in (tmp_path / "sharded" / BLOCKS_DIR / "w").glob("*.npz"))
    if block_rows == 16:
        assert files == ["0-16.npz", "16-48.npz", "48-80.npz"]  # whole count blocks of 16 rows
    else:
        assert files == ["0-26.npz", "26-53.npz", "53-80.npz"]
    assert not (tmp_path / "plain" / BLOCKS_DIR).exists()


# ------------------------------------------------------------------ (d) re-runs
def test_a_rerun_reuses_the_blocks_that_finished(bundle_path, tmp_path):
    config = CoactivationConfig(min_count=3, block_rows=16)
    want = _unit(bundle_path, config, "w")
    markers = tmp_path / "attempts"
    markers.mkdir()
    dying = partial(_dying_scan, marker_dir=str(markers), victim=(16, 48), fail="raise")
    plan = RowBlocks(LocalExecutor(), block_dir(tmp_path / "work", "key"), 3, scan=dying)
    with pytest.raises(RuntimeError, match=r"row block \(16, 48\) failed"):
        _unit(bundle_path, config, "w", plan)  # the interrupted run: its first block committed
    assert _attempts(markers) == {"0-16": 1, "16-48": 1}
    plan = RowBlocks(LocalExecutor(), block_dir(tmp_path / "work", "key"), 3, scan=dying)
    got = _unit(bundle_path, config, "w", plan)
    assert _attempts(markers) == {"0-16": 1, "16-48": 2, "48-80": 1}  # 0-16 was read back
    _assert_same_unit(got, want)
    block_dir(tmp_path / "work", "other key")  # other inputs or settings drop the blocks
    assert not list((tmp_path / "work" / BLOCKS_DIR).rglob("*.npz"))


def test_a_stage_rerun_scans_only_the_missing_blocks(bundle_path, tmp_path, monkeypatch):
    config = CoactivationConfig(min_count=3, block_rows=16, row_block_tasks=3)
    work = tmp_path / "work"
    first = _stage(bundle_path, config, work)
    for unit in (work / UNITS_DIR).glob("*.json"):
        unit.unlink()  # interrupted before the SAEs' unit checkpoints committed ...
    (work / BLOCKS_DIR / "w" / "16-48.npz").unlink()  # ... and one block of "w"
    (work / BLOCKS_DIR / "a" / "0-16.npz").write_bytes(b"torn")  # and one unreadable block of "a"
    scanned = []

    def counting(patterns, n_fires, *, row_range, **kw):
        scanned.append((n_fires.size, row_range))
        return tails(patterns, n_fires, row_range=row_range, **kw)

    tails = rb.two_tail_candidates_blocks
    monkeypatch.setattr(rb, "two_tail_candidates_blocks", counting)
    again = _stage(bundle_path, config, work)
    assert scanned == [(40, (0, 16))] * 2 + [(80, (16, 48))] * 2  # the real scan and the null's
    _assert_same_stage(again, first)


# ------------------------------------------------------------------ (b, c) Ray
@pytest.mark.slow
def test_row_blocks_on_ray_equal_the_unsharded_stage(bundle_path, tmp_path, ray_cluster):
    config = CoactivationConfig(min_count=3, block_rows=16)
    want = _stage(bundle_path, config, tmp_path / "plain")
    ray_exec = make_executor("ray", workers=2)
    got = _stage(bundle_path, replace(config, row_block_tasks=3), tmp_path / "ray", ray_exec)
    ray_exec.close()  # joined the fixture's cluster: leaves it running
    _assert_same_stage(got, want)
    assert len(list((tmp_path / "ray" / BLOCKS_DIR).rglob("*.npz"))) == 6


@pytest.mark.slow
def test_a_block_whose_worker_dies_is_retried_alone(bundle_path, tmp_path, ray_cluster):
    config = CoactivationConfig(min_count=3, block_rows=16, token_memory_mb=TINY_MB)
    want = _unit(bundle_path, config, "w")
    markers = tmp_path / "attempts"
    markers.mkdir()
    dying = partial(_dying_scan, marker_dir=str(markers), victim=(16, 48), fail="exit")
    plan = RowBlocks(make_executor("ray", workers=2), block_dir(tmp_path / "work", "key"), 3, scan=dying)
    got = _unit(bundle_path, config, "w", plan)
    assert _attempts(markers) == {"0-16": 1, "16-48": 2, "48-80": 1}  # the killed block, twice
    _assert_same_unit(got, want)
