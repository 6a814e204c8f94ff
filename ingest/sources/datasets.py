"""Token streams: a Hugging Face dataset, local text files/globs, or pre-tokenized arrays,
cut into fixed-length sequences.

Algorithm:
1. Documents: ``hf`` streams ``datasets.load_dataset(name, split=split, streaming=...)`` and
   reads ``column`` (text, or a list of token ids for pre-tokenized datasets); ``text`` reads
   the files matched by ``paths`` in sorted order (``.jsonl``: one document per line from
   ``column``; any other file: the whole file is one document); ``tokens`` reads ``.npy`` /
   ``.npz`` arrays (``.npz``: the array named ``column``, else its only array).
2. Text is tokenized without special tokens, in groups of documents.
3. The documents' tokens are concatenated into one stream and cut into sequences of
   ``context_size``: with ``prepend_bos`` each sequence is BOS + ``context_size - 1``
   stream tokens (SAELens' convention). A 2-D token array whose width is ``context_size``
   is taken row by row, as is.
4. The stream stops after ``ceil(n_tokens / context_size)`` sequences; a short last sequence
   is right-padded with the pad token and flagged in ``is_pad``. ``is_bos`` flags every
   position holding the BOS (CLS) id.
5. Sequences are numbered from 0; ``start_sequence`` skips the first ones (resume), so the
   same config always yields the same sequences.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from saegraph.ingest.config import Config
from saegraph.ingest.sources.base import DatasetInfo, LoadedModel, TokenBatch
from saegraph.ingest.sources.errors import SourceError

DOCS_PER_TOKENIZER_CALL = 64


def resolve_paths(patterns: Iterable[str]) -> list[Path]:
    """Files matched by the patterns (globs or plain paths), sorted, without duplicates."""
    found: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(Path(pattern).expanduser()), recursive=True))
        if not matches:
            raise SourceError(f"dataset.paths: nothing matches {pattern!r}: check the path or glob")
        found += [Path(m) for m in matches if Path(m).is_file()]
    return list(dict.fromkeys(found))


def _text_documents(cfg: Config) -> Iterator[Any]:
    for path in resolve_paths(cfg.dataset.paths):
        if path.suffix == ".jsonl":
            with open(path, encoding="utf-8") as fh:
                for line_no, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    if cfg.dataset.column not in row:
                        raise SourceError(
                            f"{path}:{line_no} has no key {cfg.dataset.column!r} (keys: {', '.join(row)}): "
                            "set dataset.column"
                        )
                    yield row[cfg.dataset.column]
        else:
            yield path.read_text(encoding="utf-8", errors="replace")


def _hf_documents(cfg: Config) -> Iterator[Any]:
    import datasets

    d = cfg.dataset
    try:
        ds = datasets.load_dataset(d.name, split=d.split, streaming=d.streaming)
    except Exception as exc:  # datasets raises many types for a missing/unreachable dataset
        raise SourceError(
            f"cannot open HF dataset {d.name!r} split {d.split!r} ({type(exc).__name__}: "
            f'{str(exc).splitlines()[0][:160] if str(exc) else ""}): check the name, or use dataset.source = "text"'
        ) from exc
    for row in ds:
        if d.column not in row:
            raise SourceError(
                f"HF dataset {d.name!r} has no column {d.column!r} (columns: {', '.join(row)}): set dataset.column"
            )
        yield row[d.column]


def _token_arrays(cfg: Config) -> Iterator[np.ndarray]:
    for path in resolve_paths(cfg.dataset.paths):
        if path.suffix == ".npz":
            with np.load(path) as z:
                if cfg.dataset.column in z.files:
                    arr = z[cfg.dataset.column]
                elif len(z.files) == 1:
                    arr = z[z.files[0]]
                else:
                    raise SourceError(
                        f"{path} holds arrays {', '.join(z.files)}: set dataset.column to the token array"
                    )
        elif path.suffix == ".npy":
            arr = np.load(path, mmap_mode="r")
        else:
            raise SourceError(f'{path}: dataset.source = "tokens" reads .npy or .npz files')
        if not np.issubdtype(arr.dtype, np.integer):
            raise SourceError(f"{path} holds {arr.dtype} values, not token ids: save an integer array")
        yield arr


def _stream(cfg: Config, model: LoadedModel) -> Iterator[np.ndarray]:
    """Token-id chunks of the concatenated stream (2-D arrays of full rows pass as 2-D)."""
    d = cfg.dataset
    if d.source == "tokens":
        yield from _token_arrays(cfg)
        return
    docs = _hf_documents(cfg) if d.source == "hf" else _text_documents(cfg)
    pending: list[str] = []
    for doc in docs:
        if isinstance(doc, list | tuple | np.ndarray):  # pre-tokenized HF column
            yield np.asarray(doc, dtype=np.int64)
            continue
        pending.append(str(doc))
        if len(pending) >= DOCS_PER_TOKENIZER_CALL:
            yield from _tokenize(model, pending)
            pending = []
    if pending:
        yield from _tokenize(model, pending)


def _tokenize(model: LoadedModel, texts: list[str]) -> Iterator[np.ndarray]:
    if model.tokenizer is None:
        raise SourceError(
            f"model {model.name!r} has no tokenizer but the dataset is text: save the model with its tokenizer "
            '(save_local_model(model, dir, tokenizer)) or give pre-tokenized ids (dataset.source = "tokens")'
        )
    for ids in model.tokenizer(texts, add_special_tokens=False)["input_ids"]:
        yield np.asarray(ids, dtype=np.int64)


def iter_sequences(cfg: Config, model: LoadedModel) -> Iterator[tuple[np.ndarray, int]]:
    """(tokens [context_size], n_real) for every sequence of the stream (steps 3-4)."""
    d = cfg.dataset
    size = d.context_size
    bos = model.bos_token_id
    if d.prepend_bos and bos is None:
        raise SourceError(
            f"dataset.prepend_bos = true but model {model.name!r} has no BOS token: set it to false"
        )
    pad = model.pad_token_id if model.pad_token_id is not None else 0
    body = size - 1 if d.prepend_bos else size
    head = [bos] if d.prepend_bos else []
    limit = -(-d.n_tokens // size)
    emitted = 0
    buffer = np.empty(0, dtype=np.int64)
    for chunk in _stream(cfg, model):
        if chunk.ndim == 2 and chunk.shape[1] == size:
            for row in chunk:
                if emitted >= limit:
                    return
                yield np.asarray(row, dtype=np.int64), size
                emitted += 1
            continue
        buffer = np.concatenate([buffer, np.asarray(chunk, dtype=np.int64).reshape(-1)])
        while buffer.size >= body:
            if emitted >= limit:
                return
            yield np.concatenate([np.asarray(head, dtype=np.int64), buffer[:body]]), size
            buffer = buffer[body:]
            emitted += 1
    if emitted == 0 and buffer.size == 0:
        raise SourceError(
            f"dataset {d.name!r} ({d.source}) yielded no tokens: check dataset.paths / name / split / column"
        )
    if buffer.size and emitted < limit:
        seq = np.full(size, pad, dtype=np.int64)
        real = np.concatenate([np.asarray(head, dtype=np.int64), buffer])
        seq[: real.size] = real
        yield seq, int(real.size)


def iter_token_batches(cfg: Config, model: LoadedModel, start_sequence: int = 0) -> Iterator[TokenBatch]:
    """Batches of ``activations.batch_size`` sequences from ``start_sequence`` on (step 5)."""
    batch = cfg.activations.batch_size
    rows: list[np.ndarray] = []
    ids: list[int] = []
    reals: list[int] = []
    for seq_id, (tokens, n_real) in enumerate(iter_sequences(cfg, model)):
        if seq_id < start_sequence:
            continue
        if tokens.size and (tokens.max() >= model.d_vocab or tokens.min() < 0):
            raise SourceError(
                f"sequence {seq_id} holds token id {int(tokens.max())} outside model {model.name!r}'s "
                f"vocabulary of {model.d_vocab}: the tokens come from another tokenizer"
            )
        rows.append(tokens)
        ids.append(seq_id)
        reals.append(n_real)
        if len(rows) == batch:
            yield _batch(rows, ids, reals, model)
            rows, ids, reals = [], [], []
    if rows:
        yield _batch(rows, ids, reals, model)


def _batch(rows: list[np.ndarray], ids: list[int], reals: list[int], model: LoadedModel) -> TokenBatch:
    tokens = np.stack(rows).astype(np.int64)
    positions = np.arange(tokens.shape[1])[None, :]
    is_pad = positions >= np.asarray(reals)[:, None]
    is_bos = (
        (tokens == model.bos_token_id) & ~is_pad if model.bos_token_id is not None else np.zeros_like(is_pad)
    )
    return TokenBatch(
        tokens=tokens, sequence_ids=np.asarray(ids, dtype=np.int64), is_bos=is_bos, is_pad=is_pad
    )


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def token_dataset_info(cfg: Config, model: LoadedModel) -> DatasetInfo:
    """Fingerprint: sha256 over the stream description, the tokenizer and local files' content."""
    d = cfg.dataset
    tok = model.tokenizer
    desc: dict[str, Any] = {
        "source": d.source,
        "n_tokens": d.n_tokens,
        "context_size": d.context_size,
        "prepend_bos": d.prepend_bos,
        "tokenizer": [getattr(tok, "name_or_path", None), len(tok) if tok is not None else None],
        "bos": model.bos_token_id,
    }
    if d.source == "hf":
        desc.update(name=d.name, split=d.split, column=d.column)
    else:
        desc["files"] = [[p.name, _file_digest(p)] for p in resolve_paths(d.paths)]
        desc["column"] = d.column
    digest = hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()
    label = d.name or (", ".join(Path(p).name for p in d.paths[:3]) + (" ..." if len(d.paths) > 3 else ""))
    return DatasetInfo(name=label, fingerprint=digest, source=d.source)
