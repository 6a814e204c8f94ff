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
   and different runs stay apart by ``runId``.
5. Mark the ``:Run`` complete.
Every batch is retried with exponential backoff on transient errors (deadlocks, leader
switches, a briefly unavailable server); other errors stop the load with the batch named.
The runner is any callable ``(query_name, params) -> None``; :class:`StoreRunner` runs the
named statements on a :class:`queries.stores.Neo4jStore`, tests pass a recording fake.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
from tqdm.auto import tqdm

from ingest.bundle import open_bundle
from ingest.stores.common import NODE_ORDER, LoadReport, dataset_id, node_table, rel_table
from queries.enums import Label, RelType

log = logging.getLogger(__name__)

Runner = Callable[[str, dict[str, Any]], Any]
DEFAULT_BATCH_SIZE = 10_000


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
    return isinstance(exc, (TransientError, ServiceUnavailable, SessionExpired, ConnectionError, TimeoutError))


def run_with_retry(runner: Runner, name: str, params: dict[str, Any], *, retries: int = 5,
                   backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> Any:
    """Call ``runner`` and retry transient failures with exponential backoff (0.5, 1, 2 ... s)."""
    for attempt in range(retries + 1):
        try:
            return runner(name, params)
        except Exception as exc:  # noqa: BLE001 - classified below
            if not is_transient(exc) or attempt == retries:
                raise
            delay = backoff * 2 ** attempt
            log.warning("transient error in %s (attempt %d/%d), retrying in %.1f s: %s",
                        name, attempt + 1, retries, delay, exc)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _clean(value: Any) -> Any:
    """Neo4j has no null inside lists and cannot store NaN-free ints from pandas floats: keep Python values."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def batches(table: pa.Table, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Row dicts in batches of ``batch_size`` (NaN -> null, so SET n += row skips it)."""
    for batch in table.to_batches(max_chunksize=batch_size):
        rows = batch.to_pylist()
        yield [{k: _clean(v) for k, v in row.items()} for row in rows]


def rel_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{source, target, runId, props}`` maps for ``_load.merge_rels``."""
    return [{"source": r.pop("source"), "target": r.pop("target"), "runId": r["runId"], "props": r} for r in rows]


def load_bundle_neo4j(bundle_path, runner: Runner, *, batch_size: int = DEFAULT_BATCH_SIZE,
                      apply_schema: Callable[[], Any] | None = None, progress: bool = True,
                      retries: int = 5, backoff: float = 0.5,
                      sleep: Callable[[float], None] = time.sleep) -> LoadReport:
    """Load one bundle through ``runner``; see the module docstring."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    t0 = time.perf_counter()
    bundle = open_bundle(bundle_path)
    run_id = bundle.run_id
    report = LoadReport(run_id=run_id, store="neo4j")
    if apply_schema is not None:
        apply_schema()

    def call(name: str, **params: Any) -> None:
        run_with_retry(runner, name, params, retries=retries, backoff=backoff, sleep=sleep)

    total = sum(t.num_rows for t in (node_table(bundle, lb) for lb in NODE_ORDER) if t is not None)
    total += sum(t.num_rows for t in (rel_table(bundle, r) for r in RelType) if t is not None)
    bar = tqdm(total=total, desc=f"load {run_id} -> neo4j", unit="row", disable=not progress)

    for label in NODE_ORDER:
        table = node_table(bundle, label)
        if table is None:
            continue
        for rows in batches(table, batch_size):
            call("_load.merge_nodes", label=label, rows=rows)
            bar.update(len(rows))
        report.nodes[label.value] = table.num_rows

    features = node_table(bundle, Label.FEATURE)
    if features is not None:
        for rows in batches(features.select(["featureId", "saeId"]), batch_size):
            call("_load.merge_in_sae", rows=rows)
    saes = node_table(bundle, Label.SAE)
    if saes is not None:
        for rows in batches(saes.select(["saeId", "modelId"]), batch_size):
            call("_load.merge_of_model", rows=rows)
    call("_load.merge_produced", runId=run_id, saeIds=bundle.sae_ids)
    ds = dataset_id(bundle)
    if ds is not None and bundle.has_table("datasets"):
        call("_load.merge_used", runId=run_id, datasetId=ds)

    t_rel = time.perf_counter()
    for rel in RelType:
        table = rel_table(bundle, rel)
        report.relationships[rel.value] = 0 if table is None else table.num_rows
        if table is None:
            continue
        for rows in batches(table, batch_size):
            call("_load.merge_rels", relType=rel, rows=rel_rows(rows))
            bar.update(len(rows))
    report.rel_seconds = time.perf_counter() - t_rel

    call("_load.set_run_complete", runId=run_id, complete=True)
    bar.close()
    report.seconds = time.perf_counter() - t0
    log.info(report.summary())
    return report
