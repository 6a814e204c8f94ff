"""Where and in what sizes the activation pass runs its forwards: device, SAE dtype, batch sizing.

``saegraph.ingest.activations`` streams the tokens; this module decides, for that pass
(``run.device``, ``activations.forward_batch_size``, ``activations.sae_dtype``):
1. The device: the first SAE parameter's, else ``model.device``, else ``cpu`` (``pass_device``).
2. The encoders: the SAEs themselves for float32, else a deep copy converted with the SAE's own
   ``to(dtype=...)``, so the originals keep float32 decoders (``encoders_in_dtype``).
3. The forward size (``ForwardSizer``), once: a configured integer as is; ``auto`` on a CPU (or
   MPS) is ``batch_size``; ``auto`` on a CUDA GPU, at the first batch, plans
   ``AUTO_MEMORY_FRACTION`` of the free memory (driver free plus what torch's caching allocator
   holds unused, ``cuda_free_bytes``) at ``16 * d_sae + 64 * d_in`` bytes per token (widest SAE),
   capped at ``AUTO_MAX_TOKENS`` tokens and ``AUTO_MAX_SEQUENCES`` sequences, at least one,
   and rounded down to whole source batches when it holds at least one.
4. The groups (``forward_groups``): consecutive whole source batches up to that many sequences
   (at least one batch); batches of different sequence lengths never share a group.
5. Out of memory: ``is_out_of_memory`` recognises a CUDA (or MPS) out-of-memory error, and
   ``ForwardSizer.back_off`` halves the size, counts the back-off and empties torch's CUDA
   cache; at one sequence it raises ``ActivationError`` instead. The caller retries the same
   sequences (``activations.encode_group``).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from saegraph.errors import SaegraphError

log = logging.getLogger(__name__)

AUTO_MAX_SEQUENCES = 4096
"""Upper bound of an ``auto`` forward batch (sequences)."""
AUTO_MAX_TOKENS = 1 << 19
"""Upper bound of an ``auto`` forward batch (tokens)."""
AUTO_MEMORY_FRACTION = 0.5
"""Share of the free GPU memory an ``auto`` forward batch may plan to use."""


class ActivationError(SaegraphError, RuntimeError):
    """Bad activations (NaN/Inf) or an inconsistent activation pass."""


def pass_device(model, saes) -> str:
    """Device the pass runs on: the first SAE parameter's, else ``model.device``, else ``cpu``."""
    for s in saes:
        params = getattr(getattr(s, "sae", None), "parameters", None)
        if params is not None:
            for p in params():
                return str(p.device)
    return str(getattr(model, "device", "cpu") or "cpu")


def encoders_in_dtype(saes, dtype_name: str) -> list:
    """The SAEs to encode with: themselves for float32, else a copy converted to ``dtype_name``.

    The copy goes through the SAE's own ``to(dtype=...)`` (SAELens updates ``cfg.dtype`` with
    it, and ``process_sae_in`` casts inputs to it); the originals keep float32 decoders for the
    bundle and the feature tables.
    """
    if dtype_name == "float32":
        return list(saes)
    import torch

    dtype = getattr(torch, dtype_name)
    out = []
    for s in saes:
        module = getattr(s, "sae", None)
        if module is None or not hasattr(module, "to"):
            raise ActivationError(
                f'activations.sae_dtype = "{dtype_name}" needs SAEs that convert with .to(dtype=...); '
                f"{s.sae_id!r} does not"
            )
        out.append(dataclasses.replace(s, sae=copy.deepcopy(module).to(dtype=dtype)))
        log.info("SAE %s encodes in %s", s.sae_id, dtype_name)
    return out


def cuda_free_bytes(device: str) -> int:
    """Free memory of a CUDA device: the driver's free bytes plus what torch's caching
    allocator holds reserved but unused (a previous pass in this process leaves that)."""
    import torch

    dev = torch.device(device)
    free, _total = torch.cuda.mem_get_info(dev)
    return int(free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev))


def is_out_of_memory(exc: BaseException) -> bool:
    """A CUDA (or MPS) out-of-memory error that a smaller batch can avoid."""
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    if isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class ForwardSizer:
    """Sequences per forward: chosen once (``forward_batch_size``), halved on out-of-memory."""

    def __init__(self, acfg, device: str, saes) -> None:
        self.acfg = acfg
        self.device = device
        self.max_d_sae = max((int(s.d_sae) for s in saes), default=1)
        self.max_d_in = max((int(s.d_in) for s in saes), default=1)
        self.size = acfg.forward_batch_size if acfg.forward_batch_size != "auto" else 0
        self.backoffs = 0
        if self.size:
            log.info("activation pass on %s: %d sequences per forward (configured)", device, self.size)

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    def bytes_per_token(self) -> int:
        """Planned peak per token: the widest SAE's pre-activations, latents, their float32 copy
        and mask (16 B per latent), plus the hooked activations and the model's transients."""
        return 16 * self.max_d_sae + 64 * self.max_d_in

    def start(self, seq_len: int) -> None:
        """Pick the ``auto`` size once the sequence length is known (first batch)."""
        if self.size:
            return
        batch = self.acfg.batch_size
        if not self.is_cuda:
            self.size = batch
            log.info("activation pass on %s: %d sequences per forward (batch_size)", self.device, batch)
            return
        free = cuda_free_bytes(self.device)
        tokens = min(int(AUTO_MEMORY_FRACTION * free) // self.bytes_per_token(), AUTO_MAX_TOKENS)
        seqs = max(1, min(tokens // max(seq_len, 1), AUTO_MAX_SEQUENCES))
        if seqs >= batch:
            seqs -= seqs % batch  # whole source batches
        self.size = seqs
        log.info(
            "activation pass on %s: %d sequences per forward (auto: %.1f GiB free, ~%d B per token)",
            self.device,
            seqs,
            free / 2**30,
            self.bytes_per_token(),
        )

    def back_off(self, attempted: int, first_sequence: int) -> None:
        """Halve after an out-of-memory error on ``attempted`` sequences, or give up at one."""
        if attempted <= 1:
            raise ActivationError(
                f"out of memory on {self.device} with one sequence per forward (sequence "
                f"{first_sequence}): use a smaller dataset.context_size, model.dtype / "
                'activations.sae_dtype = "bfloat16", or fewer SAEs per run'
            )
        self.size = max(1, attempted // 2)
        self.backoffs += 1
        log.warning(
            "out of memory on %s at %d sequences per forward: retrying from sequence %d with %d",
            self.device,
            attempted,
            first_sequence,
            self.size,
        )
        if self.is_cuda:
            import torch

            torch.cuda.empty_cache()


def forward_groups(batches: Iterable, sizer: ForwardSizer) -> Iterator[list]:
    """Consecutive source batches, grouped up to ``sizer.size`` sequences (at least one batch).

    Batches of different sequence lengths never share a group.
    """
    it = iter(batches)
    pending: Any = None
    while True:
        group = [pending] if pending is not None else []
        pending = None
        n = sum(int(b.tokens.shape[0]) for b in group)
        if group:
            sizer.start(int(group[0].tokens.shape[1]))
        while not group or n < sizer.size:
            batch = next(it, None)
            if batch is None:
                break
            if not group:
                sizer.start(int(batch.tokens.shape[1]))
            elif (
                n + int(batch.tokens.shape[0]) > sizer.size
                or batch.tokens.shape[1] != group[0].tokens.shape[1]
            ):
                pending = batch
                break
            group.append(batch)
            n += int(batch.tokens.shape[0])
        if not group:
            return
        yield group
