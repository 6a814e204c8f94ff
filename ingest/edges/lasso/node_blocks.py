"""LASSO's nodewise fits as executor tasks, one per (replicate, dataset, node range), checkpointed.

Algorithm (``[edges.lasso] node_block_tasks`` = B > 0; docs/scaling.md, "Sharded runs on Ray"):
1. The parent (``stage.run_replicates``) takes every replicate that is not on disk, real and
   null, up to its fits (``replicate.PendingReplicate``): the screen (once, or per replicate),
   the subsample's statistics and the node blocks of the nodes with candidates
   (``blocks.node_blocks``). Those steps stay in the parent: they read the per-sequence sums or
   the tokens, which are large; what the fits need is small.
2. ``blocks.node_ranges`` cuts each replicate's nodes into at most B contiguous ranges of about
   equal solver cost. Every (replicate, dataset, range) is one task and the tasks of all
   waiting replicates go to one ``Executor.map``, so up to 2·R·B tasks keep the workers busy
   across replicates with no barrier per replicate (replicates wait until they hold
   ``WAVE_BYTES`` of node blocks or the last one is prepared: a few MB per replicate at 32k
   features, so usually one map per SAE). A task receives its range's ``NodeBlocks.select`` (candidate lists, block
   correlations and the covariates' correlations of the nodes it uses: a few picklable arrays)
   and never the bundle, whose tokens it does not need.
3. ``NodeBlockTask`` solves its range (``blocks.solve_blocks``) and writes the coefficients to
   ``<dir>/rep<r>_<kind>_<lo>-<hi>.npz`` (a temp file, fsynced, then renamed: the commit
   point). A task whose file exists returns it at once (a retry whose earlier attempt had
   committed); the parent reads the files that exist before it maps the others (a re-run).
4. ``NodeBlocksPlan.solve`` returns each replicate's coefficients concatenated in node order:
   those of one fit of every node (``blocks``, step 3). The parent finishes each replicate
   (``PendingReplicate.finish``: AND/OR rule, statistics), writes its replicate checkpoint as
   before and deletes its range files (``clear``), so the edges and statistics are those of
   ``node_block_tasks = 0``; a replicate's ``seconds.solve`` is the sum of its tasks' solves.
``<dir>`` is ``nodes/`` in the SAE's replicate-checkpoint directory, which
``checkpoints.prepare_checkpoints`` empties when the stage's fingerprint (input, settings,
seed) changes, so a range computed from other inputs or settings is never reused.
"""

from __future__ import annotations

import logging
import os
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.blocks import NodeBlocks, node_ranges, solve_blocks
from saegraph.ingest.edges.lasso.checkpoints import KINDS, NODES_DIR, replicate_name, save_replicate
from saegraph.ingest.edges.lasso.replicate import PendingReplicate, ReplicateEdges

log = logging.getLogger(__name__)

WAVE_BYTES = 256 << 20
"""Most bytes of node blocks held for one map: replicates wait for their fits until they hold
this much (or the last one is reached), so the parent's memory stays bounded at any width."""

Solver = Callable[[str, NodeBlocks, LassoConfig], np.ndarray]
"""``solve(name, blocks, config)``: the floored candidate coefficients of one range (step 3)."""


def solve_range(name: str, blocks: NodeBlocks, config: LassoConfig) -> np.ndarray:
    """The default ``Solver``: ``blocks.solve_blocks`` (``name`` is for tests that fail a range)."""
    return solve_blocks(blocks, config)


