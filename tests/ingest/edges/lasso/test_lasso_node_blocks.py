"""LASSO's nodewise fits as node-block tasks (``lasso.node_blocks``, ``[edges.lasso]
node_block_tasks``) and the skipped nodes without candidates (``lasso.blocks``): the same
coefficients as one fit of every node; the same tables and statistics as node_block_tasks = 0
on the local executor and on a two-worker Ray cluster; a range whose worker dies is retried
alone; a re-run reuses the ranges and replicates that finished."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import saegraph.ingest.edges.lasso.stage as lasso_stage
from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.blocks import node_ranges, solve_blocks
from saegraph.ingest.edges.lasso.checkpoints import prepare_checkpoints
from saegraph.ingest.edges.lasso.node_blocks import NodeBlocksPlan, solve_range
from saegraph.ingest.edges.lasso.replicate import combine_directions
from saegraph.ingest.edges.lasso.resample import choose_sequences, order_by_sequence
from saegraph.ingest.edges.lasso.screen import assemble_blocks
from saegraph.ingest.edges.lasso.solver import solve_nodes
from saegraph.ingest.edges.lasso.stage import build_from_bundle, lasso_edges, lasso_unit
from saegraph.ingest.edges.lasso.sufficient import pending_from_dataset, screen_dataset
from saegraph.ingest.edges.lasso.tokens import sorted_tokens
from saegraph.ingest.executors import LocalExecutor, make_executor
from tests.helpers.builders import make_bundle_from_arrays
from tests.helpers.lasso_synthetic import planted_activations
from tests.helpers.ray_cluster import module_ray_cluster, strip_bookkeeping

# dense covariates (dense_density) in every regression; every replicate's edges kept
BASE = LassoConfig(replicates=3, frequency_strata=1, keep="all", min_firings=10, dense_density=0.05)
VICTIM = "rep001_real_0-"  # the first node range of replicate 1's real fits
BOOKKEEPING = ("seconds",)  # timings


def _planted(seed: int):
    return planted_activations(160, 16, 48, l0=4, n_trees=2, n_pairs=3, planted_rate=0.1, seed=seed)


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    return make_bundle_from_arrays(
        tmp_path_factory.mktemp("lasso_node_blocks") / "bundle",
        {"s0": _planted(8).acts, "s1": _planted(9).acts},
        {"s0": rng.normal(size=(48, 8)), "s1": rng.normal(size=(48, 8))},
        16,
        sequences_per_chunk=40,
    )


@pytest.fixture(scope="module")
def ray_cluster():
    yield from module_ray_cluster(__name__)


def _strip(value):
    return strip_bookkeeping(value, BOOKKEEPING)


def _stage(path: Path, config: LassoConfig, work_dir: Path, executor=None):
    bundle = open_bundle(path)
    return build_from_bundle(
        bundle, config, run_id=bundle.run_id, seed=3, work_dir=work_dir, executor=executor or LocalExecutor()
    )


def _assert_same_stage(got, want) -> None:
    assert want.table.num_rows > 0
    assert got.table.equals(want.table)
    assert _strip(got.stats) == _strip(want.stats)


def _unit(path: Path, config: LassoConfig, work_dir: Path | None, plan=None):
    bundle = open_bundle(path)
    return lasso_unit(bundle, ("s0",), config=config, run_id="r", seed=3, work_dir=work_dir, node_blocks=plan)


def _assert_same_unit(got, want) -> None:
    (f_got, s_got), (f_want, s_want) = got, want
    assert len(f_want["lasso"]) > 0
    pd.testing.assert_frame_equal(f_got["lasso"], f_want["lasso"], check_exact=True)
    assert _strip(s_got) == _strip(s_want)


def _dying_solve(name, blocks, config, *, marker_dir: str, fail: str):
    """``solve_range`` that records each attempt per range; the victim range's first attempt
    kills its worker process (``fail="exit"``) or raises (``fail="raise"``)."""
    log = Path(marker_dir) / f"{name}.attempts"
    with open(log, "a") as fh:
        fh.write("x\n")
        fh.flush()
        os.fsync(fh.fileno())
    if name.startswith(VICTIM) and log.read_text().count("x") == 1:
        if fail == "exit":
            os._exit(1)
        raise RuntimeError(f"node block {name} failed")
    return solve_range(name, blocks, config)


def _attempts(marker_dir: Path) -> dict[str, int]:
    return {p.name.removesuffix(".attempts"): p.read_text().count("x") for p in marker_dir.iterdir()}


def _pending(config: LassoConfig):
    """Replicate 0's real fits, up to the solve, on planted data with dense covariates."""
    d = _planted(8)
    acts, starts = order_by_sequence(d.acts, d.sequence_ids, d.positions)
    ds = screen_dataset(sorted_tokens(acts, starts), None, config)
    chosen = choose_sequences(starts.size - 1, config.subsample_fraction, np.random.default_rng(1))
    return pending_from_dataset(ds, chosen, config)


