"""SAE sources: local directory, SAE.from_pretrained on a pre-filled offline HF cache,
the NeelNanda converter, and the validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from saegraph.ingest.sources import SourceError, load_model, load_saes
from saegraph.ingest.sources.neelnanda import convert_neelnanda
from tests.helpers.source_fixtures import (  # noqa: F401  (fixtures)
    D_MLP,
    D_MODEL,
    fill_hf_cache,
    make_tiny_sae,
    save_fake_neelnanda_run,
    save_tiny_sae,
    tiny_config,
    tiny_mlp_sae_dir,
    tiny_model_dir,
    tiny_sae_dir,
)


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir):  # noqa: F811
    return load_model(tiny_config(tiny_model_dir, [{"id": "s", "source": "local", "path": "unused"}]))


@pytest.fixture
def offline_hub(tmp_path, monkeypatch) -> Path:
    """An empty HF hub cache that huggingface_hub uses, offline, for this test only."""
    import huggingface_hub.constants as hf_constants

    hub = tmp_path / "hf_home" / "hub"
    hub.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(hub.parent))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    return hub


def _saes(model_dir, tiny_model, *tables):
    return load_saes(tiny_config(model_dir, list(tables)), tiny_model)


def test_local_sae_round_trip(tiny_model_dir, tiny_model, tiny_sae_dir, tiny_mlp_sae_dir):  # noqa: F811
    loaded = _saes(
        tiny_model_dir,
        tiny_model,
        {"id": "resid", "source": "local", "path": str(tiny_sae_dir)},
        {"id": "mlp", "source": "local", "path": str(tiny_mlp_sae_dir)},
    )
    resid, mlp = loaded
    assert (resid.hook_name, resid.layer, resid.d_in, resid.d_sae) == (
        "blocks.1.hook_resid_post",
        1,
        D_MODEL,
        64,
    )
    assert (mlp.hook_name, mlp.layer, mlp.d_in, mlp.d_sae) == ("blocks.0.mlp.hook_post", 0, D_MLP, 256)
    assert resid.architecture == "standard" and resid.seed == 1 and resid.source == "local"
    reference = make_tiny_sae(D_MODEL, 64, "blocks.1.hook_resid_post", seed=1)
    x = torch.randn(10, D_MODEL, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(resid.encode(x), reference.encode(x))
    assert resid.w_dec.shape == (64, D_MODEL) and resid.w_dec.dtype.name == "float32"
    torch.testing.assert_close(torch.from_numpy(resid.w_dec), reference.W_dec.detach())


def test_from_pretrained_reads_offline_hf_cache(tiny_model_dir, tiny_model, tiny_sae_dir, offline_hub):  # noqa: F811
    fill_hf_cache(
        offline_hub,
        "saegraph-test/tiny-saes",
        {
            "layer1/cfg.json": tiny_sae_dir / "cfg.json",
            "layer1/sae_weights.safetensors": tiny_sae_dir / "sae_weights.safetensors",
        },
    )
    (sae,) = _saes(
        tiny_model_dir,
        tiny_model,
        {"id": "hub", "source": "pretrained", "release": "saegraph-test/tiny-saes", "sae_id": "layer1"},
    )
    assert (sae.release, sae.sae_name, sae.hook_name) == (
        "saegraph-test/tiny-saes",
        "layer1",
        "blocks.1.hook_resid_post",
    )
    reference = make_tiny_sae(D_MODEL, 64, "blocks.1.hook_resid_post", seed=1)
    torch.testing.assert_close(torch.from_numpy(sae.w_dec), reference.W_dec.detach())


def test_from_pretrained_not_cached_offline(tiny_model_dir, tiny_model, offline_hub):  # noqa: F811
    with pytest.raises(SourceError, match="not in the local Hugging Face cache") as err:
        _saes(
            tiny_model_dir,
            tiny_model,
            {"id": "x", "source": "pretrained", "release": "nobody/none", "sae_id": "a"},
        )
    assert "\n" not in str(err.value)


def test_neelnanda_converter_matches_original_forward(tmp_path):
    state = save_fake_neelnanda_run(tmp_path, "25", d_in=16, d_sae=48, seed=4)
    sae = convert_neelnanda({"dict_size": 48, "act_name": "blocks.0.mlp.hook_post", "seed": 4}, state)
    x = torch.randn(7, 16, generator=torch.Generator().manual_seed(0))
    expected = torch.relu((x - state["b_dec"]) @ state["W_enc"] + state["b_enc"])
    torch.testing.assert_close(sae.encode(x), expected)
    torch.testing.assert_close(sae.decode(expected), expected @ state["W_dec"] + state["b_dec"])
    assert sae.cfg.metadata.hook_name == "blocks.0.mlp.hook_post" and sae.cfg.metadata.seed == 4


def test_neelnanda_converter_rejects_mismatched_files(tmp_path):
    state = save_fake_neelnanda_run(tmp_path, "25", d_in=16, d_sae=48)
    with pytest.raises(SourceError, match="dict_size 64"):
        convert_neelnanda({"dict_size": 64}, state)
    with pytest.raises(SourceError, match="lacks b_dec"):
        convert_neelnanda({}, {k: v for k, v in state.items() if k != "b_dec"})


def test_neelnanda_from_path_and_from_hf_cache(tiny_model_dir, tiny_model, tmp_path, offline_hub):  # noqa: F811
    run_dir = tmp_path / "nn"
    state = save_fake_neelnanda_run(run_dir, "47", d_in=D_MLP, d_sae=256, seed=9, act_name=None)
    (local,) = _saes(
        tiny_model_dir, tiny_model, {"id": "n47", "source": "neelnanda", "sae_id": "47", "path": str(run_dir)}
    )
    assert (local.hook_name, local.d_in, local.d_sae, local.seed) == ("blocks.0.mlp.hook_post", D_MLP, 256, 9)
    fill_hf_cache(
        offline_hub,
        "NeelNanda/sparse_autoencoder",
        {"47_cfg.json": run_dir / "47_cfg.json", "47.pt": run_dir / "47.pt"},
    )
    (hub,) = _saes(tiny_model_dir, tiny_model, {"id": "n47", "source": "neelnanda", "sae_id": "47"})
    assert hub.release == "NeelNanda/sparse_autoencoder" and hub.sae_name == "47"
    torch.testing.assert_close(torch.from_numpy(hub.w_dec), state["W_dec"])


def test_neelnanda_missing_run(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    with pytest.raises(SourceError, match="lacks 25_cfg.json"):
        _saes(
            tiny_model_dir,
            tiny_model,
            {"id": "n", "source": "neelnanda", "sae_id": "25", "path": str(tmp_path)},
        )


# ----------------------------------------------------------------- validation errors
def test_unknown_hook(tiny_model_dir, tiny_model, tiny_sae_dir):  # noqa: F811
    with pytest.raises(SourceError, match=r"unknown hook 'blocks\.7\.hook_resid_post'.*saes\.hook") as err:
        _saes(
            tiny_model_dir,
            tiny_model,
            {"id": "s", "source": "local", "path": str(tiny_sae_dir), "hook": "blocks.7.hook_resid_post"},
        )
    assert "\n" not in str(err.value)


def test_unknown_hook_from_sae_metadata(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    path = save_tiny_sae(tmp_path / "s", D_MODEL, 8, "blocks.0.hook_resid_psot")
    with pytest.raises(SourceError, match="did you mean blocks.0.hook_resid_post"):
        _saes(tiny_model_dir, tiny_model, {"id": "s", "source": "local", "path": str(path)})


def test_d_in_mismatch(tiny_model_dir, tiny_model, tiny_mlp_sae_dir):  # noqa: F811
    with pytest.raises(
        SourceError, match=r"d_in 128 but hook 'blocks\.1\.hook_resid_post' .* is 32 wide"
    ) as err:
        _saes(
            tiny_model_dir,
            tiny_model,
            {"id": "s", "source": "local", "path": str(tiny_mlp_sae_dir), "hook": "blocks.1.hook_resid_post"},
        )
    assert "\n" not in str(err.value)


def test_incompatible_passes(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    a = save_tiny_sae(tmp_path / "a", D_MODEL, 8, "blocks.0.hook_resid_post", prepend_bos=True)
    b = save_tiny_sae(tmp_path / "b", D_MLP, 8, "blocks.0.mlp.hook_post", prepend_bos=False)
    with pytest.raises(SourceError, match="SAEs a and b need different forward passes.*separate runs"):
        _saes(
            tiny_model_dir,
            tiny_model,
            {"id": "a", "source": "local", "path": str(a)},
            {"id": "b", "source": "local", "path": str(b)},
        )
    c = save_tiny_sae(
        tmp_path / "c",
        D_MODEL,
        8,
        "blocks.1.hook_resid_post",
        model_from_pretrained_kwargs={"center_writing_weights": False},
    )
    d = save_tiny_sae(
        tmp_path / "d",
        D_MODEL,
        8,
        "blocks.0.hook_resid_post",
        model_from_pretrained_kwargs={"center_writing_weights": True},
    )
    with pytest.raises(SourceError, match="model_from_pretrained_kwargs"):
        _saes(
            tiny_model_dir,
            tiny_model,
            {"id": "c", "source": "local", "path": str(c)},
            {"id": "d", "source": "local", "path": str(d)},
        )


def test_compatible_saes_on_different_hooks_and_widths(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    a = save_tiny_sae(tmp_path / "a", D_MODEL, 8, "blocks.0.hook_resid_post", prepend_bos=True)
    b = save_tiny_sae(tmp_path / "b", D_MLP, 16, "blocks.1.mlp.hook_post", prepend_bos=True)
    loaded = _saes(
        tiny_model_dir,
        tiny_model,
        {"id": "a", "source": "local", "path": str(a)},
        {"id": "b", "source": "local", "path": str(b)},
    )
    assert [s.hook_name for s in loaded] == ["blocks.0.hook_resid_post", "blocks.1.mlp.hook_post"]


def test_head_specific_sae_refused(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    path = save_tiny_sae(tmp_path / "h", D_MODEL, 8, "blocks.0.attn.hook_z", hook_head_index=1)
    with pytest.raises(SourceError, match="one attention head"):
        _saes(tiny_model_dir, tiny_model, {"id": "h", "source": "local", "path": str(path)})


def test_local_sae_without_cfg(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    with pytest.raises(SourceError, match="holds no cfg.json"):
        _saes(tiny_model_dir, tiny_model, {"id": "s", "source": "local", "path": str(tmp_path)})
