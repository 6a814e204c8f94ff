"""Co-activation edges against a dense brute-force reference and planted structure."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats

from saegraph.ingest.config import CoactivationConfig
from saegraph.ingest.edges.coactivation import kernel as kern
from saegraph.ingest.edges.coactivation.stage import (
    binary_pattern,
    coactivation_edges,
    cofiring_counts,
    effective_block_rows,
    sequence_segments,
    significant_candidates,
    top_k_per_node,
)
from saegraph.ingest.edges.stats.nulls import circular_shift_pattern
from saegraph.ingest.edges.stats.significance import (
    bh_qvalues,
    hypergeom_pvalues,
    log_factorial_table,
    pair_scores,
)


def random_acts(rng, n_tokens=3000, n_features=60, planted=((0, 1), (2, 3), (10, 40)), dens=(0.005, 0.06)):
    """Independent Bernoulli firings plus planted pairs where j copies half of i's firings."""
    d = rng.uniform(*dens, n_features)
    b = rng.random((n_tokens, n_features)) < d
    for i, j in planted:
        b[:, j] |= b[:, i] & (rng.random(n_tokens) < 0.6)
    vals = rng.uniform(0.1, 3.0, b.shape) * b
    return sp.csr_matrix(vals.astype(np.float32)), b


def dense_reference(b, vals, config: CoactivationConfig):
    """Every pair scored densely: counts, exact p (p=1 below min_count), scipy BH, floors, top-k."""
    n, f = b.shape
    bi = b.astype(np.int64)
    c_full = bi.T @ bi
    n_fires = bi.sum(axis=0)
    iu, ju = np.triu_indices(f, 1)
    c = c_full[iu, ju]
    p = np.ones(c.size)
    ok = c >= config.min_count
    p[ok] = scipy.stats.hypergeom.sf(c[ok] - 1, n, n_fires[iu[ok]], n_fires[ju[ok]])
    q = scipy.stats.false_discovery_control(p)
    sc = pair_scores(c, n_fires[iu], n_fires[ju], n)
    floors = (q <= config.fdr_q) & ok & (sc["npmi"] >= config.min_npmi)
    sel = np.flatnonzero(floors)
    # brute-force top-k per node (either endpoint)
    keep = set()
    for node in range(f):
        mine = [e for e in sel if iu[e] == node or ju[e] == node]
        mine.sort(key=lambda e: (-sc["npmi"][e], e))
        keep.update(mine[: config.top_k])
    sel = np.array(sorted(keep), dtype=np.int64)
    corr = np.corrcoef(vals.T.astype(np.float64))
    return {
        "i": iu[sel],
        "j": ju[sel],
        "count": c[sel],
        "pValue": p[sel],
        "qValue": q[sel],
        "npmi": sc["npmi"][sel],
        "jaccard": sc["jaccard"][sel],
        "phi": sc["phi"][sel],
        "pTargetGivenSource": sc["pTargetGivenSource"][sel],
        "pSourceGivenTarget": sc["pSourceGivenTarget"][sel],
        "pearson": corr[iu[sel], ju[sel]],
    }


def test_counts_equal_dense_reference_over_chunks_and_row_blocks(rng):
    acts, b = random_acts(rng, n_tokens=1500, n_features=70)
    ref = np.triu(b.T.astype(np.int64) @ b.astype(np.int64), 1)
    chunks = [acts[:400], acts[400:1100], acts[1100:]]
    assert np.array_equal(cofiring_counts(chunks, 70), ref)
    assert np.array_equal(cofiring_counts(iter(chunks), 70, rows=(13, 29)), ref[13:29])


def test_counts_ignore_nonpositive_entries():
    m = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [1.0, 1.0, 1.0]], dtype=np.float32))
    m.data[1] = 0.0  # an explicit stored zero does not fire
    assert cofiring_counts([m], 3).tolist() == [[0, 1, 1], [0, 0, 1], [0, 0, 0]]


