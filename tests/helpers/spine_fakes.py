"""Small in-memory stand-ins for ``saegraph.ingest.sources`` objects, for unit tests of the pass.

They follow the duck-typed interface of ``LoadedModel`` / ``LoadedSAE`` / ``TokenBatch``
(see ingest/sources) so the activation pass and feature metadata can be checked against a
dense reference without torch models on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class FakeBatch:
    tokens: np.ndarray
    sequence_ids: np.ndarray
    is_bos: np.ndarray
    is_pad: np.ndarray
    hidden: dict | None = None
    true_acts: object | None = None


class FakeModel:
    """Embedding lookup + fixed random map per hook: hidden = tanh(E[tok] @ M_hook)."""

    def __init__(self, vocab: int = 50, d: int = 16, hooks=("blocks.0.hook_resid_post",), seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.embed = torch.randn(vocab, d, generator=g)
        self.maps = {h: torch.randn(d, d, generator=g) / d**0.5 for h in hooks}
        self.d_vocab = vocab
        self.w_u = torch.randn(d, vocab, generator=g)
        self.calls = 0

    def run_hooks(self, tokens, hook_names):
        self.calls += 1
        x = self.embed[tokens]
        return {h: torch.tanh(x @ self.maps[h]) for h in hook_names}

    def unembed(self, hook_name):
        return self.w_u

    def decode(self, ids):
        return [f"t{int(i)} " for i in ids]


class FakeSAE:
    """ReLU SAE with random weights; optionally emits NaN to test the guard."""

    def __init__(
        self,
        sae_id: str,
        d_in: int = 16,
        d_sae: int = 40,
        hook: str = "blocks.0.hook_resid_post",
        seed: int = 1,
        bias: float = -0.3,
        nan: bool = False,
    ):
        g = torch.Generator().manual_seed(seed)
        self.sae_id, self.hook_name, self.d_in, self.d_sae = sae_id, hook, d_in, d_sae
        self.W_enc = torch.randn(d_in, d_sae, generator=g)
        self.b_enc = torch.full((d_sae,), bias)
        self._w_dec = torch.randn(d_sae, d_in, generator=g)
        self.nan = nan

    def encode(self, x):
        z = torch.relu(x @ self.W_enc + self.b_enc)
        if self.nan:
            z[0, 0] = float("nan")
        return z

    @property
    def w_dec(self):
        return self._w_dec.numpy()


def fake_batches(n_seq: int, seq_len: int, batch: int, vocab: int = 50, seed: int = 0, bos: int = 0):
    """``batches_from(start)`` for the pass: deterministic token batches with BOS at position 0."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, vocab, size=(n_seq, seq_len))
    tokens[:, 0] = bos

    def batches_from(start: int):
        for lo in range(start, n_seq, batch):
            hi = min(n_seq, lo + batch)
            t = tokens[lo:hi]
            is_bos = np.zeros_like(t, dtype=bool)
            is_bos[:, 0] = True
            yield FakeBatch(t, np.arange(lo, hi), is_bos, np.zeros_like(t, dtype=bool))

    return tokens, batches_from
