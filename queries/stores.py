"""Store connections: Neo4j (official driver) and the embedded LadybugDB database.

Both implement :class:`Store`; every statement they run comes from a named ``.cypher`` file
(:mod:`saegraph.queries.registry`) with values as ``$params``. Algorithm of :func:`open_store`:
1. A Neo4j URI (argument, else ``NEO4J_URI`` when no store directory is given) selects
   Neo4j: credentials from arguments, the environment or an env file (``NEO4J_USER``,
   ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``), connectivity verified; every driver connection
   failure (down, hung up, refused credentials, bad URI) becomes a one-line
   :class:`StoreError` naming the fix (:func:`connection_error`). Credentials are never logged.
2. Otherwise the embedded store opens the LadybugDB directory (default ``./saegraph.db``),
   creating it and applying ``schema/embedded.cypher`` unless ``read_only``. LadybugDB
   allows one read-write process at a time; a second one gets a one-line error. Writable
   stores allow concurrent write transactions (``enable_multi_writes``): parallel COPYs.
3. :meth:`EmbeddedStore.reader` hands a reader thread its own connection on the same
   ``Database`` (reads); :meth:`EmbeddedStore.thread_connection` a loader thread its own.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from saegraph.errors import SaegraphError
from saegraph.queries.registry import prepare
from saegraph.schema.ddl import ddl_statements
from saegraph.schema.graph import TABLES, FeatureProperty, RelType

log = logging.getLogger(__name__)

DEFAULT_STORE_DIR = "saegraph.db"
DEFAULT_BUFFER_POOL = 1 << 30  # 1 GiB; tests pass a smaller one


class StoreError(SaegraphError, RuntimeError):
    """A store cannot be opened or used (down, locked, refused credentials, missing)."""


@runtime_checkable
class Store(Protocol):
    kind: str  # "neo4j" | "embedded"

    def run(self, cypher: str, params: dict | None = None) -> pd.DataFrame: ...

    def edges(
        self, rel_type: RelType, sae_id: str | None = None, run_id: str | None = None
    ) -> pd.DataFrame: ...

    def features(self, sae_id: str | None = None) -> pd.DataFrame: ...

    def write_feature_property(self, prop: FeatureProperty, values: pd.DataFrame) -> int: ...

    def close(self) -> None: ...


class _NamedMixin:
    """Shared helpers that run private named statements (``_store.*``)."""

    kind: str

    def run(self, cypher: str, params: dict | None = None) -> pd.DataFrame:  # pragma: no cover - overridden
        raise NotImplementedError

    def run_named(self, name: str, **params: Any) -> pd.DataFrame:
        text, values = prepare(name, self.kind, params)
        return self.run(text, values)

    def edges(self, rel_type: RelType, sae_id: str | None = None, run_id: str | None = None) -> pd.DataFrame:
        """All relationships of one type: ``source``, ``target`` and every property."""
        rel = RelType.parse(rel_type)
        frame = self.run_named(f"_store.edges_{rel.table}", saeId=sae_id, runId=run_id)
        if frame.empty:
            return pd.DataFrame(columns=["source", "target", *rel.properties])
        return frame

    def features(self, sae_id: str | None = None) -> pd.DataFrame:
        """Every ``:Feature`` property (bundle columns + write-back), ordered by SAE, index."""
        return self.run_named("_store.features", saeId=sae_id)

    def _check_values(self, prop: FeatureProperty, values: pd.DataFrame) -> pd.DataFrame:
        prop = FeatureProperty(prop)
        missing = {"featureId", "value"} - set(values.columns)
        if missing:
            raise ValueError(
                f"write_feature_property needs columns featureId, value (missing {sorted(missing)})"
            )
        out = values[["featureId", "value"]].copy()
        out["featureId"] = out["featureId"].astype(str)
        out["value"] = out["value"].astype("int64" if prop.is_integer else "float64")
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()  # type: ignore[attr-defined]


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


class Neo4jStore(_NamedMixin):
    """A Neo4j database through the official driver; DataFrames out."""

    kind = "neo4j"

    def __init__(self, uri: str, user: str, password: str | None, database: str | None = None):
        import neo4j
        from neo4j.exceptions import DriverError

        self.uri = uri
        self.database = database
        try:
            self.driver = neo4j.GraphDatabase.driver(
                uri, auth=(user, password) if password is not None else None
            )
        except (DriverError, ValueError) as exc:
            raise StoreError(
                f"cannot use the Neo4j URI {uri!r} ({type(exc).__name__}): give a bolt:// or "
                f"neo4j:// URI such as bolt://localhost:7687"
            ) from exc
        try:
            self.driver.verify_connectivity()
        except Exception as exc:
            self.driver.close()
            error = connection_error(uri, exc)
            if error is None:
                raise
            raise error from exc

    def run(self, cypher: str, params: dict | None = None) -> pd.DataFrame:
        import neo4j

        return self.driver.execute_query(
            cypher, params or {}, database_=self.database, result_transformer_=neo4j.Result.to_df
        )

    def apply_schema(self) -> int:
        statements = ddl_statements("neo4j")
        for stmt in statements:
            self.run(stmt)
        return len(statements)

    def write_feature_property(
        self, prop: FeatureProperty, values: pd.DataFrame, batch_size: int = 10_000
    ) -> int:
        prop = FeatureProperty(prop)
        frame = self._check_values(prop, values)
        total = 0
        for start in range(0, len(frame), batch_size):
            rows = frame.iloc[start : start + batch_size].to_dict("records")
            out = self.run_named("_store.write_feature_property", prop=prop, rows=rows)
            total += int(out["n"].iloc[0]) if len(out) else 0
        return total

    def close(self) -> None:
        self.driver.close()


def connection_error(uri: str, exc: BaseException) -> StoreError | None:
    """A one-line :class:`StoreError` naming the fix for a failed Neo4j connection, or None.

    Messages name the URI and the exception class only: never the driver's text (it may
    echo what was sent) and never the credentials.
    """
    from neo4j.exceptions import AuthError, DriverError, Neo4jError, ServiceUnavailable, SessionExpired

    if isinstance(exc, AuthError):
        return StoreError(
            f"Neo4j at {uri} refused the credentials: check NEO4J_USER / NEO4J_PASSWORD "
            f"(environment or --env-file)"
        )
    if isinstance(exc, (ServiceUnavailable, OSError)):
        return StoreError(
            f"cannot reach Neo4j at {uri}: start it (docker compose -f docker/compose.yml up -d) "
            f"or omit --neo4j to use the embedded store"
        )
    if isinstance(exc, SessionExpired):
        return StoreError(
            f"Neo4j at {uri} hung up while connecting (SessionExpired): check that the URI is the "
            f"Bolt port of a running Neo4j 5 server and retry"
        )
    if isinstance(exc, DriverError):
        return StoreError(
            f"cannot connect to Neo4j at {uri} ({type(exc).__name__}): check the URI and that "
            f"the server is running, then retry"
        )
    if isinstance(exc, Neo4jError):
        code = getattr(exc, "code", None) or type(exc).__name__
        return StoreError(
            f"Neo4j at {uri} rejected the connection ({code}): check NEO4J_DATABASE and the server log"
        )
    return None


def read_env_file(path: str | os.PathLike) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, optional quotes, optional ``export``)."""
    values: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def neo4j_credentials(env_file: str | os.PathLike | None = None) -> dict[str, str | None]:
    """user / password / database from the environment, overridden by an env file."""
    env = dict(os.environ)
    if env_file is not None:
        env.update(read_env_file(env_file))
    return {
        "user": env.get("NEO4J_USER", env.get("NEO4J_USERNAME", "neo4j")),
        "password": env.get("NEO4J_PASSWORD"),
        "database": env.get("NEO4J_DATABASE") or None,
        "uri": env.get("NEO4J_URI") or None,
    }


def open_store(
    neo4j_uri: str | None = None,
    store_dir: str | os.PathLike | None = None,
    *,
    read_only: bool = False,
    env_file: str | os.PathLike | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    buffer_pool_size: int | None = None,
) -> Store:
    """Neo4j when a URI is given (or ``NEO4J_URI`` is set and no ``store_dir``), else embedded."""
    creds = neo4j_credentials(env_file)
    uri = neo4j_uri or (creds["uri"] if store_dir is None else None)
    if uri:
        return Neo4jStore(
            uri,
            user or creds["user"] or "neo4j",
            password if password is not None else creds["password"],
            database or creds["database"],
        )
    return EmbeddedStore(
        store_dir or DEFAULT_STORE_DIR, read_only=read_only, buffer_pool_size=buffer_pool_size
    )
