"""Sparse activations on disk, in chunks of whole sequences.

Layout (docs/bundle.md): ``activations/index.json`` plus one directory per chunk holding
``tokens.npz`` (token ids, sequence ids, positions) and one CSR ``<saeId>.npz`` per SAE.

Algorithm for a crash-safe append:
1. Write every file of chunk k into ``chunk_k.tmp-<pid>/`` and fsync each file.
2. Rename the directory to ``chunk_k`` (atomic on POSIX) and fsync the parent.
3. A chunk directory either exists whole or not at all, so a resumed run counts the
   finished chunks and starts after the last one; stray ``*.tmp-*`` directories are removed.
``index.json`` is rewritten (temp file + rename) after each chunk. ``adopt`` appends a finished
chunk of another store (a shard of the sharded pass) the same way, its files hard-linked.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from saegraph.errors import SaegraphError

INDEX_FILE = "index.json"
TOKENS_FILE = "tokens.npz"


class ActivationStoreError(SaegraphError, RuntimeError):
    """The activation directory is missing, inconsistent or corrupted."""


@dataclass
class ActivationChunk:
    """One chunk of whole sequences: token metadata and one CSR matrix per SAE."""

    index: int
    token_ids: np.ndarray  # int32 [n]
    sequence_ids: np.ndarray  # int64 [n], global sequence number
    positions: np.ndarray  # int32 [n], position within the sequence
    acts: dict[str, sp.csr_matrix] = field(default_factory=dict)  # saeId -> [n, dSae]

    @property
    def n_tokens(self) -> int:
        return int(self.token_ids.shape[0])


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, obj: object) -> None:
    """Write JSON to ``path`` through a temporary file, fsync, rename."""
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=_json_default)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _json_default(obj: object) -> object:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub lets **kwargs reach allow_pickle
        fh.flush()
        os.fsync(fh.fileno())


def _chunk_name(index: int) -> str:
    return f"chunk_{index:05d}"


class ActivationStore:
    """Reader (and appender) for the ``activations/`` directory of a bundle."""

    def __init__(self, path: str | os.PathLike, *, sae_widths: dict[str, int] | None = None):
        self.path = Path(path)
        index_path = self.path / INDEX_FILE
        if sae_widths is not None and not index_path.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            self._index: dict[str, Any] = {"saeWidths": dict(sae_widths), "chunks": []}
            write_json_atomic(index_path, self._index)
        elif not index_path.exists():
            raise ActivationStoreError(
                f"{self.path} has no {INDEX_FILE}: re-run `saegraph ingest` to recompute activations"
            )
        else:
            self._index = json.loads(index_path.read_text())
            if sae_widths is not None and self._index["saeWidths"] != dict(sae_widths):
                raise ActivationStoreError(
                    f"{self.path} holds activations for SAEs {self._index['saeWidths']}, "
                    f"not {dict(sae_widths)}: delete it or use a new output directory"
                )
        self._drop_stray_tmp()

    # ------------------------------------------------------------------ reading
    @property
    def sae_ids(self) -> list[str]:
        return list(self._index["saeWidths"])

    def d_sae(self, sae_id: str) -> int:
        try:
            return int(self._index["saeWidths"][sae_id])
        except KeyError:
            raise ActivationStoreError(f"unknown SAE {sae_id!r}; known: {self.sae_ids}") from None

    @property
    def chunks(self) -> list[dict]:
        return list(self._index["chunks"])

    @property
    def n_chunks(self) -> int:
        return len(self._index["chunks"])

    @property
    def n_tokens(self) -> int:
        return int(sum(c["nTokens"] for c in self._index["chunks"]))

    @property
    def n_sequences(self) -> int:
        return int(sum(c["nSequences"] for c in self._index["chunks"]))

    def load_chunk(self, index: int, sae_ids: Sequence[str] | None = None) -> ActivationChunk:
        """Load chunk ``index`` with the CSR matrices of ``sae_ids`` (all SAEs if None)."""
        d = self.path / _chunk_name(index)
        if not d.is_dir():
            raise ActivationStoreError(f"missing chunk directory {d}: the bundle is incomplete")
        try:
            with np.load(d / TOKENS_FILE) as z:
                chunk = ActivationChunk(
                    index=index,
                    token_ids=z["token_ids"],
                    sequence_ids=z["sequence_ids"],
                    positions=z["positions"],
                )
            for sid in sae_ids if sae_ids is not None else self.sae_ids:
                width = self.d_sae(sid)
                with np.load(d / f"{sid}.npz") as z:
                    m = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=(chunk.n_tokens, width))
                chunk.acts[sid] = m
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ActivationStoreError(f"chunk {d} is unreadable ({exc}): re-run `saegraph ingest`") from exc
        return chunk

    def iter_chunks(self, sae_ids: Sequence[str] | None = None) -> Iterator[ActivationChunk]:
        """Yield every chunk in order; memory holds one chunk at a time."""
        for c in self._index["chunks"]:
            yield self.load_chunk(c["chunk"], sae_ids)

    def stack(self, sae_id: str) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """One SAE's activations over all chunks as one CSR float32 matrix, with the tokens'
        sequence ids and positions (empty arrays when nothing is stored)."""
        mats, seqs, poss = [], [], []
        for chunk in self.iter_chunks(sae_ids=[sae_id]):
            mats.append(chunk.acts[sae_id])
            seqs.append(np.asarray(chunk.sequence_ids))
            poss.append(np.asarray(chunk.positions))
        if not mats:
            empty = np.zeros(0, dtype=np.int64)
            return sp.csr_matrix((0, self.d_sae(sae_id)), dtype=np.float32), empty, empty.astype(np.int32)
        return sp.vstack(mats, format="csr").astype(np.float32), np.concatenate(seqs), np.concatenate(poss)

    def token_metadata(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All token ids, sequence ids and positions (int arrays over the kept tokens)."""
        parts = [self.load_chunk(c["chunk"], sae_ids=[]) for c in self._index["chunks"]]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty.astype(np.int32), empty, empty.astype(np.int32)
        return (
            np.concatenate([p.token_ids for p in parts]),
            np.concatenate([p.sequence_ids for p in parts]),
            np.concatenate([p.positions for p in parts]),
        )

    # ------------------------------------------------------------------ writing
    def append(self, chunk: ActivationChunk, **meta: object) -> None:
        """Write ``chunk`` atomically (see module docstring) and record it in the index.

        ``meta`` (JSON values, e.g. ``nextSequence`` for resuming) is kept in the chunk's
        index entry.
        """
        if chunk.index != self.n_chunks:
            raise ActivationStoreError(f"chunk {chunk.index} written out of order (expected {self.n_chunks})")
        missing = set(self.sae_ids) - set(chunk.acts)
        if missing:
            raise ActivationStoreError(f"chunk {chunk.index} lacks activations for {sorted(missing)}")
        tmp = self.path / f"{_chunk_name(chunk.index)}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        _save_npz(
            tmp / TOKENS_FILE,
            token_ids=np.asarray(chunk.token_ids, dtype=np.int32),
            sequence_ids=np.asarray(chunk.sequence_ids, dtype=np.int64),
            positions=np.asarray(chunk.positions, dtype=np.int32),
        )
        for sid in self.sae_ids:
            m = chunk.acts[sid].tocsr()
            if m.shape != (chunk.n_tokens, self.d_sae(sid)):
                raise ActivationStoreError(f"chunk {chunk.index} SAE {sid}: shape {m.shape} is wrong")
            m.sort_indices()
            _save_npz(
                tmp / f"{sid}.npz",
                data=m.data.astype(np.float32, copy=False),
                indices=m.indices.astype(np.int32, copy=False),
                indptr=m.indptr.astype(np.int64, copy=False),
                shape=np.asarray(m.shape, dtype=np.int64),
            )
        self._commit(
            tmp,
            {
                "chunk": chunk.index,
                "nTokens": chunk.n_tokens,
                "nSequences": int(np.unique(chunk.sequence_ids).size),
                "nnz": {sid: int(chunk.acts[sid].nnz) for sid in self.sae_ids},
                **meta,
            },
        )

    def adopt(self, source: ActivationStore, index: int) -> None:
        """Append chunk ``index`` of ``source`` (a store of the same SAEs) as this store's next
        chunk, with its index entry (``nextSequence`` and the rest): its files are hard-linked
        (copied across file systems) into ``chunk_k.tmp-<pid>/``, which is renamed as in
        :meth:`append`; ``source`` is left as it was."""
        if source._index["saeWidths"] != self._index["saeWidths"]:
            raise ActivationStoreError(f"{source.path} holds other SAEs than {self.path}")
        entry = next((c for c in source._index["chunks"] if c["chunk"] == index), None)
        src = source.path / _chunk_name(index)
        if entry is None or not src.is_dir():
            raise ActivationStoreError(f"missing chunk {src}: the store is incomplete")
        tmp = self.path / f"{_chunk_name(self.n_chunks)}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        for f in sorted(src.iterdir()):
            try:
                os.link(f, tmp / f.name)
            except OSError:  # another file system, or no hard links there
                shutil.copyfile(f, tmp / f.name)
                with open(tmp / f.name, "rb") as fh:
                    os.fsync(fh.fileno())
        self._commit(tmp, {**entry, "chunk": self.n_chunks})

    def _commit(self, tmp: Path, entry: dict) -> None:
        """Rename the written ``tmp`` to the chunk's directory, then record ``entry`` in the index."""
        final = self.path / _chunk_name(entry["chunk"])
        fsync_dir(tmp)
        if final.exists():  # left by a crash after rename but before the index update
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_dir(self.path)
        self._index["chunks"].append(entry)
        write_json_atomic(self.path / INDEX_FILE, self._index)

    def truncate(self, n_chunks: int) -> None:
        """Forget chunks from ``n_chunks`` on (keeps a side store aligned after a crash)."""
        extra = [c for c in self._index["chunks"] if c["chunk"] >= n_chunks]
        if not extra:
            return
        self._index["chunks"] = [c for c in self._index["chunks"] if c["chunk"] < n_chunks]
        write_json_atomic(self.path / INDEX_FILE, self._index)
        for c in extra:
            shutil.rmtree(self.path / _chunk_name(c["chunk"]), ignore_errors=True)

    def _drop_stray_tmp(self) -> None:
        if not self.path.is_dir():
            return
        recorded = {_chunk_name(c["chunk"]) for c in self._index["chunks"]}
        for p in self.path.iterdir():
            if p.is_dir() and (".tmp-" in p.name or p.name not in recorded):
                shutil.rmtree(p)
