"""Where analysis reads its graph from: a bundle directory or an open store (thin I/O shell).

Algorithm:
1. ``BundleSource`` opens the bundle with the one verified reader
   (``saegraph.queries.bundle.open_bundle``: unfinished, corrupted or too-new bundles are
   refused, every table's checksum is checked) and reads tables, ``decoders/<saeId>.npy``
   and ``manifest.stats`` through it.
2. ``StoreSource`` wraps a ``saegraph.queries.stores.Store``: edges and features come from the
   store's own named statements; algorithm results can be written back.
3. Both expose: ``sae_ids()``, ``features(sae_id)``, ``edges(rel_type, sae_id)``,
   ``matches(sae_a, sae_b)`` (rows from A to B, either stored direction), ``decoder(sae_id)``
   (None when unavailable), ``stats(stage)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from saegraph.queries.analysis.graph import TABLE_OF, rel_name
from saegraph.queries.bundle import open_bundle

_FEATURE_COLUMNS = ["featureId", "saeId", "index", "density", "topTokens"]


class BundleSource:
    kind = "bundle"

    def __init__(self, path, *, verify: bool = True):
        self.bundle = open_bundle(path, verify=verify)
        self.path = self.bundle.path
        self.manifest = self.bundle.manifest
        self._cache: dict[str, pd.DataFrame] = {}

    def _table(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = self.bundle.frame(name)
        return self._cache[name]

    def sae_ids(self) -> list[str]:
        return self._table("saes")["saeId"].astype(str).tolist()

    def features(self, sae_id: str | None = None) -> pd.DataFrame:
        f = self._table("features")
        f = f[f["saeId"] == sae_id] if sae_id is not None else f
        return f.sort_values("index").reset_index(drop=True)

    def edges(self, rel_type, sae_id: str | None = None) -> pd.DataFrame:
        e = self._table(TABLE_OF[rel_name(rel_type)])
        if sae_id is not None and "saeId" in e.columns:
            e = e[e["saeId"] == sae_id]
        return e.reset_index(drop=True)

    def decoder(self, sae_id: str) -> np.ndarray | None:
        file = self.path / "decoders" / f"{sae_id}.npy"
        return np.load(file) if file.exists() else None

    def d_in(self, sae_id: str) -> int | None:
        saes = self._table("saes")
        row = saes[saes["saeId"] == sae_id]
        return int(row["dIn"].iloc[0]) if len(row) and "dIn" in row.columns else None

    def stats(self, stage: str) -> dict:
        return dict(self.manifest.get("stats", {}).get(stage, {}) or {})

    def matches(self, sae_a: str, sae_b: str) -> pd.DataFrame:
        return oriented_matches(self.edges("MATCHES"), sae_a, sae_b)


class StoreSource:
    kind = "store"

    def __init__(self, store):
        self.store = store

    def sae_ids(self) -> list[str]:
        return sorted(self.store.features()["saeId"].astype(str).unique().tolist())

    def features(self, sae_id: str | None = None) -> pd.DataFrame:
        f = self.store.features(sae_id)
        return f.sort_values("index").reset_index(drop=True) if "index" in f.columns else f

    def edges(self, rel_type, sae_id: str | None = None) -> pd.DataFrame:
        from saegraph.schema.graph import RelType

        return self.store.edges(RelType.parse(rel_name(rel_type)), sae_id=sae_id)

    def decoder(self, sae_id: str) -> np.ndarray | None:
        return None

    def d_in(self, sae_id: str) -> int | None:
        from saegraph.queries.registry import run

        saes = run(self.store, "lookup.sae_overview")
        rows = saes.loc[saes["saeId"] == sae_id, "dIn"]
        return int(rows.iloc[0]) if len(rows) and rows.iloc[0] == rows.iloc[0] else None

    def stats(self, stage: str) -> dict:
        return {}

    def matches(self, sae_a: str, sae_b: str) -> pd.DataFrame:
        return oriented_matches(self.edges("MATCHES"), sae_a, sae_b)


def oriented_matches(matches: pd.DataFrame, sae_a: str, sae_b: str) -> pd.DataFrame:
    """MATCHES rows between A and B with source in A and target in B (reversed rows flipped)."""
    if matches.empty:
        return matches
    fwd = matches[(matches["sourceSae"] == sae_a) & (matches["targetSae"] == sae_b)]
    rev = matches[(matches["sourceSae"] == sae_b) & (matches["targetSae"] == sae_a)].rename(
        columns={"source": "target", "target": "source", "sourceSae": "targetSae", "targetSae": "sourceSae"}
    )
    return pd.concat([fwd, rev], ignore_index=True)


def open_source(bundle=None, *, neo4j_uri=None, store_dir=None, read_only: bool = True):
    """A BundleSource for a bundle path, else a StoreSource over ``saegraph.queries.stores.open_store``."""
    if bundle is not None:
        return BundleSource(bundle)
    from saegraph.queries.stores import open_store

    return StoreSource(open_store(neo4j_uri=neo4j_uri, store_dir=store_dir, read_only=read_only))
