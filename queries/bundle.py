"""Reading a graph bundle: the one verified reader both paths use (format in docs/bundle.md).

Algorithm:
1. ``read_manifest`` refuses a ``.partial`` directory, a missing manifest, invalid JSON, or a
   ``formatVersion`` newer than this code reads; the manifest is the bundle's commit point.
2. ``open_bundle`` builds a :class:`Bundle` and, with ``verify=True`` (the default),
   checks every table's sha256 against the manifest, so a corrupted or hand-edited table is
   refused before anything reads it.
3. Tables are read by name through the manifest (``Bundle.table`` / ``frame``), decoders
   from ``decoders/<saeId>.npy``. The writer (``saegraph.ingest.bundle``) builds on these.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TypeVar, overload

import pyarrow as pa
import pyarrow.parquet as pq

from saegraph.errors import SaegraphError
from saegraph.schema.graph import RelType

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"
ACTIVATIONS_DIR = "activations"
GROUND_TRUTH_DIR = "ground_truth"
DECODERS_DIR = "decoders"
ENCODERS_DIR = "encoders"

NODE_TABLES = ("models", "saes", "datasets", "features")
EDGE_TABLES = tuple(rel.table for rel in RelType)


class BundleError(SaegraphError, RuntimeError):
    """A bundle that cannot be read as asked: missing, unfinished, corrupted or too new."""


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

    def encoder(self, sae_id: str) -> dict | None:
        """Encoder of ``sae_id``: {"w_enc": float32 [dSae, dIn] encoder rows (W_enc transposed),
        "threshold": float32 [dSae] (JumpReLU's), "rule": "relu" | "jumprelu" | "topk", "k": TopK's k
        (0 if none), "floor": the store's activation threshold}, or None when the bundle holds none
        (written before encoders were stored, or an SAE without one)."""
        import numpy as np

        p = self.path / ENCODERS_DIR / f"{sae_id}.npz"
        if not p.exists():
            return None
        with np.load(p) as z:
            return {
                "w_enc": z["w_enc"],
                "threshold": z["threshold"],
                "rule": str(z["rule"]),
                "k": int(z["k"]),
                "floor": float(z["floor"]),
            }

    def verify(self) -> None:
        for entry in self.tables.values():
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


B = TypeVar("B", bound=Bundle)


@overload
def open_bundle(path: str | os.PathLike, *, verify: bool = True) -> Bundle: ...
@overload
def open_bundle(path: str | os.PathLike, *, verify: bool = True, cls: type[B]) -> B: ...


def open_bundle(path: str | os.PathLike, *, verify: bool = True, cls: type[Bundle] = Bundle) -> Bundle:
    """Open a finished bundle; ``verify`` checks every table's sha256 against the manifest."""
    p = Path(path)
    bundle = cls(p, read_manifest(p))
    if verify:
        bundle.verify()
    return bundle
