"""Both tails of the co-firing test: exact p against scipy, exclusion edges, realized FDP."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats

from saegraph.ingest.config import CoactivationConfig
from saegraph.ingest.edges.coactivation.stage import coactivation_edges
from saegraph.ingest.edges.stats.hypergeom import (
    exclusion_family,
    log_min_lower_p,
    lower_pvalues,
    null_calibrated_threshold,
)
from saegraph.ingest.edges.stats.significance import hypergeom_pvalues, log_factorial_table

SMALL = [(60, 10, 20), (200, 30, 45), (500, 5, 490), (300, 150, 200), (1000, 1, 999), (80, 40, 40)]


@pytest.mark.parametrize("n_tokens,a,b", SMALL)
def test_both_tails_equal_scipy(n_tokens, a, b):
    lf = log_factorial_table(n_tokens)
    cs = np.arange(max(0, a + b - n_tokens), min(a, b) + 1)
    up = hypergeom_pvalues(cs, n_tokens, a, b)
    np.testing.assert_allclose(up, scipy.stats.hypergeom.sf(cs - 1, n_tokens, a, b), rtol=1e-8, atol=1e-300)
    low = lower_pvalues(cs, n_tokens, a, b, lf)
    np.testing.assert_allclose(low, scipy.stats.hypergeom.cdf(cs, n_tokens, a, b), rtol=1e-8, atol=1e-300)
    for omega in (0.6, 0.25):
        ref = scipy.stats.nchypergeom_fisher.cdf(cs, n_tokens, a, b, omega)
        np.testing.assert_allclose(lower_pvalues(cs, n_tokens, a, b, lf, omega), ref, rtol=1e-7, atol=1e-300)


def test_exclusion_family_is_tarone_gilbert():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 400, 120)
    n_tokens, q = 4000, 0.05
    lf = log_factorial_table(n_tokens)
    m, thr = exclusion_family(n, n_tokens, lf, q)
    i, j = np.triu_indices(n.size, 1)
    ok = n[i] + n[j] <= n_tokens
    bound = np.array([log_min_lower_p(n_tokens, int(n[a]), int(n[b]), lf) for a, b in zip(i, j, strict=True)])
    count = lambda t: int(((bound <= t) & ok).sum())  # noqa: E731
    K = round(q / np.exp(thr))
    assert m == count(thr) <= K
    assert count(np.log(q / (K - 1))) > K - 1  # K is the smallest such integer


def test_null_calibrated_threshold():
    real = np.array([1e-9, 1e-8, 1e-7, 1e-6, 1e-5])
    null = np.array([5e-7, 2e-6])
    assert null_calibrated_threshold(real, null, 1e-5, 0.25) == 1e-6  # 1 null / 4 real; 2 / 5 at 1e-5
    assert null_calibrated_threshold(real, null, 1e-5, 0.2) == 1e-7
    assert null_calibrated_threshold(real, np.zeros(0), 1e-5, 0.01) == 1e-5


def exclusive_acts(rng, n_tokens=30_000, n_free=40, seq_len=100):
    """Parents 0, 1 fire w.p. 0.3; each has 3 mutually exclusive children (one fires w.p. 0.6
    given its parent); features 8.. fire independently."""
    F = 8 + n_free
    b = np.zeros((n_tokens, F), bool)
    excl = []
    for p, kids in ((0, (2, 3, 4)), (1, (5, 6, 7))):
        b[:, p] = rng.random(n_tokens) < 0.3
        fire = b[:, p] & (rng.random(n_tokens) < 0.6)
        pick = rng.integers(0, 3, n_tokens)
        for n, k in enumerate(kids):
            b[:, k] = fire & (pick == n)
        excl += [(kids[x], kids[y]) for x in range(3) for y in range(x + 1, 3)]
    b[:, 8:] = rng.random((n_tokens, n_free)) < rng.uniform(0.01, 0.2, n_free)
    acts = sp.csr_matrix((b * rng.uniform(0.5, 2.0, b.shape)).astype(np.float32))
    return acts, np.arange(n_tokens) // seq_len, set(excl)


def test_planted_exclusive_pairs_recovered():
    acts, seqs, excl = exclusive_acts(np.random.default_rng(1))
    frame, stats, xframe = coactivation_edges(
        acts, CoactivationConfig(), sequence_ids=seqs, return_exclusions=True
    )
    got = set(zip(xframe["i"], xframe["j"], strict=True))
    assert excl <= got
    assert (xframe["count"] == 0).all() and (xframe["exclusion"] == 1.0).all()
    assert stats["excludes"]["kept"] == len(got)
    pos = set(zip(frame["i"], frame["j"], strict=True))
    assert {(0, k) for k in (2, 3, 4)} <= pos and {(1, k) for k in (5, 6, 7)} <= pos
    assert not (pos & excl)


def _fdp(pairs, truth: set) -> float:
    pairs = list(pairs)
    return sum(p not in truth for p in pairs) / max(len(pairs), 1)


@pytest.mark.parametrize("seed", range(4))
def test_no_dependence_realized_fdp(seed):
    """Independent features: every edge is false; over seeds the FDP stays <= 1.5 q on average."""
    rng = np.random.default_rng(100 + seed)
    n_tokens, F = 20_000, 80
    b = rng.random((n_tokens, F)) < rng.uniform(0.005, 0.3, F)
    acts = sp.csr_matrix(b.astype(np.float32))
    cfg = CoactivationConfig(fdr_q=0.1, min_phi=-1.0)  # no effect floor: the test alone is checked
    frame, _, xframe = coactivation_edges(
        acts, cfg, sequence_ids=np.arange(n_tokens) // 100, seed=seed, return_exclusions=True
    )
    # under the complete null BH's FDR is P(any rejection) <= q: allow a rare single false edge
    assert len(frame) + len(xframe) <= 1


def test_planted_realized_fdp_across_seeds():
    q = 0.05
    fdps = []
    for seed in range(5):
        acts, seqs, excl = exclusive_acts(np.random.default_rng(200 + seed), n_tokens=20_000)
        true_pos = {(0, k) for k in (2, 3, 4)} | {(1, k) for k in (5, 6, 7)}
        # siblings share a parent: dependent, not false
        frame, _, xframe = coactivation_edges(
            acts,
            CoactivationConfig(fdr_q=q, min_phi=-1.0),
            sequence_ids=seqs,
            seed=seed,
            return_exclusions=True,
        )
        dependent = true_pos | excl
        fdps.append(_fdp(zip(frame["i"], frame["j"], strict=True), dependent))
        fdps.append(_fdp(zip(xframe["i"], xframe["j"], strict=True), excl))
    assert np.mean(fdps) <= 1.5 * q


def test_top_k_off_by_default_and_config_checks():
    cfg = CoactivationConfig()
    assert cfg.top_k == 0 and cfg.min_phi == 0.1 and cfg.exclusion and cfg.null_calibrate
    with pytest.raises(ValueError):
        CoactivationConfig(exclusion_odds_ratio=1.5)
    with pytest.raises(ValueError):
        CoactivationConfig(top_k=-1)
