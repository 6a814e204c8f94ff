"""Sparse activations with planted dependencies (ground truth for LASSO tests and benchmarks).

Generative model (all firings sparse; values 1 + ``value_noise``·|N(0, 1)|):
1. Background latents fire independently with log-uniform rates rescaled so that the
   mean active count per token is ``l0``; with probability ``persistence`` a firing
   also fires the next token of the same sequence (within-sequence autocorrelation,
   what the circular-shift null preserves).
2. Hierarchies: a root fires at rate ``planted_rate`` (or a log-uniform draw from a
   (low, high) range, per tree and per pair); each child fires only on tokens
   where its parent fires, with probability ``child_prob``; ``depth`` levels of
   ``branching`` children. True edges: parent–child only (siblings and
   grandparent–grandchild co-occur but are conditionally independent given the parent).
3. Correlated pairs: a hidden cause fires at rate ``planted_rate``; each member fires
   with probability ``pair_prob`` when it does. True edge: the pair.
Latent indices are shuffled so structure is not tied to index order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class PlantedActivations:
    acts: sp.csr_matrix  # float32 [tokens, latents]
    sequence_ids: np.ndarray  # int64 [tokens]
    positions: np.ndarray  # int32 [tokens]
    true_edges: np.ndarray  # int64 [E, 2], i < j
    indirect_pairs: np.ndarray  # int64 [K, 2]: co-occurring but conditionally independent (siblings, skips)


def planted_activations(
    n_sequences: int,
    sequence_length: int,
    n_latents: int,
    *,
    l0: float = 10.0,
    n_trees: int = 4,
    branching: int = 2,
    depth: int = 2,
    n_pairs: int = 8,
    planted_rate: float | tuple[float, float] = 0.05,
    child_prob: float = 0.5,
    pair_prob: float = 0.7,
    persistence: float = 0.2,
    value_noise: float = 0.1,
    seed: int = 0,
) -> PlantedActivations:
    rng = np.random.default_rng(seed)
    n = n_sequences * sequence_length
    lo_rate, hi_rate = (planted_rate, planted_rate) if np.isscalar(planted_rate) else planted_rate

    def draw_rate() -> float:
        return float(np.exp(rng.uniform(np.log(lo_rate), np.log(hi_rate))))

    fires: dict[int, np.ndarray] = {}  # latent (before shuffling) -> firing token indices
    edges, indirect = [], []
    nxt = 0

    def new_latent(tokens: np.ndarray) -> int:
        nonlocal nxt
        fires[nxt] = np.unique(tokens)
        nxt += 1
        return nxt - 1

    for _ in range(n_trees):
        root = new_latent(np.flatnonzero(rng.random(n) < draw_rate()))
        level, ancestors = [root], {root: []}
        for _d in range(depth):
            new_level = []
            for parent in level:
                kids = []
                for _b in range(branching):
                    pt = fires[parent]
                    kid = new_latent(pt[rng.random(pt.size) < child_prob])
                    edges.append((parent, kid))
                    indirect.extend((a, kid) for a in ancestors[parent])
                    ancestors[kid] = ancestors[parent] + [parent]
                    kids.append(kid)
                indirect.extend((a, b) for x, a in enumerate(kids) for b in kids[x + 1 :])
                new_level.extend(kids)
            level = new_level
    for _ in range(n_pairs):
        cause = np.flatnonzero(rng.random(n) < draw_rate())
        a = new_latent(cause[rng.random(cause.size) < pair_prob])
        b = new_latent(cause[rng.random(cause.size) < pair_prob])
        edges.append((a, b))
    if nxt > n_latents:
        raise ValueError(f"{nxt} planted latents do not fit in n_latents = {n_latents}: raise n_latents")

    n_bg = n_latents - nxt
    planted_l0 = sum(v.size for v in fires.values()) / n
    rates = np.exp(rng.uniform(np.log(1e-4), np.log(3e-2), n_bg))
    rates *= max(l0 - planted_l0, 0.0) / max(rates.sum() * (1 + persistence), 1e-12)
    rates = np.minimum(rates, 0.5)
    counts = rng.binomial(n, rates)
    for c in counts:
        t = rng.integers(0, n, c)
        extend = t[(rng.random(c) < persistence) & ((t + 1) % sequence_length != 0)] + 1
        new_latent(np.concatenate([t, extend]))

    perm = rng.permutation(n_latents)  # latent k lives at column perm[k]
    rows = np.concatenate([fires[k] for k in range(nxt)])
    cols = np.concatenate([np.full(fires[k].size, perm[k]) for k in range(nxt)])
    vals = (1.0 + value_noise * np.abs(rng.standard_normal(rows.size))).astype(np.float32)
    acts = sp.csr_matrix((vals, (rows, cols)), shape=(n, n_latents), dtype=np.float32)
    acts.sort_indices()

    def mapped(pairs) -> np.ndarray:
        if not pairs:
            return np.zeros((0, 2), np.int64)
        arr = perm[np.asarray(pairs, dtype=np.int64)]
        return np.sort(arr, axis=1)

    return PlantedActivations(
        acts=acts,
        sequence_ids=np.repeat(np.arange(n_sequences, dtype=np.int64), sequence_length),
        positions=np.tile(np.arange(sequence_length, dtype=np.int32), n_sequences),
        true_edges=mapped(edges),
        indirect_pairs=mapped(indirect),
    )
