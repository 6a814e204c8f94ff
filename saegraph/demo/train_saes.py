"""Train small SAEs with SAELens on a model's hook activations, cached on disk.

The demo's release needs an SAE per layer, plus SAEs on one hook that differ only in their seed
or width (the seed study's universality setting). Algorithm:

1. Collect every needed hook's activations over the token stream in one forward pass per batch
   (``LoadedModel.run_hooks``), dropping BOS/CLS and padding positions, as float32 ``[N, d_in]``
   per hook (cached as ``.npy`` under a key of the model, hook, dataset fingerprint and token
   count; only the hooks missing from the cache are collected).
2. For each seed: seed torch, build a SAELens ``TopKTrainingSAE`` (TopK with the AuxK loss,
   which trains dead latents on the residual: Gao et al. 2024, "Scaling and evaluating
   sparse autoencoders", App. B.1) and train it with SAELens' ``SAETrainer`` on seeded,
   shuffled minibatches of step 1's activations. CPU settings that keep latents alive on a
   short run: decoder rows initialised at centred data directions (``init_from_data``;
   norm 0.1, encoder tied, as SAELens does for random ones), a short ``dead_feature_window``
   (steps) so AuxK starts early, small batches (more steps per token), and the
   ``expected_average_only_in`` input scaling (folded back into the weights at the end).
3. Measure each SAE on the activations: fraction of variance unexplained, L0 and the
   fraction of latents that never fire (dead); save it with ``save_inference_model`` plus a
   ``training.json`` of settings and measurements.
4. Everything is keyed by a sha256 of the settings, the activations' key and the sae_lens
   version; a second run with the same settings loads the saved SAE instead of training.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
TRAINING_FILE = "training.json"


@dataclass(frozen=True)
class SAETrainingSettings:
    """One SAE's training run (all fields enter the cache key)."""

    hook: str
    """Hook the SAE reads (its ``metadata.hook_name``)."""
    d_sae: int = 1536
    """Latents."""
    k: int = 16
    """Active latents per token (TopK)."""
    training_samples: int = 128_000
    """Activation vectors seen in training (passes over the collected ones)."""
    batch_size: int = 256
    """Activations per step (small: more steps per token on a CPU budget)."""
    lr: float = 1e-3
    """Adam learning rate (constant, warm-up below)."""
    lr_warm_up_steps: int = 20
    """Linear warm-up steps."""
    dead_feature_window: int = 100
    """Steps without firing after which a latent counts as dead and AuxK trains it."""
    aux_loss_coefficient: float = 1.0 / 32
    """AuxK coefficient (Gao et al. use 1/32)."""
    seed: int = 0
    """Torch seed for the initialisation and the minibatch order."""

    def __post_init__(self) -> None:
        if not (0 < self.k < self.d_sae):
            raise ValueError(f"k must lie in (0, d_sae), got k={self.k}, d_sae={self.d_sae}")
        if self.training_samples < self.batch_size:
            raise ValueError("training_samples must be at least one batch")

    def cache_key(self, activations_key: str) -> str:
        from sae_lens import __version__ as sae_lens_version

        blob = json.dumps(
            {"settings": asdict(self), "activations": activations_key, "sae_lens": sae_lens_version},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def activations_key(model_id: str, hook: str, dataset_fingerprint: str, n_tokens: int) -> str:
    blob = json.dumps([model_id, hook, dataset_fingerprint, int(n_tokens)])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def collect_hook_activations(
    model, batches: Iterable, hooks: Sequence[str], max_tokens: int, progress: bool = True
) -> dict[str, np.ndarray]:
    """Step 1: float32 ``[N, d_in]`` activations of every hook in ``hooks`` at real (non-BOS,
    non-pad) positions, from one forward pass per batch (the model stops at the last hook)."""
    from tqdm.auto import tqdm

    hooks = list(dict.fromkeys(hooks))
    chunks: dict[str, list[np.ndarray]] = {h: [] for h in hooks}
    n = 0
    desc = f"activations {hooks[0]}" if len(hooks) == 1 else f"activations of {len(hooks)} hooks"
    bar = tqdm(total=max_tokens, desc=desc, unit="tok", disable=not progress)
    for batch in batches:
        cache = model.run_hooks(batch.tokens, hooks)
        keep = ~(np.asarray(batch.is_bos) | np.asarray(batch.is_pad))
        for hook in hooks:
            rows = cache[hook].cpu().numpy()[keep].astype(np.float32, copy=False)
            if not np.isfinite(rows).all():
                raise ValueError(
                    f"hook {hook} produced NaN/Inf activations: check the model's dtype (use float32)"
                )
            chunks[hook].append(rows)
        n += int(keep.sum())
        bar.update(int(batch.tokens.size))
        if n >= max_tokens:
            break
    bar.close()
    if n == 0:
        raise ValueError("the token stream is empty: the demo corpus produced no tokens")
    return {h: np.concatenate(c)[:max_tokens] for h, c in chunks.items()}


def _activation_file(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / f"activations-{key}.npy"


def _save_atomic(path: Path, acts: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, acts)
    tmp.replace(path)


def cached_activations(cache_dir: Path, key: str, compute) -> np.ndarray:
    """Load ``key``'s activations from ``cache_dir`` or compute and save them (atomically)."""
    path = _activation_file(cache_dir, key)
    if path.exists():
        return np.load(path)
    acts = compute()
    _save_atomic(path, acts)
    return acts


def cached_hook_activations(cache_dir: Path, keys: dict[str, str], compute) -> dict[str, np.ndarray]:
    """Activations per hook (``keys``: hook -> cache key): cached hooks are loaded (memory-mapped),
    the missing ones computed together by ``compute(missing_hooks)`` (one forward pass) and saved."""
    missing = [h for h, k in keys.items() if not _activation_file(cache_dir, k).exists()]
    if missing:
        for hook, acts in compute(missing).items():
            _save_atomic(_activation_file(cache_dir, keys[hook]), acts)
    return {h: np.load(_activation_file(cache_dir, k), mmap_mode="r") for h, k in keys.items()}


class _ShuffledBatches:
    """Seeded epochs of shuffled minibatches of a fixed tensor (SAETrainer's data provider)."""

    def __init__(self, data, batch_size: int, seed: int):
        import torch

        self.data, self.batch_size = data, batch_size
        self.gen = torch.Generator().manual_seed(seed)
        self.order, self.pos = torch.randperm(len(data), generator=self.gen), 0

    def __iter__(self):
        return self

    def __next__(self):
        import torch

        if self.pos + self.batch_size > len(self.order):
            self.order, self.pos = torch.randperm(len(self.data), generator=self.gen), 0
        idx = self.order[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.data[idx]


def init_from_data(sae, data, seed: int) -> None:
    """Point every latent at a different centred training vector (step 2's initialisation).

    SAELens initialises decoder rows at random (norm 0.1) with the encoder tied to them; on a
    short CPU run most random directions never win a TopK slot and die. Here the rows are
    unit directions of randomly chosen, mean-centred activations (still norm 0.1, encoder
    tied), and ``b_dec`` starts at the data mean in the scaled input space
    (``expected_average_only_in``: x * sqrt(d_in) / E|x|), so each latent starts out firing
    on the neighbourhood of one real activation.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    n, d_in = data.shape
    idx = torch.randperm(n, generator=gen)[: sae.cfg.d_sae]
    if len(idx) < sae.cfg.d_sae:  # fewer vectors than latents: repeat with noise
        idx = torch.randint(0, n, (sae.cfg.d_sae,), generator=gen)
    mean = data.mean(0)
    dirs = data[idx] - mean + 1e-3 * torch.randn(len(idx), d_in, generator=gen)
    dirs = dirs / dirs.norm(dim=1, keepdim=True).clamp_min(1e-8)
    scale = d_in**0.5 / float(data.norm(dim=1).mean())
    with torch.no_grad():
        sae.W_dec.copy_(0.1 * dirs)
        sae.W_enc.copy_(0.1 * dirs.T)
        sae.b_dec.copy_(mean * scale)


def evaluate_sae(sae, data, chunk: int = 8192) -> dict[str, float]:
    """Step 3: FVU, mean L0 and dead fraction of ``sae`` (inference or training) on ``data``."""
    import torch

    fired = torch.zeros(sae.cfg.d_sae, dtype=torch.bool)
    sse, l0, total = 0.0, 0.0, 0.0
    mean = data.mean(0)
    with torch.no_grad():
        for start in range(0, len(data), chunk):
            x = data[start : start + chunk]
            z = sae.encode(x)
            recon = sae.decode(z)
            fired |= (z > 0).any(0)
            l0 += float((z > 0).sum())
            sse += float(((recon - x) ** 2).sum())
            total += float(((x - mean) ** 2).sum())
    return {
        "fvu": sse / total,
        "l0": l0 / len(data),
        "deadFraction": float((~fired).float().mean()),
        "nTokens": len(data),
    }


def train_sae(
    acts: np.ndarray, settings: SAETrainingSettings, model_name: str, out_dir: Path, progress: bool = True
) -> dict[str, Any]:
    """Step 2-3: train one TopK SAE with SAELens and save it to ``out_dir``; returns measurements."""
    import torch
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.saes.sae import SAE, SAEMetadata
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.training.sae_trainer import SAETrainer

    data = torch.from_numpy(np.array(acts, dtype=np.float32))  # a copy: cached activations are read-only maps
    torch.manual_seed(settings.seed)
    cfg = TopKTrainingSAEConfig(
        d_in=int(data.shape[1]),
        d_sae=settings.d_sae,
        k=settings.k,
        aux_loss_coefficient=settings.aux_loss_coefficient,
        normalize_activations="expected_average_only_in",
        metadata=SAEMetadata(model_name=model_name, hook_name=settings.hook),
    )
    sae = TopKTrainingSAE(cfg)
    init_from_data(sae, data, settings.seed)
    trainer_cfg = SAETrainerConfig(
        total_training_samples=settings.training_samples,
        train_batch_size_samples=settings.batch_size,
        lr=settings.lr,
        lr_end=settings.lr,
        lr_warm_up_steps=settings.lr_warm_up_steps,
        dead_feature_window=settings.dead_feature_window,
        feature_sampling_window=max(2 * settings.dead_feature_window, 50),
        n_batches_for_norm_estimate=min(50, max(1, len(data) // settings.batch_size)),
        logger=LoggingConfig(log_to_wandb=False, eval_every_n_wandb_logs=2**31 - 1),
        device="cpu",
    )
    provider = _ShuffledBatches(data, settings.batch_size, settings.seed)
    trainer = SAETrainer(cfg=trainer_cfg, sae=sae, data_provider=provider)
    if not progress:
        trainer._update_pbar = lambda *a, **k: None
    trainer.fit()
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    sae.save_inference_model(tmp)
    loaded = SAE.load_from_disk(str(tmp), device="cpu")  # measure what the pipeline will load
    stats: dict[str, Any] = evaluate_sae(loaded, data)
    stats.update({"settings": asdict(settings), "trainingSteps": int(trainer.n_training_steps)})
    (tmp / TRAINING_FILE).write_text(json.dumps(stats, indent=2))
    if out_dir.exists():
        import shutil

        shutil.rmtree(out_dir)
    tmp.replace(out_dir)
    log.info(
        "trained SAE seed=%d: FVU %.3f, L0 %.1f, dead %.1f%%",
        settings.seed,
        stats["fvu"],
        stats["l0"],
        100 * stats["deadFraction"],
    )
    return stats


def train_or_load(
    acts_fn,
    act_key: str,
    settings: SAETrainingSettings,
    model_name: str,
    cache_dir: Path,
    progress: bool = True,
) -> tuple[Path, dict[str, Any], bool]:
    """Step 4: the cached SAE directory for ``settings`` (training it when absent).

    ``acts_fn()`` returns the activations and is only called when training is needed.
    Returns (directory, measurements, was_cached).
    """
    out = Path(cache_dir) / f"sae-{settings.cache_key(act_key)}"
    meta = out / TRAINING_FILE
    if meta.exists():
        return out, json.loads(meta.read_text()), True
    stats = train_sae(acts_fn(), settings, model_name, out, progress)
    return out, stats, False


def with_seed(settings: SAETrainingSettings, seed: int) -> SAETrainingSettings:
    return replace(settings, seed=seed)
