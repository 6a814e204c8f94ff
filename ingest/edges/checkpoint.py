"""Per-unit checkpoints of the edge stages, and the committed rows a partial rebuild keeps.

A unit is one pass of a stage's loop: one SAE (coactivation, cosine, lasso) or one SAE pair
(matches, flow). A stage hands its units in canonical order and a ``compute(saes)`` that
returns the unit's row frames by bundle table and its statistics to :meth:`StageUnits.run`.

Algorithm:
1. ``stage_key`` fingerprints what a unit's result depends on: sha256 of the JSON of the
   stage name, its config (``dataclasses.asdict`` less ``enabled``), the seed, the run id and
   the bundle's identity (``bundle_identity``: manifest ``createdAt``, the dataset fingerprint,
   the sha256 of the ``saes`` and ``features`` tables and of ``activations/index.json``, which
   is rewritten whenever activations are (re)built).
2. ``UnitCheckpoints(work_dir, key)`` keeps ``work_dir/units/``; its file ``KEY`` holds the
   key. A different key empties the directory (one info line), so a checkpoint made from
   other inputs or settings is never reused.
3. ``UnitCheckpoints.get(unit, compute)``: when ``<unit>.json`` exists the unit's frames
   (``<unit>.<table>.parquet``) and stats are loaded; otherwise ``compute()`` runs and its
   frames then its stats are written, each to a temp file that is fsynced and renamed. The
   JSON is written last: it is the unit's commit point. An unreadable checkpoint is recomputed.
4. Partial rebuild (``sae_ids``, ``saegraph edges --sae``): a unit that involves none of the
   selected SAEs is taken from the committed tables (``rows_by_unit``) and the committed
   per-unit stats, when the bundle holds them and records the same settings for the stage;
   otherwise it is computed like the selected ones.
5. ``merge_units`` lays kept and rebuilt units out in the stage's canonical order, so the
   stage concatenates them exactly as a full run does (same rows, same order), and the stage
   totals are recomputed from the merged per-unit stats. ``run`` logs "resumed N of M SAEs
   from checkpoints".
6. Executors (``saegraph.ingest.executors``): ``run`` maps the units without a checkpoint
   over the executor (default: in-process, one after the other) as ``unit_tasks.UnitTask``s;
   each task computes its unit and writes its checkpoint itself. Out of process (Ray) the
   parent then reads every unit back from its checkpoint, in canonical order, so the stage
   commits the same table as an in-process run; a stage that keeps no unit checkpoints
   (LASSO, which checkpoints replicates) keeps them when its units run out of process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

UNITS_DIR = "units"
KEY_FILE = "KEY"

Frames = dict[str, pd.DataFrame]
Compute = Callable[[Any, tuple[str, ...]], tuple[Frames, dict]]
"""A stage's unit function: ``compute(bundle, saes)``; module-level so that it pickles."""


@dataclass(frozen=True)
class UnitLayout:
    """How a stage's units appear in its tables and statistics."""

    columns: tuple[str, ...]
    """Table columns that name a row's unit (their values joined by "->")."""
    stats_key: str
    """Key of the per-unit statistics in the stage's stats."""
    noun: str
    """What a unit is, for log lines."""


PER_SAE = UnitLayout(("saeId",), "perSae", "SAEs")
PER_PAIR = UnitLayout(("sourceSae", "targetSae"), "pairs", "SAE pairs")


class UnitResult(NamedTuple):
    """One unit's rows (by bundle table) and statistics."""

    name: str
    saes: tuple[str, ...]
    frames: Frames
    stats: dict


def unit_name(saes: Sequence[str]) -> str:
    """``"a"`` for one SAE, ``"a->b"`` for a pair (the keys of ``perSae`` / ``pairs``)."""
    return "->".join(str(s) for s in saes)


def _settings(config) -> dict:
    data = asdict(config)
    data.pop("enabled", None)
    return data


def _normalized(config) -> Any:
    """The settings as plain JSON values (tuples become lists), for comparison."""
    return json.loads(json.dumps(_settings(config), sort_keys=True, default=_json_default))


def _sha256_file(path: Path) -> str | None:
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bundle_identity(bundle) -> dict:
    """What changes when the bundle's activations (or SAEs) are rebuilt (step 1)."""
    from saegraph.queries.bundle import ACTIVATIONS_DIR

    manifest = getattr(bundle, "manifest", {}) or {}
    tables = manifest.get("tables", {})
    return {
        "createdAt": manifest.get("createdAt"),
        "dataset": (manifest.get("dataset") or {}).get("fingerprint"),
        "saes": tables.get("saes", {}).get("sha256"),
        "features": tables.get("features", {}).get("sha256"),
        "activations": _sha256_file(Path(bundle.path) / ACTIVATIONS_DIR / "index.json"),
    }


