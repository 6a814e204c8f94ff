"""Tiny models, tokenizers, SAEs and datasets built offline, saved through the real formats.

Builders (plain functions) plus pytest fixtures (session-scoped where they are read-only):
``tiny_model_dir`` (a 2-layer HookedTransformer + word-level tokenizer, ``save_local_model``),
``tiny_sae_dir`` (a StandardSAE on ``blocks.1.hook_resid_post``, ``SAE.save_model``),
``tiny_mlp_sae_dir`` (on ``blocks.0.mlp.hook_post``), ``tiny_text_dir`` (text files),
and :func:`tiny_config` to assemble a run config from them.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from saegraph.ingest.config import Config, config_from_mapping

WORDS = (
    "the cat dog sat on mat ran to a red blue green house tree and big small fast slow bird "
    "sky sun moon star fish sea sand hill road car bus city park book pen cup tea milk bread"
).split()
SPECIALS = ("<pad>", "<bos>", "<unk>")
D_MODEL = 32
D_MLP = 128
N_LAYERS = 2


def make_tokenizer() -> Any:
    """A word-level PreTrainedTokenizerFast over WORDS (ids: <pad> 0, <bos> 1, <unk> 2)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS + tuple(WORDS))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<bos>", pad_token="<pad>", unk_token="<unk>"
    )
    # TransformerLens re-loads a tokenizer from its name_or_path: give it a directory to load from.
    directory = tempfile.mkdtemp(prefix="saegraph-tiny-tokenizer-")
    fast.save_pretrained(directory)
    return AutoTokenizer.from_pretrained(directory)


def make_tiny_model(seed: int = 0, tokenizer: Any | None = None) -> Any:
    """A random 2-layer HookedTransformer (d_model 32, d_mlp 128) over the tiny vocabulary."""
    import torch
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    tokenizer = tokenizer if tokenizer is not None else make_tokenizer()
    cfg = HookedTransformerConfig(
        n_layers=N_LAYERS,
        d_model=D_MODEL,
        n_ctx=64,
        d_head=8,
        n_heads=4,
        d_mlp=D_MLP,
        d_vocab=len(tokenizer),
        act_fn="gelu",
        normalization_type="LN",
        seed=seed,
    )
    torch.manual_seed(seed)
    model = HookedTransformer(cfg, tokenizer=tokenizer)
    model.eval()
    return model


def make_tiny_sae(d_in: int, d_sae: int, hook_name: str, seed: int = 0, **metadata: Any) -> Any:
    """A StandardSAE with seeded random weights (ReLU encoder, some latents fire on any input)."""
    import torch
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    gen = torch.Generator().manual_seed(seed)
    cfg = StandardSAEConfig(
        d_in=d_in,
        d_sae=d_sae,
        dtype="float32",
        device="cpu",
        metadata=SAEMetadata(hook_name=hook_name, model_name="tiny", seed=seed, **metadata),
    )
    sae = StandardSAE(cfg)
    w_dec = torch.randn((d_sae, d_in), generator=gen)
    w_dec /= w_dec.norm(dim=1, keepdim=True)
    sae.load_state_dict(
        {
            "W_enc": w_dec.T.clone(),
            "W_dec": w_dec,
            "b_enc": torch.full((d_sae,), -0.1),
            "b_dec": torch.zeros(d_in),
        }
    )
    return sae


def save_tiny_sae(
    directory: Path, d_in: int, d_sae: int, hook_name: str, seed: int = 0, **metadata: Any
) -> Path:
    make_tiny_sae(d_in, d_sae, hook_name, seed, **metadata).save_model(str(directory))
    return directory


def fill_hf_cache(hub_cache: Path, repo_id: str, files: dict[str, Path]) -> Path:
    """Lay ``files`` (repo path -> local file) out as a Hugging Face hub cache snapshot of ``repo_id``."""
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    repo_dir = hub_cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / commit
    for repo_path, src in files.items():
        dest = snapshot / repo_path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(src).read_bytes())
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    return snapshot


def save_fake_neelnanda_run(
    directory: Path,
    run: str,
    d_in: int,
    d_sae: int,
    seed: int = 0,
    act_name: str | None = "blocks.0.mlp.hook_post",
) -> dict[str, Any]:
    """Write ``{run}_cfg.json`` + ``{run}.pt`` in the NeelNanda/sparse_autoencoder format."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    state = {
        "W_enc": torch.randn((d_in, d_sae), generator=gen) * 0.2,
        "W_dec": torch.randn((d_sae, d_in), generator=gen),
        "b_enc": torch.randn(d_sae, generator=gen) * 0.1,
        "b_dec": torch.randn(d_in, generator=gen) * 0.1,
    }
    state["W_dec"] /= state["W_dec"].norm(dim=1, keepdim=True)
    cfg = {
        "seed": seed,
        "batch_size": 4096,
        "buffer_mult": 384,
        "lr": 1e-4,
        "num_tokens": 2_000_000_000,
        "l1_coeff": 3e-4,
        "beta1": 0.9,
        "beta2": 0.99,
        "dict_mult": d_sae // d_in,
        "seq_len": 128,
        "d_mlp": d_in,
        "enc_dtype": "fp32",
        "remove_rare_dir": False,
        "model_batch_size": 512,
        "dict_size": d_sae,
        "device": "cuda:0",
    }
    if act_name:
        cfg["act_name"] = act_name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{run}_cfg.json").write_text(json.dumps(cfg))
    torch.save(state, directory / f"{run}.pt")
    return state


def write_text_corpus(directory: Path, n_docs: int = 6, words_per_doc: int = 120, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n_docs):
        words = rng.choice(WORDS, size=words_per_doc)
        (directory / f"doc{i}.txt").write_text(" ".join(words))
    return directory


def tiny_config(
    model_dir: Path, saes: list[dict[str, Any]], dataset: dict[str, Any] | None = None, **sections: Any
) -> Config:
    """A run config over the tiny local model; ``saes`` are [[saes]] tables."""
    data: dict[str, Any] = {
        "model": {"source": "local", "name": "tiny", "path": str(model_dir)},
        "saes": saes,
        "dataset": dataset or {"source": "text", "paths": ["unused"], "n_tokens": 512, "context_size": 16},
        "activations": {"batch_size": 4},
    }
    data.update(sections)
    return config_from_mapping(data)


@pytest.fixture(scope="session")
def tiny_tokenizer() -> Any:
    return make_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny HookedTransformer with its tokenizer (``model.source = "local"``)."""
    from saegraph.ingest.sources import save_local_model

    directory = tmp_path_factory.mktemp("tiny_model")
    save_local_model(make_tiny_model(seed=0), directory)
    return directory


@pytest.fixture(scope="session")
def tiny_sae_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved StandardSAE (d_in 32, d_sae 64) on blocks.1.hook_resid_post."""
    return save_tiny_sae(tmp_path_factory.mktemp("tiny_sae"), D_MODEL, 64, "blocks.1.hook_resid_post", seed=1)


@pytest.fixture(scope="session")
def tiny_mlp_sae_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved StandardSAE (d_in 128, d_sae 256) on blocks.0.mlp.hook_post."""
    return save_tiny_sae(
        tmp_path_factory.mktemp("tiny_mlp_sae"), D_MLP, 256, "blocks.0.mlp.hook_post", seed=2
    )


@pytest.fixture(scope="session")
def tiny_text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six text documents of 120 words from the tiny vocabulary."""
    return write_text_corpus(tmp_path_factory.mktemp("tiny_text"))
