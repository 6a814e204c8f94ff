"""The DDL files of the two stores, read as package data of ``saegraph.schema``.

``schema/*.cypher`` are installed inside the package (``saegraph.schema``), so the files
a reader opens are the files the stores apply; tests tie them to :mod:`saegraph.schema.graph`.
"""

from __future__ import annotations

from importlib import resources

DDL_FILES = {
    "neo4j": ("constraints.cypher", "indexes.cypher"),
    "embedded": ("embedded.cypher",),
}


def ddl_text(filename: str) -> str:
    """Text of one DDL file (``constraints.cypher``, ``indexes.cypher``, ``embedded.cypher``)."""
    return resources.files("saegraph.schema").joinpath(filename).read_text(encoding="utf-8")


def split_statements(text: str) -> list[str]:
    """Statements of a multi-statement file: ``//`` comment lines dropped, split on ``;``."""
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))
    return [s.strip() for s in body.split(";") if s.strip()]


def ddl_statements(kind: str) -> list[str]:
    """Every DDL statement for a store kind (``neo4j`` or ``embedded``), in order."""
    if kind not in DDL_FILES:
        raise ValueError(f"unknown store kind {kind!r}: use one of {sorted(DDL_FILES)}")
    return [s for f in DDL_FILES[kind] for s in split_statements(ddl_text(f))]
