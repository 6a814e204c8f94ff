"""The Neo4j store: a Neo4j 5 database through the official driver; DataFrames out.

Algorithm (docs/neo4j.md; every statement a named ``.cypher`` file,
:mod:`saegraph.queries.registry`, values as ``$params``):
1. :class:`Neo4jStore` builds the driver for the URI (a malformed URI is a one-line
   :class:`StoreError`) and verifies connectivity before it is used.
2. Every driver connection failure (down, hung up, refused credentials, bad URI, rejected
   database) becomes a one-line :class:`StoreError` naming the fix (:func:`connection_error`):
   the message names the URI and the exception class only, never the driver's text or the
   credentials.
3. Queries run through ``driver.execute_query`` into a DataFrame; feature write-back goes in
   batches of ``batch_size`` rows (``UNWIND``), the written count summed.
"""

from __future__ import annotations

import pandas as pd

from saegraph.queries.store_base import StoreError, _NamedMixin
from saegraph.schema.ddl import ddl_statements
from saegraph.schema.graph import FeatureProperty


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
