"""Load a graph bundle into Neo4j by batched ``UNWIND $rows`` (idempotent MERGE on ids).

Algorithm:
1. Apply the schema (uniqueness constraints + range indexes, ``IF NOT EXISTS``) so MERGE on
   ids is index-backed.
2. Nodes before relationships, in order Model, Dataset, SAE, Run (``complete = false``),
   Feature: ``_load.merge_nodes`` in batches of ``batch_size`` rows (MERGE on the id,
   ``SET n += row``).
3. Structural links: IN_SAE, OF_MODEL (batched), PRODUCED and USED (provenance of the run).
4. Feature-to-feature relationships per type: ``_load.merge_rels`` MERGEs one relationship
   per (source, target, runId) and sets the other columns, so re-loading a run is a no-op
   and different runs stay apart by ``runId``. Rows with a ``method`` (MATCHES: a run may link
   one pair by several methods) go to ``_load.merge_rels_by_method``, keyed on
   (source, target, runId, method). Both find an existing relationship by expanding between
   the two endpoints, never through the ``runId`` relationship index: the planner, with
   index statistics still sampled from before the load, chose that index for MERGE and
   scanned every relationship of the run for each row -- quadratic, ~180 rels/s at 100k
   relationships (docs/benchmarks.md, "Measured design choices"). One loader per run at a
   time: unlike MERGE, the lookup takes no lock on the pair.
5. Mark the ``:Run`` complete (its resume record removed first).
Every batch is retried with exponential backoff on transient errors (deadlocks, leader
switches, a briefly unavailable server); other errors stop the load with the batch named
(a note on the exception). When the retries run out the load raises :class:`LoadInterrupted`
naming the failing batch and the last committed one.

Resume (a re-run continues where an interrupted load stopped): from the ``:Run`` node on,
after every committed batch the loader records on that node ``loadStep`` (the step: a label,
link or relationship type), ``loadRowsDone`` (rows of that step committed) and
``loadBundle`` (a fingerprint of the bundle's table checksums) -- one small extra statement
per batch (``_load.set_load_progress``). A load first reads the record
(``_load.load_progress``); when the run is not complete and the fingerprint matches, it
skips the steps before ``loadStep`` and that step's first ``loadRowsDone`` rows. The record
is written after its batch commits, so it never claims work that is not in the store; at
worst (a failure between the two statements) one batch is MERGEd again, which MERGE makes
harmless. Steps before the ``:Run`` node exists (Model, Dataset, SAE) are not recorded, a
load interrupted there starts again from the beginning. The record is removed before the
run is marked complete, so re-loading a complete run MERGEs everything again (a no-op).
The record lives on the ``:Run`` node rather than in a separate node so that deleting a run
deletes it too; ``resume=False`` ignores it.
The runner is any callable ``(query_name, params) -> None``; :class:`StoreRunner` runs the
named statements on a :class:`saegraph.queries.neo4j_store.Neo4jStore`, tests pass a recording fake.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from tqdm.auto import tqdm

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.common import (
    NODE_ORDER,
    LoadInterrupted,
    LoadReport,
    dataset_id,
    node_table,
    rel_table,
)
from saegraph.schema.graph import Label, RelType

log = logging.getLogger(__name__)

Runner = Callable[[str, dict[str, Any]], Any]
DEFAULT_BATCH_SIZE = 10_000
PROGRESS_KEYS = ("loadStep", "loadRowsDone", "loadBundle")  # the resume record on the :Run node


class StoreRunner:
    """Runs named statements on a Neo4j store (enum parameters pass through to the registry)."""

    def __init__(self, store):
        self.store = store

    def __call__(self, name: str, params: dict[str, Any]) -> Any:
        return self.store.run_named(name, **params)


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: Neo4j transient errors, lost connections, timeouts."""
    try:
        from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError
    except ImportError:  # pragma: no cover - neo4j is a dependency
        return isinstance(exc, (ConnectionError, TimeoutError))
    return isinstance(
        exc, (TransientError, ServiceUnavailable, SessionExpired, ConnectionError, TimeoutError)
    )


