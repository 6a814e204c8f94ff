"""One replicate of the nodewise LASSO: from a token × feature matrix to an AND-rule graph.

Algorithm (METHODS.md §2, steps 3–6; Meinshausen & Bühlmann 2006 neighbourhood selection):
1. Moments μ, σ, firings; drop features with < ``min_firings`` firings; features with
   density > ``dense_density`` become unpenalized covariates of every regression.
2. n_eff (sequences, or autocorrelation-deflated tokens) for the screen and for EBIC.
3. Fisher-z screen with BH over all pairs of node features, c_ij ≥ ``min_count``; top-k
   candidates per node (``lasso_screen``).
4. S at every pair inside each node block (second blocked pass), correlations
   r = (S/n − μ_i μ_j)/(σ_i σ_j); covariate correlations from AᵀA_dense.
5. Per node: LASSO path on the block with warm starts, λ by EBIC (``lasso_solver``).
6. AND rule: keep (i, j) when i selects j and j selects i; weight = the mean of the two
   signed coefficients. Keys are i·F + j (i < j) in the SAE's latent index space.
The cost after step 3's S pass does not depend on the token count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ingest.config import LassoConfig
from ingest.edges.lasso_resample import effective_sample_size
from ingest.edges.lasso_screen import (
    assemble_blocks,
    block_pair_keys,
    column_moments,
    gram_entries,
    screen_pairs,
    split_features,
    top_k_candidates,
)
from ingest.edges.lasso_solver import solve_nodes


@dataclass
class ReplicateEdges:
    keys: np.ndarray  # int64 i·F + j, i < j, AND-rule edges
    weights: np.ndarray  # mean signed coefficient of the two regressions
    info: dict = field(default_factory=dict)


def _standardized(s_vals, n, mean_a, mean_b, sd_a, sd_b):
    return (s_vals / n - mean_a * mean_b) / (sd_a * sd_b)


def and_rule(node_of: np.ndarray, cand: np.ndarray, coef: np.ndarray, n_features: int):
    """Undirected edges selected by both endpoints: (keys i·F + j with i < j, mean coefficient)."""
    sel = coef != 0
    a, b, w = node_of[sel], cand[sel], coef[sel]
    keys = np.minimum(a, b) * n_features + np.maximum(a, b)
    order = np.argsort(keys, kind="stable")
    keys, w = keys[order], w[order]
    both = np.flatnonzero(keys[1:] == keys[:-1])
    return keys[both], 0.5 * (w[both] + w[both + 1])


def select_edges_once(acts: sp.csr_matrix, seq_starts: np.ndarray, config: LassoConfig) -> ReplicateEdges:
    """Steps 1–6 on one (real or null) replicate ``acts`` [tokens, F] with sequences ``seq_starts``."""
    timings = {}
    t0 = time.perf_counter()
    n, F = acts.shape
    mom = column_moments(acts)
    nodes, dense = split_features(mom, config.min_firings, config.dense_density)
    n_eff, n_eff_info = effective_sample_size(acts, seq_starts, config.n_eff)
    x = acts[:, nodes].tocsr()
    x.sort_indices()
    sub_mom = type(mom)(n=n, mean=mom.mean[nodes], sd=mom.sd[nodes], firings=mom.firings[nodes])
    timings["prepare"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    screen = screen_pairs(x, sub_mom, n_eff, min_count=config.min_count, q=config.screen_q,
                          block_entries=config.block_entries)
    cand_ptr, cand_idx = top_k_candidates(screen, nodes.size, config.candidates)
    timings["screen"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    entry_keys = block_pair_keys(cand_ptr, cand_idx, nodes.size)
    uniq, inverse = np.unique(entry_keys, return_inverse=True)
    s_vals = gram_entries(x, uniq, block_entries=config.block_entries)
    ui, uj = uniq // max(nodes.size, 1), uniq % max(nodes.size, 1)
    pair_corr = _standardized(s_vals, n, sub_mom.mean[ui], sub_mom.mean[uj], sub_mom.sd[ui], sub_mom.sd[uj])
    if dense.size:
        a_dense = acts[:, dense].tocsc()
        s_dx = np.asarray((a_dense.T @ x).todense(), dtype=np.float64)
        s_dd = np.asarray((a_dense.T @ a_dense).todense(), dtype=np.float64)
        md, sd_d = mom.mean[dense], mom.sd[dense]
        dense_corr = (s_dx / n - np.outer(md, sub_mom.mean)) / np.outer(sd_d, sub_mom.sd)
        dense_gram = (s_dd / n - np.outer(md, md)) / np.outer(sd_d, sd_d)
    else:
        dense_corr = np.zeros((0, nodes.size))
        dense_gram = np.zeros((0, 0))
    timings["gram"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    g_flat, g_off, b_flat, b_off, pen = assemble_blocks(cand_ptr, cand_idx, pair_corr[inverse], dense_corr,
                                                        dense_gram)
    beta, lam = solve_nodes(g_flat, g_off, b_flat, b_off, pen, n_lambdas=config.n_lambdas,
                            lambda_min_ratio=config.lambda_min_ratio, n_eff=n_eff,
                            n_predictors=max(nodes.size - 1, 1), ebic_gamma=config.ebic_gamma,
                            ebic_refit=config.ebic_refit)
    # coefficients of the candidates (the first k entries of each block; covariates follow)
    n_cand = np.diff(cand_ptr)
    first = b_off[:-1]
    take = np.repeat(first, n_cand) + (np.arange(cand_idx.size) - np.repeat(cand_ptr[:-1], n_cand))
    node_of = np.repeat(np.arange(nodes.size), n_cand)
    local_keys, weights = and_rule(node_of, cand_idx, beta[take], nodes.size)
    timings["solve"] = time.perf_counter() - t0

    li, lj = local_keys // max(nodes.size, 1), local_keys % max(nodes.size, 1)
    keys = nodes[li].astype(np.int64) * F + nodes[lj]  # nodes is sorted, so li < lj ⇒ global i < j
    info = {
        "nTokens": int(n),
        "nSequences": int(seq_starts.size - 1),
        "nEff": float(n_eff),
        "nEffInfo": n_eff_info,
        "nodes": int(nodes.size),
        "denseCovariates": [int(d) for d in dense],
        "screenPrefiltered": int(screen.n_prefiltered),
        "screenPassed": int(screen.i.size),
        "meanCandidates": float(n_cand.mean()) if n_cand.size else 0.0,
        "gramEntries": int(uniq.size),
        "directedSelected": int((beta[take] != 0).sum()),
        "edges": int(keys.size),
        "seconds": {k: round(v, 4) for k, v in timings.items()},
    }
    return ReplicateEdges(keys=keys, weights=weights, info=info)