def test_block_rows_are_cache_sized_and_capped_by_memory():
    assert effective_block_rows(131_072, 4096, 512) == 1024  # 128 passes would need 1024 rows: the cap
    assert effective_block_rows(131_072, 4096, 256) == 512  # memory wins over the pass limit
    assert effective_block_rows(16_384, 4096, 512) == 256  # 16 MiB of int32 counts
    assert effective_block_rows(16_384, 100, 512) == 100  # block_rows is an upper bound
    assert effective_block_rows(100, 4096, 512) == 100


def test_pvalues_equal_scipy_and_prescreen_never_drops_a_significant_pair(rng):
    acts, b = random_acts(rng, n_tokens=2000, n_features=50)
    indptr, indices = binary_pattern(acts)
    n_fires = b.sum(axis=0).astype(np.int64)
    q = 0.05
    cand, stats = significant_candidates(indptr, indices, n_fires, min_count=3, q=q, block_rows=7)
    c_full = b.T.astype(np.int64) @ b.astype(np.int64)
    iu, ju = np.triu_indices(50, 1)
    c = c_full[iu, ju]
    ok = c >= 3
    p = scipy.stats.hypergeom.sf(c[ok] - 1, 2000, n_fires[iu[ok]], n_fires[ju[ok]])
    expected = {(int(i), int(j)): pv for i, j, pv in zip(iu[ok], ju[ok], p) if pv <= q}
    got = dict(zip(zip(cand["i"].tolist(), cand["j"].tolist()), cand["p"].tolist()))
    assert set(got) == set(expected)
    for key, pv in expected.items():
        assert got[key] == pytest.approx(pv, rel=1e-9, abs=0)  # log-space tail sum vs boost's CDF
    assert stats["pairsWithMinCount"] == int(ok.sum())
    assert hypergeom_pvalues([5], 100, [10], [10])[0] == pytest.approx(
        scipy.stats.hypergeom.sf(4, 100, 10, 10)
    )


def test_prescreen_lower_bound_is_rigorous(rng):
    logfact = log_factorial_table(50_000)
    for _ in range(3000):
        n = int(rng.integers(50, 50_000))
        ni = int(rng.integers(1, n))
        nj = int(rng.integers(1, n))
        lo = max(1, ni + nj - n)
        hi = min(ni, nj)
        if lo > hi:
            continue
        c = int(rng.integers(lo, hi + 1))
        q = float(rng.choice([1e-4, 0.01, 0.05]))
        if not kern.tail_may_be_at_most(c, n, ni, nj, logfact, q):
            assert scipy.stats.hypergeom.sf(c - 1, n, ni, nj) > q


def test_bh_with_implicit_family_equals_scipy_on_full_vector(rng):
    m = 5000
    p_all = np.ones(m)
    small = rng.uniform(0, 0.02, 300) ** 2
    p_all[:300] = small
    p_all[300:1500] = rng.uniform(0.02, 1, 1200)
    q_ref = scipy.stats.false_discovery_control(p_all)
    listed = p_all <= 0.02
    q = bh_qvalues(p_all[listed], m)
    sig = q <= 0.02
    np.testing.assert_allclose(q[sig], q_ref[listed][sig], rtol=1e-12)
    assert np.array_equal(sig, q_ref[listed] <= 0.02)


def test_top_k_per_node_matches_brute_force(rng):
    i = rng.integers(0, 20, 200)
    j = rng.integers(0, 20, 200)
    keep_pairs = i < j
    i, j = i[keep_pairs], j[keep_pairs]
    score = rng.random(i.size)
    for mode in ("either", "both"):
        mask = top_k_per_node(i, j, score, 3, mode)
        top = {
            n: set(sorted([e for e in range(i.size) if n in (i[e], j[e])], key=lambda e: (-score[e], e))[:3])
            for n in range(20)
        }
        want = [(e in top[i[e]]) + (e in top[j[e]]) >= (2 if mode == "both" else 1) for e in range(i.size)]
        assert mask.tolist() == want