def stage_key(bundle, stage: str, config, *, seed: int, run_id: str) -> str:
    """The fingerprint of a stage's unit results (step 1)."""
    payload = {
        "stage": stage,
        "config": _settings(config),
        "seed": int(seed),
        "runId": str(run_id),
        "bundle": bundle_identity(bundle),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _replace_atomic(tmp: Path, final: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)


def keyed_dir(directory: str | os.PathLike, key: str, *, stage: str, what: str = "unit checkpoints") -> Path:
    """``directory``, created, and emptied first when its ``KEY`` file is not ``key`` (step 2)."""
    directory = Path(directory)
    key_path = directory / KEY_FILE
    old = key_path.read_text().strip() if key_path.is_file() else None
    if old != key:
        if directory.exists():
            if old is not None:
                log.info("%s: inputs or settings changed; dropping its %s", stage, what)
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        tmp = key_path.with_name(f"{KEY_FILE}.tmp-{os.getpid()}")
        tmp.write_text(key)
        _replace_atomic(tmp, key_path)
    return directory


class UnitCheckpoints:
    """Finished units of one stage in ``work_dir/units/`` (steps 2-3)."""

    def __init__(self, work_dir: str | os.PathLike, key: str, *, stage: str = "edge stage"):
        self.dir = keyed_dir(Path(work_dir) / UNITS_DIR, key, stage=stage)
        self.key = key
        self.stage = stage
        self.resumed = 0
        self.computed = 0

    def _path(self, unit: str, suffix: str) -> Path:
        return self.dir / f"{quote(unit, safe='')}{suffix}"

    def has(self, unit: str) -> bool:
        """Whether ``unit`` has a committed checkpoint (its stats JSON)."""
        return self._path(unit, ".json").is_file()

    def load(self, unit: str) -> tuple[Frames, dict] | None:
        """The unit's frames and stats, or None when it has no (readable) checkpoint."""
        done = self._path(unit, ".json")
        if not done.is_file():
            return None
        try:
            record = json.loads(done.read_text())
            frames = {
                name: pq.read_table(self._path(unit, f".{name}.parquet")).to_pandas()
                for name in record["tables"]
            }
            return frames, record["stats"]
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            log.warning("%s: ignoring unreadable checkpoint of %s", self.stage, unit)
            return None

    def save(self, unit: str, frames: Frames, stats: dict) -> None:
        """Write the frames, then the stats JSON (the commit point), atomically."""
        for name, frame in frames.items():
            final = self._path(unit, f".{name}.parquet")
            tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
            _replace_atomic(tmp, final)
        final = self._path(unit, ".json")
        tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"tables": list(frames), "stats": stats}, default=_json_default))
        _replace_atomic(tmp, final)

    def get(self, unit: str, compute: Callable[[], tuple[Frames, dict]]) -> tuple[Frames, dict]:
        """The checkpointed result of ``unit``, or ``compute()``'s, checkpointed (step 3)."""
        cached = self.load(unit)
        if cached is not None:
            self.resumed += 1
            return cached
        frames, stats = compute()
        self.save(unit, frames, stats)
        self.computed += 1
        return frames, stats


