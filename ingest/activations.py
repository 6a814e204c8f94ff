"""Stream tokens through the model and every SAE into sparse activation chunks on disk.

Algorithm (one pass; memory bounded by one chunk):
1. Group the SAEs by hook; one forward pass per batch of whole sequences captures every
   needed hook (``LoadedModel.run_hooks`` stops at the last needed layer). The synthetic
   source hands over its hidden activations directly.
2. Drop BOS and padding positions (configurable) with one boolean mask per batch.
3. Encode the kept rows with each SAE in float32, refuse NaN/Inf (naming the SAE and chunk),
   and keep entries above the firing threshold as CSR (``sparsify``).
4. Append batches to an in-memory chunk until it holds ``chunk_tokens`` tokens, then write
   it atomically with ``ActivationStore.append`` (whole sequences per chunk) along with
   ``nextSequence``, the first sequence the next chunk starts at.
5. A resumed run reopens the store, reads ``nextSequence`` of the last finished chunk and
   asks the source for batches from there, so no token is encoded twice.

Devices (``run.device``, ``activations.forward_batch_size``, ``activations.sae_dtype``; the
device, the forward size and its halving live in ``saegraph.ingest.activations_device``, whose
``ActivationError`` and ``encoders_in_dtype`` stay importable from here):
6. The source's batches (``activations.batch_size`` sequences) fix the chunk boundaries. The
   forward runs on groups of consecutive whole batches of up to ``forward_batch_size``
   sequences (``auto``: ``batch_size`` on a CPU, sized from free memory on a CUDA GPU), and the
   encoded rows are split back per batch, so the chunks written are the same whatever the group.
7. A CUDA out-of-memory error in a forward or an encode halves the size and runs the same
   sequences again: rows are kept only once every SAE has encoded a whole slice, so no token
   is lost or repeated, and nothing reaches the store before its chunk is complete.
8. ``sae_dtype`` other than float32 encodes with a converted copy of each SAE
   (``SAE.to(dtype=...)``); entries above the threshold are found on the device, and only
   they travel to the host.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from saegraph.ingest.activation_store import ActivationChunk, ActivationStore
from saegraph.ingest.activations_device import (
    ActivationError,
    ForwardSizer,
    encoders_in_dtype,
    forward_groups,
    is_out_of_memory,
    pass_device,
)

TRUTH_ID = "truth"
NO_TOKENS = (
    "the dataset produced no tokens to keep: check dataset.paths / dataset.n_tokens, "
    "or set activations.exclude_bos = false for one-token sequences"
)


def sparsify(acts, threshold: float) -> sp.csr_matrix:
    """Dense [N, F] activations (torch or numpy) -> CSR float32 of entries > threshold."""
    import torch

    if isinstance(acts, torch.Tensor):
        # Select on the tensor's own device: from a GPU only the kept entries travel.
        acts = acts.detach().to(torch.float32)
        rows, cols = torch.nonzero(acts > threshold, as_tuple=True)
        vals = acts[rows, cols].cpu().numpy()
        n, f = acts.shape
        return _csr_from_sorted_coo(rows.cpu().numpy(), cols.cpu().numpy(), vals, n, f)
    a = np.asarray(acts, dtype=np.float32)
    r, c = np.nonzero(a > threshold)
    return _csr_from_sorted_coo(r, c, a[r, c], *a.shape)


def _csr_from_sorted_coo(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int, f: int
) -> sp.csr_matrix:
    """Row-major COO (as nonzero() returns it) -> CSR without a sort."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix(
        (vals.astype(np.float32, copy=False), cols.astype(np.int32, copy=False), indptr), shape=(n, f)
    )


def check_finite(acts, sae_id: str, chunk: int, where: str = "") -> None:
    """Raise ActivationError naming the SAE and chunk (and ``where``) when activations hold NaN/Inf."""
    import torch

    # One reduction is enough to detect NaN/Inf (they propagate through a sum); count only then.
    if isinstance(acts, torch.Tensor):
        if bool(torch.isfinite(acts.sum())):
            return
        n_bad = int((~torch.isfinite(acts)).sum())
    else:
        if np.isfinite(acts.sum()):
            return
        n_bad = int((~np.isfinite(acts)).sum())
    if n_bad:
        raise ActivationError(
            f"SAE {sae_id!r} produced {n_bad} NaN/Inf activations in chunk {chunk}{where}: check the model "
            'dtype (try model.dtype = "float32") and the SAE weights'
        )