# ------------------------------------------------------------------ skipped nodes and ranges
def test_skipping_nodes_without_candidates_changes_no_coefficient():
    """The fit of the nodes with candidates equals the fit of every node (the previous
    implementation: a block for every node, covariates only for those without candidates)."""
    config = BASE
    blocks = _pending(config).blocks
    assert blocks.dense_gram.shape[0] > 0 and 0 < blocks.nodes.size < blocks.n_nodes
    # every node's block, as before: the kept nodes' candidates and entries, none for the others
    n_cand = np.zeros(blocks.n_nodes, np.int64)
    n_cand[blocks.nodes] = np.diff(blocks.cand_ptr)
    cand_ptr = np.concatenate([[0], np.cumsum(n_cand)])
    dense_corr = np.zeros((blocks.dense_gram.shape[0], blocks.n_nodes))
    dense_corr[:, blocks.columns] = blocks.dense_corr
    g, g_off, b, b_off, pen = assemble_blocks(
        cand_ptr, blocks.cand_idx, blocks.entry_corr, dense_corr, blocks.dense_gram
    )
    beta, _ = solve_nodes(
        g,
        g_off,
        b,
        b_off,
        pen,
        n_lambdas=config.n_lambdas,
        lambda_min_ratio=config.lambda_min_ratio,
        n_eff=blocks.n_eff,
        n_predictors=max(blocks.n_predictors, 1),
        ebic_gamma=config.ebic_gamma,
        ebic_refit=config.ebic_refit,
    )
    take = np.repeat(b_off[:-1], n_cand) + np.arange(blocks.cand_idx.size) - np.repeat(cand_ptr[:-1], n_cand)
    want = np.where(np.abs(beta[take]) >= config.min_abs_coefficient, beta[take], 0.0)
    got = solve_blocks(blocks, config)
    assert (want != 0).sum() > 0
    assert got.tobytes() == want.tobytes()
    node_of = np.repeat(np.arange(blocks.n_nodes), n_cand)
    keys, weights = combine_directions(node_of, blocks.cand_idx, want, blocks.n_nodes, "and")
    pending = _pending(config)
    fit = pending.solve(config)
    li, lj = keys // blocks.n_nodes, keys % blocks.n_nodes
    assert keys.size > 0 and fit.info["nodesFitted"] == blocks.nodes.size
    np.testing.assert_array_equal(fit.keys, pending.nodes[li] * pending.n_features + pending.nodes[lj])
    assert fit.weights.tobytes() == weights.tobytes()


def test_node_ranges_split_the_fit_exactly():
    config = BASE
    blocks = _pending(config).blocks
    whole = solve_blocks(blocks, config)
    for n in (1, 2, 3, 7, 10_000):
        ranges = node_ranges(blocks, n)
        assert len(ranges) == min(n, blocks.nodes.size)
        assert ranges[0][0] == 0 and ranges[-1][1] == blocks.n_nodes
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(ranges, ranges[1:]))
        parts = [blocks.select(lo, hi) for lo, hi in ranges]
        assert all(p.nodes.size > 0 for p in parts)
        assert [blocks.n_coefficients(lo, hi) for lo, hi in ranges] == [p.cand_idx.size for p in parts]
        assert np.concatenate([solve_blocks(p, config) for p in parts]).tobytes() == whole.tobytes()
    with pytest.raises(ValueError, match="node_block_tasks must be >= 0"):
        LassoConfig(node_block_tasks=-1)


# ------------------------------------------------------------------ local executor
def test_local_node_blocks_equal_the_unsplit_stage(bundle_path, tmp_path):
    want = _stage(bundle_path, BASE, tmp_path / "plain")
    got = _stage(bundle_path, replace(BASE, node_block_tasks=3), tmp_path / "split")
    _assert_same_stage(got, want)
    for sid in ("s0", "s1"):  # replicate checkpoints written, range files cleared
        assert len(list((tmp_path / "split" / sid).glob("rep*.npz"))) == 6
        assert not list((tmp_path / "split" / sid / "nodes").glob("*.npz"))


@pytest.mark.parametrize("screen", ["once", "per_replicate"])
def test_node_blocks_without_checkpoints_equal_the_unsplit_replicates(screen):
    d = _planted(8)
    config = replace(BASE, screen=screen, replicates=2)
    want = lasso_edges(d.acts, d.sequence_ids, d.positions, config, seed=2)
    plan = NodeBlocksPlan(LocalExecutor(), 4)
    got = lasso_edges(d.acts, d.sequence_ids, d.positions, config, seed=2, node_blocks=plan)
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
    assert len(want[0]) > 0 and _strip(got[1]) == _strip(want[1])


