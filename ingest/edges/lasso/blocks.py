"""One replicate's nodewise fits as node blocks: what the solver needs, for all nodes or a range.

A replicate regresses every node on its screened candidates plus the dense covariates
(docs/methods.md, LASSO). Only the candidates' coefficients are read afterwards (the AND/OR
rule, ``replicate.combine_directions``): the covariates are unpenalised nuisance terms and
never edges. So a node without candidates (none passed the screen, or none is alive in the
replicate's subsample) can give no edge, and its fit, a whole λ path with EBIC on the
covariates alone, is skipped; on data with dense latents that fit was most of the cost.

Algorithm:
1. ``node_blocks``: standardise S at the block pairs (r = (S/n − μ_i μ_j)/(σ_i σ_j)) in block
   row-major order (``screen.block_pair_keys``), keep the nodes with at least one candidate
   (a node without candidates has no entries, so every array is unchanged) and the dense
   covariates' correlations with the nodes that appear in a kept block.
2. ``NodeBlocks.select(lo, hi)``: the blocks of the nodes lo <= v < hi, a contiguous slice of
   every array (covariate columns restricted to the nodes it uses): one node-block task's input.
3. ``solve_blocks``: lay out the Gram blocks (``screen.assemble_blocks``), run the λ paths with
   EBIC (``solver.solve_nodes``), read each node's candidate coefficients and apply the effect
   floor ``min_abs_coefficient``. A node's fit depends on its own block only, so a range's
   coefficients equal those of its nodes in one fit of every node, bit for bit.
4. ``node_ranges``: at most ``n`` contiguous ranges of node ids covering the kept nodes, cut
   where the estimated solver cost Σ p² (p = candidates + covariates) reaches each n-th.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.screen import assemble_blocks, block_pair_keys
from saegraph.ingest.edges.lasso.solver import solve_nodes


def standardized(s_vals, n, mean_a, mean_b, sd_a, sd_b):
    """Correlations from the cross-products S over n rows and the columns' moments."""
    return (s_vals / n - mean_a * mean_b) / (sd_a * sd_b)


@dataclass
class NodeBlocks:
    """The nodes with candidates of one replicate (step 1) or a range of them (step 2)."""

    n_nodes: int  # size of the node index space (every node of the replicate's dataset)
    nodes: np.ndarray  # int64 ids of the nodes with >= 1 candidate, ascending
    cand_ptr: np.ndarray  # int64 candidates of nodes[v] at cand_idx[cand_ptr[v]:cand_ptr[v + 1]]
    cand_idx: np.ndarray  # int64 candidate ids (node index space)
    entry_ptr: np.ndarray  # int64 block entries of nodes[v] at entry_corr[entry_ptr[v]:entry_ptr[v + 1]]
    entry_corr: np.ndarray  # float64 correlation of every pair inside every block, block row-major
    columns: np.ndarray  # int64 node ids of dense_corr's columns, ascending (empty without covariates)
    dense_corr: np.ndarray  # float64 [covariates, columns]
    dense_gram: np.ndarray  # float64 [covariates, covariates]
    n_eff: float
    n_predictors: int  # p of EBIC (node latents of the replicate − 1)

    @property
    def nbytes(self) -> int:
        arrays = (self.nodes, self.cand_ptr, self.cand_idx, self.entry_ptr, self.entry_corr, self.columns)
        return sum(a.nbytes for a in arrays) + self.dense_corr.nbytes + self.dense_gram.nbytes

    def n_coefficients(self, lo: int, hi: int) -> int:
        """Candidates of the nodes with lo <= id < hi (the coefficients of ``select(lo, hi)``)."""
        a, b = np.searchsorted(self.nodes, [lo, hi])
        return int(self.cand_ptr[b] - self.cand_ptr[a])

    def select(self, lo: int, hi: int) -> NodeBlocks:
        """Step 2: the blocks of the nodes with lo <= id < hi."""
        a, b = (int(x) for x in np.searchsorted(self.nodes, [lo, hi]))
        c0, c1 = int(self.cand_ptr[a]), int(self.cand_ptr[b])
        e0, e1 = int(self.entry_ptr[a]), int(self.entry_ptr[b])
        nodes, cand_idx = self.nodes[a:b], self.cand_idx[c0:c1]
        columns, dense_corr = _dense_columns(self.columns, self.dense_corr, nodes, cand_idx)
        return NodeBlocks(
            self.n_nodes,
            nodes.copy(),
            self.cand_ptr[a : b + 1] - c0,
            cand_idx.copy(),
            self.entry_ptr[a : b + 1] - e0,
            self.entry_corr[e0:e1].copy(),
            columns,
            dense_corr,
            self.dense_gram,
            self.n_eff,
            self.n_predictors,
        )


def _dense_columns(columns: np.ndarray, dense_corr: np.ndarray, nodes: np.ndarray, cand_idx: np.ndarray):
    """The covariate correlations of the nodes and candidates used (``columns`` ascending)."""
    if dense_corr.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros((0, 0))
    used = np.unique(np.concatenate([nodes, cand_idx]))
    return used, np.ascontiguousarray(dense_corr[:, np.searchsorted(columns, used)])