def save_range(path: Path, coef: np.ndarray, seconds: float) -> None:
    """One range's coefficients at ``path`` (npz), atomically (step 3)."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, coef=np.asarray(coef, dtype=np.float64), seconds=np.float64(seconds))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_range(path: Path, size: int) -> tuple[np.ndarray, float] | None:
    """The range saved at ``path`` when it holds ``size`` coefficients, else None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            coef, seconds = z["coef"], float(z["seconds"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return None
    return (coef, seconds) if coef.shape == (size,) and coef.dtype == np.float64 else None


def _limit_threads() -> None:
    """In a worker process: as many numba threads as the CPUs the task asked for (Ray sets
    ``OMP_NUM_THREADS`` to them), not one per core of the machine."""
    import numba

    try:
        want = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return
    most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    if want > 0:
        numba.set_num_threads(min(want, most))


class NodeBlockTask:
    """One node range of one replicate, solved and checkpointed (step 3)."""

    def __init__(self, config: LassoConfig, directory: Path | None, solve: Solver, *, limit_threads: bool):
        self.config, self.directory, self.solve, self.limit_threads = config, directory, solve, limit_threads

    def path(self, name: str) -> Path | None:
        return self.directory / f"{name}.npz" if self.directory is not None else None

    def __call__(self, item: tuple[str, NodeBlocks]) -> tuple[np.ndarray, float]:
        name, blocks = item
        path = self.path(name)
        if path is not None and path.is_file():
            done = load_range(path, blocks.cand_idx.size)
            if done is not None:
                return done  # an earlier attempt committed it before its worker died
        if self.limit_threads:
            _limit_threads()
        t0 = time.perf_counter()
        coef = np.asarray(self.solve(name, blocks, self.config), dtype=np.float64)
        seconds = time.perf_counter() - t0
        if path is not None:
            save_range(path, coef, seconds)
        return coef, seconds


@dataclass(frozen=True)
class NodeBlocksPlan:
    """How ``stage.run_replicates`` runs its fits (step 4): ``tasks`` node ranges per replicate
    and dataset, on ``executor``."""

    executor: Any
    tasks: int
    solve_fn: Solver = solve_range
    wave_bytes: int = WAVE_BYTES

    def full(self, waiting: Sequence[tuple[int, Sequence[PendingReplicate]]]) -> bool:
        """Whether the replicates waiting for their fits hold ``wave_bytes`` of node blocks."""
        return sum(p.blocks.nbytes for _, pair in waiting for p in pair) >= self.wave_bytes

    def finish(
        self,
        waiting: Sequence[tuple[int, Sequence[PendingReplicate]]],
        config: LassoConfig,
        ckpt: Path | None,
    ) -> list[tuple[int, list[ReplicateEdges]]]:
        """Step 4 for the replicates ``waiting`` ((r, [real, null]) in replicate order): their
        fits as one map of node-block tasks, then each replicate finished, written to ``ckpt``
        (the SAE's replicate checkpoints; None: none) and its range files deleted."""
        nodes_dir = ckpt / NODES_DIR if ckpt is not None else None
        named = [(replicate_name(r, kind), p) for r, pair in waiting for kind, p in zip(KINDS, pair)]
        solved = iter(self.solve(named, config, nodes_dir))
        out = []
        for r, pair in waiting:
            reps = [p.finish(*next(solved)) for p in pair]
            for kind, rep in zip(KINDS, reps):
                if ckpt is not None:
                    save_replicate(ckpt / f"{replicate_name(r, kind)}.npz", rep)
                self.clear(nodes_dir, replicate_name(r, kind))
            out.append((r, reps))
        return out

    def solve(
        self, pending: Sequence[tuple[str, PendingReplicate]], config: LassoConfig, directory: Path | None
    ) -> list[tuple[np.ndarray, float]]:
        """Every pending replicate's (coefficients in node order, summed solve seconds);
        ``pending`` names each (``rep<r>_<kind>``); range files under ``directory`` (None: none)."""
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        task = NodeBlockTask(config, directory, self.solve_fn, limit_threads=not self.executor.in_process)
        ranges = [
            [(f"{name}_{lo}-{hi}", lo, hi) for lo, hi in node_ranges(p.blocks, self.tasks)]
            for name, p in pending
        ]
        done: dict[str, tuple[np.ndarray, float]] = {}
        todo: list[tuple[str, NodeBlocks]] = []
        for (_, p), own in zip(pending, ranges):
            for key, lo, hi in own:
                path = task.path(key)
                got = (
                    load_range(path, p.blocks.n_coefficients(lo, hi))
                    if path is not None and path.is_file()
                    else None
                )
                if got is not None:
                    done[key] = got
                else:
                    todo.append((key, p.blocks.select(lo, hi)))
        log.info(
            "LASSO: %d node-block tasks for %d replicate fits on the %s executor, %d resumed from checkpoints",
            len(todo) + len(done),
            len(pending),
            self.executor.name,
            len(done),
        )
        for (key, _), result in zip(todo, self.executor.map(task, todo)):
            done[key] = result
        out = []
        for own in ranges:
            parts = [done[key] for key, _, _ in own]
            coef = np.concatenate([c for c, _ in parts]) if parts else np.zeros(0, dtype=np.float64)
            out.append((coef, float(sum(s for _, s in parts))))
        return out

    @staticmethod
    def clear(directory: Path | None, name: str) -> None:
        """Delete the range files of replicate ``name`` once its own checkpoint is written."""
        if directory is not None and directory.is_dir():
            for path in directory.glob(f"{name}_*.npz"):
                path.unlink(missing_ok=True)
