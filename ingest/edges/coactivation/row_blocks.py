"""Co-activation's count phase of one SAE, sharded by ranges of feature rows on an executor.

Algorithm (``[edges.coactivation] row_block_tasks``; docs/scaling.md, "Sharded runs on Ray"):
1. ``scan_rows``: both tails' candidates (``tails.two_tail_candidates_blocks``) of the pairs
   (i, j > i) with i in a range [r0, r1) of feature rows, against every column, then the same
   for the within-sequence circular-shift null when it is on; without a range, every row (the
   unsharded stage). Each pair's count, floors and exact p-value depend on that pair alone.
2. ``row_ranges``: ``row_block_tasks`` contiguous ranges covering [0, F). When the count
   buffer's ``rows`` per block give at least that many blocks, each range is a run of whole
   blocks (split as evenly as possible), so the passes over the tokens are the unsharded
   scan's; otherwise F is split into near-equal ranges of fewer than ``rows`` rows (one pass
   each). Ranges never depend on the executor, so their files stay valid across re-runs.
3. ``RowBlockTask((r0, r1))`` computes one range and writes its candidates and scan counts to
   ``<blocks>/<saeId>/<r0>-<r1>.npz`` (a temp file, fsynced, then renamed: the commit point),
   so a retried task redoes only its range and one whose earlier attempt committed returns at
   once. In this process it uses the parent's ``TokenBlocks``; pickled to a worker it reopens
   the bundle from its path (``open_bundle(verify=False)``) and reads the SAE's tokens under
   ``token_memory_mb``. Everything else it needs (the firings n_i, N, the exclusion family's
   threshold, the block rows) comes from the parent.
4. ``RowBlocks.scan`` (the stage's counter, ``stage.coactivation_edges``): reads the ranges
   whose file exists (a re-run after an interruption), maps the others on the executor, then
   concatenates every range in row order (``merge_scans``: the scan counts summed). The
   candidates are those of one unsharded scan, in the same (i, j) order, so the selection that
   follows (BH over all pairs, the floors, the null's FDR, Pearson) gives the same tables and
   statistics; the stats add ``rowBlocks``, the number of ranges.
5. ``block_dir(work_dir, key)``: ``work_dir/blocks``, emptied when its ``KEY`` (the stage
   fingerprint, ``checkpoint.stage_key``) differs, so a range computed from other inputs or
   settings is never reused; the edge runner deletes ``work_dir`` once the stage commits.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import numpy as np

from saegraph.ingest.edges.checkpoint import keyed_dir
from saegraph.ingest.edges.coactivation.counting import block_patterns
from saegraph.ingest.edges.coactivation.tails import two_tail_candidates_blocks
from saegraph.ingest.edges.stats.stream import TokenBlocks, token_blocks

log = logging.getLogger(__name__)

BLOCKS_DIR = "blocks"
FIELDS = ("i", "j", "c", "p")
TAILS = ("pos", "exc", "npos", "nexc")

Candidates = dict[str, np.ndarray]


class Scan(NamedTuple):
    """Both tails' candidates of the real data and of the null (None when off), the scan counts."""

    pos: Candidates
    exc: Candidates
    stats: dict
    npos: Candidates | None
    nexc: Candidates | None
    null_seconds: float


Counter = Callable[[TokenBlocks, np.ndarray, dict, int | None], Scan]
"""``counter(blocks, n_fires, common, null_seed)``: the count phase of ``coactivation_edges``."""


def scan_rows(
    blocks: TokenBlocks,
    n_fires: np.ndarray,
    common: dict[str, Any],
    null_seed: int | None,
    row_range: tuple[int, int] | None = None,
) -> Scan:
    """Step 1: the real scan, then the null's (drawn with ``null_seed``) when not None."""
    pos, exc, stats = two_tail_candidates_blocks(
        block_patterns(blocks), n_fires, row_range=row_range, **common
    )
    if null_seed is None:
        return Scan(pos, exc, stats, None, None, 0.0)
    t0 = time.perf_counter()
    npos, nexc, _ = two_tail_candidates_blocks(
        block_patterns(blocks, null_seed=null_seed),
        n_fires,
        row_range=row_range,
        **{**common, "desc": "co-activation null"},
    )
    return Scan(pos, exc, stats, npos, nexc, time.perf_counter() - t0)


