"""The EXCLUDES encoder-competition null (``coactivation.encoder_null``; docs/methods.md): the
samples and shares equal direct computations, and on an SAE whose encoder makes two latents of
independent features compete, the plain test reports an exclusion the null removes, while a
planted exclusive pair stays an EXCLUDES edge."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from saegraph.ingest.config import CoactivationConfig
from saegraph.ingest.edges.coactivation.encoder_null import (
    EncoderGeometry,
    adjust_exclusion_pvalues,
    competition_shares,
    firing_samples,
)
from saegraph.ingest.edges.coactivation.stage import coactivation_edges
from saegraph.ingest.edges.stats.hypergeom import lower_pvalues
from saegraph.ingest.edges.stats.significance import log_factorial_table


def _geometry(F: int, d: int, rule: str, seed: int = 0) -> EncoderGeometry:
    rng = np.random.default_rng(seed)
    return EncoderGeometry(
        w_enc=rng.standard_normal((F, d)).astype(np.float32),
        w_dec=rng.standard_normal((F, d)).astype(np.float32),
        rule=rule,
        threshold=rng.uniform(0.0, 0.2, F).astype(np.float32),
    )


@pytest.mark.parametrize("rule", ["relu", "jumprelu", "topk"])
def test_samples_are_evenly_spaced_firings_with_their_margins(rule):
    rng = np.random.default_rng(1)
    dense = rng.uniform(0.1, 2.0, (400, 6)) * (rng.random((400, 6)) < 0.4)
    acts = sp.csr_matrix(dense.astype(np.float32))
    geo = _geometry(6, 4, rule)
    fires = (dense > 0).sum(0)
    got_a, got_m, taken = firing_samples([acts[:150], acts[150:]], fires, geo, max_samples=16)
    for f in range(6):
        rows = np.flatnonzero(dense[:, f] > 0)
        stride = -(-fires[f] // 16)
        pick = rows[::stride][:16]
        assert taken[f] == pick.size
        np.testing.assert_allclose(got_a[f, : pick.size], dense[pick, f].astype(np.float32))
        if rule == "relu":
            floor = np.zeros(pick.size)
        elif rule == "jumprelu":
            floor = np.full(pick.size, geo.threshold[f])
        else:  # k unknown: the token's smallest stored activation
            floor = np.array([dense[t][dense[t] > 0].min() for t in pick])
        want = np.maximum(dense[pick, f] - floor, 0.0)
        np.testing.assert_allclose(got_m[f, : pick.size], want, rtol=1e-5, atol=1e-6)


def test_topk_tokens_short_of_k_use_the_store_threshold():
    # k = 3: a token holding 3 activations drops out at its smallest; one holding 2 at tau
    acts = sp.csr_matrix(np.array([[1.0, 2.0, 3.0, 0.0], [0.0, 2.0, 0.0, 5.0]], np.float32))
    geo = EncoderGeometry(
        w_enc=np.eye(4, 3, dtype=np.float32),
        w_dec=np.eye(4, 3, dtype=np.float32),
        rule="topk",
        k=3,
        floor=0.5,
    )
    a, m, taken = firing_samples([acts], np.array([1, 2, 1, 1]), geo, max_samples=4)
    assert taken.tolist() == [1, 2, 1, 1]
    np.testing.assert_allclose(m[1, :2], [2.0 - 1.0, 2.0 - 0.5])  # token 0: floor 1.0; token 1: tau
    np.testing.assert_allclose(m[3, :1], [5.0 - 0.5])


def test_geometry_rejects_mismatched_shapes():
    w = np.zeros((5, 3), np.float32)
    with pytest.raises(ValueError, match="differ in shape"):
        EncoderGeometry(w_enc=w, w_dec=np.zeros((5, 4), np.float32), rule="relu")
    with pytest.raises(ValueError, match="thresholds"):
        EncoderGeometry(w_enc=w, w_dec=w, rule="jumprelu", threshold=np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="rule"):
        EncoderGeometry(w_enc=w, w_dec=w, rule="gated")


def test_shares_equal_the_direct_product_over_sample_pairs():
    rng = np.random.default_rng(2)
    F, M = 8, 12
    geo = _geometry(F, 5, "relu", seed=3)
    acts = rng.uniform(0.1, 3.0, (F, M)).astype(np.float32)
    margins = (acts - rng.uniform(0.0, 1.0, (F, M))).astype(np.float32)
    taken = rng.integers(0, M + 1, F)
    i, j = np.triu_indices(F, 1)
    got = competition_shares(geo, (acts, margins, taken), i, j)
    for e, (a, b) in enumerate(zip(i, j)):
        if taken[a] == 0 or taken[b] == 0:
            assert got[e] == 1.0
            continue
        g_ab = float(geo.w_enc[a].astype(np.float64) @ geo.w_dec[b])
        g_ba = float(geo.w_enc[b].astype(np.float64) @ geo.w_dec[a])
        ma, aa = margins[a, : taken[a]][:, None], acts[a, : taken[a]][:, None]
        mb, ab = margins[b, : taken[b]][None, :], acts[b, : taken[b]][None, :]
        expected = ((ma + ab * g_ab > 0) & (mb + aa * g_ba > 0)).mean()
        assert got[e] == pytest.approx(expected)


def test_adjusted_pvalues_use_the_scaled_odds_ratio():
    N = 5000
    logfact = log_factorial_table(N)
    fires = np.array([900, 800, 700])
    cands = {
        "i": np.array([0, 0]),
        "j": np.array([1, 2]),
        "c": np.array([40, 60]),
        "p": np.array([1e-9, 1e-6]),
    }
    pi = np.array([0.5, 1.0])
    out = adjust_exclusion_pvalues(cands, pi, fires, N, logfact, 0.6)
    want = lower_pvalues(cands["c"], N, fires[[0, 0]], fires[[1, 2]], logfact, np.array([0.3, 0.6]))
    np.testing.assert_allclose(out["p"], np.maximum(want, cands["p"]))
    assert out["p"][0] > cands["p"][0]


def _competing_sae_data(n_tokens: int = 30000, seed: int = 0):
    """Four features, i.i.d. tokens: f0, f1 independent (rate 0.25 each); f2, f3 mutually exclusive
    (each 0.2, never together). Decoder = the feature directions (orthonormal); ReLU encoder rows
    w0 = d0 - 1.5 d1 and w1 = d1 - 1.5 d0 (latents 0 and 1 switch each other off when both
    features are present), w2 = d2, w3 = d3."""
    rng = np.random.default_rng(seed)
    d = 6
    dec = np.eye(4, d, dtype=np.float32)
    enc = dec.copy()
    enc[0] -= 1.5 * dec[1]
    enc[1] -= 1.5 * dec[0]
    on = np.zeros((n_tokens, 4), bool)
    on[:, 0] = rng.random(n_tokens) < 0.25
    on[:, 1] = rng.random(n_tokens) < 0.25
    u = rng.random(n_tokens)
    on[:, 2], on[:, 3] = u < 0.2, (u >= 0.2) & (u < 0.4)
    mags = rng.uniform(0.5, 1.5, (n_tokens, 4)) * on
    x = mags @ dec
    acts = np.maximum(x @ enc.T, 0.0).astype(np.float32)
    seqs = np.repeat(np.arange(n_tokens // 100), 100)
    return sp.csr_matrix(acts), seqs, EncoderGeometry(w_enc=enc, w_dec=dec, rule="relu")


def test_encoder_competition_is_not_an_exclusion_but_a_planted_one_is():
    acts, seqs, geo = _competing_sae_data()
    cfg = CoactivationConfig()
    _, _, plain = coactivation_edges(acts, cfg, sequence_ids=seqs, return_exclusions=True)
    _, stats, adjusted = coactivation_edges(acts, cfg, sequence_ids=seqs, return_exclusions=True, encoder=geo)
    pairs = lambda f: set(zip(f["i"].tolist(), f["j"].tolist()))  # noqa: E731
    assert (0, 1) in pairs(plain)  # the encoder's competition looks like an exclusion
    assert (0, 1) not in pairs(adjusted)  # the null removes it
    assert (2, 3) in pairs(plain) and (2, 3) in pairs(adjusted)  # the data's exclusion stays
    enc = stats["excludes"]["encoderNull"]
    assert enc["applied"] and enc["rule"] == "relu" and enc["candidates"] >= 2
    assert enc["competitionShare"]["min"] < 0.5  # the competing pair's share
    assert enc["candidatesStillAtQ"] < enc["candidates"]


def test_without_an_encoder_the_stats_say_so():
    acts, seqs, _ = _competing_sae_data(n_tokens=4000)
    _, stats, _ = coactivation_edges(acts, CoactivationConfig(), sequence_ids=seqs, return_exclusions=True)
    assert stats["excludes"]["encoderNull"]["applied"] is False
    off = CoactivationConfig(encoder_null=False)
    _, stats, _ = coactivation_edges(
        acts, off, sequence_ids=seqs, return_exclusions=True, encoder=_geometry(4, 6, "relu")
    )
    assert "encoder_null = false" in stats["excludes"]["encoderNull"]["reason"]