def run_with_retry(
    runner: Runner,
    name: str,
    params: dict[str, Any],
    *,
    retries: int = 5,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Call ``runner`` and retry transient failures with exponential backoff (0.5, 1, 2 ... s)."""
    for attempt in range(retries + 1):
        try:
            return runner(name, params)
        except Exception as exc:
            if not is_transient(exc) or attempt == retries:
                raise
            delay = backoff * 2**attempt
            log.warning(
                "transient error in %s (attempt %d/%d), retrying in %.1f s: %s",
                name,
                attempt + 1,
                retries,
                delay,
                exc,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _clean(value: Any) -> Any:
    """A value Neo4j can store: NaN -> null (``SET n += row`` skips it); no null inside a list.

    Neo4j refuses a list holding null ("Collections containing null values can not be stored
    in properties"), which failed the whole batch. A null element becomes NaN in a list of
    numbers and "" in a list of strings (positions kept: topTokens and topTokenActs stay
    aligned); a list of other values holding a null is dropped (null) with a warning.
    """
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list) and any(v is None for v in value):
        kinds = {type(v) for v in value if v is not None}
        if kinds <= {float, int} and bool not in kinds:
            return [math.nan if v is None else float(v) for v in value]
        if kinds <= {str}:
            return ["" if v is None else v for v in value]
        log.warning("dropping a list property holding null (Neo4j cannot store it): %r", value[:5])
        return None
    return value


def batches(table: pa.Table, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Row dicts in batches of ``batch_size`` (NaN -> null, so SET n += row skips it)."""
    for batch in table.to_batches(max_chunksize=batch_size):
        rows = batch.to_pylist()
        yield [{k: _clean(v) for k, v in row.items()} for row in rows]


def rel_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{source, target, runId, props}`` maps for ``_load.merge_rels``."""
    return [
        {"source": r.pop("source"), "target": r.pop("target"), "runId": r["runId"], "props": r} for r in rows
    ]


@dataclass
class _Step:
    """One load step: a table sent in batches to one named statement (``rows`` None: one call)."""

    name: str  # label, link or relationship type; the resume record's ``loadStep``
    statement: str
    rows: pa.Table | None
    params: dict[str, Any] = field(default_factory=dict)
    as_rel: bool = False

    @property
    def n_rows(self) -> int:
        return 1 if self.rows is None else self.rows.num_rows


def _steps(bundle) -> list[_Step]:
    """The load's steps in order (module docstring, steps 2-4)."""
    steps = []
    for label in NODE_ORDER:
        table = node_table(bundle, label)
        if table is not None:
            steps.append(_Step(label.value, "_load.merge_nodes", table, {"label": label}))
    features = node_table(bundle, Label.FEATURE)
    if features is not None:
        steps.append(_Step("IN_SAE", "_load.merge_in_sae", features.select(["featureId", "saeId"])))
    saes = node_table(bundle, Label.SAE)
    if saes is not None:
        steps.append(_Step("OF_MODEL", "_load.merge_of_model", saes.select(["saeId", "modelId"])))
    steps.append(
        _Step("PRODUCED", "_load.merge_produced", None, {"runId": bundle.run_id, "saeIds": bundle.sae_ids})
    )
    ds = dataset_id(bundle)
    if ds is not None and bundle.has_table("datasets"):
        steps.append(_Step("USED", "_load.merge_used", None, {"runId": bundle.run_id, "datasetId": ds}))
    for rel in RelType:
        table = rel_table(bundle, rel)
        if table is not None:
            steps.append(_Step(rel.value, "_load.merge_rels", table, {"relType": rel}, as_rel=True))
    return steps


def bundle_fingerprint(bundle) -> str:
    """A short hash of the bundle's run id and table checksums (a resume record must match it)."""
    tables = {name: entry.get("sha256") for name, entry in sorted(bundle.tables.items())}
    text = json.dumps({"runId": bundle.run_id, "tables": tables}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _records(result: Any) -> list[dict[str, Any]]:
    """Rows of a runner's result: a DataFrame (StoreRunner), a list of dicts, or None."""
    if result is None:
        return []
    if hasattr(result, "to_dict"):
        return result.to_dict("records")
    return list(result)


def _is_true(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and bool(value)


def resume_point(result: Any, fingerprint: str) -> tuple[str, int] | None:
    """(step, rows done) from a ``_load.load_progress`` result, or None to load from the start."""
    records = _records(result)
    if not records or _is_true(records[0].get("complete")):
        return None
    props = records[0].get("props") or {}
    step, rows = props.get("loadStep"), props.get("loadRowsDone")
    if props.get("loadBundle") != fingerprint or step is None or rows is None:
        return None
    return str(step), int(rows)


def forget_load_progress(runner: Runner, run_id: str) -> None:
    """Remove a run's resume record (the next load of it starts from the beginning)."""
    runner("_load.set_load_progress", {"runId": run_id, "progress": dict.fromkeys(PROGRESS_KEYS)})


def _batch_label(step: str, index: int, start: int, stop: int) -> str:
    return f"{step} batch {index + 1} (rows {start + 1}-{stop})"


def load_bundle_neo4j(
    bundle_path,
    runner: Runner,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    apply_schema: Callable[[], Any] | None = None,
    progress: bool = True,
    retries: int = 5,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    resume: bool = True,
) -> LoadReport:
    """Load one bundle through ``runner``; see the module docstring.

    Raises :class:`LoadInterrupted` when a batch still fails after ``retries`` transient
    errors; a re-run (``resume=True``) continues after the last recorded batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    t0 = time.perf_counter()
    bundle = open_bundle(bundle_path)
    run_id = bundle.run_id
    report = LoadReport(run_id=run_id, store="neo4j")
    if apply_schema is not None:
        apply_schema()
    steps = _steps(bundle)
    fingerprint = bundle_fingerprint(bundle)
    last_committed: str | None = None

    def call(step: str, where: str, rows_done: int, name: str, **params: Any) -> Any:
        try:
            return run_with_retry(runner, name, params, retries=retries, backoff=backoff, sleep=sleep)
        except Exception as exc:
            done = (
                f"the last committed batch was {last_committed}"
                if last_committed
                else "no batch was committed"
            )
            if is_transient(exc):
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                raise LoadInterrupted(
                    f"load of run {run_id} gave up after {retries} retries at {where} ({name}: "
                    f"{type(exc).__name__}: {first}); {done}: check the server, then re-run the same "
                    f"load to continue after it",
                    run_id=run_id,
                    step=step,
                    rows_committed=rows_done,
                    last_committed=last_committed,
                ) from exc
            exc.add_note(f"saegraph: load of run {run_id} stopped at {where} ({name}); {done}")
            raise

    start_step, start_rows = None, 0
    if resume:
        point = resume_point(
            call("start", "reading the resume record", 0, "_load.load_progress", runId=run_id), fingerprint
        )
        names = [s.name for s in steps]
        if point is not None and point[0] in names:
            start_step, start_rows = point
            report.resumed_from = f"{start_step} after {start_rows} rows"
            log.info("run %s: resuming an interrupted load at %s", run_id, report.resumed_from)

    report.relationships = dict.fromkeys((rel.value for rel in RelType), 0)
    for step in steps:
        if step.statement == "_load.merge_nodes":
            report.nodes[step.name] = step.n_rows
        elif step.as_rel:
            report.relationships[step.name] = step.n_rows
    bar = tqdm(
        total=sum(s.n_rows for s in steps), desc=f"load {run_id} -> neo4j", unit="row", disable=not progress
    )
    skipping = start_step is not None
    run_exists = skipping  # a resume record lives on the :Run node, so it exists
    t_rel = None
    for step in steps:
        if step.as_rel and t_rel is None:
            t_rel = time.perf_counter()
        offset = 0
        if skipping:
            if step.name != start_step:
                bar.update(step.n_rows)
                continue
            skipping, offset = False, min(start_rows, step.n_rows)
            bar.update(offset)
        for lo, hi, calls in _step_batches(step, batch_size, offset):
            where = _batch_label(step.name, lo // batch_size, lo, hi)
            for statement, params in calls:
                call(step.name, where, lo, statement, **params)
            last_committed = where
            bar.update(hi - lo)
            run_exists = run_exists or step.name == Label.RUN.value
            if run_exists:
                call(
                    step.name,
                    f"recording progress after {where}",
                    hi,
                    "_load.set_load_progress",
                    runId=run_id,
                    progress={"loadStep": step.name, "loadRowsDone": hi, "loadBundle": fingerprint},
                )
    report.rel_seconds = time.perf_counter() - t_rel if t_rel is not None else 0.0

    call(
        "complete",
        "clearing the resume record",
        0,
        "_load.set_load_progress",
        runId=run_id,
        progress=dict.fromkeys(PROGRESS_KEYS),
    )
    call("complete", "marking the run complete", 0, "_load.set_run_complete", runId=run_id, complete=True)
    bar.close()
    report.seconds = time.perf_counter() - t0
    log.info(report.summary())
    return report


Call = tuple[str, dict[str, Any]]  # (statement name, parameters)


def _step_batches(step: _Step, batch_size: int, offset: int) -> Iterator[tuple[int, int, list[Call]]]:
    """(first row, end row, statement calls) of each batch of a step from row ``offset`` on."""
    if step.rows is None:
        if offset < 1:
            yield 0, 1, [(step.statement, step.params)]
        return
    for lo, rows in _offset_batches(step.rows, batch_size, offset):
        if step.as_rel:
            calls = _rel_calls(step, rel_rows(rows))
        else:
            calls = [(step.statement, {**step.params, "rows": rows})]
        yield lo, lo + len(rows), calls


def _rel_calls(step: _Step, rows: list[dict[str, Any]]) -> list[Call]:
    """One batch of relationship rows as statement calls (module docstring, step 4): rows with a
    ``method`` go to ``_load.merge_rels_by_method``, the rest to ``_load.merge_rels``."""
    by_method = [r for r in rows if r["props"].get("method") is not None]
    plain = [r for r in rows if r["props"].get("method") is None] if by_method else rows
    calls = []
    if plain:
        calls.append((step.statement, {**step.params, "rows": plain}))
    if by_method:
        calls.append(("_load.merge_rels_by_method", {**step.params, "rows": by_method}))
    return calls


def _offset_batches(
    table: pa.Table, batch_size: int, offset: int
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(first row, row dicts) per batch of ``table`` from row ``offset`` on."""
    lo = offset
    for rows in batches(table.slice(offset), batch_size):
        yield lo, rows
        lo += len(rows)
