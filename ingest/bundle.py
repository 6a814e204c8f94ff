"""The on-disk graph bundle: Parquet tables + manifest (format in docs/bundle.md).

Algorithm (atomic writes; the manifest is the commit point):
1. A new bundle is built in ``BUNDLE.partial/``; tables are written as ``name.parquet.tmp``,
   fsynced and renamed, and their sha256 and row count recorded.
2. ``finalize`` writes ``manifest.json`` (temp + fsync + rename), fsyncs the directory and
   renames ``BUNDLE.partial`` to ``BUNDLE``. A directory without a manifest is never read.
3. ``update_bundle`` replaces tables of a finished bundle the same way and rewrites the
   manifest last, so a crash leaves either the old or the new state, never a mix the
   reader accepts (a table whose checksum disagrees with the manifest is refused).
4. ``open_bundle`` refuses: a ``.partial`` directory, a missing manifest, a newer
   ``formatVersion``, a missing table, or (``verify=True``) a checksum mismatch.
"""

from __future__ import annotations

import hashlib
import json
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

from saegraph.errors import SaegraphError
from saegraph.ingest.activation_store import ActivationStore, fsync_dir, write_json_atomic

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"
ACTIVATIONS_DIR = "activations"
GROUND_TRUTH_DIR = "ground_truth"
DECODERS_DIR = "decoders"

NODE_TABLES = ("models", "saes", "datasets", "features")
EDGE_TABLES = ("co_activates", "excludes", "lasso", "cosine", "matches")


class BundleError(SaegraphError, RuntimeError):
    """A bundle is missing, half-written, corrupted or of an unsupported format."""


def partial_path(path: str | os.PathLike) -> Path:
    """Where a bundle is built before it is complete."""
    p = Path(path)
    return p.with_name(p.name + PARTIAL_SUFFIX)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


class Bundle:
    """A finished bundle opened for reading. Use :func:`open_bundle`."""

    def __init__(self, path: Path, manifest: dict):
        self.path = path
        self.manifest = manifest

    @property
    def run_id(self) -> str:
        return self.manifest["runId"]

    @property
    def config(self) -> dict:
        return self.manifest.get("config", {})

    @property
    def sae_ids(self) -> list[str]:
        return [str(s) for s in self.table("saes").column("saeId").to_pylist()]

    @property
    def tables(self) -> dict:
        return self.manifest.get("tables", {})

    @property
    def stats(self) -> dict:
        return self.manifest.get("stats", {})

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def table_path(self, name: str) -> Path:
        if name not in self.tables:
            raise BundleError(
                f"bundle {self.path} has no {name!r} table (has: {sorted(self.tables)}); "
                f"build it with `saegraph edges {self.path}`"
            )
        return self.path / self.tables[name]["file"]

    def table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.table_path(name), columns=columns)

    def frame(self, name: str, columns: list[str] | None = None):
        return self.table(name, columns).to_pandas()

    @cached_property
    def activations(self) -> ActivationStore:
        return ActivationStore(self.path / ACTIVATIONS_DIR)

    @property
    def ground_truth_path(self) -> Path:
        return self.path / GROUND_TRUTH_DIR

    def decoder(self, sae_id: str):
        """Decoder rows W_dec of ``sae_id`` as float32 [dSae, dIn]."""
        import numpy as np

        p = self.path / DECODERS_DIR / f"{sae_id}.npy"
        if not p.exists():
            raise BundleError(f"bundle {self.path} has no decoder for SAE {sae_id!r} (known: {self.sae_ids})")
        return np.load(p)

    def verify(self) -> None:
        for name, entry in self.tables.items():
            p = self.path / entry["file"]
            if not p.exists():
                raise BundleError(f"bundle {self.path} lacks {entry['file']}: it is incomplete; rebuild it")
            if sha256_file(p) != entry["sha256"]:
                raise BundleError(
                    f"{p} does not match its checksum in the manifest (corrupted or edited): "
                    f"rebuild it with `saegraph edges {self.path}` or re-run `saegraph ingest`"
                )


def read_manifest(path: Path) -> dict:
    if path.name.endswith(PARTIAL_SUFFIX):
        raise BundleError(f"{path} is a half-written bundle: re-run the same `saegraph ingest` to resume it")
    mpath = path / MANIFEST
    if not mpath.exists():
        if partial_path(path).exists():
            raise BundleError(
                f"{path} is not a finished bundle (an unfinished run is in {partial_path(path)}): "
                "re-run the same `saegraph ingest` to resume it"
            )
        if not path.is_dir():
            raise BundleError(f"no bundle at {path}: create one with `saegraph ingest CONFIG -o {path}`")
        raise BundleError(f"{path} has no {MANIFEST}: it is not a finished bundle; re-run `saegraph ingest`")
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{mpath} is not valid JSON ({exc}): the bundle is corrupted; rebuild it") from exc
    version = manifest.get("formatVersion")
    if not isinstance(version, int):
        raise BundleError(f"{mpath} has no integer formatVersion: not a saegraph bundle")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"bundle {path} has format version {version}, newer than this saegraph reads "
            f"({FORMAT_VERSION}): upgrade saegraph (pip install -U saegraph)"
        )
    return manifest


def open_bundle(path: str | os.PathLike, *, verify: bool = True) -> Bundle:
    """Open a finished bundle; ``verify`` checks every table's sha256 against the manifest."""
    p = Path(path)
    bundle = Bundle(p, read_manifest(p))
    if verify:
        bundle.verify()
    return bundle


def update_bundle(
    path: str | os.PathLike,
    tables: Mapping[str, Any] | None = None,
    stats: Mapping[str, Mapping[str, Any]] | None = None,
    drop_tables: tuple[str, ...] = (),
) -> Bundle:
    """Atomically replace tables and stage statistics of a finished bundle."""
    p = Path(path)
    manifest = read_manifest(p)
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
