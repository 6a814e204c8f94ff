"""Bundle -> store-ready tables shared by the Neo4j and embedded loaders and export-admin.

Node rows come straight from the bundle tables (column names = graph properties); the
``:Run`` row is built from the manifest (config stored as JSON text, as Neo4j properties
cannot hold maps). Relationship tables are ``source, target`` + the RelType's properties.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa

from saegraph.ingest.bundle import FORMAT_VERSION, Bundle
from saegraph.queries.stores import StoreError
from saegraph.schema.graph import Label, RelType

NODE_ORDER = (Label.MODEL, Label.DATASET, Label.SAE, Label.RUN, Label.FEATURE)


class LoadInterrupted(StoreError):
    """A load gave up part-way (the store stayed unreachable through every retry).

    The message names the statement and batch that failed and the last committed batch;
    ``step`` / ``rows_committed`` say how far the failing step got, and a re-run of the same
    load continues from the store's resume record (see :mod:`saegraph.ingest.stores.neo4j`).
    """

    def __init__(
        self, message: str, *, run_id: str, step: str, rows_committed: int, last_committed: str | None
    ):
        super().__init__(message)
        self.run_id = run_id
        self.step = step  # the step (node label, link or relationship type) that failed
        self.rows_committed = rows_committed  # rows of that step committed before the failure
        self.last_committed = last_committed  # "<step> batch <k> (rows a-b)" or None


@dataclass
class LoadReport:
    """What a load wrote: rows per table, wall time, relationship throughput."""

    run_id: str
    store: str
    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rel_seconds: float = 0.0
    rel_cpu_seconds: float = 0.0  # process CPU time of the relationship phase (robust on a busy machine)
    steps: dict[str, float] = field(default_factory=dict)  # wall seconds per load step / relationship type
    copy_threads: int = 1  # embedded: threads that COPYed relationship types at once
    resumed_from: str | None = None  # "<step> after <rows> rows" when a load continued an interrupted one

    @property
    def n_relationships(self) -> int:
        return sum(self.relationships.values())

    @property
    def rels_per_second(self) -> float:
        return self.n_relationships / self.rel_seconds if self.rel_seconds > 0 else float("nan")

    @property
    def rels_per_cpu_second(self) -> float:
        return self.n_relationships / self.rel_cpu_seconds if self.rel_cpu_seconds > 0 else float("nan")

    def summary(self) -> str:
        nodes = ", ".join(f"{k} {v}" for k, v in self.nodes.items())
        rels = ", ".join(f"{k} {v}" for k, v in self.relationships.items())
        resumed = f"; resumed at {self.resumed_from}" if self.resumed_from else ""
        return (
            f"run {self.run_id} -> {self.store}: nodes [{nodes}]; relationships [{rels}]; "
            f"{self.seconds:.1f} s ({self.rels_per_second:,.0f} relationships/s){resumed}"
        )


def run_table(bundle: Bundle, complete: bool = False) -> pa.Table:
    """The single ``:Run`` row of a bundle."""
    m = bundle.manifest
    return pa.table(
        {
            "runId": [bundle.run_id],
            "createdAt": [str(m.get("createdAt", ""))],
            "config": [json.dumps(m.get("config", {}), sort_keys=True, default=str)],
            "codeVersion": [str(m.get("codeVersion", ""))],
            "bundleFormat": pa.array([int(m.get("formatVersion", FORMAT_VERSION))], pa.int64()),
            "complete": [complete],
        }
    )


def dataset_id(bundle: Bundle) -> str | None:
    if bundle.has_table("datasets") and bundle.table("datasets").num_rows:
        return str(bundle.table("datasets", ["datasetId"]).column(0)[0].as_py())
    return (bundle.manifest.get("dataset") or {}).get("datasetId")


def node_table(bundle: Bundle, label: Label) -> pa.Table | None:
    """Node rows for a label, or None when the bundle lacks the table."""
    if label is Label.RUN:
        return run_table(bundle)
    if not bundle.has_table(label.table):
        return None
    return bundle.table(label.table)


def rel_table(bundle: Bundle, rel: RelType) -> pa.Table | None:
    """``source, target`` + properties of one relationship type, or None when absent."""
    if not bundle.has_table(rel.table):
        return None
    tbl = bundle.table(rel.table)
    missing = [c for c in ("source", "target", *rel.properties) if c not in tbl.column_names]
    if missing:
        raise ValueError(
            f"bundle table {rel.table} lacks columns {missing}: rebuild it with "
            f"`saegraph edges {bundle.path} --only ...`"
        )
    return tbl.select(["source", "target", *rel.properties])
