"""The Store API both stores share: the protocol, :class:`StoreError` and the named-statement mixin.

Algorithm (docs/architecture.md, "Dependency rules"; docs/neo4j.md, "What differs between
Neo4j and the embedded store"):
1. :class:`Store` is the protocol every store implements (``kind`` "neo4j" | "embedded",
   ``run``, ``edges``, ``features``, ``write_feature_property``, ``close``); callers see only it.
2. :class:`_NamedMixin` runs the stores' private named statements (``_store.*`` in
   :mod:`saegraph.queries.registry`) with values as ``$params``: ``edges`` gives every
   relationship of one type (an empty frame with the type's columns when there is none),
   ``features`` every ``:Feature`` property.
3. ``_check_values`` checks a write-back frame (``featureId``, ``value``, the property's
   dtype) before either store writes it. Failures a user can fix are :class:`StoreError`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import pandas as pd

from saegraph.errors import SaegraphError
from saegraph.queries.registry import prepare
from saegraph.schema.graph import FeatureProperty, RelType


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