def row_ranges(n_features: int, rows: int, n_tasks: int) -> list[tuple[int, int]]:
    """Step 2: at most ``n_tasks`` contiguous, non-empty ranges of [0, n_features)."""
    rows, n_tasks = max(1, int(rows)), max(1, int(n_tasks))
    n_blocks = -(-n_features // rows)
    if n_blocks >= n_tasks:
        cuts = [min(n_features, rows * (k * n_blocks // n_tasks)) for k in range(n_tasks + 1)]
    else:
        cuts = [k * n_features // n_tasks for k in range(n_tasks + 1)]
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _concat(parts: Sequence[Candidates]) -> Candidates:
    return {k: np.concatenate([p[k] for p in parts]) for k in FIELDS}


def merge_scans(scans: Sequence[Scan]) -> Scan:
    """Step 4: the ranges' scans, in row order, as one scan; counts and seconds summed."""
    stats: dict[str, Any] = {"blockRows": scans[0].stats["blockRows"]}
    for key in scans[0].stats:
        if key != "blockRows":
            total = sum(s.stats[key] for s in scans)
            stats[key] = round(total, 3) if key.startswith("seconds") else int(total)
    stats["rowBlocks"] = len(scans)
    has_null = scans[0].npos is not None
    return Scan(
        _concat([s.pos for s in scans]),
        _concat([s.exc for s in scans]),
        stats,
        _concat([s.npos for s in scans if s.npos is not None]) if has_null else None,
        _concat([s.nexc for s in scans if s.nexc is not None]) if has_null else None,
        sum(s.null_seconds for s in scans),
    )


def save_scan(path: Path, scan: Scan) -> None:
    """One range's scan as ``path`` (npz), atomically (step 3)."""
    arrays = {
        f"{tail}_{k}": cand[k] for tail in TAILS if (cand := getattr(scan, tail)) is not None for k in FIELDS
    }
    arrays["meta"] = np.array(json.dumps({"stats": scan.stats, "nullSeconds": scan.null_seconds}))
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_scan(path: Path) -> Scan | None:
    """The scan saved at ``path``, or None when it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            tails = {t: ({k: z[f"{t}_{k}"] for k in FIELDS} if f"{t}_i" in z.files else None) for t in TAILS}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return None
    pos, exc = tails["pos"], tails["exc"]
    if pos is None or exc is None:
        return None
    return Scan(pos, exc, meta["stats"], tails["npos"], tails["nexc"], float(meta["nullSeconds"]))


def block_dir(work_dir: str | os.PathLike, key: str) -> Path:
    """Step 5: ``work_dir/blocks``, keyed by the stage fingerprint ``key``."""
    return keyed_dir(Path(work_dir) / BLOCKS_DIR, key, stage="coactivation", what="row-block checkpoints")


class RowBlockTask:
    """One range of feature rows of one SAE, computed and checkpointed (step 3)."""

    def __init__(
        self,
        bundle: Any,
        sid: str,
        token_memory_mb: float,
        n_fires: np.ndarray,
        common: dict[str, Any],
        null_seed: int | None,
        directory: Path,
        *,
        blocks: TokenBlocks | None,
        keep_result: bool,
        scan: Callable[..., Scan] = scan_rows,
    ):
        self.bundle_path = str(Path(bundle.path).absolute())  # workers may run in another directory
        self.sid, self.token_memory_mb, self.n_fires = sid, token_memory_mb, n_fires
        self.common, self.null_seed, self.directory = common, null_seed, Path(directory)
        self.keep_result, self.scan = keep_result, scan
        self._blocks = blocks

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_blocks"] = None  # read again from the bundle's path in the worker
        return state

    def path(self, rows: tuple[int, int]) -> Path:
        return self.directory / f"{rows[0]}-{rows[1]}.npz"

    def tokens(self) -> TokenBlocks:
        if self._blocks is None:
            from saegraph.ingest.bundle import open_bundle
            from saegraph.ingest.edges.rows import nonempty_activations

            bundle = open_bundle(self.bundle_path, verify=False)
            stack = partial(nonempty_activations, bundle)
            self._blocks = token_blocks(bundle.activations, (self.sid,), self.token_memory_mb, stack=stack)
        return self._blocks

    def __call__(self, rows: tuple[int, int]) -> Scan | None:
        path = self.path(rows)
        if not self.keep_result and path.is_file():
            return None  # an earlier attempt committed it before its worker died
        result = self.scan(self.tokens(), self.n_fires, self.common, self.null_seed, tuple(rows))
        save_scan(path, result)
        return result if self.keep_result else None


@dataclass(frozen=True)
class RowBlocks:
    """How ``coactivation_unit`` shards its count phase (step 4): ``tasks`` ranges of rows on
    ``executor``, checkpointed under ``directory`` (``block_dir``)."""

    executor: Any
    directory: Path
    tasks: int
    scan: Callable[..., Scan] = scan_rows

    def counter(self, bundle: Any, sid: str, token_memory_mb: float) -> Counter:
        """The ``coactivation_edges`` counter of SAE ``sid``."""
        return partial(self.run, bundle, sid, token_memory_mb)

    def run(
        self,
        bundle: Any,
        sid: str,
        token_memory_mb: float,
        blocks: TokenBlocks,
        n_fires: np.ndarray,
        common: dict[str, Any],
        null_seed: int | None,
    ) -> Scan:
        ranges = row_ranges(int(n_fires.shape[0]), common["rows"], self.tasks)
        if not ranges:
            return scan_rows(blocks, n_fires, common, null_seed)
        directory = self.directory / quote(sid, safe="")
        directory.mkdir(parents=True, exist_ok=True)
        in_process = bool(self.executor.in_process)
        args = {**common, "progress": bool(common.get("progress")) and in_process}
        task = RowBlockTask(
            bundle,
            sid,
            token_memory_mb,
            n_fires,
            args,
            null_seed,
            directory,
            blocks=blocks if in_process else None,
            keep_result=in_process,
            scan=self.scan,
        )
        done: dict[tuple[int, int], Scan] = {}
        for rows in ranges:
            if task.path(rows).is_file():
                cached = load_scan(task.path(rows))
                if cached is None:
                    log.warning("co-activation: ignoring unreadable row-block checkpoint %s", task.path(rows))
                    task.path(rows).unlink()
                else:
                    done[rows] = cached
        pending = [rows for rows in ranges if rows not in done]
        log.info(
            "co-activation for %s: %d row blocks on the %s executor, %d resumed from checkpoints",
            sid,
            len(ranges),
            self.executor.name,
            len(done),
        )
        for rows, result in zip(pending, self.executor.map(task, pending)):
            got = result if result is not None else load_scan(task.path(rows))
            if got is None:
                raise RuntimeError(f"co-activation: row block {rows} of {sid} left no readable checkpoint")
            done[rows] = got
        return merge_scans([done[rows] for rows in ranges])