def rows_by_unit(table: pa.Table, columns: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The rows of a committed table per unit (``unit_name`` of the ``columns`` values), each
    unit's rows in table order."""
    frame = table.to_pandas()
    if not len(frame):
        return {}
    out = {}
    for key, part in frame.groupby(list(columns), sort=False):
        out[unit_name(key if isinstance(key, tuple) else (key,))] = part.reset_index(drop=True)
    return out


def merge_units(
    order: Sequence[tuple[str, ...]],
    kept: Mapping[str, tuple[Frames, dict]],
    rebuilt: Mapping[str, tuple[Frames, dict]],
) -> list[UnitResult]:
    """Every unit of ``order`` (canonical), from ``rebuilt`` when there, else from ``kept``."""
    out = []
    for saes in order:
        name = unit_name(saes)
        frames, stats = rebuilt[name] if name in rebuilt else kept[name]
        out.append(UnitResult(name, tuple(saes), frames, stats))
    return out


class StageUnits:
    """A stage's per-unit loop: kept units of a partial rebuild, checkpoints, computation."""

    def __init__(
        self,
        bundle,
        stage: str,
        config,
        *,
        run_id: str,
        seed: int,
        work_dir: str | os.PathLike | None,
        tables: Sequence[str],
        layout: UnitLayout = PER_SAE,
        sae_ids: Sequence[str] | None = None,
        checkpoints: bool = True,
    ):
        self.bundle, self.stage, self.config = bundle, stage, config
        self.tables, self.layout = tuple(tables), layout
        self.selected = None if sae_ids is None else {str(s) for s in sae_ids}
        self._ckpt_args = (work_dir, run_id, seed)
        self.ckpt = self._checkpoints() if checkpoints else None

    def _checkpoints(self) -> UnitCheckpoints | None:
        work_dir, run_id, seed = self._ckpt_args
        if work_dir is None:
            return None
        key = stage_key(self.bundle, self.stage, self.config, seed=seed, run_id=run_id)
        return UnitCheckpoints(work_dir, key, stage=self.stage)

    def _same_settings(self) -> bool:
        """Whether the bundle records this stage's settings (a missing record means defaults)."""
        from saegraph.ingest.config import from_dict

        recorded = (self.bundle.config.get("edges") or {}).get(self.stage) or {}
        try:
            return _normalized(from_dict(type(self.config), recorded, f"edges.{self.stage}")) == _normalized(
                self.config
            )
        except (ValueError, TypeError, AttributeError):  # an unreadable record: other settings
            return False

    def _committed(self, order: Sequence[tuple[str, ...]]) -> dict[str, tuple[Frames, dict]]:
        """Units not involving a selected SAE that the committed tables and stats hold (step 4)."""
        from saegraph.ingest.edges.runner import EdgeStageError

        selected = self.selected or set()
        wanted = [unit_name(s) for s in order if not selected & set(s)]
        if not wanted:
            return {}
        kept: dict[str, tuple[Frames, dict]] = {}
        if all(self.bundle.has_table(t) for t in self.tables):
            if not self._same_settings():
                raise EdgeStageError(
                    f"--sae: the bundle's {self.stage} table was built with other [edges.{self.stage}] "
                    "settings than these; rebuild every SAE (drop --sae) or keep the recorded settings"
                )
            unit_stats = (self.bundle.stats.get(self.stage) or {}).get(self.layout.stats_key) or {}
            split = {t: rows_by_unit(self.bundle.table(t), self.layout.columns) for t in self.tables}
            empty = {t: self.bundle.table(t).schema.empty_table().to_pandas() for t in self.tables}
            for u in wanted:
                if u in unit_stats:
                    kept[u] = ({t: split[t].get(u, empty[t]) for t in self.tables}, dict(unit_stats[u]))
        missing = [u for u in wanted if u not in kept]
        if missing:
            log.warning(
                "%s: the bundle holds no committed rows for %s; computing them too",
                self.stage,
                ", ".join(missing),
            )
        return kept

    def run(self, order: Sequence[tuple[str, ...]], compute: Compute, executor=None) -> list[UnitResult]:
        """Every unit of ``order`` (tuples of SAE ids) in that order, the missing ones computed
        by ``compute(bundle, saes)`` on ``executor`` (default: in-process) (steps 3-6)."""
        from saegraph.ingest.edges.runner import EdgeStageError
        from saegraph.ingest.edges.unit_tasks import UnitTask
        from saegraph.ingest.executors import local_executor

        executor = local_executor(executor)
        order = [tuple(str(s) for s in saes) for saes in order]
        kept = self._committed(order) if self.selected is not None else {}
        todo = [saes for saes in order if unit_name(saes) not in kept]
        if self.selected is not None:
            log.info(
                "%s: rebuilding %d of %d %s; %d kept from the committed table",
                self.stage,
                len(todo),
                len(order),
                self.layout.noun,
                len(kept),
            )
        if self.ckpt is None and not executor.in_process:
            self.ckpt = self._checkpoints()  # out of process, units come back through them (step 6)
        ckpt = self.ckpt
        rebuilt: dict[str, tuple[Frames, dict]] = {}
        pending = []
        for saes in todo:
            cached = ckpt.load(unit_name(saes)) if ckpt is not None else None
            if cached is None:
                pending.append(saes)
            else:
                rebuilt[unit_name(saes)] = cached
        keep = executor.in_process or ckpt is None
        task = UnitTask(self.bundle, compute, self.tables, ckpt, keep_result=keep)
        if pending and not executor.in_process:
            log.info(
                "%s: %d %s on the %s executor", self.stage, len(pending), self.layout.noun, executor.name
            )
        for saes, result in zip(pending, executor.map(task, pending)):
            name = unit_name(saes)
            if result is None and ckpt is not None:
                result = ckpt.load(name)
            if result is None:
                raise EdgeStageError(f"{self.stage}: unit {name} finished but left no readable checkpoint")
            rebuilt[name] = result
        if ckpt is not None:
            ckpt.resumed, ckpt.computed = len(todo) - len(pending), len(pending)
            if ckpt.resumed:
                log.info(
                    "%s: resumed %d of %d %s from checkpoints",
                    self.stage,
                    ckpt.resumed,
                    len(todo),
                    self.layout.noun,
                )
        return merge_units(order, kept, rebuilt)
