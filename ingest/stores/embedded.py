"""Load a graph bundle into the embedded LadybugDB store by COPY from Arrow.

Algorithm (idempotent re-load of the same run; runs kept apart by ``runId``):
1. Open the bundle (checksums verified) and the store (schema applied, ``schema/embedded.cypher``).
2. Remove this run's relationships (CO_ACTIVATES, LASSO, COSINE, MATCHES) and its PRODUCED /
   USED links, so a repeated or interrupted load starts clean: when the store holds no other
   ``:Run`` those tables hold nothing else and are emptied at once (``DROP`` + ``CREATE``);
   otherwise only the rows carrying this ``runId`` are deleted.
3. Nodes in order Model, Dataset, SAE, Run (``complete = false``), Feature: ids already in
   the store are updated in place (``LOAD FROM ... SET``), new ids are appended by
   ``COPY`` from an Arrow table cast to the DDL's column types (write-back columns null).
   Nodes are shared between runs; a later run's values win.
4. Structural links by COPY: IN_SAE for every bundle feature without one, OF_MODEL for every
   bundle SAE without one (new nodes cannot have one; for nodes already in the store the
   linked ids are read first, so a load interrupted between the node and link COPYs gets
   its links back on re-load, and nothing is linked twice), PRODUCED and USED for this run.
5. Feature-to-feature relationships: one COPY per type (``source, target`` + properties in
   DDL order), each type read from the bundle and cast by the thread that COPYs it. With
   ``max_workers`` > 1 (default: the usable cores; each COPY is one engine thread that
   does not spin, so unlike torch it shares a busy machine fairly) up to that many
   threads COPY at once, largest type first (the manifest's row counts), each on its own
   connection into its own table -- the store enables the engine's concurrent write
   transactions; two COPYs never share a table. Meanwhile auto-checkpoint is off (a commit's
   checkpoint would wait for the other COPYs and time out), and one ``CHECKPOINT`` follows
   the last COPY. A failed COPY is rolled back, queued ones never start, running ones
   finish; then the first failure's own exception is raised (later ones added as notes).
   With one worker the types are COPYed in order on the store's own connection, each
   checkpointed at its commit, as before.
6. Mark the ``:Run`` complete. A crash before this leaves ``complete = false``; loading the
   same bundle again repairs it (step 2). (LadybugDB 0.22 writes no COPY rows to the WAL:
   a COPY of step 5 committed but not yet checkpointed is gone after a crash, which the
   re-load redoes anyway.)
Reference: LadybugDB/Kuzu ``COPY FROM`` and ``LOAD FROM`` documentation.

Throughput: step 5 is one COPY per relationship type straight from Arrow, the engine's bulk
path (COPY from the Parquet file costs the same CPU time). What bounds it is the engine:
with every Feature in one node group (< 131,072 nodes) a rel-table COPY runs on one
thread, and LadybugDB 0.22 analyses every DOUBLE column with ALP float compression while
it writes the adjacency lists, whether or not compression is enabled (LadybugDB issues
#645, #835) -- about half the CPU time of a CO_ACTIVATES load (8 DOUBLE properties).
Parallel COPYs overlap the other types with the CO_ACTIVATES COPY, so step 5 takes about
as long as that COPY alone, at the same CPU time (docs/benchmarks.md, Measured design
choices). Beyond that CO_ACTIVATES itself would have to be split, which the engine does not
allow: two COPYs into one table lose rows, and COPYs of slices only move the same work into
the checkpoint.
``tests/benchmarks/bench_store.py`` measures the loader against that engine floor.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed

import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.common import NODE_ORDER, LoadReport, dataset_id, node_table, rel_table, run_table
from saegraph.ingest.threads import usable_cores
from saegraph.queries.stores import EmbeddedStore
from saegraph.schema.graph import WRITE_BACK_PROPERTIES, Label, RelType

log = logging.getLogger(__name__)

_ARROW_TYPES = {
    "STRING": pa.string(),
    "INT64": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "BOOL": pa.bool_(),
    "STRING[]": pa.list_(pa.string()),
    "DOUBLE[]": pa.list_(pa.float64()),
    "INT64[]": pa.list_(pa.int64()),
}


def conform(table: pa.Table, columns: list[tuple[str, str]], keep: tuple[str, ...] = ()) -> pa.Table:
    """Select and cast ``table`` to a store table's (name, type) columns; absent ones become null.

    ``keep`` names leading columns passed through first (``source``, ``target`` of a rel).
    """
    arrays, names = [table.column(c) for c in keep], list(keep)
    for name, typ in columns:
        target = _ARROW_TYPES.get(typ)
        if target is None:
            raise TypeError(f"column {name} has store type {typ} with no Arrow mapping")
        if name in table.column_names:
            arrays.append(table.column(name).cast(target))
        else:
            arrays.append(pa.nulls(table.num_rows, target))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def _upsert_nodes(store: EmbeddedStore, label: Label, table: pa.Table) -> tuple[int, pa.Table]:
    """Update existing nodes, COPY new ones; returns (rows written, the new rows)."""
    columns = store.table_columns(label.value)
    table = conform(table, columns)
    existing = store.run_arrow(*_prepared("_load.node_ids", label=label)).column("id")
    is_old = pc.is_in(table.column(label.id_property), value_set=existing.combine_chunks())
    old, new = table.filter(is_old), table.filter(pc.invert(is_old))
    if old.num_rows:
        bundle_cols = [c for c in old.column_names if not _is_write_back(c)]
        store.run_named(f"_load.update_{label.table}", rows=old.select(bundle_cols))
    if new.num_rows:
        store.copy_from(label.value, new)
    return table.num_rows, new


_LINKS = {  # node label -> (link table, its (from, to) columns, the named query listing linked ids)
    Label.FEATURE: ("IN_SAE", ["featureId", "saeId"], "_load.linked_features"),
    Label.SAE: ("OF_MODEL", ["saeId", "modelId"], "_load.linked_saes"),
}


def _copy_missing_links(store: EmbeddedStore, label: Label, table: pa.Table, new: pa.Table) -> int:
    """Step 4: COPY the structural link of every node in ``table`` that lacks one; returns rows copied.

    New nodes have no link yet; only when some bundle nodes were already in the store (a
    re-load, or another run sharing them) are the linked ids read, so a first load pays nothing.
    """
    link, columns, query = _LINKS[label]
    if new.num_rows == table.num_rows:
        missing = table
    else:
        linked = store.run_arrow(*_prepared(query)).column("id").combine_chunks()
        ids = table.column(label.id_property)
        missing = table.filter(pc.invert(pc.is_in(ids, value_set=linked.cast(ids.type))))
    if missing.num_rows:
        store.copy_from(link, missing.select(columns))
    return missing.num_rows


def _is_write_back(column: str) -> bool:
    return column in WRITE_BACK_PROPERTIES


_RUN_SCOPED_TABLES = (*(rel.value for rel in RelType), "PRODUCED", "USED")


def _remove_run_relationships(store: EmbeddedStore, run_id: str) -> str:
    """Step 2: empty the run-scoped tables if ``run_id`` is the store's only run, else delete its rows.

    Returns ``"clear"`` or ``"delete"`` (the path taken). Every relationship a load writes
    carries its ``runId`` and the ``:Run`` node is written before them, so a store whose only
    ``:Run`` is this one holds no other run's relationships.
    """
    runs = set(store.run_arrow(*_prepared("_load.node_ids", label=Label.RUN)).column("id").to_pylist())
    if runs == {run_id}:
        for table in _RUN_SCOPED_TABLES:
            store.clear_rel_table(table)
        return "clear"
    for rel in RelType:
        store.run_named("_load.delete_run_rels", relType=rel, runId=run_id)
    store.run_named("_load.delete_run_produced", runId=run_id)
    store.run_named("_load.delete_run_used", runId=run_id)
    return "delete"


def _prepared(name: str, **params):
    from saegraph.queries.registry import prepare

    return prepare(name, "embedded", params)


def _copy_rel(store: EmbeddedStore, bundle, rel: RelType, columns) -> tuple[int, float]:
    """Read, cast and COPY one relationship type; returns (rows, wall seconds)."""
    t0 = time.perf_counter()
    table = rel_table(bundle, rel)
    if table is not None and table.num_rows:
        store.copy_from(rel.value, conform(table, columns, keep=("source", "target")))
    return (0 if table is None else table.num_rows), time.perf_counter() - t0


def _copy_rel_own_connection(store: EmbeddedStore, bundle, rel: RelType, columns) -> tuple[int, float]:
    with store.thread_connection():
        return _copy_rel(store, bundle, rel, columns)


def _copy_relationships(store: EmbeddedStore, bundle, report: LoadReport, max_workers: int, steps) -> None:
    """Step 5: COPY every relationship type, ``max_workers`` threads at most; rows and seconds into ``report``."""
    columns = {rel: store.table_columns(rel.value) for rel in RelType}  # read here, not in the workers
    present = [rel for rel in RelType if bundle.has_table(rel.table)]
    report.copy_threads = workers = max(1, min(max_workers, len(present)))
    steps.update(len(RelType) - len(present))
    if workers == 1:
        done = {}
        for rel in present:
            done[rel] = _copy_rel(store, bundle, rel, columns[rel])
            steps.update(1)
    else:
        largest_first = sorted(present, key=lambda rel: -int(bundle.tables[rel.table].get("rows", 0)))
        done = _copy_concurrently(store, bundle, largest_first, columns, workers, steps)
    for rel in RelType:  # rows, and the wall time of the type's own COPY (they overlap when parallel)
        report.relationships[rel.value], report.steps[rel.value] = done.get(rel, (0, 0.0))


def _copy_concurrently(
    store: EmbeddedStore, bundle, rels: list[RelType], columns, workers: int, steps
) -> dict:
    """COPY ``rels`` in this order from ``workers`` threads, one connection and table each; see step 5."""
    log.info("COPY of %d relationship types by %d threads", len(rels), workers)
    done: dict[RelType, tuple[int, float]] = {}
    errors: list[tuple[RelType, Exception]] = []
    with store.checkpoint_deferred(), ThreadPoolExecutor(workers, thread_name_prefix="saegraph-copy") as pool:
        futures = {
            pool.submit(_copy_rel_own_connection, store, bundle, rel, columns[rel]): rel for rel in rels
        }
        try:
            for future in as_completed(futures):
                try:
                    done[futures[future]] = future.result()
                except CancelledError:
                    continue
                except Exception as exc:
                    errors.append((futures[future], exc))
                    for other in futures:
                        other.cancel()  # COPYs not started yet never start
                steps.update(1)
        finally:  # also on an interrupt of this thread: drop the queued COPYs, wait for the running ones
            pool.shutdown(wait=True, cancel_futures=True)
        if errors:
            first = errors[0][1]
            for rel, err in errors[1:]:
                log.error("COPY %s failed as well: %s", rel.value, err)
                first.add_note(f"COPY {rel.value} failed as well: {err}")
            raise first
    return done


def load_bundle_embedded(
    bundle_path, store: EmbeddedStore, *, progress: bool = True, max_workers: int = 0
) -> LoadReport:
    """Load (or re-load) one bundle into an open embedded store; see the module docstring.

    ``max_workers``: threads COPYing relationship types at once (step 5); 0 = the usable
    cores (:func:`saegraph.ingest.threads.usable_cores`), 1 = one after another.
    """
    t0 = time.perf_counter()
    bundle = open_bundle(bundle_path)
    run_id = bundle.run_id
    report = LoadReport(run_id=run_id, store=f"embedded {store.path}")
    steps = tqdm(
        total=len(RelType) + len(NODE_ORDER) + 3, desc=f"load {run_id}", disable=not progress, unit="step"
    )

    t_step = time.perf_counter()
    _remove_run_relationships(store, run_id)
    report.steps["remove previous"] = time.perf_counter() - t_step
    steps.update(1)

    t_step = time.perf_counter()
    node_rows: dict[Label, tuple[pa.Table, pa.Table]] = {}  # label -> (bundle rows, rows new to the store)
    for label in NODE_ORDER:
        table = run_table(bundle, complete=False) if label is Label.RUN else node_table(bundle, label)
        if table is not None:
            report.nodes[label.value], new = _upsert_nodes(store, label, table)
            node_rows[label] = (table, new)
        steps.update(1)

    for label in (Label.FEATURE, Label.SAE):
        if label in node_rows:
            _copy_missing_links(store, label, *node_rows[label])
    sae_ids = bundle.sae_ids
    store.copy_from("PRODUCED", pa.table({"from": [run_id] * len(sae_ids), "to": sae_ids}))
    ds = dataset_id(bundle)
    if ds is not None and bundle.has_table("datasets"):
        store.copy_from("USED", pa.table({"from": [run_id], "to": [ds]}))
    report.steps["nodes and links"] = time.perf_counter() - t_step
    steps.update(1)

    t_rel, cpu_rel = time.perf_counter(), time.process_time()  # CPU time of the whole process (all threads)
    _copy_relationships(store, bundle, report, max_workers if max_workers > 0 else usable_cores(), steps)
    report.rel_seconds = time.perf_counter() - t_rel
    report.rel_cpu_seconds = time.process_time() - cpu_rel

    store.run_named("_load.set_run_complete", runId=run_id, complete=True)
    steps.update(1)
    steps.close()
    report.seconds = time.perf_counter() - t0
    log.info(report.summary())
    return report
