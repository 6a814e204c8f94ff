"""Language models for the activation pass: TransformerLens by name, a local directory, or
any Hugging Face architecture through ``TransformerBridge``.

1. ``transformer_lens``: ``HookedTransformer.from_pretrained(name)`` (Hub or the local HF cache).
2. ``local``: a directory written by :func:`save_local_model`:
   ``config.json`` (the ``HookedTransformerConfig`` fields, dtype as a string),
   ``model.safetensors`` (the state dict) and optionally ``tokenizer/`` (a Hugging Face
   tokenizer saved with ``save_pretrained``). It is rebuilt with ``HookedTransformer(cfg)``
   and ``load_state_dict`` — no network, no weight processing.
3. ``bridge``: ``TransformerBridge.boot_transformers(path or name)`` (transformer_lens >= 3):
   the Hugging Face model wrapped with TransformerLens hook names (``blocks.{i}.hook_resid_post``,
   ``blocks.{i}.hook_mlp_out``, ...), raw HF numerics (no LayerNorm folding).
4. Each is wrapped in :class:`~saegraph.ingest.sources.base.LoadedModel` with its sizes, tokenizer and
   BOS/pad ids (BOS falls back to CLS for encoder models such as BERT).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from saegraph.ingest.config import Config
from saegraph.ingest.sources.base import LoadedModel
from saegraph.ingest.sources.errors import SourceError

log = logging.getLogger(__name__)

LOCAL_CONFIG = "config.json"
LOCAL_WEIGHTS = "model.safetensors"
LOCAL_TOKENIZER = "tokenizer"


def _torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def special_token_ids(tokenizer: Any | None) -> tuple[int | None, int | None]:
    """(bos, pad) ids of a tokenizer; BOS falls back to CLS (encoders prepend CLS, not BOS)."""
    if tokenizer is None:
        return None, None
    cls_id = getattr(tokenizer, "cls_token_id", None)
    bos = cls_id if cls_id is not None else getattr(tokenizer, "bos_token_id", None)
    return bos, getattr(tokenizer, "pad_token_id", None)


def save_local_model(model: Any, directory: str | Path, tokenizer: Any | None = None) -> Path:
    """Write a HookedTransformer in the ``source = "local"`` format (see module docstring)."""
    from safetensors.torch import save_file

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    cfg = _config_to_json(model.cfg)
    (out / LOCAL_CONFIG).write_text(json.dumps(cfg, indent=2, sort_keys=True))
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(out / LOCAL_WEIGHTS))
    tok = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
    if tok is not None:
        tok.save_pretrained(str(out / LOCAL_TOKENIZER))
    return out


def _config_to_json(cfg: Any) -> dict[str, Any]:
    from transformer_lens import HookedTransformerConfig

    init = {f.name for f in dataclasses.fields(HookedTransformerConfig) if f.init}
    out: dict[str, Any] = {}
    for key, value in cfg.to_dict().items():
        if key not in init or key in ("device", "tokenizer_name", "n_devices"):
            continue
        if key == "dtype":
            value = str(value).removeprefix("torch.")
        try:
            json.dumps(value)
        except TypeError:
            log.debug("save_local_model: dropping non-JSON config field %s", key)
            continue
        out[key] = value
    return out


def _wrap(cfg: Config, backend: Any, tokenizer: Any | None, device: str) -> LoadedModel:
    tl_cfg = backend.cfg
    bos, pad = special_token_ids(tokenizer)
    return LoadedModel(
        model_id=cfg.model.model_id,
        name=cfg.model.display_name,
        source=cfg.model.source,
        n_layers=int(tl_cfg.n_layers),
        d_model=int(tl_cfg.d_model),
        d_mlp=int(getattr(tl_cfg, "d_mlp", 0) or 0),
        d_vocab=int(tl_cfg.d_vocab),
        n_params=int(sum(p.numel() for p in backend.parameters())),
        tokenizer=tokenizer,
        bos_token_id=bos,
        pad_token_id=pad,
        backend=backend,
        device=device,
    )


def load_transformer_lens(cfg: Config) -> LoadedModel:
    """``HookedTransformer.from_pretrained(model.name)``."""
    from transformer_lens import HookedTransformer

    try:
        backend = HookedTransformer.from_pretrained(
            cfg.model.name, device=cfg.run.torch_device, dtype=_torch_dtype(cfg.model.dtype)
        )
    except (ValueError, KeyError) as exc:
        raise SourceError(
            f"TransformerLens cannot load model {cfg.model.name!r} ({str(exc).splitlines()[0][:160]}); "
            'use a name from transformer_lens.loading.OFFICIAL_MODEL_NAMES or model.source = "bridge"'
        ) from exc
    except OSError as exc:
        raise SourceError(
            f"model {cfg.model.name!r} is neither in the local Hugging Face cache nor downloadable "
            f'({str(exc).splitlines()[0][:160]}); connect to the Hub once or use model.source = "local"'
        ) from exc
    backend.eval()
    return _wrap(cfg, backend, backend.tokenizer, cfg.run.torch_device)


def load_local(cfg: Config) -> LoadedModel:
    """Rebuild a HookedTransformer from a :func:`save_local_model` directory."""
    from safetensors.torch import load_file
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    root = Path(cfg.model.path)
    if not (root / LOCAL_CONFIG).is_file() or not (root / LOCAL_WEIGHTS).is_file():
        raise SourceError(
            f"model.path {root} lacks {LOCAL_CONFIG} and {LOCAL_WEIGHTS}: "
            "write it with saegraph.ingest.sources.save_local_model(model, dir)"
        )
    fields = json.loads((root / LOCAL_CONFIG).read_text())
    fields["dtype"] = _torch_dtype(cfg.model.dtype)
    fields["device"] = cfg.run.torch_device
    tl_cfg = HookedTransformerConfig(**fields)
    tokenizer = None
    if (root / LOCAL_TOKENIZER).is_dir():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(root / LOCAL_TOKENIZER))
    backend = HookedTransformer(tl_cfg, tokenizer=tokenizer)
    state = load_file(str(root / LOCAL_WEIGHTS), device=cfg.run.torch_device)
    backend.load_state_dict({k: v.to(_torch_dtype(cfg.model.dtype)) for k, v in state.items()})
    backend.to(cfg.run.torch_device)
    backend.eval()
    return _wrap(cfg, backend, tokenizer, cfg.run.torch_device)


def load_bridge(cfg: Config) -> LoadedModel:
    """``TransformerBridge.boot_transformers(model.path or model.name)``."""
    try:
        from transformer_lens.model_bridge import TransformerBridge
    except ImportError as exc:  # transformer_lens < 3
        raise SourceError(
            'model.source = "bridge" needs transformer_lens >= 3 (TransformerBridge): pip install -U transformer_lens'
        ) from exc
    target = cfg.model.path or cfg.model.name
    if cfg.model.path and not Path(cfg.model.path).is_dir():
        raise SourceError(
            f"model.path {cfg.model.path} is not a directory: point it at a Hugging Face snapshot"
        )
    try:
        backend = TransformerBridge.boot_transformers(
            target, device=cfg.run.torch_device, dtype=_torch_dtype(cfg.model.dtype)
        )
    except (ValueError, OSError, KeyError) as exc:
        raise SourceError(
            f"TransformerBridge cannot load {target!r} ({str(exc).splitlines()[0][:160]}); "
            "check the architecture is in transformer_lens.model_bridge.supported_architectures "
            "or set model.path to a local snapshot"
        ) from exc
    backend.eval()
    return _wrap(cfg, backend, getattr(backend, "tokenizer", None), cfg.run.torch_device)
