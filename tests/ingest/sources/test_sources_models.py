"""Model sources: local TransformerLens directory, TransformerBridge on a local HF snapshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from saegraph.ingest.config import config_from_mapping
from saegraph.ingest.sources import SourceError, load_model, save_local_model
from tests.helpers.source_fixtures import (
    D_MLP,
    D_MODEL,
    make_tiny_model,
    make_tokenizer,
    tiny_config,
    tiny_model_dir,  # noqa: F401  (fixture)
)

HOOKS = ["blocks.0.mlp.hook_post", "blocks.1.hook_resid_post"]


def _local(model_dir: Path):
    return load_model(tiny_config(model_dir, [{"id": "s", "source": "local", "path": "unused"}]))


def test_local_model_round_trip_gives_identical_activations(tiny_model_dir):  # noqa: F811
    reference = make_tiny_model(seed=0)
    loaded = _local(tiny_model_dir)
    assert (loaded.n_layers, loaded.d_model, loaded.d_mlp) == (2, D_MODEL, D_MLP)
    assert loaded.d_vocab == len(make_tokenizer()) and loaded.bos_token_id == 1 and loaded.pad_token_id == 0
    assert loaded.n_params == sum(p.numel() for p in reference.parameters())
    tokens = torch.randint(0, loaded.d_vocab, (3, 9), generator=torch.Generator().manual_seed(0))
    got = loaded.run_hooks(tokens, HOOKS)
    _, cache = reference.run_with_cache(tokens)
    for hook in HOOKS:
        assert got[hook].dtype == torch.float32 and got[hook].shape[:2] == (3, 9)
        torch.testing.assert_close(got[hook], cache[hook])


def test_hook_width_and_stop_layer(tiny_model_dir):  # noqa: F811
    model = _local(tiny_model_dir)
    assert model.hook_width("blocks.0.mlp.hook_post") == D_MLP
    assert model.hook_width("blocks.1.hook_resid_post") == D_MODEL
    assert model.hook_width("blocks.0.attn.hook_z") == D_MODEL  # heads flattened
    assert model.stop_layer(["blocks.0.mlp.hook_post"]) == 1
    assert model.stop_layer(HOOKS) == 2
    assert model.stop_layer(["ln_final.hook_normalized"]) is None


def test_run_hooks_stops_early(tiny_model_dir):  # noqa: F811
    model = _local(tiny_model_dir)
    model.hook_width("blocks.0.hook_resid_post")  # the one-off width probe runs every block
    seen = []
    handle = model.backend.blocks[1].register_forward_hook(lambda *a: seen.append(1))
    try:
        model.run_hooks(torch.ones((1, 4), dtype=torch.long), ["blocks.0.hook_resid_post"])
        assert not seen, "block 1 ran although only a block-0 hook was asked for"
        model.run_hooks(torch.ones((1, 4), dtype=torch.long), ["blocks.1.hook_resid_post"])
        assert seen
    finally:
        handle.remove()


def test_unknown_hook_lists_close_matches(tiny_model_dir):  # noqa: F811
    model = _local(tiny_model_dir)
    with pytest.raises(
        SourceError, match=r"unknown hook 'blocks\.1\.hook_resid_pots'.*blocks\.1\.hook_resid_post"
    ):
        model.hook_width("blocks.1.hook_resid_pots")
    with pytest.raises(SourceError, match="not a per-token activation"):
        model.hook_width("blocks.0.attn.hook_pattern")


def test_unembed_only_in_residual_space(tiny_model_dir):  # noqa: F811
    model = _local(tiny_model_dir)
    w_u = model.unembed("blocks.1.hook_resid_post")
    assert w_u is not None and tuple(w_u.shape) == (D_MODEL, model.d_vocab)
    torch.testing.assert_close(w_u, model.backend.W_U.float())
    assert model.unembed("blocks.0.hook_mlp_out") is not None
    assert model.unembed("blocks.0.mlp.hook_post") is None
    assert model.unembed("blocks.0.attn.hook_z") is None  # width d_model, but not residual basis


def test_decode_one_string_per_token(tiny_model_dir):  # noqa: F811
    model = _local(tiny_model_dir)
    assert model.decode([1, 3, 4]) == ["<bos>", "the", "cat"]


def test_local_model_without_files_fails_in_one_line(tmp_path):
    with pytest.raises(SourceError, match="save_local_model") as err:
        _local(tmp_path)
    assert "\n" not in str(err.value)


def test_local_model_without_tokenizer(tmp_path):
    model = make_tiny_model(seed=1)
    save_local_model(model, tmp_path, tokenizer=None)
    # the model carries its tokenizer, so it is saved unless the model has none
    assert (tmp_path / "tokenizer").is_dir()


def test_bridge_loads_local_hf_snapshot(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = make_tokenizer()
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=32, n_embd=16, n_layer=2, n_head=2))
    hf.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    cfg = config_from_mapping(
        {
            "model": {"source": "bridge", "name": "tiny-gpt2", "path": str(tmp_path)},
            "dataset": {"source": "text", "paths": ["unused"]},
            "saes": [{"id": "s", "source": "local", "path": "unused"}],
        }
    )
    model = load_model(cfg)
    assert (model.n_layers, model.d_model, model.d_mlp, model.d_vocab) == (2, 16, 64, len(tok))
    tokens = torch.tensor([[1, 5, 6, 7, 8]])
    got = model.run_hooks(tokens, ["blocks.0.hook_resid_post", "blocks.0.mlp.hook_post"])
    assert got["blocks.0.mlp.hook_post"].shape == (1, 5, 64)
    hf.eval()
    with torch.no_grad():
        ref = hf(tokens, output_hidden_states=True).hidden_states[1]  # after block 0 (the last gets ln_f)
    np.testing.assert_allclose(got["blocks.0.hook_resid_post"].numpy(), ref.numpy(), rtol=1e-4, atol=1e-4)


def test_bridge_missing_directory(tmp_path):
    cfg = config_from_mapping(
        {
            "model": {"source": "bridge", "name": "x", "path": str(tmp_path / "absent")},
            "dataset": {"source": "text", "paths": ["unused"]},
            "saes": [{"id": "s", "source": "local", "path": "unused"}],
        }
    )
    with pytest.raises(SourceError, match="not a directory"):
        load_model(cfg)
