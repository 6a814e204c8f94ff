"""The pass's device code paths on a CPU: ``auto`` device, forward groups, out-of-memory halving,
the ``auto`` forward size on a (pretended) CUDA device, and SAE dtype plumbing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saegraph.ingest import activations_device
from saegraph.ingest.activation_store import ActivationStore
from saegraph.ingest.activations import ActivationError, encoders_in_dtype, run_activation_pass, sparsify
from saegraph.ingest.config import (
    ActivationsConfig,
    Config,
    ConfigError,
    DatasetConfig,
    ModelConfig,
    RunConfig,
    SAEConfig,
    config_from_mapping,
    resolve_device,
)
from saegraph.ingest.sources.base import LoadedSAE
from tests.helpers.source_fixtures import make_tiny_sae
from tests.helpers.spine_fakes import FakeModel, FakeSAE, fake_batches

N_SEQ, SEQ_LEN, BATCH = 22, 12, 4


def make_cfg(**acts) -> Config:
    return Config(
        model=ModelConfig(source="local", path="m"),
        saes=(SAEConfig(id="a", source="local", path="x"), SAEConfig(id="b", source="local", path="y")),
        dataset=DatasetConfig(source="tokens", paths=("t.npy",), n_tokens=10_000, context_size=SEQ_LEN),
        activations=ActivationsConfig(chunk_tokens=100, batch_size=BATCH, **acts),
    )


def two_saes():
    return [FakeSAE("a", seed=1), FakeSAE("b", d_sae=24, seed=2)]


class OOMModel(FakeModel):
    """Raises CUDA's out-of-memory error on forwards of more than ``limit`` sequences."""

    def __init__(self, limit: int, device: str = "cpu") -> None:
        super().__init__()
        self.limit, self.device = limit, device
        self.sequences_done = 0
        self.attempts: list[int] = []

    def run_hooks(self, tokens, hook_names):
        self.attempts.append(int(tokens.shape[0]))
        if tokens.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        self.sequences_done += int(tokens.shape[0])
        return super().run_hooks(tokens, hook_names)


def assert_same_store(a_dir, b_dir) -> None:
    a, b = ActivationStore(a_dir), ActivationStore(b_dir)
    assert a.chunks == b.chunks  # same boundaries, nextSequence, counts
    for ca, cb in zip(a.iter_chunks(), b.iter_chunks(), strict=True):
        np.testing.assert_array_equal(ca.token_ids, cb.token_ids)
        np.testing.assert_array_equal(ca.sequence_ids, cb.sequence_ids)
        np.testing.assert_array_equal(ca.positions, cb.positions)
        for sid in ca.acts:
            np.testing.assert_allclose(ca.acts[sid].toarray(), cb.acts[sid].toarray(), rtol=1e-6, atol=1e-6)


