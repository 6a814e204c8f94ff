"""Load the run's SAEs and check that one forward pass of the model can feed them all.

Loading, per ``[[saes]]`` entry:
1. ``pretrained``: ``SAE.from_pretrained(release, sae_id)`` (a SAELens release name, or a
   Hugging Face repo id with ``sae_id`` the folder holding ``cfg.json`` +
   ``sae_weights.safetensors``; the local HF cache serves both offline).
2. ``local``: ``SAE.load_from_disk(path)`` (a directory written by ``SAE.save_model``).
3. ``neelnanda``: the NeelNanda/sparse_autoencoder converter (``neelnanda.py``).
4. ``synthetic``: the true dictionary or a trained SAE (``synthetic_saes.py``).

Validation (each a one-line ``SourceError`` naming the fix):
1. The hook (``saes.hook`` or the SAE's ``metadata.hook_name``) exists on the model and is a
   per-token activation ``[batch, pos, d]``.
2. The SAE's ``d_in`` equals that hook's width.
3. Compatibility — SAEs of one run must be servable by ONE forward pass over the SAME tokens.
   They are incompatible when their metadata asks for different passes: different
   ``prepend_bos`` (different token streams), different ``model_from_pretrained_kwargs``
   (e.g. centred vs raw residual stream); per-head SAEs (``hook_head_index`` set) are refused
   too, since the pass feeds a hook's whole flattened activation. Hook widths may differ freely.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from saegraph.ingest.config import Config, SAEConfig
from saegraph.ingest.sources.base import SYNTHETIC_HOOK, LoadedModel, LoadedSAE, hook_layer
from saegraph.ingest.sources.errors import SourceError

log = logging.getLogger(__name__)

# SAE metadata fields that change what the forward pass must compute.
PASS_FIELDS = ("prepend_bos", "model_from_pretrained_kwargs")


def _load_pretrained(s: SAEConfig, device: str) -> Any:
    from sae_lens import SAE

    try:
        return SAE.from_pretrained(s.release, s.sae_id, device=device)
    except ValueError as exc:
        raise SourceError(
            f"saes[{s.id}]: SAELens cannot resolve release {s.release!r} / sae_id {s.sae_id!r} "
            f"({str(exc).splitlines()[0][:200]}): check both against sae_lens' pretrained_saes.yaml"
        ) from exc
    except OSError as exc:  # offline and not cached, or missing file
        raise SourceError(
            f"saes[{s.id}]: {s.release}/{s.sae_id} is not in the local Hugging Face cache and the Hub is "
            f'unreachable ({type(exc).__name__}): go online once or use source = "local" with SAE.save_model'
        ) from exc


def _load_local(s: SAEConfig, device: str) -> Any:
    from sae_lens import SAE

    root = Path(s.path)
    if not (root / "cfg.json").is_file():
        raise SourceError(f"saes[{s.id}].path {root} holds no cfg.json: write it with SAE.save_model(dir)")
    return SAE.load_from_disk(str(root), device=device)


def _load_one(cfg: Config, s: SAEConfig, model: LoadedModel, index: int) -> Any:
    device = cfg.run.torch_device
    if s.source == "pretrained":
        return _load_pretrained(s, device)
    if s.source == "local":
        return _load_local(s, device)
    if s.source == "neelnanda":
        from saegraph.ingest.sources.neelnanda import load_neelnanda

        return load_neelnanda(s.sae_id, path=s.path, repo=s.release, device=device)
    from saegraph.ingest.sources.synthetic_saes import synthetic_sae

    return synthetic_sae(cfg, s, model.backend, _seed(s, None, index))


def _seed(s: SAEConfig, meta_seed: Any, index: int) -> int:
    """The configured seed, else the SAE's metadata seed; synthetic SAEs default to their index."""
    if s.seed >= 0:
        return s.seed
    if s.source == "synthetic":
        return index
    return int(meta_seed) if isinstance(meta_seed, int) else -1


def _wrap(cfg: Config, s: SAEConfig, sae: Any, model: LoadedModel, index: int) -> LoadedSAE:
    meta = sae.cfg.metadata
    hook = s.hook or (SYNTHETIC_HOOK if model.is_synthetic else meta.hook_name) or ""
    if not hook:
        raise SourceError(
            f"saes[{s.id}] names no hook in its metadata: set saes.hook to the hook it was trained on"
        )
    model.check_hook(hook)
    width = model.hook_width(hook)
    d_in = int(sae.cfg.d_in)
    if d_in != width:
        raise SourceError(
            f"saes[{s.id}] has d_in {d_in} but hook {hook!r} of model {model.name!r} is {width} wide: "
            "set saes.hook to the hook the SAE was trained on, or load the model it was trained for"
        )
    if meta.get("hook_head_index") is not None:
        raise SourceError(
            f"saes[{s.id}] reads one attention head (hook_head_index {meta.hook_head_index}); "
            "the pass feeds whole hooks: use an SAE on the full hook"
        )
    if hook.endswith("hook_z") and hasattr(sae, "turn_off_forward_pass_hook_z_reshaping"):
        sae.turn_off_forward_pass_hook_z_reshaping()  # run_hooks already flattens heads
    layer = hook_layer(hook)
    if layer is None or model.is_synthetic:
        layer = (
            int(meta.hook_layer)
            if isinstance(meta.get("hook_layer"), int)
            else (0 if model.is_synthetic else -1)
        )
    release = s.release or (s.path if s.source in ("local", "neelnanda") else "") or s.source
    if s.source == "neelnanda" and not s.release and not s.path:
        from saegraph.ingest.sources.neelnanda import DEFAULT_REPO

        release = DEFAULT_REPO
    return LoadedSAE(
        sae_id=s.id,
        source=s.source,
        release=release,
        sae_name=s.sae_id or (Path(s.path).name if s.path else s.id),
        hook_name=hook,
        layer=layer,
        d_in=d_in,
        d_sae=int(sae.cfg.d_sae),
        architecture=str(sae.cfg.architecture()),
        seed=_seed(s, meta.get("seed"), index),
        sae=sae.eval(),
    )


def check_compatible(saes: list[LoadedSAE]) -> None:
    """Refuse SAEs whose metadata asks for different forward passes (module docstring, 3)."""
    for field in PASS_FIELDS:
        seen: dict[str, str] = {}
        for s in saes:
            value = s.sae.cfg.metadata.get(field)
            if value is None or value == {}:
                continue
            key = json.dumps(value, sort_keys=True, default=str)
            seen.setdefault(key, s.sae_id)
        if len(seen) > 1:
            (a_val, a_id), (b_val, b_id) = list(seen.items())[:2]
            raise SourceError(
                f"SAEs {a_id} and {b_id} need different forward passes ({field} {a_val} vs {b_val}): "
                "put them in separate runs"
            )


def load_saes(cfg: Config, model: LoadedModel) -> list[LoadedSAE]:
    """Load and validate every SAE of the run, in config order."""
    loaded = []
    for index, s in enumerate(cfg.saes):
        if s.hook:
            model.check_hook(s.hook)  # fail before a slow download or training
        sae = _load_one(cfg, s, model, index)
        loaded.append(_wrap(cfg, s, sae, model, index))
        log.info(
            "loaded SAE %s: %s d_in=%d d_sae=%d",
            s.id,
            loaded[-1].hook_name,
            loaded[-1].d_in,
            loaded[-1].d_sae,
        )
    check_compatible(loaded)
    return loaded
