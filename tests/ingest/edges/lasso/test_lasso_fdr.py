"""The LASSO stage's kept set (docs/methods.md, LASSO, "Kept set"): target-decoy q-values equal a
brute-force reference, and the decoy cut keeps edges seen in every replicate when the null
selects many edges a few times each, where BH over all pairs keeps none."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.fdr import decoy_qvalues, edge_table


def reference_decoy_q(p_real: np.ndarray, p_null: np.ndarray) -> np.ndarray:
    """q_e = min over every threshold t >= p_e (all reals and nulls) of (1 + #null <= t) / #real <= t."""
    thresholds = np.unique(np.concatenate([p_real, p_null]))
    q = np.ones(p_real.size)
    for e, pe in enumerate(p_real):
        for t in thresholds[thresholds >= pe]:
            q[e] = min(q[e], (1.0 + (p_null <= t).sum()) / (p_real <= t).sum())
    return q


@pytest.mark.parametrize("seed", range(6))
def test_decoy_qvalues_equal_the_reference(seed):
    rng = np.random.default_rng(seed)
    p_real = np.round(rng.beta(0.3, 2.0, size=int(rng.integers(1, 60))), 2)  # ties on purpose
    p_null = np.round(rng.uniform(size=int(rng.integers(0, 40))), 2)
    np.testing.assert_allclose(decoy_qvalues(p_real, p_null), reference_decoy_q(p_real, p_null))


def test_decoy_q_is_monotone_in_p_and_empty_safe():
    assert decoy_qvalues(np.zeros(0), np.ones(3)).size == 0
    p = np.array([0.5, 0.01, 0.2, 0.01])
    q = decoy_qvalues(p, np.array([0.3]))
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(q[order]) >= 0)


def _replicates(edge_counts: dict[int, int], R: int) -> list:
    """R replicate objects whose keys hold edge k in the first edge_counts[k] replicates."""
    out = []
    for r in range(R):
        keys = np.array(sorted(k for k, c in edge_counts.items() if c > r), np.int64)
        out.append(SimpleNamespace(keys=keys, weights=np.full(keys.size, 0.3)))
    return out


def test_decoy_keeps_stable_edges_that_bh_misses():
    # the demo's layer-5 shape: 200 real edges seen in all 10 replicates, 4 null edges seen in all
    # 10, and 3,000 null edges seen once each (many rare null selections). The truncated-Markov
    # p of a 10-of-10 edge charges every rare null selection against it, so BH over the ~2M
    # eligible pairs keeps nothing; the decoy estimate (1 + 4) / 200 = 0.025 <= 0.05 keeps them.
    F, R = 2000, 10
    rng = np.random.default_rng(0)
    pairs = rng.choice(F * F, size=6000, replace=False)
    pairs = np.unique(np.minimum(pairs // F, pairs % F) * F + np.maximum(pairs // F, pairs % F))
    pairs = pairs[pairs // F != pairs % F]
    real_keys, null_stable, null_rare = pairs[:200], pairs[200:204], pairs[204:3204]
    real = _replicates({int(k): R for k in real_keys}, R)
    null_counts = {int(k): R for k in null_stable} | {int(k): 1 for k in null_rare}
    null = _replicates(null_counts, R)
    firings = np.full(F, 100)
    kept = {}
    for control in ("bh", "decoy"):
        cfg = LassoConfig(replicates=R, frequency_strata=1, fdr_control=control)
        frame, *_ = edge_table(real, null, firings, F, cfg)
        kept[control] = int((frame["qValue"] <= cfg.fdr_q).sum())
        if control == "decoy":
            np.testing.assert_allclose(frame["qValue"], 5 / 200)
    assert kept == {"bh": 0, "decoy": 200}


def test_decoy_keeps_nothing_when_the_null_matches_the_real_counts():
    # real and null edges with the same replicate-count distribution (on other pairs): nothing kept
    F, R = 500, 8
    rng = np.random.default_rng(1)
    counts = {j: int(c) for j, c in zip(range(1, 300), rng.integers(1, R + 1, size=299))}  # pairs (0, j)
    shifted = {F + k + 1: c for k, c in counts.items()}  # pairs (1, j + 1): other pairs, same counts
    cfg = LassoConfig(replicates=R, frequency_strata=1)
    frame, *_ = edge_table(_replicates(counts, R), _replicates(shifted, R), np.full(F, 50), F, cfg)
    assert len(frame) == 299 and (frame["qValue"] <= cfg.fdr_q).sum() == 0


@pytest.mark.parametrize("tail", ["bound", "empirical"])
def test_decoy_ranks_real_and_null_edges_by_one_stratified_p(tail):
    # two frequency strata: the edge table's q-values are the decoy q of the stratified p-values,
    # the null's own edges ranked against the null's counts by the same formula
    from saegraph.ingest.edges.lasso.fdr import frequency_bins, stratified_pvalues

    F, R = 300, 6
    rng = np.random.default_rng(4)
    firings = rng.integers(10, 500, F)
    keys = rng.choice(F * F, size=900, replace=False)
    keys = np.unique(np.minimum(keys // F, keys % F) * F + np.maximum(keys // F, keys % F))
    keys = keys[keys // F != keys % F]
    real_c = {int(k): int(c) for k, c in zip(keys[:250], rng.integers(1, R + 1, 250))}
    null_c = {int(k): int(c) for k, c in zip(keys[250:400], rng.integers(1, 3, 150))}
    cfg = LassoConfig(replicates=R, frequency_strata=2, null_tail=tail)
    frame, counts, ncounts, *_, decoy = edge_table(
        _replicates(real_c, R), _replicates(null_c, R), firings, F, cfg
    )
    bins = frequency_bins(firings, cfg.min_firings, 2)
    rk = np.array(sorted(real_c), np.int64)
    nk = np.array(sorted(null_c), np.int64)
    rc = np.array([real_c[k] for k in rk])
    nc = np.array([null_c[k] for k in nk])
    p_real = stratified_pvalues(rk, rc, nk, nc, F, bins, 2, tail=tail)
    p_null = stratified_pvalues(nk, nc, nk, nc, F, bins, 2, tail=tail)
    np.testing.assert_allclose(frame["pValue"], p_real)
    np.testing.assert_allclose(frame["qValue"], reference_decoy_q(p_real, p_null))
    kept = frame["qValue"] <= cfg.fdr_q
    if kept.any():
        cut = frame["pValue"][kept].max()
        assert decoy == {"cutPValue": cut, "nullEdgesAtCut": int((p_null <= cut).sum())}
        assert (1 + decoy["nullEdgesAtCut"]) / (frame["pValue"] <= cut).sum() <= cfg.fdr_q
