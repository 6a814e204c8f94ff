"""Planted-truth activations from ``sae_lens.synthetic``: hierarchy with mutually exclusive children,
low-rank correlation and Zipfian firing, with the pair classes the benchmarks score against.

Algorithm (docs/validation.md states the design):
1. ``SyntheticModelConfig``: Zipfian firing (exponent 0.5, max 0.3, min 0.01), a hierarchy of
   F/64 roots, branching 4, depth 2 (a child fires only when its parent fires), half of the
   roots with mutually exclusive children, a rank-32 low-rank latent correlation with scale
   0.075 (pairwise ρ ≈ N(0, 0.03²)), magnitudes N(1, 0.2).
2. Children of a mutually exclusive parent get base probability 0.25 given the parent (they
   exclude each other, so this plants no positive sibling association; it makes their
   expected co-firing under independence large enough for exclusion to be testable).
3. Tokens are sampled i.i.d. in batches (``ActivationGenerator.sample``, seeded) and grouped
   into sequences of 128.
4. Pair classes: *structural* = a planted parent–child pair; *indirect* = same tree, not
   parent–child (siblings, grandparents, cousins, uncles); *strictly false* for a positive
   edge = no shared tree and max planted ρ over the two ancestor chains (self, parent,
   grandparent) <= 0.05, for an exclusion edge the same with min ρ >= −0.05; *planted
   exclusive* = two children of one mutually exclusive parent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def build_model(n_features: int, seed: int, *, me_child_prob: float = 0.25):
    """The seeded ``sae_lens.synthetic.SyntheticModel`` of step 1–2."""
    import torch
    from sae_lens.synthetic import (
        HierarchyConfig,
        LowRankCorrelationConfig,
        SyntheticModel,
        SyntheticModelConfig,
        ZipfianFiringProbabilityConfig,
    )

    cfg = SyntheticModelConfig(
        num_features=n_features,
        hidden_dim=max(n_features // 8, 64),
        firing_probability=ZipfianFiringProbabilityConfig(exponent=0.5, max_prob=0.3, min_prob=0.01),
        hierarchy=HierarchyConfig(
            total_root_nodes=max(n_features // 64, 2),
            branching_factor=4,
            max_depth=2,
            mutually_exclusive_portion=0.5,
            mutually_exclusive_max_depth=0,
        ),
        correlation=LowRankCorrelationConfig(rank=32, correlation_scale=0.075, seed=seed),
        std_firing_magnitudes=0.2,
        mean_firing_magnitudes=1.0,
        bias=False,
        seed=seed,
    )
    model = SyntheticModel(cfg)
    gen = model.activation_generator
    p = gen.firing_probabilities.clone()

    def walk(node):
        if node.mutually_exclusive_children:
            for c in node.children:
                p[c.feature_index] = me_child_prob
        for c in node.children:
            walk(c)

    for root in model.hierarchy.roots:
        walk(root)
    gen.firing_probabilities = p
    gen.correlation_thresholds = math.sqrt(2) * torch.erfinv(1 - 2 * p)
    return model


@dataclass
class PlantedTruth:
    """Ground truth of one model: hierarchy arrays, exclusive pairs, correlation factor."""

    parent: np.ndarray
    tree: np.ndarray
    exclusive: np.ndarray
    """int64 [P, 2] planted mutually exclusive pairs (i < j)."""
    factor: np.ndarray
    """float64 [F, rank]: planted latent correlation ρ_ij = factor_i · factor_j (i ≠ j)."""

    @classmethod
    def of(cls, model) -> PlantedTruth:
        F = model.cfg.num_features
        parent = np.full(F, -1, np.int64)
        tree = np.full(F, -1, np.int64)
        excl: list[tuple[int, int]] = []

        def walk(node, par, t):
            parent[node.feature_index], tree[node.feature_index] = par, t
            kids = [c.feature_index for c in node.children]
            if node.mutually_exclusive_children:
                excl.extend((min(a, b), max(a, b)) for n, a in enumerate(kids) for b in kids[n + 1 :])
            for c in node.children:
                walk(c, node.feature_index, t)

        for t, root in enumerate(model.hierarchy.roots):
            walk(root, -1, t)
        factor = model.correlation_matrix.correlation_factor.detach().double().numpy()
        return cls(parent, tree, np.array(excl, np.int64).reshape(-1, 2), factor)

    @property
    def n_structural(self) -> int:
        return int((self.parent >= 0).sum())

    def classify(self, i, j) -> dict[str, np.ndarray]:
        """Boolean masks: structural, indirect, false_pos, false_exc, exclusive."""
        i = np.asarray(i, np.int64)
        j = np.asarray(j, np.int64)
        p = self.parent
        anc = np.stack([np.arange(p.size), p, np.where(p >= 0, p[np.maximum(p, 0)], -1)], axis=1)
        structural = (p[i] == j) | (p[j] == i)
        same = (self.tree[i] >= 0) & (self.tree[i] == self.tree[j])
        rmax = np.full(i.size, -np.inf)
        rmin = np.full(i.size, np.inf)
        for u in range(3):
            for v in range(3):
                a, b = anc[i, u], anc[j, v]
                ok = (a >= 0) & (b >= 0)
                r = np.zeros(i.size)
                r[ok] = np.einsum("kr,kr->k", self.factor[a[ok]], self.factor[b[ok]])
                rmax = np.where(ok, np.maximum(rmax, r), rmax)
                rmin = np.where(ok, np.minimum(rmin, r), rmin)
        key = np.minimum(i, j) * p.size + np.maximum(i, j)
        ex_key = self.exclusive[:, 0] * p.size + self.exclusive[:, 1]
        return {
            "structural": structural,
            "indirect": same & ~structural,
            "false_pos": ~same & (rmax <= 0.05),
            "false_exc": ~same & (rmin >= -0.05),
            "exclusive": np.isin(key, ex_key),
        }


def sample_activations(model, n_tokens: int, seed: int, batch: int = 4096) -> sp.csr_matrix:
    """True feature activations of ``n_tokens`` i.i.d. tokens (float32 CSR)."""
    import torch

    torch.manual_seed(seed + 1000)
    parts = []
    left = n_tokens
    with torch.no_grad():
        while left > 0:
            b = min(batch, left)
            x = model.activation_generator.sample(b)
            parts.append(sp.csr_matrix(x.numpy().astype(np.float32)))
            left -= b
    return sp.vstack(parts, format="csr")


def planted_data(n_features: int, n_tokens: int, seed: int, sequence_length: int = 128):
    """(activations CSR, sequence ids, PlantedTruth, model)."""
    model = build_model(n_features, seed)
    acts = sample_activations(model, n_tokens, seed)
    seqs = np.arange(n_tokens, dtype=np.int64) // sequence_length
    return acts, seqs, PlantedTruth.of(model), model
