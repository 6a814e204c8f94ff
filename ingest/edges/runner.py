"""Run the edge stages on a finished bundle and commit each one as soon as it finishes.

Algorithm (docs/bundle.md "Edge stage interface"):
1. Open the bundle; the config defaults to the manifest's resolved ``config["edges"]``
   (rebuilt with ``saegraph.ingest.config.from_dict``), the run id to the bundle's, the seed to
   ``config["run"]["seed"]``. ``sae_ids`` (``saegraph edges --sae``) must name SAEs of the
   bundle (``check_sae_ids``; an unknown id is a one-line error naming the known ones).
2. Pick the stages: ``only`` (any order given, run in the canonical order) or every
   enabled stage, in the order coactivation, cosine, matches, flow, lasso.
3. For each stage import ``saegraph.ingest.edges.<stage>`` lazily, call its ``build_from_bundle``
   with ``work_dir = BUNDLE/.work/<stage>/`` (and ``sae_ids`` when given) and commit its table
   and statistics with ``saegraph.ingest.bundle.update_bundle`` (atomic; the manifest is the
   commit point), then delete ``work_dir``.
4. Inside a stage every unit (one SAE, or one SAE pair for matches and flow) is checkpointed
   in ``work_dir/units/`` as it finishes (``edges.checkpoint``; LASSO checkpoints each
   replicate in ``work_dir/<saeId>/``), so an interruption loses at most the unit in progress:
   the next run loads the finished units, keyed by a fingerprint of the stage's settings,
   the seed, the run id and the bundle's activations.
5. With ``sae_ids`` a stage recomputes only the units that involve those SAEs and takes the
   others' rows and per-unit statistics from its committed table; the committed table is the
   union in the order a full run writes, and its stats carry ``rebuiltSaes``.
6. ``executor`` (``saegraph.ingest.executors``; default in-process) runs a stage's units:
   on Ray each unit is a task that reopens the bundle from its path and writes its own
   checkpoint; the stage then reads the units back in canonical order, so the committed
   tables are the ones an in-process run commits. Stages still run one after the other.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from saegraph.errors import SaegraphError
from saegraph.ingest.config import EdgesConfig, from_dict
from saegraph.ingest.executors import Executor, local_executor

log = logging.getLogger(__name__)

# stage name -> (module, bundle table) in the order the stages run
STAGES: dict[str, tuple[str, str]] = {
    "coactivation": ("saegraph.ingest.edges.coactivation.stage", "co_activates"),
    "cosine": ("saegraph.ingest.edges.cosine.stage", "cosine"),
    "matches": ("saegraph.ingest.edges.matches.stage", "matches"),
    "flow": ("saegraph.ingest.edges.flow.stage", "flows_to"),
    "lasso": ("saegraph.ingest.edges.lasso.stage", "lasso"),
}
WORK_DIR = ".work"

_PROGRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("saegraph_edges_progress", default=False)


class StageResult(NamedTuple):
    """What an edge stage hands back: the bundle table it fills, the table, its statistics."""

    table_name: str
    table: pa.Table
    stats: dict
    extra_tables: dict[str, pa.Table] = {}
    """Further bundle tables the stage fills (co-activation: ``excludes``)."""


class EdgeStageError(SaegraphError, RuntimeError):
    """An edge stage cannot run (unknown name, missing module, bad bundle)."""


def json_safe(value: Any) -> Any:
    """Stats as plain JSON: NaN/inf become None, numpy scalars become Python numbers."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def progress_enabled() -> bool:
    """Whether stages should show progress bars (set by :func:`run_edges`)."""
    return _PROGRESS.get()


@contextmanager
def show_progress(enabled: bool) -> Iterator[None]:
    token = _PROGRESS.set(bool(enabled))
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def edges_config_of(bundle) -> EdgesConfig:
    """The resolved edges config stored in the bundle manifest (defaults if absent)."""
    data = bundle.config.get("edges") if isinstance(bundle.config, dict) else None
    return from_dict(EdgesConfig, data, "edges") if data else EdgesConfig()


def select_stages(edges_config: EdgesConfig, only: Sequence[str] | None) -> list[str]:
    """Stage names to run, in canonical order."""
    if only:
        unknown = sorted(set(only) - set(STAGES))
        if unknown:
            raise EdgeStageError(
                f"unknown edge stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}"
            )
        return [s for s in STAGES if s in set(only)]
    return [s for s in STAGES if getattr(edges_config, s).enabled]


