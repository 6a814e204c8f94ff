"""The objects the source layer hands to the activation pass.

``LoadedModel`` wraps one forward-capable backend (a TransformerLens ``HookedTransformer``,
a ``TransformerBridge`` or the synthetic source) behind four calls:

1. ``hook_width(name)``: the per-token width of a hook. Widths come from one probe forward
   on a few tokens that caches every hook (done once, lazily); a hook whose activation is
   not ``[batch, pos, ...]`` (attention patterns, scores) has no width and is refused.
2. ``run_hooks(tokens, names)``: one ``no_grad`` forward that caches only ``names`` and
   stops after the last block any of them needs (``stop_at_layer``), returning float32
   ``[B, T, d]`` tensors (multi-dimensional hooks such as ``hook_z`` are flattened).
3. ``unembed(name)``: ``W_U`` when the hook lives in the residual stream's basis
   (residual, MLP-out, attention-out hooks of width ``d_model``), else ``None``.
4. ``decode(ids)``: one display string per token id; ``decode_texts(seqs)``: readable text of
   each token sequence through the tokenizer's own detokenizer (WordPiece ``##`` joins and
   byte-level ``Ġ`` spaces undone, special tokens dropped), the batched Rust decoder when the
   tokenizer is a fast one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from saegraph.ingest.sources.errors import SourceError, close_matches

SYNTHETIC_HOOK = "synthetic"
_BLOCK_HOOK = re.compile(r"^blocks\.(\d+)\.")
_EMBED_HOOKS = (
    "hook_embed",
    "hook_pos_embed",
    "hook_tokens",
    "embed.",
    "pos_embed.",
    "token_type_embed.",
    "embed_ln.",
)
_RESIDUAL_BASIS = re.compile(
    r"(hook_resid_(pre|mid|post)|hook_mlp_out|hook_attn_out|^blocks\.\d+\.(hook_in|hook_out|mlp\.hook_out|attn\.hook_out))$"
)
_PROBE_LENGTH = 7


def hook_layer(hook_name: str) -> int | None:
    """Block index a hook belongs to; 0 for embedding hooks; None for hooks after the last block."""
    m = _BLOCK_HOOK.match(hook_name)
    if m:
        return int(m.group(1))
    if hook_name.startswith(_EMBED_HOOKS):
        return 0
    return None


@dataclass
class LoadedModel:
    """A model ready for the activation pass (see the module docstring for the calls)."""

    model_id: str
    name: str
    source: str
    n_layers: int
    d_model: int
    d_mlp: int
    d_vocab: int
    n_params: int
    tokenizer: Any | None
    bos_token_id: int | None
    pad_token_id: int | None
    backend: Any = field(default=None, repr=False)
    """The HookedTransformer / TransformerBridge, or the synthetic source object."""
    device: str = "cpu"
    """Torch device of the backend."""
    _widths: dict[str, int | None] | None = field(default=None, repr=False)

    # ----------------------------------------------------------------- hooks
    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"

    def hook_names(self) -> list[str]:
        """Every hook this model exposes."""
        if self.is_synthetic:
            return [SYNTHETIC_HOOK]
        return list(self.backend.hook_dict.keys())

    def _probe_widths(self) -> dict[str, int | None]:
        if self._widths is None:
            if self.is_synthetic:
                self._widths = {SYNTHETIC_HOOK: self.d_model}
            else:
                import torch

                tokens = torch.zeros((1, _PROBE_LENGTH), dtype=torch.long, device=self.device)
                if self.bos_token_id is not None:
                    tokens[0, 0] = self.bos_token_id
                with torch.no_grad():
                    _, cache = self.backend.run_with_cache(tokens)
                widths: dict[str, int | None] = {}
                for name in self.hook_names():
                    act = cache[name] if name in cache else None
                    if act is None or act.ndim < 2 or act.shape[0] != 1 or act.shape[1] != _PROBE_LENGTH:
                        widths[name] = None
                    else:
                        widths[name] = int(np.prod(act.shape[2:])) if act.ndim > 2 else 1
                self._widths = widths
        return self._widths

    def check_hook(self, hook_name: str) -> None:
        """Raise SourceError when the hook does not exist or is not a per-token activation."""
        names = self.hook_names()
        if hook_name not in names:
            raise SourceError(
                f"unknown hook {hook_name!r} on model {self.name!r}{close_matches(hook_name, names)} "
                "(set saes.hook to one of the model's hook names)"
            )
        if self._probe_widths().get(hook_name) is None:
            raise SourceError(
                f"hook {hook_name!r} is not a per-token activation [batch, pos, d] "
                "(SAEs need one: use a residual, MLP or attention-output hook)"
            )

    def hook_width(self, hook_name: str) -> int:
        """Per-token width of ``hook_name`` (product of its trailing dimensions)."""
        self.check_hook(hook_name)
        width = self._probe_widths()[hook_name]
        assert width is not None
        return width

    def stop_layer(self, hook_names: Sequence[str]) -> int | None:
        """``stop_at_layer`` that still computes every hook in ``hook_names`` (None: full run)."""
        layers = [hook_layer(h) for h in hook_names]
        if not layers or any(layer is None for layer in layers):
            return None
        return max(layers) + 1  # type: ignore[type-var,operator]

    def run_hooks(self, tokens: Any, hook_names: Sequence[str]) -> dict[str, Any]:
        """One forward over ``tokens`` [B, T]; float32 [B, T, d] per requested hook."""
        if self.is_synthetic:
            raise SourceError(
                "the synthetic model has no forward pass: use TokenBatch.hidden for its activations"
            )
        import torch

        names = list(dict.fromkeys(hook_names))
        for name in names:
            self.check_hook(name)
        tokens = torch.as_tensor(tokens, dtype=torch.long, device=self.device)
        stop = self.stop_layer(names)
        kwargs: dict[str, Any] = {"names_filter": names}
        if stop is not None:
            kwargs["stop_at_layer"] = stop
        with torch.no_grad():
            _, cache = self.backend.run_with_cache(tokens, **kwargs)
        batch, length = tokens.shape
        return {n: cache[n].reshape(batch, length, -1).float() for n in names}

    # ----------------------------------------------------------------- vocabulary
    def unembed(self, hook_name: str) -> Any | None:
        """W_U [d_model, d_vocab] (float32) when the hook is in residual/MLP-out space, else None."""
        if self.is_synthetic or self.hook_width(hook_name) != self.d_model:
            return None
        if not _RESIDUAL_BASIS.search(hook_name):
            return None
        try:
            w_u = self.backend.W_U
        except (AttributeError, RuntimeError, NotImplementedError):
            return None
        if w_u is None or tuple(w_u.shape) != (self.d_model, self.d_vocab):
            return None
        return w_u.detach().float()

    def decode(self, token_ids: Sequence[int]) -> list[str]:
        """One display string per token id ("f{k}" / "<none>" for the synthetic source)."""
        ids = [int(t) for t in token_ids]
        if self.is_synthetic:
            return [f"f{t - 1}" if t > 0 else "<none>" for t in ids]
        if self.tokenizer is None:
            return [str(t) for t in ids]
        return list(self.tokenizer.batch_decode([[t] for t in ids], clean_up_tokenization_spaces=False))

    def decode_texts(self, sequences: Sequence[Sequence[int]]) -> list[str]:
        """Readable text of each token sequence (see the module docstring, call 4)."""
        return decode_texts(self.tokenizer if not self.is_synthetic else None, sequences, self.decode)


def decode_texts(tokenizer: Any | None, sequences: Sequence[Sequence[int]], decode=None) -> list[str]:
    """Text of each id sequence through ``tokenizer``'s detokenizer (special tokens skipped).

    Without a tokenizer the per-id strings of ``decode`` (default: ``str``) are joined by spaces.
    """
    seqs = [[int(t) for t in seq] for seq in sequences]
    if tokenizer is None:
        one = decode or (lambda ids: [str(i) for i in ids])
        return [" ".join(one(seq)) for seq in seqs]
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is not None and hasattr(backend, "decode_batch"):
        return list(backend.decode_batch(seqs, skip_special_tokens=True))
    return list(tokenizer.batch_decode(seqs, skip_special_tokens=True))


def firing_rule(architecture: str) -> str:
    """How a latent of an SAELens architecture stops firing (the EXCLUDES encoder-competition
    null): ``jumprelu`` (below its threshold), ``topk`` (out of the token's k largest, BatchTopK
    included), else ``relu`` (standard; gated SAEs approximated so)."""
    name = architecture.lower()
    return "jumprelu" if "jumprelu" in name else "topk" if "topk" in name else "relu"


def encoder_parts(
    sae: Any, d_in: int, d_sae: int, architecture: str
) -> tuple[np.ndarray, np.ndarray, str, int] | None:
    """(encoder rows float32 [d_sae, d_in] = W_enc transposed, thresholds [d_sae], firing rule,
    TopK's k or 0) of an SAELens SAE, or None when its W_enc or W_dec is not [d_in, d_sae] /
    [d_sae, d_in] (what the bundle's ``encoders/`` store; the EXCLUDES encoder-competition null)."""
    w_enc = getattr(sae, "W_enc", None)
    w_dec = getattr(sae, "W_dec", None)
    shapes = (d_in, d_sae), (d_sae, d_in)
    if w_enc is None or w_dec is None or (tuple(w_enc.shape), tuple(w_dec.shape)) != shapes:
        return None
    rule = firing_rule(architecture)
    rows = np.ascontiguousarray(w_enc.detach().float().cpu().numpy().T)
    thr = getattr(sae, "threshold", None)
    threshold = np.zeros(d_sae, np.float32)
    if thr is not None and rule == "jumprelu":
        threshold = np.broadcast_to(thr.detach().float().cpu().numpy(), (d_sae,)).astype(np.float32)
    k = int(getattr(getattr(sae, "cfg", None), "k", 0) or 0) if rule == "topk" else 0
    return rows, threshold, rule, k


@dataclass
class LoadedSAE:
    """An SAELens SAE with the identity the graph stores for it."""

    sae_id: str
    source: str
    release: str
    sae_name: str
    hook_name: str
    layer: int
    d_in: int
    d_sae: int
    architecture: str
    seed: int
    sae: Any = field(repr=False)

    def encode(self, x: Any) -> Any:
        """[N, d_in] -> [N, d_sae] float32 latent activations, without gradients."""
        import torch

        p = next(self.sae.parameters())
        with torch.no_grad():
            return self.sae.encode(x.to(device=p.device, dtype=p.dtype)).float()

    @property
    def w_dec(self) -> np.ndarray:
        """Decoder directions, float32 [d_sae, d_in]."""
        return self.sae.W_dec.detach().float().cpu().numpy()

    @property
    def firing_rule(self) -> str:
        """How a latent stops firing (``firing_rule``)."""
        return firing_rule(self.architecture)

    def encoder_parts(self) -> tuple[np.ndarray, np.ndarray, str, int] | None:
        """``encoder_parts`` of this SAE."""
        return encoder_parts(self.sae, self.d_in, self.d_sae, self.architecture)


@dataclass
class TokenBatch:
    """A batch of whole sequences."""

    tokens: np.ndarray
    """int64 [B, T] token ids."""
    sequence_ids: np.ndarray
    """int64 [B] global sequence numbers (0, 1, 2, ... over the whole dataset)."""
    is_bos: np.ndarray
    """bool [B, T]: BOS (or CLS) positions."""
    is_pad: np.ndarray
    """bool [B, T]: padding positions (only the dataset's last, short sequence has any)."""
    hidden: dict[str, Any] | None = None
    """Synthetic only: hidden activations per hook, float32 [B, T, d]."""
    true_acts: Any | None = None
    """Synthetic only: scipy.sparse CSR [B*T, num_features] of the true feature activations."""


@dataclass
class DatasetInfo:
    """Identity of the token stream a run reads."""

    name: str
    fingerprint: str
    """sha256 over the stream's description and, for local files, their content."""
    source: str