@dataclass
class ChunkBuffer:
    """Batches of whole sequences collected until a chunk is full."""

    sae_ids: Sequence[str]
    token_ids: list[np.ndarray] = field(default_factory=list)
    sequence_ids: list[np.ndarray] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)
    acts: dict[str, list[sp.csr_matrix]] = field(default_factory=dict)
    n_tokens: int = 0

    def add(self, token_ids, sequence_ids, positions, acts: dict[str, sp.csr_matrix]) -> None:
        self.token_ids.append(token_ids)
        self.sequence_ids.append(sequence_ids)
        self.positions.append(positions)
        for sid, m in acts.items():
            self.acts.setdefault(sid, []).append(m)
        self.n_tokens += int(token_ids.shape[0])

    def to_chunk(self, index: int) -> ActivationChunk:
        return ActivationChunk(
            index=index,
            token_ids=np.concatenate(self.token_ids).astype(np.int32),
            sequence_ids=np.concatenate(self.sequence_ids).astype(np.int64),
            positions=np.concatenate(self.positions).astype(np.int32),
            acts={sid: sp.vstack(ms, format="csr") for sid, ms in self.acts.items()},
        )


def keep_mask(batch, exclude_bos: bool, exclude_padding: bool) -> np.ndarray:
    """[B, T] bool: positions whose activations are kept."""
    keep = np.ones(batch.tokens.shape, dtype=bool)
    if exclude_bos:
        keep &= ~batch.is_bos
    if exclude_padding:
        keep &= ~batch.is_pad
    return keep


@dataclass
class PassStats:
    """Timings and counts of one activation pass (written to manifest stats)."""

    tokens_seen: int = 0
    tokens_kept: int = 0
    sequences: int = 0
    chunks_written: int = 0
    chunks_resumed: int = 0
    seconds_model: float = 0.0
    seconds_encode: float = 0.0
    seconds_sparsify: float = 0.0
    seconds_write: float = 0.0
    seconds_total: float = 0.0
    tokens_this_run: int = 0
    """Tokens pushed through the model by this invocation (the rest came from resumed chunks)."""
    device: str = ""
    """Torch device the pass ran on (``run.device`` with ``auto`` resolved)."""
    sae_dtype: str = "float32"
    """dtype the SAEs encoded in."""
    forward_batch_size: int = 0
    """Sequences per forward at the end of the pass (after any out-of-memory halving)."""
    oom_backoffs: int = 0
    """Times an out-of-memory error halved the forward batch."""

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["tokensPerSecond"] = self.tokens_this_run / self.seconds_total if self.seconds_total else 0.0
        return d


