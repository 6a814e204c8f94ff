"""One replicate of the nodewise LASSO: from a token × feature matrix to an AND-rule graph.

Algorithm (docs/methods.md, LASSO; Meinshausen & Bühlmann 2006 neighbourhood selection):
1. ColumnMoments μ, σ, firings; drop features with < ``min_firings`` firings; features with
   density > ``dense_density`` become unpenalized covariates of every regression.
2. n_eff (``resample.effective_sample_size``: tokens deflated by the within-sequence lag-1
   autocorrelation, or the number of sequences) for the screen and for EBIC.
3. Fisher-z screen with BH over all pairs of node features, |r_ij| ≥ ``min_abs_correlation``,
   c_ij ≥ ``min_count`` for positive r only; top-k candidates per node (``screen``).
4. S at every pair inside each node block (second blocked pass), correlations
   r = (S/n − μ_i μ_j)/(σ_i σ_j); covariate correlations from AᵀA_dense.
5. Per node with at least one candidate: LASSO path on the block with warm starts, λ by EBIC
   (``solver``); a node without candidates can give no edge and is not fitted (``blocks``).
6. Coefficients with |β| < ``min_abs_coefficient`` are set to zero (the effect floor, applied
   alike to real and null replicates); AND rule: keep (i, j) when i selects j and j selects i;
   weight = the mean of the two signed coefficients (negative weights kept). Keys are
   i·F + j (i < j) in the SAE's latent index space.
The cost after step 3's S pass does not depend on the token count. Steps 1–3 are
``screen_candidates`` and steps 4 (from S at the block pairs) to 6 are ``fit_blocks``, both
shared with ``sufficient``, which screens once and feeds every replicate's S from
per-sequence sums instead. ``PendingReplicate`` is a replicate stopped before step 5 (its
``blocks.NodeBlocks``): ``solve`` finishes it here, or the stage solves its node ranges as
executor tasks (``node_blocks``) and calls ``finish`` with their coefficients in node order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.blocks import NodeBlocks, node_blocks, solve_blocks
from saegraph.ingest.edges.lasso.resample import effective_sample_size
from saegraph.ingest.edges.lasso.screen import (
    ScreenResult,
    block_pair_keys,
    gram_entries,
    screen_pairs,
    split_features,
    top_k_candidates,
)
from saegraph.ingest.edges.stats.moments import ColumnMoments, column_moments, select


@dataclass
class ReplicateEdges:
    keys: np.ndarray  # int64 i·F + j, i < j, AND-rule edges
    weights: np.ndarray  # mean signed coefficient of the two regressions
    info: dict = field(default_factory=dict)


def combine_directions(node_of: np.ndarray, cand: np.ndarray, coef: np.ndarray, n_features: int, rule: str):
    """Undirected edges from the nodewise selections (Meinshausen & Bühlmann 2006): ``and`` keeps
    a pair selected by both endpoints, ``or`` by either; (keys i·F + j with i < j, the mean of
    the nonzero coefficients)."""
    sel = coef != 0
    a, b, w = node_of[sel], cand[sel], coef[sel]
    keys = np.minimum(a, b) * n_features + np.maximum(a, b)
    order = np.argsort(keys, kind="stable")
    keys, w = keys[order], w[order]
    if rule == "and":
        both = np.flatnonzero(keys[1:] == keys[:-1])
        return keys[both], 0.5 * (w[both] + w[both + 1])
    unique, start, count = np.unique(keys, return_index=True, return_counts=True)
    return unique, np.add.reduceat(w, start) / count if unique.size else w[:0]


def dense_statistics(a_dense: sp.spmatrix, x: sp.csr_matrix, n: float, mean_d, sd_d, mean_x, sd_x):
    """Correlations of the dense covariates with the nodes ([d, nodes]) and among themselves ([d, d]).

    ``a_dense`` holds the covariates' columns over the same rows as ``x`` (rows outside a
    subsample may be zero-weighted: only the sums matter)."""
    d = a_dense.shape[1]
    if d == 0:
        return np.zeros((0, x.shape[1])), np.zeros((0, 0))
    a_t = sp.csr_matrix(a_dense.T)
    s_dx = np.asarray((a_t @ x).todense(), dtype=np.float64)
    s_dd = np.asarray((a_t @ a_t.T).todense(), dtype=np.float64)
    return dense_correlations(s_dx, s_dd, n, mean_d, sd_d, mean_x, sd_x)


def dense_correlations(s_dx: np.ndarray, s_dd: np.ndarray, n: float, mean_d, sd_d, mean_x, sd_x):
    """``dense_statistics`` from the cross-products S_dx = Σ a_d x ([d, nodes]) and S_dd ([d, d])."""
    dense_corr = (s_dx / n - np.outer(mean_d, mean_x)) / np.outer(sd_d, sd_x)
    dense_gram = (s_dd / n - np.outer(mean_d, mean_d)) / np.outer(sd_d, sd_d)
    return dense_corr, dense_gram


@dataclass
class BlockFit:
    local_keys: np.ndarray  # AND-rule edges as i·n_nodes + j (i < j) in the node index space
    weights: np.ndarray
    directed_selected: int
    mean_candidates: float


def fit_blocks(blocks: NodeBlocks, config: LassoConfig) -> BlockFit:
    """Steps 5 (solve) and 6 (AND rule) for the nodes of ``blocks`` (``blocks.node_blocks``
    builds them: step 4, S standardized at the block pairs)."""
    return directed_fit(blocks, solve_blocks(blocks, config), config.rule)


def directed_fit(blocks: NodeBlocks, coef: np.ndarray, rule: str) -> BlockFit:
    """Step 6 from the floored candidate coefficients of every fitted node (``solve_blocks``)."""
    node_of = np.repeat(blocks.nodes, np.diff(blocks.cand_ptr))
    local_keys, weights = combine_directions(node_of, blocks.cand_idx, coef, blocks.n_nodes, rule)
    mean_candidates = blocks.cand_idx.size / blocks.n_nodes if blocks.n_nodes else 0.0
    return BlockFit(local_keys, weights, int((coef != 0).sum()), float(mean_candidates))


@dataclass
class PendingReplicate:
    """A replicate up to step 5: its node blocks and its statistics so far."""

    blocks: NodeBlocks
    nodes: np.ndarray  # global ids of the node index space (sorted)
    n_features: int
    rule: str
    info: dict  # "directedSelected" (and "meanCandidates" when None) and seconds["solve"] follow

    def solve(self, config: LassoConfig) -> ReplicateEdges:
        """Steps 5–6 in this process."""
        t0 = time.perf_counter()
        coef = solve_blocks(self.blocks, config)
        return self.finish(coef, time.perf_counter() - t0)

    def finish(self, coef: np.ndarray, seconds: float) -> ReplicateEdges:
        """Step 6 from the coefficients of every fitted node, in node order."""
        fit = directed_fit(self.blocks, coef, self.rule)
        info = {**self.info, "seconds": dict(self.info["seconds"])}
        if info.get("meanCandidates") is None:
            info["meanCandidates"] = fit.mean_candidates
        info["directedSelected"] = fit.directed_selected
        info["nodesFitted"] = int(self.blocks.nodes.size)
        info["seconds"]["solve"] = round(seconds, 4)
        return to_global(fit, self.nodes, self.n_features, info)


@dataclass
class Screened:
    """Steps 1–3 on one dataset: the node columns, their screen and top-k candidates."""

    mom: ColumnMoments  # every column
    nodes: np.ndarray  # global ids of the node columns (sorted)
    dense: np.ndarray  # global ids of the dense covariates (sorted)
    n_eff: float
    n_eff_info: dict
    x: sp.csr_matrix  # [tokens, nodes], sorted indices
    node_mom: ColumnMoments  # the node columns' moments
    screen: ScreenResult
    cand_ptr: np.ndarray  # top-k candidates per node, CSR over the node index space
    cand_idx: np.ndarray
    seconds: dict  # "prepare" (steps 1–2), "screen" (step 3)


def screen_candidates(acts: sp.csr_matrix, seq_starts: np.ndarray, config: LassoConfig) -> Screened:
    """Steps 1–3: moments, firing floor and dense covariates, n_eff, Fisher-z BH screen, top-k."""
    t0 = time.perf_counter()
    mom = column_moments(acts)
    nodes, dense = split_features(mom, config.min_firings, config.dense_density)
    n_eff, n_eff_info = effective_sample_size(acts, seq_starts, config.n_eff)
    x = acts[:, nodes].tocsr()
    x.sort_indices()
    node_mom = select(mom, nodes)
    t_prepare = time.perf_counter() - t0
    t0 = time.perf_counter()
    screen = screen_pairs(
        x,
        node_mom,
        n_eff,
        min_count=config.min_count,
        q=config.screen_q,
        block_entries=config.block_entries,
        min_abs_r=config.min_abs_correlation,
    )
    cand_ptr, cand_idx = top_k_candidates(screen, nodes.size, config.candidates)
    return Screened(
        mom,
        nodes,
        dense,
        n_eff,
        n_eff_info,
        x,
        node_mom,
        screen,
        cand_ptr,
        cand_idx,
        {"prepare": t_prepare, "screen": time.perf_counter() - t0},
    )


def select_edges_once(acts: sp.csr_matrix, seq_starts: np.ndarray, config: LassoConfig) -> ReplicateEdges:
    """Steps 1–6 on one (real or null) replicate ``acts`` [tokens, F] with sequences ``seq_starts``."""
    return prepare_edges_once(acts, seq_starts, config).solve(config)


def prepare_edges_once(acts: sp.csr_matrix, seq_starts: np.ndarray, config: LassoConfig) -> PendingReplicate:
    """``select_edges_once`` up to step 5 (``PendingReplicate``)."""
    n, F = acts.shape
    sc = screen_candidates(acts, seq_starts, config)
    mom, nodes, dense, n_eff, x, sub_mom = sc.mom, sc.nodes, sc.dense, sc.n_eff, sc.x, sc.node_mom
    cand_ptr, cand_idx = sc.cand_ptr, sc.cand_idx
    timings = dict(sc.seconds)

    t0 = time.perf_counter()
    pair_keys = np.unique(block_pair_keys(cand_ptr, cand_idx, nodes.size))
    pair_s = gram_entries(x, pair_keys, block_entries=config.block_entries)
    dense_corr, dense_gram = dense_statistics(
        acts[:, dense], x, n, mom.mean[dense], mom.sd[dense], sub_mom.mean, sub_mom.sd
    )
    blocks = node_blocks(
        cand_ptr,
        cand_idx,
        pair_keys,
        pair_s,
        n,
        sub_mom.mean,
        sub_mom.sd,
        dense_corr,
        dense_gram,
        n_eff,
        nodes.size - 1,
    )
    timings["gram"] = time.perf_counter() - t0
    info = {
        "nTokens": int(n),
        "nSequences": int(seq_starts.size - 1),
        "nEff": float(n_eff),
        "nEffInfo": sc.n_eff_info,
        "nodes": int(nodes.size),
        "denseCovariates": [int(d) for d in dense],
        "screenPrefiltered": int(sc.screen.n_prefiltered),
        "screenPassed": int(sc.screen.i.size),
        "meanCandidates": None,
        "gramEntries": int(pair_keys.size),
        "directedSelected": None,
        "seconds": {k: round(v, 4) for k, v in timings.items()},
    }
    return PendingReplicate(blocks, nodes, F, config.rule, info)


def to_global(fit: BlockFit, nodes: np.ndarray, n_features: int, info: dict) -> ReplicateEdges:
    """The fit's node-space edges as global keys i·F + j (``nodes`` sorted, so i < j is kept)."""
    li, lj = fit.local_keys // max(nodes.size, 1), fit.local_keys % max(nodes.size, 1)
    keys = nodes[li].astype(np.int64) * n_features + nodes[lj]
    info["edges"] = int(keys.size)
    return ReplicateEdges(keys=keys, weights=fit.weights, info=info)
