"""Write a bundle as CSV files for ``neo4j-admin database import full`` (very large bundles).

Algorithm:
1. One data file plus one header file per node label and relationship type: node headers
   name the id column ``<idProp>:ID(<Label>)`` and type every other column (``:long``,
   ``:double``, ``:boolean``, ``:string[]``, ``:double[]``); relationship headers use
   ``:START_ID(Feature)`` / ``:END_ID(Feature)`` (or the SAE / Model / Run / Dataset id spaces).
2. Array elements are joined with the ASCII unit separator (U+001F), which never occurs
   in token text, so top examples containing ``;`` survive; NaN and null become empty.
   Doubles are written as Java parses them (``NaN``, ``Infinity``; a null inside a double
   array becomes NaN).
3. ``import-command.txt`` holds the full ``neo4j-admin database import full`` command
   (absolute paths, ``--array-delimiter=U+001F``, ``--multiline-fields``,
   ``--overwrite-destination=true``), file order nodes then relationships.
Reference: Neo4j Operations Manual, "Import" (neo4j-admin database import, CSV header format).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pyarrow as pa

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.common import NODE_ORDER, dataset_id, node_table, rel_table
from saegraph.schema.graph import Label, RelType

ARRAY_DELIMITER = "\x1f"


def header_type(dtype: pa.DataType) -> str:
    """neo4j-admin header type suffix for an Arrow type ("" for strings)."""
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        inner = header_type(dtype.value_type) or ":string"
        return inner + "[]"
    if pa.types.is_boolean(dtype):
        return ":boolean"
    if pa.types.is_integer(dtype):
        return ":long"
    if pa.types.is_floating(dtype):
        return ":double"
    return ""


def _number(value: float) -> str:
    """A double as neo4j-admin parses it (Java's Double.parseDouble: NaN, Infinity, -Infinity)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _element(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, list):
        if any(isinstance(v, float) for v in value):  # a double array: a null element is NaN
            return ARRAY_DELIMITER.join("NaN" if v is None else _number(float(v)) for v in value)
        return ARRAY_DELIMITER.join(_element(v) for v in value)
    return _element(value)


def write_csv_pair(directory: Path, stem: str, header: list[str], table: pa.Table) -> tuple[Path, Path]:
    """``stem_header.csv`` (one line) and ``stem.csv`` (data, no header)."""
    head, data = directory / f"{stem}_header.csv", directory / f"{stem}.csv"
    with open(head, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow(header)
    with open(data, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        for batch in table.to_batches(max_chunksize=50_000):
            for row in batch.to_pylist():
                writer.writerow([_cell(v) for v in row.values()])
    return head, data


def node_header(label: Label, schema: pa.Schema) -> list[str]:
    cols = []
    for f in schema:
        if f.name == label.id_property:
            cols.append(f"{f.name}:ID({label.value})")
        else:
            cols.append(f.name + header_type(f.type))
    return cols


def rel_header(schema: pa.Schema, start: str, end: str) -> list[str]:
    names = [f"{schema.field(0).name}:START_ID({start})", f"{schema.field(1).name}:END_ID({end})"]
    return names + [f.name + header_type(f.type) for f in list(schema)[2:]]


def export_admin(bundle_path, out_dir, *, database: str = "neo4j") -> dict[str, list[str]]:
    """Write the import files; returns {"nodes": [...], "relationships": [...]}, the
    ``--nodes`` / ``--relationships`` arguments."""
    bundle = open_bundle(bundle_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    args: dict[str, list[str]] = {"nodes": [], "relationships": []}

    for label in NODE_ORDER:
        table = node_table(bundle, label)
        if table is None:
            continue
        if label is Label.RUN:
            table = table.set_column(table.schema.get_field_index("complete"), "complete", pa.array([True]))
        head, data = write_csv_pair(out, label.table, node_header(label, table.schema), table)
        args["nodes"].append(f"{label.value}={head.name},{data.name}")

    links: list[tuple[str, str, str, pa.Table]] = []
    features, saes = node_table(bundle, Label.FEATURE), node_table(bundle, Label.SAE)
    if features is not None:
        links.append(("IN_SAE", "Feature", "SAE", features.select(["featureId", "saeId"])))
    if saes is not None:
        links.append(("OF_MODEL", "SAE", "Model", saes.select(["saeId", "modelId"])))
        links.append(
            (
                "PRODUCED",
                "Run",
                "SAE",
                pa.table({"runId": [bundle.run_id] * saes.num_rows, "saeId": saes.column("saeId")}),
            )
        )
    ds = dataset_id(bundle)
    if ds is not None and bundle.has_table("datasets"):
        links.append(("USED", "Run", "Dataset", pa.table({"runId": [bundle.run_id], "datasetId": [ds]})))
    for rel in RelType:
        table = rel_table(bundle, rel)
        if table is not None:
            links.append((rel.value, "Feature", "Feature", table))
    for rel_type, start, end, table in links:
        head, data = write_csv_pair(out, rel_type.lower(), rel_header(table.schema, start, end), table)
        args["relationships"].append(f"{rel_type}={head.name},{data.name}")

    command = import_command(out, args, database=database)
    (out / "import-command.txt").write_text(
        "# neo4j-admin (Neo4j 5) with the server stopped; it REPLACES the database "
        f"{database!r} (--overwrite-destination=true).\n"
        "# Paths are absolute; with Docker, rewrite them to the container's mount (e.g. /import/...).\n"
        "# Then apply schema/constraints.cypher and schema/indexes.cypher.\n"
        + " \\\n  ".join(command)
        + "\n",
        encoding="utf-8",
    )
    return args


def import_command(out_dir, args: dict[str, list[str]], *, database: str = "neo4j") -> list[str]:
    """``neo4j-admin database import full`` arguments for the files in ``out_dir`` (any POSIX shell).

    The database name comes before the ``--nodes`` / ``--relationships`` lists (each takes
    several files); file paths are absolute; the array delimiter is spelt ``U+001F`` (no
    bash-only quoting); ``--overwrite-destination=true`` because Community Edition has one
    user database, ``neo4j``, which exists once a home has been started.
    """
    base = Path(out_dir).resolve()

    def absolute(spec: str) -> str:
        name, _, files = spec.partition("=")
        return name + "=" + ",".join(str(base / f) for f in files.split(","))

    command = [
        "neo4j-admin database import full",
        database,
        "--overwrite-destination=true",
        "--array-delimiter=U+001F",
        "--multiline-fields=true",
        f"--report-file={base / 'import.report'}",  # beside the files, not in the working directory
    ]
    return (
        command
        + [f"--nodes={absolute(a)}" for a in args["nodes"]]
        + [f"--relationships={absolute(a)}" for a in args["relationships"]]
    )