def load_stage(stage: str):
    """The ``build_from_bundle`` function of ``stage`` (imported on first use)."""
    module_name = STAGES[stage][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise EdgeStageError(
            f"edge stage {stage!r} is not available ({module_name} is missing): "
            f"disable it with [edges.{stage}] enabled = false or pick stages with --only"
        ) from exc
    return module.build_from_bundle


def check_sae_ids(bundle, sae_ids: Sequence[str] | None) -> list[str] | None:
    """The selected SAE ids in bundle order (None: every SAE); unknown ids are an error."""
    if not sae_ids:
        return None
    known = bundle.sae_ids
    unknown = [s for s in dict.fromkeys(str(s) for s in sae_ids) if s not in known]
    if unknown:
        raise EdgeStageError(
            f"unknown SAE id(s) {', '.join(unknown)} in {bundle.path}; known: {', '.join(known)}"
        )
    chosen = {str(s) for s in sae_ids}
    return [s for s in known if s in chosen]


def _drop_if_nothing_finished(work_root: Path, work_dir: Path) -> None:
    """After a failed stage: remove its work directory when it holds nothing but checkpoint keys
    (no finished unit, block or replicate), and ``.work`` when it is then empty, so that a stage
    that failed before finishing anything leaves the bundle exactly as it found it."""
    from saegraph.ingest.edges.checkpoint import KEY_FILE

    if not work_dir.is_dir():
        return
    if any(f.is_file() and f.name != KEY_FILE for f in work_dir.rglob("*")):
        return  # finished units stay for the re-run to resume from
    shutil.rmtree(work_dir, ignore_errors=True)
    if work_root.is_dir() and not any(work_root.iterdir()):
        work_root.rmdir()


def run_edges(
    bundle_path: str | Path,
    edges_config: EdgesConfig | None = None,
    only: list[str] | None = None,
    *,
    progress: bool = True,
    sae_ids: Sequence[str] | None = None,
    executor: Executor | None = None,
) -> dict[str, dict[str, Any]]:
    """Build the selected edge stages of a finished bundle; returns {stage: stats}.

    ``sae_ids`` rebuilds those SAEs only (step 5 of the module docstring); ``executor`` runs
    each stage's units (step 6; default: in-process, one after the other)."""
    from saegraph.ingest.bundle import open_bundle, update_bundle

    executor = local_executor(executor)

    path = Path(bundle_path)
    bundle = open_bundle(path)
    selected = check_sae_ids(bundle, sae_ids)
    config = edges_config if edges_config is not None else edges_config_of(bundle)
    run_cfg = bundle.config.get("run", {}) if isinstance(bundle.config, dict) else {}
    seed = int(run_cfg.get("seed", 0))
    run_id = bundle.run_id
    results: dict[str, dict[str, Any]] = {}
    for stage in select_stages(config, only):
        build = load_stage(stage)
        work_dir = path.absolute() / WORK_DIR / stage  # absolute: executor tasks run elsewhere
        work_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        log.info(
            "edge stage %s on %s%s (%s executor)",
            stage,
            path,
            f" for SAEs {', '.join(selected)}" if selected else "",
            executor.name,
        )
        partial = {"sae_ids": selected} if selected is not None else {}
        try:
            with show_progress(progress):
                result = build(
                    bundle,
                    getattr(config, stage),
                    run_id=run_id,
                    seed=seed,
                    work_dir=work_dir,
                    executor=executor,
                    **partial,
                )
        except BaseException:
            _drop_if_nothing_finished(path.absolute() / WORK_DIR, work_dir)
            raise
        expected = STAGES[stage][1]
        if result.table_name != expected:
            raise EdgeStageError(f"stage {stage} returned table {result.table_name!r}, expected {expected!r}")
        stats = json_safe(dict(result.stats))
        stats.setdefault("seconds", round(time.perf_counter() - t0, 3))
        stats.setdefault("rows", int(result.table.num_rows))
        if selected is not None:
            stats["rebuiltSaes"] = list(selected)
        bundle = update_bundle(
            path,
            tables={expected: result.table, **result.extra_tables},
            stats={stage: stats},
            edges_config={stage: json_safe(asdict(getattr(config, stage)))},
        )
        shutil.rmtree(work_dir, ignore_errors=True)
        results[stage] = stats
    work_root = path / WORK_DIR
    if work_root.is_dir() and not any(work_root.iterdir()):
        work_root.rmdir()
    return results
