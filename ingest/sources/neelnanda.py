"""Converter for the original ``NeelNanda/sparse_autoencoder`` gelu-1l SAEs (runs 25 and 47).

The format (Neel Nanda's 1L-Sparse-Autoencoder): ``{run}_cfg.json`` (training config:
``seed``, ``dict_size``, ``d_mlp``/``act_size``, ``l1_coeff``, ``seq_len``, ``enc_dtype``,
optionally ``act_name``) and ``{run}.pt``, a ``torch.save``'d state dict with
``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_in]``, ``b_enc [d_sae]``, ``b_dec [d_in]``.
Its forward is ``acts = relu((x - b_dec) @ W_enc + b_enc)``, ``x_hat = acts @ W_dec + b_dec``.

Conversion:
1. Read the cfg and the state dict (from ``path`` when given, else ``hf_hub_download`` from the
   release repo, default ``NeelNanda/sparse_autoencoder`` — the local HF cache serves it offline).
2. Check the four tensors and their shapes agree.
3. Build a SAELens ``StandardSAE`` with ``apply_b_dec_to_input=True`` (exactly the forward
   above), hook ``act_name`` or ``blocks.0.mlp.hook_post`` (the hook the gelu-1l runs were
   trained on), and load the tensors unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from saegraph.ingest.sources.errors import SourceError

DEFAULT_REPO = "NeelNanda/sparse_autoencoder"
DEFAULT_HOOK = "blocks.0.mlp.hook_post"
DEFAULT_MODEL = "gelu-1l"
STATE_KEYS = ("W_enc", "W_dec", "b_enc", "b_dec")


def neelnanda_files(run: str, path: str = "", repo: str = "") -> tuple[Path, Path]:
    """(cfg json, state dict) of ``run``: from ``path`` or the Hub/HF cache."""
    if path:
        root = Path(path)
        if root.is_file():
            root = root.parent
        if not run:
            cfgs = sorted(root.glob("*_cfg.json"))
            if len(cfgs) != 1:
                raise SourceError(
                    f"{root} holds {len(cfgs)} *_cfg.json files: set saes.sae_id to the run (e.g. '25')"
                )
            run = cfgs[0].name.removesuffix("_cfg.json")
        cfg_file, weights = root / f"{run}_cfg.json", root / f"{run}.pt"
        if not cfg_file.is_file() or not weights.is_file():
            raise SourceError(
                f"{root} lacks {run}_cfg.json and {run}.pt: point saes.path at a NeelNanda/sparse_autoencoder copy"
            )
        return cfg_file, weights
    from huggingface_hub import hf_hub_download

    repo_id = repo or DEFAULT_REPO
    try:
        return (
            Path(hf_hub_download(repo_id=repo_id, filename=f"{run}_cfg.json")),
            Path(hf_hub_download(repo_id=repo_id, filename=f"{run}.pt")),
        )
    except Exception as exc:  # offline / missing: huggingface_hub raises several types
        raise SourceError(
            f"cannot fetch run {run} of {repo_id} ({type(exc).__name__}): go online once to fill the HF cache "
            "or set saes.path to a directory holding {run}_cfg.json and {run}.pt"
        ) from exc


def convert_neelnanda(cfg: dict[str, Any], state: dict[str, Any], device: str = "cpu") -> Any:
    """A SAELens StandardSAE equal to the NeelNanda AutoEncoder given by ``cfg`` and ``state``."""
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise SourceError(
            f"NeelNanda state dict lacks {', '.join(missing)}: is it a 1L-Sparse-Autoencoder checkpoint?"
        )
    w_enc, w_dec, b_enc, b_dec = (state[k].float() for k in STATE_KEYS)
    d_in, d_sae = w_enc.shape
    if tuple(w_dec.shape) != (d_sae, d_in) or b_enc.shape[0] != d_sae or b_dec.shape[0] != d_in:
        raise SourceError(
            f"NeelNanda tensors disagree: W_enc {tuple(w_enc.shape)}, W_dec {tuple(w_dec.shape)}, "
            f"b_enc {tuple(b_enc.shape)}, b_dec {tuple(b_dec.shape)}"
        )
    declared = cfg.get("dict_size")
    if declared is not None and int(declared) != d_sae:
        raise SourceError(
            f"NeelNanda cfg says dict_size {declared} but W_enc has {d_sae} latents: files of two runs?"
        )
    metadata = SAEMetadata(
        model_name=cfg.get("model_name", DEFAULT_MODEL),
        hook_name=cfg.get("act_name", DEFAULT_HOOK),
        context_size=cfg.get("seq_len"),
        prepend_bos=True,
        seed=cfg.get("seed"),
        l1_coefficient=cfg.get("l1_coeff"),
        source_format="NeelNanda/sparse_autoencoder",
    )
    sae_cfg = StandardSAEConfig(
        d_in=int(d_in),
        d_sae=int(d_sae),
        dtype="float32",
        device=device,
        apply_b_dec_to_input=True,
        metadata=metadata,
    )
    sae = StandardSAE(sae_cfg)
    sae.load_state_dict({"W_enc": w_enc, "W_dec": w_dec, "b_enc": b_enc, "b_dec": b_dec})
    return sae.to(device)


def load_neelnanda(run: str, path: str = "", repo: str = "", device: str = "cpu") -> Any:
    """Load run ``run`` (e.g. ``"25"``) as a SAELens SAE (module docstring, steps 1-3)."""
    import torch

    cfg_file, weights = neelnanda_files(run, path, repo)
    cfg = json.loads(cfg_file.read_text())
    state = torch.load(weights, map_location="cpu", weights_only=True)
    return convert_neelnanda(cfg, state, device=device)
