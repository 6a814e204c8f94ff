"""Dataset sources: text files/globs, JSONL, pre-tokenized arrays, a local HF dataset;
sequence cutting, BOS/padding flags, resume, and the dataset errors."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from saegraph.ingest.sources import SourceError, dataset_info, iter_batches, load_model
from tests.helpers.source_fixtures import tiny_config, tiny_model_dir, tiny_text_dir  # noqa: F401  (fixtures)

CTX = 16


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir):  # noqa: F811
    return load_model(tiny_config(tiny_model_dir, [{"id": "s", "source": "local", "path": "unused"}]))


def _cfg(model_dir, **dataset):
    base = {"source": "text", "n_tokens": 10_000, "context_size": CTX}
    base.update(dataset)
    return tiny_config(model_dir, [{"id": "s", "source": "local", "path": "unused"}], dataset=base)


def _all(cfg, model, start=0):
    batches = list(iter_batches(cfg, model, start_sequence=start))
    return (
        batches,
        np.concatenate([b.tokens for b in batches]),
        np.concatenate([b.sequence_ids for b in batches]),
    )


def _reference_stream(model, texts):
    ids = model.tokenizer(texts, add_special_tokens=False)["input_ids"]
    return np.concatenate([np.asarray(i) for i in ids])


def test_text_glob_is_cut_into_bos_sequences(tiny_model_dir, tiny_model, tiny_text_dir):  # noqa: F811
    cfg = _cfg(tiny_model_dir, paths=[str(tiny_text_dir / "*.txt")])
    batches, tokens, ids = _all(cfg, tiny_model)
    texts = [p.read_text() for p in sorted(tiny_text_dir.glob("*.txt"))]
    stream = _reference_stream(tiny_model, texts)  # 720 tokens -> 48 sequences of 1 BOS + 15
    n_full = stream.size // (CTX - 1)
    assert tokens.shape == (n_full, CTX) and ids.tolist() == list(range(n_full))
    assert (tokens[:, 0] == tiny_model.bos_token_id).all()
    np.testing.assert_array_equal(tokens[:, 1:].reshape(-1), stream[: n_full * (CTX - 1)])
    assert all(b.tokens.shape[0] <= cfg.activations.batch_size for b in batches)
    assert all(b.is_bos[:, 0].all() and not b.is_bos[:, 1:].any() and not b.is_pad.any() for b in batches)


def test_n_tokens_limits_sequences_and_short_tail_is_padded(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    (tmp_path / "a.txt").write_text("the cat sat on the mat " * 4)  # 24 tokens
    cfg = _cfg(tiny_model_dir, paths=[str(tmp_path / "a.txt")])
    batches, tokens, _ = _all(cfg, tiny_model)
    assert tokens.shape == (2, CTX)  # 15 + 9 real tokens
    pad = np.concatenate([b.is_pad for b in batches])
    assert not pad[0].any() and pad[1].sum() == CTX - 10 and pad[1, 10:].all()
    assert (tokens[1, 10:] == tiny_model.pad_token_id).all()
    limited = _cfg(tiny_model_dir, paths=[str(tmp_path / "a.txt")], n_tokens=CTX)
    assert _all(limited, tiny_model)[1].shape == (1, CTX)


def test_resume_and_determinism(tiny_model_dir, tiny_model, tiny_text_dir):  # noqa: F811
    cfg = _cfg(tiny_model_dir, paths=[str(tiny_text_dir / "*.txt")], n_tokens=30 * CTX)
    _, full, full_ids = _all(cfg, tiny_model)
    _, again, _ = _all(cfg, tiny_model)
    np.testing.assert_array_equal(full, again)
    _, tail, tail_ids = _all(cfg, tiny_model, start=7)
    np.testing.assert_array_equal(tail, full[7:])
    np.testing.assert_array_equal(tail_ids, full_ids[7:])


def test_no_bos_when_not_asked(tiny_model_dir, tiny_model, tiny_text_dir):  # noqa: F811
    cfg = _cfg(tiny_model_dir, paths=[str(tiny_text_dir / "doc0.txt")], prepend_bos=False)
    batches, tokens, _ = _all(cfg, tiny_model)
    stream = _reference_stream(tiny_model, [(tiny_text_dir / "doc0.txt").read_text()])  # 120 tokens
    real = ~np.concatenate([b.is_pad for b in batches])
    assert tokens.shape == (8, CTX) and real.sum() == 120
    np.testing.assert_array_equal(tokens[real], stream)
    assert not any(b.is_bos.any() for b in batches)


def test_jsonl_column(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    rows = [{"body": "red car"}, {"body": "blue bus"}]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    cfg = _cfg(tiny_model_dir, paths=[str(tmp_path / "d.jsonl")], column="body")
    _, tokens, _ = _all(cfg, tiny_model)
    assert tiny_model.decode(tokens[0, 1:5]) == ["red", "car", "blue", "bus"]
    bad = _cfg(tiny_model_dir, paths=[str(tmp_path / "d.jsonl")], column="text")
    with pytest.raises(SourceError, match="no key 'text'"):
        _all(bad, tiny_model)


def test_pretokenized_arrays(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    rng = np.random.default_rng(0)
    rows = rng.integers(3, tiny_model.d_vocab, size=(5, CTX))
    np.save(tmp_path / "rows.npy", rows)
    _, tokens, _ = _all(_cfg(tiny_model_dir, source="tokens", paths=[str(tmp_path / "rows.npy")]), tiny_model)
    np.testing.assert_array_equal(tokens, rows)  # full-width rows are taken as they are
    flat = rng.integers(3, tiny_model.d_vocab, size=40)
    np.savez(tmp_path / "flat.npz", tokens=flat, other=np.zeros(2))
    _, tokens, _ = _all(
        _cfg(tiny_model_dir, source="tokens", paths=[str(tmp_path / "flat.npz")], column="tokens"), tiny_model
    )
    assert (tokens[:, 0] == tiny_model.bos_token_id).all()
    np.testing.assert_array_equal(tokens[0, 1:], flat[:15])
    with pytest.raises(SourceError, match="set dataset.column"):
        _all(_cfg(tiny_model_dir, source="tokens", paths=[str(tmp_path / "flat.npz")]), tiny_model)


def test_local_hf_dataset(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "train.jsonl").write_text(
        "\n".join(json.dumps({"text": "sun moon star " * 10}) for _ in range(3))
    )
    cfg = _cfg(tiny_model_dir, source="hf", name=str(tmp_path / "ds"), split="train")
    _, tokens, _ = _all(cfg, tiny_model)
    assert tokens.shape == (6, CTX) and tiny_model.decode(tokens[0, 1:4]) == ["sun", "moon", "star"]


# ----------------------------------------------------------------- errors
def test_empty_dataset(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(SourceError, match="yielded no tokens") as err:
        _all(_cfg(tiny_model_dir, paths=[str(tmp_path / "*.txt")]), tiny_model)
    assert "\n" not in str(err.value)


def test_tokenizer_missing_for_text(tiny_model_dir, tiny_model, tiny_text_dir):  # noqa: F811
    bare = dataclasses.replace(tiny_model, tokenizer=None)
    with pytest.raises(SourceError, match="has no tokenizer but the dataset is text") as err:
        _all(_cfg(tiny_model_dir, paths=[str(tiny_text_dir / "*.txt")], prepend_bos=False), bare)
    assert "\n" not in str(err.value)


def test_glob_matching_nothing(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    with pytest.raises(SourceError, match="nothing matches"):
        _all(_cfg(tiny_model_dir, paths=[str(tmp_path / "*.txt")]), tiny_model)


def test_bos_required_but_absent(tiny_model_dir, tiny_model, tiny_text_dir):  # noqa: F811
    no_bos = dataclasses.replace(tiny_model, bos_token_id=None)
    with pytest.raises(SourceError, match="prepend_bos"):
        _all(_cfg(tiny_model_dir, paths=[str(tiny_text_dir / "*.txt")]), no_bos)


def test_token_ids_outside_vocabulary(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    np.save(tmp_path / "big.npy", np.full((2, CTX), tiny_model.d_vocab + 5))
    with pytest.raises(SourceError, match="outside model"):
        _all(_cfg(tiny_model_dir, source="tokens", paths=[str(tmp_path / "big.npy")]), tiny_model)


def test_fingerprint_follows_content(tiny_model_dir, tiny_model, tmp_path):  # noqa: F811
    (tmp_path / "a.txt").write_text("the cat")
    cfg = _cfg(tiny_model_dir, paths=[str(tmp_path / "a.txt")])
    first = dataset_info(cfg, tiny_model)
    assert first.source == "text" and len(first.fingerprint) == 64
    assert dataset_info(cfg, tiny_model).fingerprint == first.fingerprint
    (tmp_path / "a.txt").write_text("the dog")
    assert dataset_info(cfg, tiny_model).fingerprint != first.fingerprint
