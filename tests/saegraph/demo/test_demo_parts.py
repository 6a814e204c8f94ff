"""Demo building blocks: corpus selection, SAE training cache and initialisation, summary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saegraph.demo import corpus
from saegraph.demo.train_saes import SAETrainingSettings, activations_key, init_from_data, train_or_load


def test_stdlib_selection_is_deterministic_and_seeded(tmp_path):
    root = tmp_path / "lib"
    (root / "pkg").mkdir(parents=True)
    (root / "test").mkdir()
    for i in range(12):
        doc = f"Module {i} explains in plain words what it is for. " * 6
        (root / "pkg" / f"m{i}.py").write_text(f'"""{doc}"""\n' + f"def f{i}(x):\n    return x + {i}\n" * 20)
    (root / "test" / "t.py").write_text("x = 1\n" * 100)
    a = corpus.stdlib_files(root, seed=0)
    assert a == corpus.stdlib_files(root, seed=0)
    assert a != corpus.stdlib_files(root, seed=1) and sorted(a) == sorted(corpus.stdlib_files(root, seed=1))
    assert all("test" not in p.parts for p in a)
    info = corpus.write_corpus(
        {"train": tmp_path / "a.jsonl", "graph": tmp_path / "b.jsonl"},
        {"train": 2000, "graph": 2000},
        root=root,
    )
    docs = {
        k: [json.loads(x) for x in (tmp_path / f"{n}.jsonl").read_text().splitlines()]
        for k, n in (("train", "a"), ("graph", "b"))
    }
    assert {d["source"] for d in docs["train"]}.isdisjoint({d["source"] for d in docs["graph"]})
    assert {d["kind"] for d in docs["train"] + docs["graph"]} == {"prose", "code"}
    assert info["train"]["chars"] >= 2000 and len(info["graph"]["sha256"]) == 64


def test_split_document_separates_docstrings():
    prose, code = corpus.split_document(
        '"""A module docstring that is longer than forty characters."""\nx = 1\n'
    )
    assert prose.startswith("A module docstring") and "x = 1" in code


def test_empty_stdlib_fails_with_a_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="standard library"):
        corpus.write_corpus({"train": tmp_path / "a.jsonl"}, {"train": 10}, root=tmp_path)


def test_settings_validate_and_key_changes_with_every_field():
    with pytest.raises(ValueError):
        SAETrainingSettings(hook="h", d_sae=8, k=8)
    base = SAETrainingSettings(hook="h", d_sae=64, k=4, training_samples=1024)
    key = base.cache_key("acts")
    assert key == SAETrainingSettings(hook="h", d_sae=64, k=4, training_samples=1024).cache_key("acts")
    assert key != base.cache_key("other-acts")
    for change in ({"seed": 1}, {"d_sae": 65}, {"k": 5}, {"lr": 2e-3}, {"hook": "g"}):
        assert SAETrainingSettings(**{**base.__dict__, **change}).cache_key("acts") != key
    assert activations_key("m", "h", "fp", 10) != activations_key("m", "h", "fp", 11)


def test_data_init_makes_every_latent_fire_on_its_own_vector():
    torch = pytest.importorskip("torch")
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    gen = torch.Generator().manual_seed(0)
    data = torch.randn(500, 16, generator=gen) * 3 + 5  # offset mean, like a residual stream
    sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=16, d_sae=32, k=4))
    init_from_data(sae, data, seed=0)
    w = sae.W_dec.detach()
    assert torch.allclose(w.norm(dim=1), torch.full((32,), 0.1), atol=1e-5)
    assert torch.allclose(sae.W_enc.detach(), w.T)
    # each decoder row points along a distinct centred data vector
    centred = data - data.mean(0)
    cos = (w / w.norm(dim=1, keepdim=True)) @ (centred / centred.norm(dim=1, keepdim=True)).T
    assert (cos.max(dim=1).values > 0.999).all()
    assert len(set(cos.argmax(dim=1).tolist())) == 32


def test_train_or_load_trains_once_then_loads(tmp_path):
    pytest.importorskip("sae_lens")
    rng = np.random.default_rng(0)
    dirs = rng.normal(size=(24, 16)).astype(np.float32)
    codes = (rng.random((3000, 24)) < 0.1) * rng.random((3000, 24))
    acts = (codes @ dirs).astype(np.float32) + 0.01 * rng.normal(size=(3000, 16)).astype(np.float32)
    calls = []

    def acts_fn():
        calls.append(1)
        return acts

    import torch
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    from saegraph.demo.train_saes import evaluate_sae

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        settings = SAETrainingSettings(
            hook="blocks.0.hook_resid_post",
            d_sae=32,
            k=4,
            training_samples=6400,
            batch_size=128,
            dead_feature_window=20,
        )
        path, stats, cached = train_or_load(acts_fn, "k", settings, "m", tmp_path, progress=False)
        untrained = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=16, d_sae=32, k=4))
        init_from_data(untrained, torch.from_numpy(acts), seed=0)
        before = evaluate_sae(untrained, torch.from_numpy(acts))
    finally:
        torch.set_num_threads(threads)
    assert not cached and calls == [1] and (path / "cfg.json").exists()
    assert stats["fvu"] < 0.9 * before["fvu"] and stats["l0"] == pytest.approx(4.0)
    assert stats["deadFraction"] < 0.5 and stats["nTokens"] == 3000
    path2, stats2, cached2 = train_or_load(acts_fn, "k", settings, "m", tmp_path, progress=False)
    assert cached2 and path2 == path and calls == [1] and stats2["fvu"] == pytest.approx(stats["fvu"])
    from sae_lens.saes.sae import SAE

    sae = SAE.load_from_disk(str(path))
    assert sae.cfg.metadata.hook_name == "blocks.0.hook_resid_post" and sae.cfg.d_sae == 32


def test_lasso_row_explains_an_empty_kept_set():
    from saegraph.demo.summary import edge_rows

    table = [
        {"r": 1, "edges": 800, "nullEdges": 80, "estimatedFdr": 0.1},
        {"r": 10, "edges": 270, "nullEdges": 8, "estimatedFdr": 8 / 270},
    ]
    st = {"replicates": 10, "fdrLevel": 0.05, "keptSet": {"edges": 0}, "replicateCountTable": table}
    (row,) = edge_rows({"lasso": {"perSae": {"s": st}}})
    assert row["edges"] == 0
    assert "270 edges were seen in >= 10 replicates against 8 null edges (estimated FDR 3.0%)" in row["note"]
    st["keptSet"] = {"edges": 5}
    (row,) = edge_rows({"lasso": {"perSae": {"s": st}}})
    assert row["note"] == "10 resampling replicates"