def run_activation_pass(
    cfg,
    model,
    saes,
    batches_from,
    out_dir: Path,
    *,
    truth_dir: Path | None = None,
    progress: bool = True,
    allow_empty: bool = False,
) -> PassStats:
    """Fill ``out_dir`` (an ``activations/`` directory) with sparse activation chunks.

    ``batches_from(start_sequence)`` yields ``TokenBatch`` es (``saegraph.ingest.sources``);
    ``truth_dir`` receives the synthetic source's true feature activations, chunk-aligned.
    ``allow_empty`` (one shard of ``activation_shards``) accepts a pass that kept no token.
    """
    from tqdm.auto import tqdm

    acfg = cfg.activations
    widths = {s.sae_id: s.d_sae for s in saes}
    store = ActivationStore(out_dir, sae_widths=widths)
    truth_store: ActivationStore | None = None
    stats = PassStats(
        chunks_resumed=store.n_chunks,
        tokens_seen=sum(int(c.get("tokensSeen", c["nTokens"])) for c in store.chunks),
        tokens_kept=store.n_tokens,
        sequences=sum(int(c.get("sequencesSeen", c["nSequences"])) for c in store.chunks),
    )
    start_sequence = int(store.chunks[-1].get("nextSequence", 0)) if store.n_chunks else 0
    hooks = sorted({s.hook_name for s in saes})

    buffer = ChunkBuffer([s.sae_id for s in saes])
    truth_parts: list[sp.csr_matrix] = []
    t_start = time.perf_counter()
    seen_in_chunk = 0
    seqs_in_chunk = 0
    bar = tqdm(
        total=cfg.dataset.n_tokens,
        initial=min(stats.tokens_seen, cfg.dataset.n_tokens),
        unit="tok",
        unit_scale=True,
        desc="activations",
        disable=not progress,
    )

    def flush(next_sequence: int) -> None:
        nonlocal buffer, truth_parts, truth_store, seen_in_chunk, seqs_in_chunk
        if buffer.n_tokens == 0:
            return
        t0 = time.perf_counter()
        chunk = buffer.to_chunk(store.n_chunks)
        if truth_parts and truth_dir is not None:
            width = truth_parts[0].shape[1]
            if truth_store is None:
                truth_store = ActivationStore(truth_dir, sae_widths={TRUTH_ID: width})
            truth_store.append(
                ActivationChunk(
                    chunk.index,
                    chunk.token_ids,
                    chunk.sequence_ids,
                    chunk.positions,
                    {TRUTH_ID: sp.vstack(truth_parts, format="csr")},
                )
            )
        store.append(
            chunk,
            nextSequence=int(next_sequence),
            tokensSeen=int(seen_in_chunk),
            sequencesSeen=int(seqs_in_chunk),
        )
        stats.seconds_write += time.perf_counter() - t0
        stats.chunks_written += 1
        buffer = ChunkBuffer(buffer.sae_ids)
        truth_parts = []
        seen_in_chunk = 0
        seqs_in_chunk = 0

    if truth_dir is not None and (truth_dir / "index.json").exists():
        truth_store = ActivationStore(truth_dir)
        truth_store.truncate(store.n_chunks)

    device = pass_device(model, saes)
    encoders = encoders_in_dtype(saes, acfg.sae_dtype)
    sizer = ForwardSizer(acfg, device, encoders)
    stats.device, stats.sae_dtype = device, acfg.sae_dtype

    next_sequence = start_sequence
    for group in forward_groups(batches_from(start_sequence), sizer):
        group_acts = encode_group(group, model, encoders, hooks, acfg, sizer, stats, store.n_chunks)
        for batch, acts in zip(group, group_acts, strict=True):
            b, t = batch.tokens.shape
            flat_keep = keep_mask(batch, acfg.exclude_bos, acfg.exclude_padding).reshape(-1)
            positions = np.broadcast_to(np.arange(t, dtype=np.int32), (b, t))
            seq_ids = np.broadcast_to(np.asarray(batch.sequence_ids, dtype=np.int64)[:, None], (b, t))
            buffer.add(
                batch.tokens.reshape(-1)[flat_keep],
                seq_ids.reshape(-1)[flat_keep],
                positions.reshape(-1)[flat_keep],
                acts,
            )
            if batch.true_acts is not None:
                truth_parts.append(sp.csr_matrix(batch.true_acts)[flat_keep])
            next_sequence = int(np.max(batch.sequence_ids)) + 1
            stats.tokens_seen += b * t
            stats.tokens_kept += int(flat_keep.sum())
            stats.sequences += b
            stats.tokens_this_run += b * t
            seen_in_chunk += b * t
            seqs_in_chunk += b
            bar.update(b * t)
            if buffer.n_tokens >= acfg.chunk_tokens:
                flush(next_sequence)
    flush(next_sequence)
    bar.close()
    stats.seconds_total = time.perf_counter() - t_start
    stats.forward_batch_size = sizer.size
    stats.oom_backoffs = sizer.backoffs
    if not allow_empty and (store.n_chunks == 0 or store.n_tokens == 0):
        raise ActivationError(NO_TOKENS)
    return stats


