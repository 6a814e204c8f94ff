"""LASSO calibration (docs/methods.md, LASSO): the n_eff estimate on planted autocorrelation,
the realized false-discovery proportion on data without dependence, negative dependence in the
screen, and q-values that rank edges by replicate count when the null selects nothing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.fdr import stratified_pvalues
from saegraph.ingest.edges.lasso.resample import effective_sample_size, order_by_sequence
from saegraph.ingest.edges.lasso.screen import screen_pairs
from saegraph.ingest.edges.lasso.stage import lasso_edges
from saegraph.ingest.edges.stats.moments import column_moments


def markov_firings(n_seq: int, length: int, n_features: int, p: float, rho: float, rng) -> sp.csr_matrix:
    """Binary two-state Markov chains within sequences: stationary firing rate p and lag-k
    autocorrelation rho^k (the AR(1) correlation structure), independent across features."""
    up = p * (1 - rho)  # P(fire | did not fire)
    stay = p + rho * (1 - p)  # P(fire | fired)
    state = rng.random((n_seq, n_features)) < p
    rows = [state.copy()]
    for _ in range(length - 1):
        u = rng.random((n_seq, n_features))
        state = np.where(state, u < stay, u < up)
        rows.append(state.copy())
    dense = np.stack(rows, axis=1).reshape(n_seq * length, n_features)  # sequence-major
    return sp.csr_matrix(dense.astype(np.float32))


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.6])
def test_n_eff_equals_the_ar1_value(rho):
    rng = np.random.default_rng(7)
    n_seq, length = 400, 64
    acts = markov_firings(n_seq, length, 60, 0.1, rho, rng)
    starts = np.arange(0, n_seq * length + 1, length)
    n_eff, info = effective_sample_size(acts, starts, "deflated")
    n = n_seq * length
    expected = n * (1 - rho) / (1 + rho)
    assert info["lag1Autocorrelation"] == pytest.approx(rho, abs=0.02)
    assert n_eff == pytest.approx(expected, rel=0.06)
    assert effective_sample_size(acts, starts, "sequences")[0] == n_seq


def test_screen_keeps_negative_pairs_that_never_cofire():
    # a and b exclude each other (never on the same token) and fire often: strong negative r,
    # zero co-firings; the co-firing floor applies to positive pairs only
    rng = np.random.default_rng(3)
    n = 4000
    which = rng.integers(0, 3, n)  # 0: a fires, 1: b fires, 2: neither
    dense = np.zeros((n, 3), np.float32)
    dense[which == 0, 0] = 1.0
    dense[which == 1, 1] = 1.0
    dense[:, 2] = (rng.random(n) < 0.3).astype(np.float32)
    x = sp.csr_matrix(dense)
    res = screen_pairs(
        x, column_moments(x), float(n), min_count=5, q=0.05, block_entries=1 << 12, min_abs_r=0.05
    )
    pairs = {(int(i), int(j)): float(r) for i, j, r in zip(res.i, res.j, res.r)}
    assert (0, 1) in pairs and pairs[(0, 1)] < -0.4
    assert (0, 2) not in pairs and (1, 2) not in pairs


def test_bound_tail_ranks_edges_when_the_null_selects_nothing():
    F = 20
    bins = np.zeros(F, np.int64)
    keys = np.array([1, 2, 3], np.int64)
    counts = np.array([1, 10, 30], np.int64)
    empty = np.zeros(0, np.int64)
    p_emp = stratified_pvalues(keys, counts, empty, empty, F, bins, 1, tail="empirical")
    p_bnd = stratified_pvalues(keys, counts, empty, empty, F, bins, 1, tail="bound")
    assert np.all(p_emp == p_emp[0])  # the empirical tail ties every edge at the floor
    np.testing.assert_allclose(p_bnd, p_emp / counts)  # the bound: 1/c of it


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_realized_fdp_on_independent_data(seed):
    # no dependence at all, Zipf-like rates and within-sequence persistence: every kept edge is
    # false, so the realized FDP is 1 if anything is kept; across seeds it must stay <= 1.5 q
    rng = np.random.default_rng(seed)
    n_seq, length, F = 300, 32, 60
    rates = 0.3 / np.arange(1, F + 1) ** 0.7
    cols = [markov_firings(n_seq, length, 1, float(p), 0.3, rng) for p in rates]
    acts = sp.hstack(cols).tocsr()
    acts.data = (acts.data * (1 + 0.2 * np.abs(rng.standard_normal(acts.data.size)))).astype(np.float32)
    seq = np.repeat(np.arange(n_seq), length)
    pos = np.tile(np.arange(length), n_seq)
    cfg = LassoConfig(replicates=8, frequency_strata=1)
    frame, stats = lasso_edges(acts, seq, pos, cfg, seed=seed)
    q = cfg.fdr_q
    fdp = float(len(frame) > 0)  # every edge here is a false discovery
    assert fdp <= 1.5 * q, frame
    assert stats["nEff"]["details"]["lag1Autocorrelation"] == pytest.approx(0.3, abs=0.05)


def test_order_by_sequence_keeps_ar1_rows():
    # guard for the fixture above: the Markov rows are already sequence-major
    rng = np.random.default_rng(0)
    acts = markov_firings(3, 4, 2, 0.5, 0.5, rng)
    seq = np.repeat(np.arange(3), 4)
    out, starts = order_by_sequence(acts, seq, np.tile(np.arange(4), 3))
    assert (out != acts).nnz == 0 and starts.tolist() == [0, 4, 8, 12]
