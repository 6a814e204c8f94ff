"""Screen once, refit per replicate: per-sequence sufficient statistics equal the subsample's own."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.blocks import node_blocks
from saegraph.ingest.edges.lasso.replicate import dense_statistics, fit_blocks, to_global
from saegraph.ingest.edges.lasso.resample import choose_sequences, effective_sample_size, order_by_sequence
from saegraph.ingest.edges.lasso.screen import block_pair_keys, gram_entries
from saegraph.ingest.edges.lasso.sufficient import (
    _alive_candidates,
    replicate_from_dataset,
    screen_dataset,
    sequence_column_sums,
    sequence_pair_sums,
)
from saegraph.ingest.edges.stats.moments import column_moments
from tests.helpers.lasso_synthetic import planted_activations


def random_sequences(rng, n_seq=40, max_len=12, F=15, density=0.3):
    lengths = rng.integers(1, max_len, n_seq)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    dense = rng.random((starts[-1], F)) * (rng.random((starts[-1], F)) < density)
    x = sp.csr_matrix(dense.astype(np.float32))
    x.sort_indices()
    return x, starts


@pytest.mark.parametrize("density", [0.15, 0.9])  # short partner lists vs long rows: both lookups
def test_sequence_pair_sums_equal_dense_reference(rng, density):
    x, starts = random_sequences(rng, density=density)
    D = x.toarray().astype(np.float64)
    F = D.shape[1]
    iu, ju = np.triu_indices(F, 1)
    keys = np.sort(rng.choice(iu * F + ju, 40, replace=False))
    got = sequence_pair_sums(x, starts, keys).toarray()
    for s in range(starts.size - 1):
        block = D[starts[s] : starts[s + 1]]
        want = (block[:, keys // F] * block[:, keys % F]).sum(0)
        np.testing.assert_allclose(got[s], want, rtol=1e-6, atol=1e-9)


def test_sequence_column_sums_equal_dense_reference(rng):
    x, starts = random_sequences(rng)
    columns = np.array([7, 0, 3, 12])  # any subset, in any order
    D = x.toarray().astype(np.float64)[:, columns]
    sums, squares, fired = (m.toarray() for m in sequence_column_sums(x, starts, columns))
    for s in range(starts.size - 1):
        block = D[starts[s] : starts[s + 1]]
        np.testing.assert_allclose(sums[s], block.sum(0), rtol=1e-6)
        np.testing.assert_allclose(squares[s], (block**2).sum(0), rtol=1e-6)
        np.testing.assert_array_equal(fired[s], (block > 0).sum(0))


def direct_replicate(acts, starts, ds, chosen, cfg):
    """The replicate computed from the subsampled rows themselves, with the dataset's candidates."""
    rows = np.concatenate([np.arange(starts[c], starts[c + 1]) for c in chosen])
    sub = acts[rows]
    sub_starts = np.concatenate([[0], np.cumsum(starts[chosen + 1] - starts[chosen])])
    mom = column_moments(sub)
    n_eff, _ = effective_sample_size(sub, sub_starts, cfg.n_eff)
    alive = (mom.firings[ds.nodes] >= cfg.min_firings) & (mom.sd[ds.nodes] > 0)
    cand_ptr, cand_idx = _alive_candidates(ds.cand_ptr, ds.cand_idx, alive)
    keys = np.unique(block_pair_keys(cand_ptr, cand_idx, ds.nodes.size))
    x = sub[:, ds.nodes].tocsr()
    x.sort_indices()
    s_vals = gram_entries(x, keys, block_entries=1 << 20)
    with np.errstate(divide="ignore", invalid="ignore"):
        dense_corr, dense_gram = dense_statistics(
            sub[:, ds.dense],
            x,
            sub.shape[0],
            mom.mean[ds.dense],
            mom.sd[ds.dense],
            mom.mean[ds.nodes],
            mom.sd[ds.nodes],
        )
        blocks = node_blocks(
            cand_ptr,
            cand_idx,
            keys,
            s_vals,
            sub.shape[0],
            mom.mean[ds.nodes],
            mom.sd[ds.nodes],
            dense_corr,
            dense_gram,
            n_eff,
            int(alive.sum()) - 1,
        )
        fit = fit_blocks(blocks, cfg)
    return to_global(fit, ds.nodes, acts.shape[1], {}), n_eff, int(alive.sum())


@pytest.mark.parametrize("n_eff", ["sequences", "deflated"])
def test_replicate_from_statistics_equals_refit_on_the_subsample(n_eff):
    d = planted_activations(300, 16, 40, l0=4, n_trees=2, n_pairs=4, planted_rate=0.08, seed=3)
    # dense covariates present, and a firing floor that drops some nodes in half of the data
    cfg = LassoConfig(dense_density=0.05, candidates=4, min_firings=30, n_eff=n_eff)
    acts, starts = order_by_sequence(d.acts, d.sequence_ids, d.positions)
    ds = screen_dataset(acts, starts, cfg)
    assert ds.dense.size > 0 and ds.pair_keys.size > 0
    dropped_somewhere = False
    for seed in range(4):
        chosen = choose_sequences(starts.size - 1, 0.5, np.random.default_rng(seed))
        rep = replicate_from_dataset(ds, chosen, cfg)
        ref, ref_n_eff, ref_nodes = direct_replicate(acts, starts, ds, chosen, cfg)
        assert rep.info["nodes"] == ref_nodes and abs(rep.info["nEff"] - ref_n_eff) < 1e-6 * ref_n_eff
        dropped_somewhere |= ref_nodes < ds.nodes.size
        np.testing.assert_array_equal(rep.keys, ref.keys)
        np.testing.assert_allclose(rep.weights, ref.weights, atol=1e-6)
        assert rep.keys.size > 0
    assert dropped_somewhere  # the per-replicate firing floor was exercised


def test_null_dataset_screens_its_own_candidates():
    from saegraph.ingest.edges.lasso.stage import matched_null, null_rng

    d = planted_activations(300, 16, 40, l0=4, n_trees=2, n_pairs=4, planted_rate=0.08, seed=3)
    cfg = LassoConfig(dense_density=1.0, candidates=4, min_firings=10)
    acts, starts = order_by_sequence(d.acts, d.sequence_ids, d.positions)
    null = matched_null(acts, starts, "circular_shift", null_rng(0, "s"))
    real_ds, null_ds = screen_dataset(acts, starts, cfg), screen_dataset(null, starts, cfg)
    # same firing counts per latent, far fewer screened pairs once alignment is broken
    np.testing.assert_array_equal(column_moments(acts).firings, column_moments(null).firings)
    assert null_ds.info["screenPassed"] < real_ds.info["screenPassed"] / 3


def test_memory_cap_falls_back_to_screening_every_replicate(caplog):
    from saegraph.ingest.edges.lasso.stage import lasso_edges

    d = planted_activations(200, 16, 40, l0=4, n_trees=2, n_pairs=4, planted_rate=0.08, seed=3)
    args = (d.acts, d.sequence_ids, d.positions)
    capped, stats = lasso_edges(
        *args, LassoConfig(replicates=3, frequency_strata=1, keep="all", max_sequence_pair_entries=1), seed=1
    )
    literal, _ = lasso_edges(
        *args, LassoConfig(replicates=3, frequency_strata=1, keep="all", screen="per_replicate"), seed=1
    )
    assert "per_replicate" in stats["screen"]["fallback"] and "max_sequence_pair_entries" in caplog.text
    assert stats["screen"]["scope"] == "per_replicate" and "afresh" in stats["null"]["name"]
    assert len(capped) > 0 and capped.equals(literal)
