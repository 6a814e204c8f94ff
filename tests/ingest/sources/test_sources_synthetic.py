"""The synthetic source: planted ground truth, deterministic batches, truth and trained SAEs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saegraph.ingest.config import config_from_mapping
from saegraph.ingest.sources import (
    SYNTHETIC_HOOK,
    SourceError,
    dataset_info,
    iter_batches,
    load_ground_truth,
    load_model,
    load_saes,
    write_ground_truth,
)

SYN = {
    "num_features": 64,
    "hidden_dim": 32,
    "firing_probability": 0.04,
    "hierarchy_roots": 2,
    "hierarchy_branching": 3,
    "hierarchy_depth": 1,
    "n_correlated_pairs": 8,
    "correlation": 0.7,
    "sequence_length": 32,
}


def _cfg(saes=None, n_tokens=4000, seed=0, **syn):
    return config_from_mapping(
        {
            "run": {"seed": seed},
            "model": {"source": "synthetic", "name": "toy"},
            "dataset": {"source": "synthetic", "name": "toy-data", "n_tokens": n_tokens},
            "synthetic": {**SYN, **syn},
            "activations": {"batch_size": 8},
            "saes": saes or [{"id": "truth", "source": "synthetic", "synthetic_mode": "truth"}],
        }
    )


@pytest.fixture(scope="module")
def toy():
    cfg = _cfg(n_tokens=24_000)
    return cfg, load_model(cfg)


def _stack(cfg, model, start=0):
    batches = list(iter_batches(cfg, model, start_sequence=start))
    return (
        batches,
        np.concatenate([b.tokens for b in batches]),
        np.concatenate([b.sequence_ids for b in batches]),
    )


def test_model_surface(toy):
    _, model = toy
    assert (model.d_model, model.d_vocab, model.n_layers, model.source) == (32, 65, 0, "synthetic")
    assert model.hook_names() == [SYNTHETIC_HOOK] and model.hook_width(SYNTHETIC_HOOK) == 32
    assert model.unembed(SYNTHETIC_HOOK) is None
    assert model.decode([0, 1, 64]) == ["<none>", "f0", "f63"]
    with pytest.raises(SourceError, match="unknown hook 'blocks.0.hook_resid_post'"):
        model.hook_width("blocks.0.hook_resid_post")
    with pytest.raises(SourceError, match="TokenBatch.hidden"):
        model.run_hooks(torch.zeros((1, 2), dtype=torch.long), [SYNTHETIC_HOOK])


def test_batches_carry_consistent_truth(toy):
    cfg, model = toy
    batches, tokens, ids = _stack(cfg, model)
    assert tokens.shape == (24_000 // 32, 32) and ids.tolist() == list(range(tokens.shape[0]))
    directions = model.backend.directions
    for b in batches[:3]:
        hidden = b.hidden[SYNTHETIC_HOOK].numpy().reshape(-1, 32)
        truth = b.true_acts.toarray()
        np.testing.assert_allclose(hidden, truth @ directions, atol=1e-5)
        expected = np.where(truth.max(1) > 0, truth.argmax(1) + 1, 0)
        np.testing.assert_array_equal(b.tokens.reshape(-1), expected)
        assert not b.is_bos.any() and not b.is_pad.any()


def test_deterministic_and_resumable(toy):
    _, model = toy
    cfg = _cfg(n_tokens=3200)
    _, full, _ = _stack(cfg, model)
    _, tail, tail_ids = _stack(cfg, model, start=13)
    np.testing.assert_array_equal(tail, full[13:])
    assert tail_ids[0] == 13
    _, other_seed, _ = _stack(_cfg(n_tokens=3200, seed=1), load_model(_cfg(seed=1)))
    assert not np.array_equal(other_seed, full)


def test_planted_hierarchy_and_correlation(toy):
    cfg, model = toy
    batches, _, _ = _stack(cfg, model)
    fired = np.vstack([b.true_acts.toarray() for b in batches]) > 0
    src = model.backend
    children = np.flatnonzero(src.parents >= 0)
    assert children.size == 6
    for c in children:  # a child fires only with its parent
        assert fired[:, c].any() and not (fired[:, c] & ~fired[:, src.parents[c]]).any()
    np.testing.assert_allclose(fired.mean(0), src.marginal_probabilities, atol=0.02)

    def phi(i, j):
        return np.corrcoef(fired[:, i], fired[:, j])[0, 1]

    planted = np.mean([phi(i, j) for i, j in src.pairs])
    rng = np.random.default_rng(0)
    free = np.flatnonzero(src.depths < 0)
    random_pairs = [rng.choice(free, 2, replace=False) for _ in range(40)]
    baseline = np.mean([abs(phi(i, j)) for i, j in random_pairs])
    assert planted > 0.2 and baseline < 0.05


def test_ground_truth_round_trip(toy, tmp_path):
    cfg, model = toy
    write_ground_truth(cfg, model, tmp_path)
    truth = load_ground_truth(tmp_path)
    np.testing.assert_array_equal(truth["directions"], model.backend.directions)
    np.testing.assert_array_equal(truth["parents"], model.backend.parents)
    np.testing.assert_array_equal(truth["pairs"], model.backend.pairs)
    assert truth["correlation_factor"].shape == (64, 8) and truth["pair_correlation"] == 0.7
    assert len(truth["hierarchy"]["roots"]) == 2 and (tmp_path / "synthetic_model").is_dir()
    info = dataset_info(cfg, model)
    assert info.source == "synthetic" and info.name == "toy-data" and len(info.fingerprint) == 64


def test_truth_sae_recovers_isolated_features(toy):
    cfg, model = toy
    (sae,) = load_saes(cfg, model)
    assert (sae.hook_name, sae.d_in, sae.d_sae, sae.architecture) == (SYNTHETIC_HOOK, 32, 64, "jumprelu")
    np.testing.assert_allclose(sae.w_dec, model.backend.directions)
    acts = sae.encode(torch.from_numpy(model.backend.directions))  # each feature alone, magnitude 1
    assert (acts.argmax(dim=1) == torch.arange(64)).all()


def test_two_seeds_train_two_similar_saes():
    saes = [{"id": f"s{k}", "source": "synthetic", "train_tokens": 40_000, "seed": k} for k in (1, 2)]
    cfg = _cfg(saes)
    model = load_model(cfg)
    a, b = load_saes(cfg, model)
    assert (a.seed, b.seed) == (1, 2) and a.d_sae == 64
    assert not np.allclose(a.w_dec, b.w_dec)

    def mmcs(x, y):
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        yn = y / np.linalg.norm(y, axis=1, keepdims=True)
        return (xn @ yn.T).max(axis=1).mean()

    truth = model.backend.directions
    assert mmcs(truth, a.w_dec) > 0.5 and mmcs(truth, b.w_dec) > 0.5
    assert mmcs(a.w_dec, b.w_dec) > 0.5


def test_synthetic_errors():
    with pytest.raises(SourceError, match="lower synthetic.n_correlated_pairs"):
        load_model(_cfg(n_correlated_pairs=40))
    cfg = _cfg(
        [{"id": "x", "source": "synthetic", "synthetic_mode": "truth", "hook": "blocks.0.hook_resid_post"}]
    )
    with pytest.raises(SourceError, match="unknown hook"):
        load_saes(cfg, load_model(cfg))