def encode_group(group, model, saes, hooks, acfg, sizer: ForwardSizer, stats: PassStats, chunk: int) -> list:
    """Encode a group of batches in slices of ``sizer.size`` sequences; CSR per SAE per batch."""
    if len(group) == 1:
        tokens, hidden, keep = (
            group[0].tokens,
            group[0].hidden,
            keep_mask(group[0], acfg.exclude_bos, acfg.exclude_padding),
        )
        seq_ids = np.asarray(group[0].sequence_ids)
    else:
        import torch

        tokens = np.concatenate([b.tokens for b in group])
        keep = np.concatenate([keep_mask(b, acfg.exclude_bos, acfg.exclude_padding) for b in group])
        seq_ids = np.concatenate([np.asarray(b.sequence_ids) for b in group])
        hidden = None
        if group[0].hidden is not None:
            hidden = {h: torch.cat([b.hidden[h] for b in group]) for h in group[0].hidden}
    n = int(tokens.shape[0])
    parts: dict[str, list[sp.csr_matrix]] = {s.sae_id: [] for s in saes}
    lo = 0
    while lo < n:
        hi = min(n, lo + sizer.size)
        try:
            out = encode_rows(
                tokens[lo:hi], keep[lo:hi], hidden, (lo, hi), model, saes, hooks, acfg, stats, chunk, seq_ids
            )
        except Exception as exc:  # re-raised below unless out of memory
            if not is_out_of_memory(exc):
                raise
            out = None  # leave the except block first: the traceback holds the slice's tensors
        if out is None:
            sizer.back_off(hi - lo, int(seq_ids[lo]))
            continue
        for sid, m in out.items():
            parts[sid].append(m)
        lo = hi
    merged = {sid: ms[0] if len(ms) == 1 else sp.vstack(ms, format="csr") for sid, ms in parts.items()}
    if len(group) == 1:
        return [merged]
    return _split_rows(group, keep, merged)


def _split_rows(group, keep: np.ndarray, merged: dict) -> list:
    """Rows of ``merged`` (kept positions of the whole group) back to each batch."""
    bounds = np.cumsum([0] + [int(b.tokens.shape[0]) for b in group])
    kept_before = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    out = []
    for i in range(len(group)):
        r0, r1 = int(kept_before[bounds[i]]), int(kept_before[bounds[i + 1]])
        out.append({sid: m[r0:r1] for sid, m in merged.items()})
    return out


def encode_rows(
    tokens, keep, hidden, rows, model, saes, hooks, acfg, stats: PassStats, chunk: int, seq_ids
) -> dict:
    """One forward over sequences ``rows`` of the group and every SAE's CSR of their kept rows."""
    lo, hi = rows
    b, t = tokens.shape
    t0 = time.perf_counter()
    if hidden is not None:
        h_all = {h: v[lo:hi] for h, v in hidden.items()}
    else:
        h_all = model.run_hooks(_as_long_tensor(tokens), hooks)
    stats.seconds_model += time.perf_counter() - t0
    keep_t = _as_bool_tensor(keep.reshape(-1))
    out = {}
    for sae in saes:
        h = h_all[sae.hook_name]
        x = h.reshape(b * t, -1)[keep_t.to(h.device)]
        t0 = time.perf_counter()
        z = sae.encode(x)
        stats.seconds_encode += time.perf_counter() - t0
        check_finite(z, sae.sae_id, chunk, f" (sequences {int(seq_ids[lo])}-{int(seq_ids[hi - 1])})")
        t0 = time.perf_counter()
        out[sae.sae_id] = sparsify(z, acfg.threshold)
        stats.seconds_sparsify += time.perf_counter() - t0
        del z, x
    return out


def _as_long_tensor(tokens: np.ndarray):
    import torch

    return torch.as_tensor(np.ascontiguousarray(tokens), dtype=torch.long)


def _as_bool_tensor(mask: np.ndarray):
    import torch

    return torch.as_tensor(np.ascontiguousarray(mask), dtype=torch.bool)