@pytest.fixture
def reference(tmp_path):
    """The pass with the CPU defaults (one forward per source batch)."""
    _, batches_from = fake_batches(n_seq=N_SEQ, seq_len=SEQ_LEN, batch=BATCH)
    model = FakeModel()
    stats = run_activation_pass(make_cfg(), model, two_saes(), batches_from, tmp_path / "ref", progress=False)
    assert model.calls == -(-N_SEQ // BATCH)
    assert (stats.device, stats.forward_batch_size, stats.oom_backoffs) == ("cpu", BATCH, 0)
    return tmp_path / "ref", batches_from


# --------------------------------------------------------------------------- config


def test_device_auto_resolution(monkeypatch):
    assert resolve_device("cuda:1") == "cuda:1" and resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert RunConfig(device="auto").torch_device == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert RunConfig().device == "cpu"  # the default stays explicit: same bytes on every machine


def test_activation_config_fields():
    acts = ActivationsConfig()
    assert (acts.forward_batch_size, acts.sae_dtype) == ("auto", "float32")
    base = {
        "saes": [{"id": "a", "source": "local", "path": "x"}],
        "model": {"source": "local", "path": "m"},
        "dataset": {"source": "tokens", "paths": ["t"]},
    }
    cfg = config_from_mapping({**base, "activations": {"forward_batch_size": 256, "sae_dtype": "bfloat16"}})
    assert (cfg.activations.forward_batch_size, cfg.activations.sae_dtype) == (256, "bfloat16")
    for bad in ({"forward_batch_size": 0}, {"forward_batch_size": "big"}, {"sae_dtype": "int8"}):
        with pytest.raises(ConfigError):
            config_from_mapping({**base, "activations": bad})
    with pytest.raises(ConfigError, match="run.device"):
        RunConfig(device=" ")


# --------------------------------------------------------------------------- forward groups and OOM


def test_larger_forward_groups_write_the_same_chunks(tmp_path, reference):
    ref_dir, batches_from = reference
    model = FakeModel()
    stats = run_activation_pass(
        make_cfg(forward_batch_size=8), model, two_saes(), batches_from, tmp_path / "g", progress=False
    )
    assert model.calls == -(-N_SEQ // 8)  # two source batches per forward
    assert stats.forward_batch_size == 8
    assert_same_store(ref_dir, tmp_path / "g")


def test_out_of_memory_halves_and_retries_the_same_sequences(tmp_path, reference, caplog):
    ref_dir, batches_from = reference
    model = OOMModel(limit=3)
    with caplog.at_level("WARNING"):
        stats = run_activation_pass(
            make_cfg(forward_batch_size=8), model, two_saes(), batches_from, tmp_path / "o", progress=False
        )
    assert model.attempts[:3] == [8, 4, 2]  # 8 -> 4 -> 2, then 2 for the rest
    assert set(model.attempts[3:]) == {2}
    assert model.sequences_done == N_SEQ  # every sequence through the model exactly once
    assert (stats.forward_batch_size, stats.oom_backoffs) == (2, 2)
    assert stats.tokens_seen == N_SEQ * SEQ_LEN
    assert "out of memory" in caplog.text and "retrying from sequence 0 with 4" in caplog.text
    assert_same_store(ref_dir, tmp_path / "o")


def test_out_of_memory_at_one_sequence_is_an_error(tmp_path):
    _, batches_from = fake_batches(n_seq=4, seq_len=SEQ_LEN, batch=BATCH)
    with pytest.raises(ActivationError, match="one sequence per forward"):
        run_activation_pass(
            make_cfg(), OOMModel(limit=0), two_saes(), batches_from, tmp_path / "a", progress=False
        )
    assert ActivationStore(tmp_path / "a").n_chunks == 0  # nothing half-written


def test_other_errors_are_not_retried(tmp_path):
    class Broken(FakeModel):
        def run_hooks(self, tokens, hook_names):
            raise RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED")

    _, batches_from = fake_batches(n_seq=4, seq_len=SEQ_LEN, batch=BATCH)
    with pytest.raises(RuntimeError, match="CUBLAS"):
        run_activation_pass(make_cfg(), Broken(), two_saes(), batches_from, tmp_path / "a", progress=False)


def test_auto_forward_size_on_cuda_from_free_memory(tmp_path, reference, monkeypatch, caplog):
    """On a (pretended) CUDA device ``auto`` plans whole source batches from the free memory."""
    ref_dir, batches_from = reference
    per_token = 16 * 40 + 64 * 16  # widest SAE 40 latents, d_in 16
    monkeypatch.setattr(activations_device, "cuda_free_bytes", lambda device: 2 * per_token * SEQ_LEN * 9)
    model = OOMModel(limit=100, device="cuda:0")
    with caplog.at_level("INFO"):
        stats = run_activation_pass(
            make_cfg(), model, two_saes(), batches_from, tmp_path / "c", progress=False
        )
    # half of the free memory holds 9 sequences -> 8, whole batches of 4
    assert stats.forward_batch_size == 8 and stats.device == "cuda:0"
    assert model.attempts[0] == 8
    assert "8 sequences per forward (auto" in caplog.text
    assert_same_store(ref_dir, tmp_path / "c")
    # less than one source batch fits: slices of one batch, still the same chunks
    monkeypatch.setattr(activations_device, "cuda_free_bytes", lambda device: 2 * per_token * SEQ_LEN * 3)
    stats = run_activation_pass(
        make_cfg(),
        OOMModel(limit=100, device="cuda:0"),
        two_saes(),
        batches_from,
        tmp_path / "d",
        progress=False,
    )
    assert stats.forward_batch_size == 3
    assert_same_store(ref_dir, tmp_path / "d")


def test_resume_with_out_of_memory_is_identical(tmp_path, reference):
    ref_dir, batches_from = reference

    def interrupted(start):
        for i, b in enumerate(batches_from(start)):
            if i == 4:
                raise KeyboardInterrupt
            yield b

    cfg = make_cfg(forward_batch_size=8)
    with pytest.raises(KeyboardInterrupt):
        run_activation_pass(cfg, OOMModel(limit=3), two_saes(), interrupted, tmp_path / "r", progress=False)
    assert ActivationStore(tmp_path / "r").n_chunks > 0
    model = OOMModel(limit=3)
    stats = run_activation_pass(cfg, model, two_saes(), batches_from, tmp_path / "r", progress=False)
    assert stats.chunks_resumed > 0
    assert (
        model.sequences_done
        == N_SEQ - ActivationStore(tmp_path / "r").chunks[stats.chunks_resumed - 1]["nextSequence"]
    )
    assert_same_store(ref_dir, tmp_path / "r")


# --------------------------------------------------------------------------- dtypes


def loaded(sae_module, sae_id="a") -> LoadedSAE:
    return LoadedSAE(
        sae_id, "local", "x", "x", "blocks.0.hook_resid_post", 0, 16, 40, "standard", 0, sae_module
    )


def test_sae_dtype_encodes_with_a_converted_copy(tmp_path):
    sae = make_tiny_sae(16, 40, "blocks.0.hook_resid_post", seed=3)
    (enc,) = encoders_in_dtype([loaded(sae)], "bfloat16")
    assert enc.sae is not sae and enc.sae.W_enc.dtype == torch.bfloat16 and enc.sae.cfg.dtype == "bfloat16"
    assert sae.W_dec.dtype == torch.float32 and sae.cfg.dtype == "float32"  # the original is untouched
    assert encoders_in_dtype([loaded(sae)], "float32")[0].sae is sae

    _, batches_from = fake_batches(n_seq=8, seq_len=SEQ_LEN, batch=BATCH)
    cfg = Config(
        model=ModelConfig(source="local", path="m"),
        saes=(SAEConfig(id="a", source="local", path="x"),),
        dataset=DatasetConfig(source="tokens", paths=("t.npy",), n_tokens=10_000, context_size=SEQ_LEN),
        activations=ActivationsConfig(chunk_tokens=100, batch_size=BATCH),
    )
    out = {}
    for dtype in ("float32", "bfloat16"):
        c = Config(
            **{
                **cfg.__dict__,
                "activations": ActivationsConfig(chunk_tokens=100, batch_size=BATCH, sae_dtype=dtype),
            }
        )
        stats = run_activation_pass(
            c, FakeModel(), [loaded(sae)], batches_from, tmp_path / dtype, progress=False
        )
        assert stats.sae_dtype == dtype
        out[dtype] = np.concatenate(
            [ch.acts["a"].toarray() for ch in ActivationStore(tmp_path / dtype).iter_chunks()]
        )
    assert out["float32"].any()
    assert not np.array_equal(out["float32"], out["bfloat16"])  # really encoded in bfloat16
    np.testing.assert_allclose(out["bfloat16"], out["float32"], atol=0.05)
    assert sae.W_enc.dtype == torch.float32  # the pass left the loaded SAE in float32


def test_sae_dtype_needs_a_convertible_sae(tmp_path):
    _, batches_from = fake_batches(n_seq=4, seq_len=SEQ_LEN, batch=BATCH)
    with pytest.raises(ActivationError, match="sae_dtype"):
        run_activation_pass(
            make_cfg(sae_dtype="float16"),
            FakeModel(),
            two_saes(),
            batches_from,
            tmp_path / "a",
            progress=False,
        )


def test_sparsify_reduced_precision_tensor(rng):
    a = rng.normal(size=(20, 30)).astype(np.float32)
    m = sparsify(torch.from_numpy(a).to(torch.bfloat16), 0.5)
    ref = torch.from_numpy(a).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(m.toarray(), np.where(ref > 0.5, ref, 0))
    assert m.dtype == np.float32