def test_a_rerun_reuses_the_ranges_and_replicates_that_finished(bundle_path, tmp_path, monkeypatch):
    want = _unit(bundle_path, BASE, None)
    markers = tmp_path / "attempts"
    markers.mkdir()
    dying = partial(_dying_solve, marker_dir=str(markers), fail="raise")
    plan = NodeBlocksPlan(LocalExecutor(), 3, solve_fn=dying)
    with pytest.raises(RuntimeError, match=f"node block {VICTIM}"):
        _unit(bundle_path, BASE, tmp_path / "work", plan)  # interrupted: the ranges before it committed
    first = _attempts(markers)
    assert first[next(k for k in first if k.startswith(VICTIM))] == 1
    committed = {p.stem for p in (tmp_path / "work" / "s0" / "nodes").glob("*.npz")}
    assert committed and committed == {k for k in first if not k.startswith(VICTIM)}
    got = _unit(bundle_path, BASE, tmp_path / "work", plan)
    again = _attempts(markers)
    assert {k: again[k] - first[k] for k in committed} == dict.fromkeys(committed, 0)  # read back
    assert {n for k, n in again.items() if k not in committed} == {1, 2}  # the victim twice, others once
    assert [n for k, n in again.items() if k.startswith(VICTIM)] == [2]
    _assert_same_unit(got, want)
    # the split is not part of the replicates' fingerprint: node_block_tasks 0 reads them back
    calls: list[int] = []
    real = lasso_stage._compute_replicate
    monkeypatch.setattr(
        lasso_stage, "_compute_replicate", lambda r, *a, **k: calls.append(r) or real(r, *a, **k)
    )
    frames, _ = _unit(bundle_path, BASE, tmp_path / "work")  # (no screen ran: its statistics are empty)
    assert calls == []
    pd.testing.assert_frame_equal(frames["lasso"], want[0]["lasso"], check_exact=True)
    # other inputs or settings drop the replicates and the range files
    sae_dir = tmp_path / "work" / "s0"
    (sae_dir / "nodes" / "rep000_real_0-5.npz").write_bytes(b"stale")
    prepare_checkpoints(sae_dir, {"other": "fingerprint"})
    assert not list(sae_dir.glob("rep*.npz")) and not (sae_dir / "nodes").exists()


def test_waves_of_replicates_and_a_missing_early_one(bundle_path, tmp_path, monkeypatch):
    want = _unit(bundle_path, BASE, None)
    plan = NodeBlocksPlan(LocalExecutor(), 2, wave_bytes=1)  # one map per replicate
    _assert_same_unit(_unit(bundle_path, BASE, tmp_path / "work", plan), want)
    (tmp_path / "work" / "s0" / "rep000_null.npz").unlink()  # the last replicates are on disk
    calls: list[int] = []
    real = lasso_stage._compute_replicate
    monkeypatch.setattr(
        lasso_stage, "_compute_replicate", lambda r, *a, **k: calls.append(r) or real(r, *a, **k)
    )
    _assert_same_unit(_unit(bundle_path, BASE, tmp_path / "work", plan), want)
    assert calls == [0]


# ------------------------------------------------------------------ Ray
@pytest.mark.slow
def test_node_blocks_on_ray_equal_the_unsplit_stage(bundle_path, tmp_path, ray_cluster):
    want = _stage(bundle_path, BASE, tmp_path / "plain")
    ray_exec = make_executor("ray", workers=2)
    got = _stage(bundle_path, replace(BASE, node_block_tasks=3), tmp_path / "ray", ray_exec)
    ray_exec.close()  # joined the fixture's cluster: leaves it running
    _assert_same_stage(got, want)


@pytest.mark.slow
def test_a_node_block_whose_worker_dies_is_retried_alone(bundle_path, tmp_path, ray_cluster):
    want = _unit(bundle_path, BASE, None)
    markers = tmp_path / "attempts"
    markers.mkdir()
    dying = partial(_dying_solve, marker_dir=str(markers), fail="exit")
    plan = NodeBlocksPlan(make_executor("ray", workers=2), 3, solve_fn=dying)
    got = _unit(bundle_path, BASE, tmp_path / "work", plan)
    attempts = _attempts(markers)
    victims = [k for k in attempts if k.startswith(VICTIM)]
    assert len(victims) == 1 and len(attempts) > 3
    assert attempts == {k: 2 if k in victims else 1 for k in attempts}  # the killed range, twice
    _assert_same_unit(got, want)
