"""The streaming activation pass equals a dense reference, resumes, and refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saegraph.ingest.activation_store import ActivationStore
from saegraph.ingest.activations import ActivationError, run_activation_pass, sparsify
from saegraph.ingest.config import ActivationsConfig, Config, DatasetConfig, ModelConfig, SAEConfig
from tests.helpers.spine_fakes import FakeModel, FakeSAE, fake_batches


def make_cfg(chunk_tokens=100, exclude_bos=True, n_tokens=10_000) -> Config:
    return Config(
        model=ModelConfig(source="local", path="m"),
        saes=(SAEConfig(id="a", source="local", path="x"), SAEConfig(id="b", source="local", path="y")),
        dataset=DatasetConfig(source="tokens", paths=("t.npy",), n_tokens=n_tokens, context_size=12),
        activations=ActivationsConfig(chunk_tokens=chunk_tokens, batch_size=4, exclude_bos=exclude_bos),
    )


def dense_reference(model, saes, tokens, exclude_bos=True):
    hooks = sorted({s.hook_name for s in saes})
    hidden = model.run_hooks(torch.as_tensor(tokens), hooks)
    keep = np.ones(tokens.shape, bool)
    if exclude_bos:
        keep[:, 0] = False
    out = {}
    for s in saes:
        z = s.encode(hidden[s.hook_name].reshape(-1, s.d_in)).numpy()[keep.reshape(-1)]
        out[s.sae_id] = np.where(z > 0, z, 0)
    return out, tokens[keep]


def test_sparsify_matches_dense(rng):
    a = rng.normal(size=(30, 20)).astype(np.float32)
    for x in (a, torch.from_numpy(a)):
        m = sparsify(x, 0.5)
        np.testing.assert_array_equal(m.toarray(), np.where(a > 0.5, a, 0))


@pytest.mark.parametrize("exclude_bos", [True, False])
def test_pass_equals_dense_reference(tmp_path, exclude_bos):
    model = FakeModel()
    saes = [FakeSAE("a", seed=1), FakeSAE("b", d_sae=24, seed=2)]
    tokens, batches_from = fake_batches(n_seq=22, seq_len=12, batch=4)
    cfg = make_cfg(exclude_bos=exclude_bos)
    stats = run_activation_pass(cfg, model, saes, batches_from, tmp_path / "act", progress=False)
    ref, kept_tokens = dense_reference(model, saes, tokens, exclude_bos)
    store = ActivationStore(tmp_path / "act")
    assert store.n_chunks > 1  # chunking really happened
    got = {s.sae_id: [] for s in saes}
    toks = []
    for chunk in store.iter_chunks():
        assert np.all(np.diff(chunk.sequence_ids) >= 0)
        toks.append(chunk.token_ids)
        for sid in got:
            got[sid].append(chunk.acts[sid].toarray())
    np.testing.assert_array_equal(np.concatenate(toks), kept_tokens)
    for sid in got:
        np.testing.assert_allclose(np.concatenate(got[sid]), ref[sid], rtol=1e-6, atol=1e-6)
    assert stats.tokens_kept == kept_tokens.size == store.n_tokens
    # chunks hold whole sequences
    seqs = [set(c.sequence_ids.tolist()) for c in store.iter_chunks()]
    for s1, s2 in zip(seqs, seqs[1:]):
        assert not s1 & s2


def test_resume_after_interruption_is_identical(tmp_path):
    saes = [FakeSAE("a", seed=1), FakeSAE("b", d_sae=24, seed=2)]
    tokens, batches_from = fake_batches(n_seq=22, seq_len=12, batch=4)
    cfg = make_cfg()
    run_activation_pass(cfg, FakeModel(), saes, batches_from, tmp_path / "full", progress=False)

    def interrupted(start):
        for i, b in enumerate(batches_from(start)):
            if i == 4:
                raise KeyboardInterrupt
            yield b

    with pytest.raises(KeyboardInterrupt):
        run_activation_pass(cfg, FakeModel(), saes, interrupted, tmp_path / "resumed", progress=False)
    partial = ActivationStore(tmp_path / "resumed").n_chunks
    assert 0 < partial
    model = FakeModel()
    stats = run_activation_pass(cfg, model, saes, batches_from, tmp_path / "resumed", progress=False)
    assert stats.chunks_resumed == partial
    a, b = ActivationStore(tmp_path / "full"), ActivationStore(tmp_path / "resumed")
    assert a.chunks == b.chunks
    for ca, cb in zip(a.iter_chunks(), b.iter_chunks()):
        np.testing.assert_array_equal(ca.token_ids, cb.token_ids)
        for sid in ca.acts:
            assert (ca.acts[sid] != cb.acts[sid]).nnz == 0


def test_nan_names_sae_and_chunk(tmp_path):
    _, batches_from = fake_batches(n_seq=4, seq_len=12, batch=4)
    with pytest.raises(ActivationError, match=r"SAE 'bad'.*chunk 0"):
        run_activation_pass(
            make_cfg(), FakeModel(), [FakeSAE("bad", nan=True)], batches_from, tmp_path / "a", progress=False
        )


def test_empty_dataset_is_an_error(tmp_path):
    with pytest.raises(ActivationError, match="no tokens"):
        run_activation_pass(
            make_cfg(), FakeModel(), [FakeSAE("a")], lambda start: iter(()), tmp_path / "a", progress=False
        )