@pytest.mark.parametrize("top_k", [2, 32])
def test_pipeline_equals_dense_reference(rng, top_k):
    acts, b = random_acts(rng, n_tokens=3000, n_features=45)
    cfg = CoactivationConfig(
        min_count=3, fdr_q=0.05, min_npmi=0.05, top_k=top_k, block_rows=8, null_shift=False
    )
    frame, stats = coactivation_edges(acts, cfg)
    ref = dense_reference(b, acts.toarray(), cfg)
    assert frame["i"].tolist() == ref["i"].tolist() and frame["j"].tolist() == ref["j"].tolist()
    assert frame["count"].tolist() == ref["count"].tolist()
    for col in (
        "pValue",
        "qValue",
        "npmi",
        "jaccard",
        "phi",
        "pTargetGivenSource",
        "pSourceGivenTarget",
        "pearson",
    ):
        np.testing.assert_allclose(frame[col].to_numpy(), ref[col], rtol=1e-6, atol=1e-9, err_msg=col)
    assert stats["pairsTested"] == 45 * 44 // 2
    assert stats["kept"] == len(frame)


def test_planted_pairs_found_and_false_discoveries_within_fdr():
    q = 0.05
    fdp = []
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        planted = [(k, k + 40) for k in range(0, 20)]
        acts, _ = random_acts(rng, n_tokens=4000, n_features=80, planted=planted, dens=(0.01, 0.05))
        cfg = CoactivationConfig(fdr_q=q, min_npmi=-1.0, top_k=1000, null_shift=False)
        frame, _ = coactivation_edges(acts, cfg)
        found = set(zip(frame["i"], frame["j"]))
        assert set(planted) <= found
        fdp.append(len(found - set(planted)) / max(len(found), 1))
    assert np.mean(fdp) <= q


def test_circular_shift_null_keeps_counts_and_breaks_alignment(rng):
    n_seq, length = 40, 50
    acts, b = random_acts(rng, n_tokens=n_seq * length, n_features=30, planted=((0, 1), (5, 6)))
    seq = np.repeat(np.arange(n_seq), length)
    indptr, indices = binary_pattern(acts)
    bounds = sequence_segments(seq)
    nptr, nidx = circular_shift_pattern(indptr, indices, bounds, np.uint64(3))
    shifted = sp.csr_matrix((np.ones(nidx.size), nidx, nptr), shape=b.shape).toarray() > 0
    for s in range(n_seq):  # per sequence, each feature keeps its number of firings
        sl = slice(s * length, (s + 1) * length)
        assert np.array_equal(shifted[sl].sum(0), b[sl].sum(0))
    cfg = CoactivationConfig(min_count=3, fdr_q=0.01, top_k=32)
    frame, stats = coactivation_edges(acts, cfg, sequence_ids=seq, seed=3)
    assert {(0, 1), (5, 6)} <= set(zip(frame["i"], frame["j"]))
    assert stats["null"]["kept"] < stats["kept"]
    assert stats["null"]["nSegments"] == n_seq


@pytest.mark.parametrize("n_tokens", [500, 100_000, 1_000_000])
def test_hypergeom_tail_equals_scipy_across_regimes(n_tokens):
    """Tail recurrence (above the mode) and scipy fallback (at/below it) both equal scipy's sf."""
    rng = np.random.default_rng(n_tokens)
    m = 3000
    ni = rng.integers(1, max(2, n_tokens // 10), m)
    nj = rng.integers(1, max(2, n_tokens // 10), m)
    mean = ni * nj / n_tokens
    c = np.maximum(
        1, (mean + rng.normal(0, 3, m) * np.sqrt(mean + 1) + rng.exponential(4, m)).astype(np.int64)
    )
    c[:50] = np.minimum(ni[:50], nj[:50]) + 1  # beyond the support: p = 0
    got = hypergeom_pvalues(c, n_tokens, ni, nj)
    want = scipy.stats.hypergeom.sf(c - 1, n_tokens, ni, nj)
    assert np.all(got[:50] == 0)
    tiny = want < 1e-290  # both underflow towards 0 there
    np.testing.assert_allclose(got[~tiny], want[~tiny], rtol=1e-7, atol=0)
    assert np.all(got[tiny] < 1e-280)
