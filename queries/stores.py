"""Store connections: :func:`open_store` picks Neo4j (official driver) or the embedded LadybugDB database.

Both implement :class:`Store` (:mod:`saegraph.queries.store_base`); every statement they run
comes from a named ``.cypher`` file (:mod:`saegraph.queries.registry`) with values as
``$params``. The stores live in :mod:`saegraph.queries.embedded_store` and
:mod:`saegraph.queries.neo4j_store`; this module re-exports them. Algorithm of
:func:`open_store` (docs/neo4j.md):
1. A Neo4j URI (argument, else ``NEO4J_URI`` when no store directory is given) selects
   Neo4j: credentials from arguments, the environment or an env file (``NEO4J_USER``,
   ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``), connectivity verified; every driver connection
   failure (down, hung up, refused credentials, bad URI) becomes a one-line
   :class:`StoreError` naming the fix (:func:`connection_error`). Credentials are never logged.
2. Otherwise the embedded store opens the LadybugDB directory (default ``./saegraph.db``),
   creating it and applying ``schema/embedded.cypher`` unless ``read_only``. LadybugDB
   allows one read-write process at a time; a second one gets a one-line error. Writable
   stores allow concurrent write transactions (``enable_multi_writes``): parallel COPYs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from saegraph.queries.embedded_store import DEFAULT_BUFFER_POOL, EmbeddedReader, EmbeddedStore
from saegraph.queries.embedded_store import _execute_df as _execute_df  # re-exported for tests
from saegraph.queries.neo4j_store import Neo4jStore, connection_error
from saegraph.queries.store_base import Store, StoreError

__all__ = [
    "DEFAULT_BUFFER_POOL",
    "DEFAULT_STORE_DIR",
    "EmbeddedReader",
    "EmbeddedStore",
    "Neo4jStore",
    "Store",
    "StoreError",
    "connection_error",
    "neo4j_credentials",
    "open_store",
    "read_env_file",
]

log = logging.getLogger(__name__)

DEFAULT_STORE_DIR = "saegraph.db"


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
