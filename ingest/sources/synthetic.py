"""The synthetic source: ``sae_lens.synthetic`` activations with known ground truth.

Algorithm (seeded by ``run.seed``):
1. Hierarchy: ``generate_hierarchy`` plants ``hierarchy_roots`` trees of branching
   ``hierarchy_branching`` and depth ``hierarchy_depth`` on the first features (a child can
   fire only when its parent fires).
2. Firing probabilities: features outside the hierarchy fire with ``firing_probability``;
   a hierarchy node at depth d (root 0, deepest D) gets the marginal
   ``m_d = min(0.3, p * b**(D - d))`` through the conditional base probability
   ``m_d / m_{d-1}``, so every level fires often enough to be measured.
3. Correlation: ``n_correlated_pairs`` disjoint pairs outside the hierarchy get a latent
   Gaussian-copula correlation ``correlation`` through a low-rank factor
   (``factor[i, k] = sqrt|rho|``, ``factor[j, k] = sign(rho) sqrt|rho|``, diag ``1 - |rho|``),
   the ``LowRankCorrelationMatrix`` that ``ActivationGenerator`` samples from.
4. Dictionary: random unit directions (``FeatureDictionary``, no bias); magnitudes
   ``relu(N(1, magnitude_std))``. The pieces form one ``SyntheticModel``.
5. Sequences: sequence s is sampled under its own seed ``SeedSequence([run.seed, s])``,
   so any batching and any resume point give the same tokens. Its token at a position is
   ``1 + argmax`` of the true activations there (0 when no feature fires): top tokens of a
   latent name the true features it reads.
Reference: SAELens ``sae_lens.synthetic`` (SyntheticModel, ActivationGenerator, hierarchy).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from saegraph.ingest.config import Config
from saegraph.ingest.sources.base import SYNTHETIC_HOOK, DatasetInfo, LoadedModel, TokenBatch
from saegraph.ingest.sources.errors import SourceError

MAX_HIERARCHY_MARGINAL = 0.3
GROUND_TRUTH_ARRAYS = "ground_truth.npz"
GROUND_TRUTH_JSON = "ground_truth.json"
SAELENS_MODEL_DIR = "synthetic_model"


@dataclass
class SyntheticSource:
    """The synthetic model and the ground truth planted in it."""

    model: Any
    """``sae_lens.synthetic.SyntheticModel``."""
    seed: int
    sequence_length: int
    parents: np.ndarray
    """int64 [F]: parent feature of each feature in the hierarchy, -1 for none."""
    depths: np.ndarray
    """int64 [F]: depth in the hierarchy (0 roots), -1 outside it."""
    pairs: np.ndarray
    """int64 [P, 2]: correlated feature pairs (i < j)."""
    pair_correlation: float
    base_probabilities: np.ndarray
    marginal_probabilities: np.ndarray
    hierarchy: dict[str, Any] = field(default_factory=dict)

    @property
    def directions(self) -> np.ndarray:
        """float32 [F, hidden_dim] true feature directions (unit norm)."""
        return self.model.feature_dict.feature_vectors.detach().float().cpu().numpy()

    def sample_sequence(self, sequence_id: int) -> tuple[Any, Any]:
        """(hidden [L, d], true feature activations [L, F]) of one sequence, deterministic."""
        import torch

        state = np.random.SeedSequence([self.seed, int(sequence_id)]).generate_state(1)[0]
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(int(state))
            feats = self.model.activation_generator.sample(self.sequence_length)
            hidden = self.model.feature_dict(feats)
        return hidden.detach().float(), feats.float()


def _hierarchy_arrays(roots: list[Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    parents = np.full(n, -1, dtype=np.int64)
    depths = np.full(n, -1, dtype=np.int64)

    def walk(node: Any, parent: int, depth: int) -> None:
        idx = node.feature_index
        if idx is not None:
            parents[idx], depths[idx] = parent, depth
        for child in node.children:
            walk(child, idx if idx is not None else parent, depth + 1)

    for root in roots:
        walk(root, -1, 0)
    return parents, depths


def build_source(cfg: Config) -> SyntheticSource:
    """Build the seeded synthetic model of ``cfg.synthetic`` (steps 1-4 of the module docstring)."""
    import torch
    from sae_lens.synthetic import (
        ActivationGenerator,
        ConstantFiringProbabilityConfig,
        FeatureDictionary,
        HierarchyConfig,
        LowRankCorrelationMatrix,
        SyntheticModel,
        SyntheticModelConfig,
        generate_hierarchy,
    )

    s, seed = cfg.synthetic, cfg.run.seed
    n, p = s.num_features, s.firing_probability
    hier_cfg = None
    roots: list[Any] = []
    hierarchy = None
    if s.hierarchy_branching >= 2 and s.hierarchy_depth >= 1 and s.hierarchy_roots > 0:
        hier_cfg = HierarchyConfig(
            total_root_nodes=s.hierarchy_roots,
            branching_factor=s.hierarchy_branching,
            max_depth=s.hierarchy_depth,
        )
        hierarchy = generate_hierarchy(n, hier_cfg, seed=seed + 3)
        roots = hierarchy.roots
    parents, depths = _hierarchy_arrays(roots, n)

    marginal = np.full(n, p, dtype=np.float64)
    in_tree = depths >= 0
    marginal[in_tree] = np.minimum(
        MAX_HIERARCHY_MARGINAL, p * float(s.hierarchy_branching) ** (s.hierarchy_depth - depths[in_tree])
    )
    base = marginal.copy()
    child = parents >= 0
    base[child] = np.clip(marginal[child] / marginal[parents[child]], 0.0, 1.0)

    free = np.flatnonzero(~in_tree)
    n_pairs = s.n_correlated_pairs
    if 2 * n_pairs > free.size:
        raise SourceError(
            f"synthetic: {n_pairs} correlated pairs need {2 * n_pairs} features outside the hierarchy, "
            f"only {free.size} left: lower synthetic.n_correlated_pairs or raise synthetic.num_features"
        )
    rng = np.random.default_rng([seed, 4])
    chosen = (
        rng.choice(free, size=2 * n_pairs, replace=False).reshape(-1, 2) if n_pairs else np.empty((0, 2), int)
    )
    pairs = np.sort(chosen, axis=1).astype(np.int64)
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]

    correlation = None
    if n_pairs:
        a = float(np.sqrt(abs(s.correlation)))
        factor = torch.zeros((n, n_pairs), dtype=torch.float32)
        factor[torch.as_tensor(pairs[:, 0]), torch.arange(n_pairs)] = a
        factor[torch.as_tensor(pairs[:, 1]), torch.arange(n_pairs)] = a * float(np.sign(s.correlation) or 1.0)
        diag = 1.0 - (factor**2).sum(dim=1)
        correlation = LowRankCorrelationMatrix(correlation_factor=factor, correlation_diag=diag)

    model_cfg = SyntheticModelConfig(
        num_features=n,
        hidden_dim=s.hidden_dim,
        firing_probability=ConstantFiringProbabilityConfig(p),
        hierarchy=hier_cfg,
        std_firing_magnitudes=s.magnitude_std,
        mean_firing_magnitudes=1.0,
        bias=False,
        seed=seed,
    )
    feature_dict = FeatureDictionary(n, s.hidden_dim, bias=False, initializer=None, seed=seed)
    generator = ActivationGenerator(
        num_features=n,
        firing_probabilities=torch.as_tensor(base, dtype=torch.float32),
        std_firing_magnitudes=s.magnitude_std,
        mean_firing_magnitudes=1.0,
        modify_activations=hierarchy.modifier if hierarchy is not None else None,
        correlation_matrix=correlation,
    )
    model = SyntheticModel(
        model_cfg,
        feature_dict=feature_dict,
        activation_generator=generator,
        hierarchy=hierarchy,
        correlation_matrix=correlation,
    )
    model.eval()
    return SyntheticSource(
        model=model,
        seed=seed,
        sequence_length=s.sequence_length,
        parents=parents,
        depths=depths,
        pairs=pairs,
        pair_correlation=s.correlation,
        base_probabilities=base,
        marginal_probabilities=marginal,
        hierarchy=hierarchy.to_dict() if hierarchy is not None else {"roots": []},
    )


def load_synthetic_model(cfg: Config) -> LoadedModel:
    """The synthetic source as a LoadedModel (hook ``"synthetic"``, vocabulary = true features + none)."""
    source = build_source(cfg)
    s = cfg.synthetic
    return LoadedModel(
        model_id=cfg.model.model_id,
        name=cfg.model.display_name,
        source="synthetic",
        n_layers=0,
        d_model=s.hidden_dim,
        d_mlp=0,
        d_vocab=s.num_features + 1,
        n_params=s.num_features * s.hidden_dim,
        tokenizer=None,
        bos_token_id=None,
        pad_token_id=None,
        backend=source,
        device="cpu",
    )


def n_sequences(cfg: Config) -> int:
    """Sequences the synthetic stream holds: ceil(n_tokens / sequence_length)."""
    return -(-cfg.dataset.n_tokens // cfg.synthetic.sequence_length)


def iter_synthetic_batches(cfg: Config, model: LoadedModel, start_sequence: int = 0) -> Iterator[TokenBatch]:
    """Batches of ``activations.batch_size`` synthetic sequences with hidden and true activations."""
    import torch

    source: SyntheticSource = model.backend
    total = n_sequences(cfg)
    batch = cfg.activations.batch_size
    for first in range(start_sequence, total, batch):
        ids = np.arange(first, min(first + batch, total), dtype=np.int64)
        hidden, truth = zip(*(source.sample_sequence(int(i)) for i in ids), strict=True)
        hidden_t = torch.stack(hidden)  # [B, L, d]
        truth_t = torch.stack(truth)  # [B, L, F]
        fired = truth_t.amax(dim=-1) > 0
        tokens = torch.where(fired, truth_t.argmax(dim=-1) + 1, torch.zeros_like(fired, dtype=torch.long))
        true_acts = sp.csr_matrix(truth_t.reshape(-1, truth_t.shape[-1]).numpy().astype(np.float32))
        shape = tuple(tokens.shape)
        yield TokenBatch(
            tokens=tokens.numpy().astype(np.int64),
            sequence_ids=ids,
            is_bos=np.zeros(shape, dtype=bool),
            is_pad=np.zeros(shape, dtype=bool),
            hidden={SYNTHETIC_HOOK: hidden_t},
            true_acts=true_acts,
        )


def synthetic_dataset_info(cfg: Config) -> DatasetInfo:
    desc = {
        "source": "synthetic",
        "synthetic": cfg.synthetic.__dict__,
        "seed": cfg.run.seed,
        "n_tokens": cfg.dataset.n_tokens,
    }
    digest = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()
    return DatasetInfo(name=cfg.dataset.name or "synthetic", fingerprint=digest, source="synthetic")


def write_synthetic_ground_truth(model: LoadedModel, directory: Path) -> None:
    """Write ground_truth.npz (directions, parents, depths, pairs, probabilities, correlation
    factor), ground_truth.json (hierarchy tree, planted correlation) and the SAELens model."""
    source: SyntheticSource = model.backend
    directory.mkdir(parents=True, exist_ok=True)
    corr = source.model.correlation_matrix
    factor = corr.correlation_factor.cpu().numpy() if corr is not None else np.zeros((source.parents.size, 0))
    np.savez_compressed(
        directory / GROUND_TRUTH_ARRAYS,
        directions=source.directions,
        parents=source.parents,
        depths=source.depths,
        pairs=source.pairs,
        base_probabilities=source.base_probabilities,
        marginal_probabilities=source.marginal_probabilities,
        correlation_factor=factor.astype(np.float32),
    )
    meta = {
        "hook": SYNTHETIC_HOOK,
        "num_features": int(source.parents.size),
        "hidden_dim": int(source.directions.shape[1]),
        "pair_correlation": source.pair_correlation,
        "correlation_kind": "latent Gaussian copula (ActivationGenerator low-rank correlation)",
        "token_rule": "token = 1 + argmax true activation at the position; 0 = no feature fires",
        "hierarchy": source.hierarchy,
        "seed": source.seed,
    }
    (directory / GROUND_TRUTH_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True))
    source.model.save(directory / SAELENS_MODEL_DIR)


def load_ground_truth(directory: str | Path) -> dict[str, Any]:
    """Read what :func:`write_synthetic_ground_truth` wrote (arrays plus the JSON metadata)."""
    root = Path(directory)
    if not (root / GROUND_TRUTH_ARRAYS).is_file():
        raise SourceError(f"{root} holds no {GROUND_TRUTH_ARRAYS}: it is written only for synthetic runs")
    with np.load(root / GROUND_TRUTH_ARRAYS) as z:
        out: dict[str, Any] = {k: z[k] for k in z.files}
    out.update(json.loads((root / GROUND_TRUTH_JSON).read_text()))
    return out
