"""The embedded store: a LadybugDB database at a directory, in-process, loaded by COPY from Arrow.

Algorithm (docs/neo4j.md, "What differs between Neo4j and the embedded store"; every
statement a named ``.cypher`` file, :mod:`saegraph.queries.registry`):
1. :class:`EmbeddedStore` opens the LadybugDB directory, creating it and applying
   ``schema/embedded.cypher`` unless ``read_only`` (a read-only open of a missing directory
   is a :class:`StoreError` naming the load command). LadybugDB allows one read-write process
   at a time; a second one gets a one-line error. Writable stores allow concurrent write
   transactions (``enable_multi_writes``): parallel COPYs into different tables.
2. Statements run on a connection (:func:`_execute_df`); an engine error becomes a one-line
   :class:`StoreError` naming the statement's first line, and the fix when the buffer pool
   is full.
3. :meth:`EmbeddedStore.reader` hands a reader thread its own connection on the same
   ``Database`` (:class:`EmbeddedReader`, reads only); :meth:`EmbeddedStore.thread_connection`
   a loader thread its own (``copy_from`` uses it).
4. Table names cannot be ``$params``: COPY, DROP and ``table_info`` take only the schema's own
   tables (:func:`_checked_table`). ``clear_rel_table`` drops and re-creates one relationship
   table in one transaction; ``checkpoint_deferred`` turns auto-checkpoint off for a load
   and checkpoints once after it.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from saegraph.queries.store_base import StoreError, _NamedMixin
from saegraph.schema.ddl import ddl_statements
from saegraph.schema.graph import TABLES, FeatureProperty

DEFAULT_BUFFER_POOL = 1 << 30  # 1 GiB; tests pass a smaller one


class EmbeddedStore(_NamedMixin):
    """LadybugDB at a directory: in-process, schema first, loaded by COPY from Arrow."""

    kind = "embedded"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        read_only: bool = False,
        buffer_pool_size: int | None = None,
        max_threads: int = 0,
    ):
        import ladybug

        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(
                f"no embedded store at {self.path}: load a bundle first with `saegraph load BUNDLE --store {self.path}`"
            )
        try:
            self.db = ladybug.Database(
                str(self.path),
                buffer_pool_size=buffer_pool_size or DEFAULT_BUFFER_POOL,
                read_only=read_only,
                max_num_threads=max_threads,
                enable_multi_writes=not read_only,
            )
        except RuntimeError as exc:
            if "lock" in str(exc).lower():
                raise StoreError(
                    f"the embedded store {self.path} is open for writing in another process: "
                    f"close it (one writer at a time) or open it read-only"
                ) from exc
            raise StoreError(f"cannot open the embedded store {self.path}: {exc}") from exc
        self.conn = ladybug.Connection(self.db)
        self._thread = threading.local()  # .conn: the calling thread's own connection, if any
        self._columns: dict[str, list[tuple[str, str]]] = {}
        if not read_only:
            self.apply_schema()

    def apply_schema(self) -> int:
        """Create every node and rel table that is missing (``CREATE ... IF NOT EXISTS``)."""
        statements = ddl_statements("embedded")
        for stmt in statements:
            self.conn.execute(stmt)
        return len(statements)

    def run(self, cypher: str, params: dict | None = None) -> pd.DataFrame:
        return _execute_df(self.conn, cypher, params)

    def reader(self) -> EmbeddedReader:
        """A second connection on this store's ``Database``, for a reader thread.

        LadybugDB shares one ``Database`` between many connections (one per thread); the
        reader has the same :meth:`run` / :meth:`run_named` / ``edges`` / ``features`` API and
        is meant for reads only (writes go through the store's own connection). Close it
        (or use it as a context manager) before closing the store.
        """
        if getattr(self, "conn", None) is None:
            raise StoreError(
                f"the embedded store {self.path} is closed: open it again before asking for a reader"
            )
        return EmbeddedReader(self)

    def run_arrow(self, cypher: str, params: dict | None = None):
        """Like :meth:`run` but a pyarrow Table out (fast path for large results)."""
        result = self.conn.execute(cypher, params or {})
        if isinstance(result, list):  # several statements: the last one's result, as in run()
            result = result[-1]
        return result.get_as_arrow()

    def copy_from(self, table: str, data) -> None:
        """``COPY table FROM $data`` (Arrow / DataFrame in column order) on this thread's connection."""
        conn = getattr(self._thread, "conn", None) or self.conn
        conn.execute(_COPY_FROM.format(table=_checked_table(table)), {"data": data})

    @contextmanager
    def thread_connection(self):
        """The calling thread's own write connection for the block (:meth:`copy_from` uses it).

        Parallel COPYs go to *different* tables: two into one both commit, one side's rows lost.
        """
        import ladybug

        conn = self._thread.conn = ladybug.Connection(self.db)
        try:
            yield self
        finally:
            self._thread.conn = None
            conn.close()

    @contextmanager
    def checkpoint_deferred(self):
        """Auto-checkpoint off in the block, on again after it, then one ``CHECKPOINT`` if it succeeded."""
        self.conn.execute(_AUTO_CHECKPOINT_OFF)
        try:
            yield
        finally:
            self.conn.execute(_AUTO_CHECKPOINT_ON)
        self.conn.execute(_CHECKPOINT)

    def clear_rel_table(self, table: str) -> None:
        """Empty one relationship table at once: ``DROP TABLE`` then its ``CREATE`` from the DDL.

        Deleting a run's relationships one by one costs about as much as loading them; the
        loader uses this instead when the store holds no other run. Both statements run in
        one transaction (rolled back on error), so the table is never left missing.
        """
        create = _rel_table_ddl(_checked_table(table))
        self.conn.execute("BEGIN TRANSACTION")
        try:
            self.conn.execute(_DROP_TABLE.format(table=table))
            self.conn.execute(create)
        except RuntimeError:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def table_columns(self, table: str) -> list[tuple[str, str]]:
        """(name, type) of a table's properties in declaration order."""
        if table not in self._columns:
            info = self.run(_TABLE_INFO.format(table=_checked_table(table)))
            self._columns[table] = list(zip(info["name"], info["type"]))
        return self._columns[table]

    def write_feature_property(self, prop: FeatureProperty, values: pd.DataFrame) -> int:
        prop = FeatureProperty(prop)
        frame = self._check_values(prop, values)
        if frame.empty:
            return 0
        out = self.run_named("_store.write_feature_property", prop=prop, rows=frame)
        return int(out["n"].iloc[0]) if len(out) else 0

    def close(self) -> None:
        if getattr(self, "conn", None) is not None:
            self.conn.close()
            self.db.close()
            self.conn = None  # type: ignore[assignment]  # closed: reader() and close() check for None


def _execute_df(conn, cypher: str, params: dict | None) -> pd.DataFrame:
    """Run one statement on a LadybugDB connection; engine errors become one-line StoreErrors."""
    try:
        result = conn.execute(cypher, params or {})
    except RuntimeError as exc:
        first = cypher.strip().splitlines()[0][:120] if cypher.strip() else ""
        hint = ""
        if "buffer pool is full" in str(exc).lower():
            hint = "; fix: open the store with a larger buffer_pool_size (default 1 GiB) or run fewer readers at once"
        raise StoreError(f"embedded query failed ({exc}) in: {first}{hint}") from exc
    if isinstance(result, list):
        result = result[-1]
    return result.get_as_df()


class EmbeddedReader(_NamedMixin):
    """A read connection on an open :class:`EmbeddedStore`'s ``Database`` (see :meth:`EmbeddedStore.reader`)."""

    kind = "embedded"

    def __init__(self, store: EmbeddedStore):
        import ladybug

        self.store = store
        self.path = store.path
        self.conn = ladybug.Connection(store.db)

    def run(self, cypher: str, params: dict | None = None) -> pd.DataFrame:
        if self.conn is None:
            raise StoreError(f"this reader of {self.path} is closed")
        return _execute_df(self.conn, cypher, params)

    def write_feature_property(self, prop: FeatureProperty, values: pd.DataFrame) -> int:
        raise StoreError("a reader is read-only: write feature properties through the EmbeddedStore itself")

    def close(self) -> None:
        if getattr(self, "conn", None) is not None:
            self.conn.close()
            self.conn = None  # type: ignore[assignment]  # closed: run() and close() check for None


_TABLES = TABLES  # the schema's own tables (saegraph.schema.graph)


def _rel_table_ddl(table: str) -> str:
    """The ``CREATE REL TABLE IF NOT EXISTS`` statement of one relationship table."""
    for stmt in ddl_statements("embedded"):
        head = stmt.split("(", 1)[0].split()
        if head[:6] == ["CREATE", "REL", "TABLE", "IF", "NOT", "EXISTS"] and head[6:] == [table]:
            return stmt
    raise ValueError(f"{table!r} is not a relationship table of schema/embedded.cypher")


# Table names in COPY, DROP and table_info cannot be $params; these templates are filled only
# with names that passed the allowlist in _checked_table (the schema's own tables).
_COPY_FROM = "COPY {table} FROM $data"
_AUTO_CHECKPOINT_OFF, _AUTO_CHECKPOINT_ON, _CHECKPOINT = (
    "CALL auto_checkpoint=false",
    "CALL auto_checkpoint=true",
    "CHECKPOINT",
)
_DROP_TABLE = "DROP TABLE {table}"
_TABLE_INFO = "CALL table_info('{table}') RETURN *"


def _checked_table(table: str) -> str:
    """Table names in COPY / table_info cannot be $params: allowlist them."""
    if table not in _TABLES:
        raise ValueError(f"unknown table {table!r}: use one of {sorted(_TABLES)}")
    return table
