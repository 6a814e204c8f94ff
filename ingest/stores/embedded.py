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
5. Feature-to-feature relationships by COPY (``source, target`` + properties in DDL order).
6. Mark the ``:Run`` complete. A crash before this leaves ``complete = false``; loading the
   same bundle again repairs it (step 2).
Reference: LadybugDB/Kuzu ``COPY FROM`` and ``LOAD FROM`` documentation.

Throughput: step 5 is one COPY per relationship type straight from Arrow, the engine's bulk
path (COPY from the Parquet file costs the same CPU time). What bounds it is the engine:
with every Feature in one node group (< 131,072 nodes) a rel-table COPY runs on one
thread, and LadybugDB 0.22 analyses every DOUBLE column with ALP float compression while
it writes the adjacency lists, whether or not compression is enabled (LadybugDB issues
#645, #835) -- about half the CPU time of a CO_ACTIVATES load (8 DOUBLE properties).
``tests/benchmarks/bench_store.py`` measures the loader against that engine floor.
"""

from __future__ import annotations

import logging
import time

import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from ingest.bundle import open_bundle
from ingest.stores.common import NODE_ORDER, LoadReport, dataset_id, node_table, rel_table, run_table
from queries.enums import Label, RelType
from queries.stores import EmbeddedStore

log = logging.getLogger(__name__)

_ARROW_TYPES = {
    "STRING": pa.string(), "INT64": pa.int64(), "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(), "BOOL": pa.bool_(),
    "STRING[]": pa.list_(pa.string()), "DOUBLE[]": pa.list_(pa.float64()), "INT64[]": pa.list_(pa.int64()),
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
    return any(column.startswith(k) and column[len(k):][:1].isupper()
               for k in ("community", "component", "pagerank", "degree", "strength"))


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
    from queries.registry import prepare

    return prepare(name, "embedded", params)


def load_bundle_embedded(bundle_path, store: EmbeddedStore, *, progress: bool = True) -> LoadReport:
    """Load (or re-load) one bundle into an open embedded store; see the module docstring."""
    t0 = time.perf_counter()
    bundle = open_bundle(bundle_path)
    run_id = bundle.run_id
    report = LoadReport(run_id=run_id, store=f"embedded {store.path}")
    steps = tqdm(total=len(RelType) + len(NODE_ORDER) + 3, desc=f"load {run_id}", disable=not progress, unit="step")

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

    t_rel, cpu_rel = time.perf_counter(), time.process_time()
    for rel in RelType:
        t_step = time.perf_counter()
        table = rel_table(bundle, rel)
        if table is not None and table.num_rows:
            store.copy_from(rel.value, conform(table, store.table_columns(rel.value), keep=("source", "target")))
        report.relationships[rel.value] = 0 if table is None else table.num_rows
        report.steps[rel.value] = time.perf_counter() - t_step
        steps.update(1)
    report.rel_seconds = time.perf_counter() - t_rel
    report.rel_cpu_seconds = time.process_time() - cpu_rel

    store.run_named("_load.set_run_complete", runId=run_id, complete=True)
    steps.update(1)
    steps.close()
    report.seconds = time.perf_counter() - t0
    log.info(report.summary())
    return report
