"""SAEs on the synthetic source: the true dictionary, or one trained with SAELens.

1. ``truth``: a JumpReLU SAE whose decoder rows are the true directions and whose encoder is
   their transpose, threshold ``TRUTH_THRESHOLD`` (half the mean firing magnitude, so
   interference from superposition below it is cut). Latents beyond ``num_features``
   (``width`` > F) get a zero encoder column (never fire) and a random unit decoder row.
2. ``train``: a BatchTopK SAE (``k`` = the expected number of firing features per token)
   trained by ``sae_lens.synthetic.train_toy_sae`` on ``train_tokens`` fresh samples of the
   synthetic model, with initialisation and sampling seeded by the SAE's own seed; it is
   converted to its inference form (JumpReLU with the learned threshold), so its L0
   varies per token. Two seeds give two different SAEs of the same dictionary.
Reference: SAELens ``train_toy_sae``, ``init_sae_to_match_feature_dict``; BatchTopK
(Bussmann et al. 2024).
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np

from saegraph.ingest.config import Config, SAEConfig
from saegraph.ingest.sources.base import SYNTHETIC_HOOK
from saegraph.ingest.sources.synthetic import SyntheticSource

TRUTH_THRESHOLD = 0.5
TRAIN_BATCH = 256
TRAIN_LR = 1e-2


def _metadata(cfg: Config, seed: int) -> Any:
    from sae_lens.saes.sae import SAEMetadata

    return SAEMetadata(
        model_name=cfg.model.display_name, hook_name=SYNTHETIC_HOOK, seed=seed, prepend_bos=False
    )


def truth_sae(cfg: Config, sae_cfg: SAEConfig, source: SyntheticSource, seed: int) -> Any:
    """The true dictionary as a JumpReLU SAE (step 1)."""
    import torch
    from sae_lens import JumpReLUSAE, JumpReLUSAEConfig

    directions = torch.as_tensor(source.directions, dtype=torch.float32)
    n, d_in = directions.shape
    width = sae_cfg.width or n
    gen = torch.Generator().manual_seed(seed)
    w_dec = torch.randn((width, d_in), generator=gen)
    w_dec = w_dec / w_dec.norm(dim=1, keepdim=True)
    w_enc = torch.zeros((d_in, width))
    k = min(width, n)
    w_dec[:k] = directions[:k]
    w_enc[:, :k] = directions[:k].T
    sae = JumpReLUSAE(
        JumpReLUSAEConfig(
            d_in=d_in, d_sae=width, dtype="float32", device="cpu", metadata=_metadata(cfg, seed)
        )
    )
    sae.load_state_dict(
        {
            "W_enc": w_enc,
            "W_dec": w_dec,
            "b_enc": torch.zeros(width),
            "b_dec": torch.zeros(d_in),
            "threshold": torch.full((width,), TRUTH_THRESHOLD),
        }
    )
    return sae


def trained_sae(cfg: Config, sae_cfg: SAEConfig, source: SyntheticSource, seed: int) -> Any:
    """A BatchTopK SAE trained on the synthetic model under ``seed`` (step 2)."""
    import torch
    from sae_lens import SAE
    from sae_lens.saes import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
    from sae_lens.synthetic import train_toy_sae

    model = source.model
    n, d_in = source.directions.shape
    width = sae_cfg.width or n
    k = float(max(1.0, round(float(np.sum(source.marginal_probabilities)), 1)))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        sae = BatchTopKTrainingSAE(
            BatchTopKTrainingSAEConfig(
                d_in=d_in, d_sae=width, k=k, dtype="float32", device="cpu", metadata=_metadata(cfg, seed)
            )
        )
        train_toy_sae(
            sae,
            model.feature_dict,
            model.activation_generator,
            training_samples=sae_cfg.train_tokens,
            batch_size=min(TRAIN_BATCH, sae_cfg.train_tokens),
            lr=TRAIN_LR,
        )
    with tempfile.TemporaryDirectory() as tmp:
        sae.save_inference_model(tmp)
        return SAE.load_from_disk(tmp, device=cfg.run.torch_device)


def synthetic_sae(cfg: Config, sae_cfg: SAEConfig, source: SyntheticSource, seed: int) -> Any:
    """Build the SAE that ``sae_cfg.synthetic_mode`` asks for."""
    if sae_cfg.synthetic_mode == "truth":
        return truth_sae(cfg, sae_cfg, source, seed)
    return trained_sae(cfg, sae_cfg, source, seed)