def block_nodes(cand_ptr: np.ndarray, cand_idx: np.ndarray) -> np.ndarray:
    """The ids of the nodes in some block (a node with candidates, or a candidate), ascending:
    the only columns of the covariates' correlations that a fit reads."""
    owners = np.flatnonzero(np.diff(cand_ptr) > 0)
    return np.unique(np.concatenate([owners, np.asarray(cand_idx, dtype=np.int64)]))


def node_blocks(
    cand_ptr,
    cand_idx,
    pair_keys,
    pair_s,
    n,
    mean,
    sd,
    dense_corr,
    dense_gram,
    n_eff: float,
    n_predictors: int,
    columns: np.ndarray | None = None,
) -> NodeBlocks:
    """Step 1 for nodes 0..len(cand_ptr)−2: ``pair_keys`` are the sorted unique block pair keys
    min·n_nodes + max and ``pair_s`` S at them; ``mean``/``sd`` the nodes' moments over ``n``
    rows; ``dense_corr`` [covariates, columns], ``columns`` ascending node ids holding at least
    ``block_nodes`` (default: every node)."""
    n_nodes = cand_ptr.size - 1
    entry_keys = block_pair_keys(cand_ptr, cand_idx, n_nodes)
    slot = np.searchsorted(pair_keys, entry_keys)
    ui, uj = pair_keys // max(n_nodes, 1), pair_keys % max(n_nodes, 1)
    pair_corr = standardized(pair_s, n, mean[ui], mean[uj], sd[ui], sd[uj])
    n_cand = np.diff(cand_ptr)
    kept = np.flatnonzero(n_cand > 0)
    counts = n_cand[kept].astype(np.int64)
    cand_idx = np.asarray(cand_idx, dtype=np.int64)
    held = np.arange(n_nodes, dtype=np.int64) if columns is None else np.asarray(columns, dtype=np.int64)
    columns, dense_corr = _dense_columns(held, np.asarray(dense_corr), kept, cand_idx)
    return NodeBlocks(
        n_nodes,
        kept.astype(np.int64),
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        cand_idx,
        np.concatenate([[0], np.cumsum(counts * (counts + 1) // 2)]).astype(np.int64),
        np.asarray(pair_corr[slot], dtype=np.float64),
        columns,
        dense_corr,
        np.asarray(dense_gram, dtype=np.float64),
        float(n_eff),
        int(n_predictors),
    )


def solve_blocks(blocks: NodeBlocks, config: LassoConfig) -> np.ndarray:
    """Step 3: the floored coefficients of every node's candidates, aligned with ``cand_idx``."""
    if blocks.nodes.size == 0:
        return np.zeros(0, dtype=np.float64)
    g_flat, g_off, b_flat, b_off, pen = assemble_blocks(
        blocks.cand_ptr,
        np.searchsorted(blocks.columns, blocks.cand_idx),
        blocks.entry_corr,
        blocks.dense_corr,
        blocks.dense_gram,
        targets=np.searchsorted(blocks.columns, blocks.nodes),
    )
    beta, _ = solve_nodes(
        g_flat,
        g_off,
        b_flat,
        b_off,
        pen,
        n_lambdas=config.n_lambdas,
        lambda_min_ratio=config.lambda_min_ratio,
        n_eff=blocks.n_eff,
        n_predictors=max(blocks.n_predictors, 1),
        ebic_gamma=config.ebic_gamma,
        ebic_refit=config.ebic_refit,
    )
    # coefficients of the candidates (the first k entries of each block; covariates follow)
    n_cand = np.diff(blocks.cand_ptr)
    within = np.arange(blocks.cand_idx.size) - np.repeat(blocks.cand_ptr[:-1], n_cand)
    coef = beta[np.repeat(b_off[:-1], n_cand) + within]
    return np.where(np.abs(coef) >= config.min_abs_coefficient, coef, 0.0)  # the effect floor


def node_ranges(blocks: NodeBlocks, n: int) -> list[tuple[int, int]]:
    """Step 4: at most ``n`` contiguous, non-empty ranges [lo, hi) of node ids, of about equal cost."""
    k = blocks.nodes.size
    if k == 0:
        return []
    p = np.diff(blocks.cand_ptr).astype(np.float64) + blocks.dense_gram.shape[0]
    cost = np.cumsum(p * p)
    cuts = np.searchsorted(cost, cost[-1] * np.arange(1, max(1, int(n))) / max(1, int(n)), side="left") + 1
    bounds = np.unique(np.concatenate([[0], np.minimum(cuts, k), [k]]))
    ids = np.append(blocks.nodes, blocks.n_nodes)
    ids[0] = 0
    return [(int(ids[a]), int(ids[b])) for a, b in zip(bounds[:-1], bounds[1:])]
