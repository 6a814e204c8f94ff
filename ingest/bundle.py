"""The on-disk graph bundle: Parquet tables + manifest (format in docs/bundle.md).

Algorithm (atomic writes; the manifest is the commit point):
1. A new bundle is built in ``BUNDLE.partial/``; tables are written as ``name.parquet.tmp``,
   fsynced and renamed, and their sha256 and row count recorded.
2. ``finalize`` writes ``manifest.json`` (temp + fsync + rename), fsyncs the directory and
   renames ``BUNDLE.partial`` to ``BUNDLE``. A directory without a manifest is never read.
3. ``update_bundle`` replaces tables of a finished bundle the same way and rewrites the
   manifest last, so a crash leaves either the old or the new state, never a mix the
   reader accepts (a table whose checksum disagrees with the manifest is refused).
4. ``open_bundle`` (the reader, ``saegraph.queries.bundle``) refuses: a ``.partial``
   directory, a missing manifest, a newer ``formatVersion``, a missing table, or
   (``verify=True``) a checksum mismatch.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from saegraph.ingest.activation_store import ActivationStore, fsync_dir, write_json_atomic
from saegraph.queries import bundle as reader
from saegraph.queries.bundle import (  # the read side: one verified reader for both paths
    ACTIVATIONS_DIR,
    DECODERS_DIR,
    ENCODERS_DIR,
    FORMAT_VERSION,
    GROUND_TRUTH_DIR,
    MANIFEST,
    BundleError,
    partial_path,
    read_manifest,
    sha256_file,
)
from saegraph.queries.bundle import EDGE_TABLES as EDGE_TABLES
from saegraph.queries.bundle import NODE_TABLES as NODE_TABLES
from saegraph.queries.bundle import PARTIAL_SUFFIX as PARTIAL_SUFFIX


def to_arrow(table: Any) -> pa.Table:
    """Accept a pyarrow Table or a pandas DataFrame."""
    if isinstance(table, pa.Table):
        return table
    return pa.Table.from_pandas(table, preserve_index=False)


def write_table_file(directory: Path, name: str, table: Any) -> dict:
    """Write ``name.parquet`` atomically in ``directory``; return its manifest entry."""
    tbl = to_arrow(table)
    final = directory / f"{name}.parquet"
    tmp = directory / f"{name}.parquet.tmp-{os.getpid()}"
    pq.write_table(tbl, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    fsync_dir(directory)
    return {"file": final.name, "rows": tbl.num_rows, "sha256": sha256_file(final)}


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class BundleBuilder:
    """Builds a new bundle in ``BUNDLE.partial/`` and publishes it on :meth:`finalize`."""

    path: Path
    manifest: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if (self.path / MANIFEST).exists():
            raise BundleError(
                f"{self.path} is already a finished bundle: choose another -o directory, "
                f"or re-run one stage with `saegraph edges {self.path}`"
            )
        self.work = partial_path(self.path)
        self.work.mkdir(parents=True, exist_ok=True)
        self.manifest.setdefault("tables", {})
        self.manifest.setdefault("stats", {})

    @property
    def activations_path(self) -> Path:
        return self.work / ACTIVATIONS_DIR

    @property
    def ground_truth_path(self) -> Path:
        return self.work / GROUND_TRUTH_DIR

    def write_decoder(self, sae_id: str, w_dec) -> None:
        """Store decoder rows [dSae, dIn] as float32 (used by cosine and matches)."""
        import numpy as np

        d = self.work / DECODERS_DIR
        d.mkdir(exist_ok=True)
        tmp = d / f"{sae_id}.npy.tmp-{os.getpid()}"
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(w_dec, dtype=np.float32))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, d / f"{sae_id}.npy")

    def write_encoder(self, sae_id: str, w_enc_rows, threshold, rule: str, k: int, floor: float) -> None:
        """Store encoder rows [dSae, dIn] (W_enc transposed) and JumpReLU thresholds [dSae] as float32,
        the firing rule, TopK's k and the store's activation threshold (the EXCLUDES
        encoder-competition null, docs/bundle.md)."""
        import numpy as np

        d = self.work / ENCODERS_DIR
        d.mkdir(exist_ok=True)
        tmp = d / f"{sae_id}.npz.tmp-{os.getpid()}"
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                w_enc=np.ascontiguousarray(w_enc_rows, dtype=np.float32),
                threshold=np.asarray(threshold, dtype=np.float32),
                rule=np.array(rule),
                k=np.array(int(k)),
                floor=np.array(float(floor)),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, d / f"{sae_id}.npz")

    def write_table(self, name: str, table: Any) -> None:
        self.manifest["tables"][name] = write_table_file(self.work, name, table)

    def set_stats(self, stage: str, stats: Mapping[str, Any]) -> None:
        self.manifest["stats"][stage] = dict(stats)

    def finalize(self) -> Path:
        """Write the manifest and rename the work directory into place."""
        self.manifest.setdefault("formatVersion", FORMAT_VERSION)
        self.manifest.setdefault("createdAt", utc_now())
        write_json_atomic(self.work / MANIFEST, self.manifest)
        fsync_dir(self.work)
        if self.path.exists():  # an empty directory the user created is fine
            if any(self.path.iterdir()):
                raise BundleError(f"{self.path} exists and is not empty: choose another -o directory")
            self.path.rmdir()
        os.rename(self.work, self.path)
        fsync_dir(self.path.parent.resolve())
        return self.path


class Bundle(reader.Bundle):
    """A finished bundle opened by the write path: the reader plus its activation chunks."""

    @cached_property
    def activations(self) -> ActivationStore:
        return ActivationStore(self.path / ACTIVATIONS_DIR)


def open_bundle(path: str | os.PathLike, *, verify: bool = True) -> Bundle:
    """Open a finished bundle (``saegraph.queries.bundle.open_bundle``) with its activations."""
    return reader.open_bundle(path, verify=verify, cls=Bundle)


def update_bundle(
    path: str | os.PathLike,
    tables: Mapping[str, Any] | None = None,
    stats: Mapping[str, Mapping[str, Any]] | None = None,
    drop_tables: tuple[str, ...] = (),
    edges_config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Bundle:
    """Atomically replace tables and stage statistics of a finished bundle; ``edges_config``
    ({stage: settings}) replaces those stages' sections of the recorded ``config.edges``, so the
    manifest states the settings each table was built with."""
    p = Path(path)
    manifest = read_manifest(p)
    for stage, settings in (edges_config or {}).items():
        config = manifest.setdefault("config", {})
        if isinstance(config, dict):
            config.setdefault("edges", {})[stage] = dict(settings)
    for name, tbl in (tables or {}).items():
        manifest.setdefault("tables", {})[name] = write_table_file(p, name, tbl)
    for name in drop_tables:
        manifest.get("tables", {}).pop(name, None)
    for stage, st in (stats or {}).items():
        manifest.setdefault("stats", {})[stage] = dict(st)
    manifest["updatedAt"] = utc_now()
    write_json_atomic(p / MANIFEST, manifest)
    for name in drop_tables:
        f = p / f"{name}.parquet"
        if f.exists():
            f.unlink()
    return Bundle(p, manifest)


def remove_partial(path: str | os.PathLike) -> None:
    """Delete an unfinished build of ``path`` (used by ``saegraph ingest --restart``)."""
    w = partial_path(path)
    if w.exists():
        shutil.rmtree(w)
