"""Feature metadata equals a brute-force computation on dense activations."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from saegraph.ingest.activation_store import ActivationChunk, ActivationStore
from saegraph.ingest.config import FeaturesConfig
from saegraph.ingest.features import feature_table, logit_effects, merge_top_k


def test_merge_top_k_equals_brute_force(rng):
    cols = rng.integers(0, 7, 300)
    vals = rng.random(300).astype(np.float32)
    idx = np.arange(300)
    c, v, i = merge_top_k(cols, vals, idx, 3)
    for col in range(7):
        expect = np.sort(vals[cols == col])[::-1][:3]
        np.testing.assert_array_equal(np.sort(v[c == col])[::-1], expect)


def _store(tmp_path, rng, n_chunks=3, seq_len=10, n_seq=4, f=12, vocab=9):
    store = ActivationStore(tmp_path / "act", sae_widths={"s": f})
    dense, toks, seqs = [], [], []
    for k in range(n_chunks):
        n = seq_len * n_seq
        a = rng.random((n, f)).astype(np.float32)
        a[a < 0.8] = 0
        a[:, -1] = 0  # a dead latent
        t = rng.integers(0, vocab, n).astype(np.int32)
        s = np.repeat(np.arange(n_seq) + k * n_seq, seq_len)
        store.append(ActivationChunk(k, t, s, np.tile(np.arange(seq_len), n_seq), {"s": sp.csr_matrix(a)}))
        dense.append(a)
        toks.append(t)
        seqs.append(s)
    return store, np.concatenate(dense), np.concatenate(toks), np.concatenate(seqs)


def test_feature_table_matches_dense_reference(tmp_path, rng):
    store, a, toks, seqs = _store(tmp_path, rng)
    f = a.shape[1]
    w_dec = rng.normal(size=(f, 5)).astype(np.float32)
    w_u = rng.normal(size=(5, 9)).astype(np.float32)
    cfg = FeaturesConfig(top_examples=3, context_window=2, top_tokens=4, top_logits=3)
    tbl, stats = feature_table(store, "s", w_dec, w_u, lambda ids: [f"<{i}>" for i in ids], cfg)
    df = tbl.to_pandas()
    fires = a > 0
    np.testing.assert_allclose(df["density"], fires.mean(0))
    np.testing.assert_array_equal(df["nFirings"], fires.sum(0))
    np.testing.assert_allclose(df["maxAct"], a.max(0), rtol=1e-6)
    with np.errstate(invalid="ignore"):
        mean = np.where(fires.sum(0) > 0, a.sum(0) / fires.sum(0), 0)
    np.testing.assert_allclose(df["meanAct"], mean, rtol=1e-5)
    assert df["dead"].tolist() == [False] * (f - 1) + [True]
    assert stats["dead"] == 1
    np.testing.assert_allclose(df["decoderNorm"], np.linalg.norm(w_dec, axis=1), rtol=1e-6)
    for j in range(f - 1):
        # top examples: the largest activations whose windows (2 tokens) do not overlap in a sequence
        order = []
        for g in np.argsort(-a[:, j], kind="stable"):
            if a[g, j] > 0 and len(order) < 3 and all(seqs[g] != seqs[h] or abs(g - h) > 2 for h in order):
                order.append(g)
        np.testing.assert_allclose(df["topExampleActs"][j], a[order, j], rtol=1e-6)
        g = order[0]
        ex = df["topExamples"][j][0]
        assert f"«<{toks[g]}>»" in ex
        same = [i for i in range(max(0, g - 2), g + 3) if i < len(seqs) and seqs[i] == seqs[g]]
        assert ex.count("<") == len(same)
        # top tokens: highest mean activation among tokens with >= 2 firings
        means = {}
        for t in np.unique(toks[fires[:, j]]):
            sel = fires[:, j] & (toks == t)
            if sel.sum() >= 2:
                means[t] = a[sel, j].mean()
        expect = sorted(means, key=lambda t: (-means[t], t))[:4]
        assert df["topTokens"][j].tolist() == [f"<{t}>" for t in expect]
    # logits: centred W_dec @ W_U, top 3
    ids, vals = logit_effects(w_dec, w_u, 3)
    full = w_dec @ w_u
    full -= full.mean(1, keepdims=True)
    for j in range(f):
        np.testing.assert_allclose(vals[j], np.sort(full[j])[::-1][:3], rtol=1e-5)
    assert df["topLogits"][0].tolist() == [f"<{i}>" for i in ids[0]]


def test_logits_skipped_without_unembedding(tmp_path, rng):
    store, *_ = _store(tmp_path, rng, n_chunks=1)
    tbl, stats = feature_table(
        store, "s", np.ones((12, 5), np.float32), None, lambda ids: [str(i) for i in ids], FeaturesConfig()
    )
    assert all(len(x) == 0 for x in tbl.column("topLogits").to_pylist())
    assert stats["logits"].startswith("skipped")


def test_top_examples_are_distinct_contexts(tmp_path):
    """A feature firing on adjacent tokens of one passage, and on a repeated passage, gets
    one example per passage, not one per firing."""
    store = ActivationStore(tmp_path / "act", sae_widths={"s": 2})
    passage = [5, 6, 7, 8, 9, 10]
    toks = np.array(passage * 3 + [1, 2, 3, 4, 11, 12], dtype=np.int32)  # 3 copies, then other text
    seqs = np.repeat(np.arange(4), 6)
    a = np.zeros((24, 2), np.float32)
    a[[2, 3, 8, 9, 14, 15], 0] = [9, 8, 7, 6, 5, 4]  # two firings per copy of the passage
    a[20, 0] = 1.0  # a weaker firing in other text
    a[0, 1] = 1.0
    store.append(ActivationChunk(0, toks, seqs, np.tile(np.arange(6), 4), {"s": sp.csr_matrix(a)}))
    cfg = FeaturesConfig(top_examples=4, context_window=2, top_tokens=2, top_logits=0)
    tbl, _ = feature_table(
        store, "s", np.ones((2, 3), np.float32), None, lambda ids: [f"t{i}" for i in ids], cfg
    )
    ex = tbl.to_pandas()["topExamples"][0].tolist()
    assert ex == ["t5 t6 «t7» t8 t9", "t1 t2 «t3» t4 t11"]
