"""Screen once, refit every replicate from per-sequence sufficient statistics.

The nodewise LASSO needs, per replicate, only μ, σ and S = AᵀA at the pairs inside each
node's block (docs/methods.md, LASSO). Those are sums over tokens, so they are sums over
sequences, and a replicate (a subsample of whole sequences) is a 0/1 weight vector w over
sequences: its statistics are w·M for per-sequence matrices M computed once.

Algorithm (``screen_dataset`` once per dataset: the real one and its one matched null; the
dataset is a ``stats.stream.TokenBlocks`` of whole sequences, one block in memory or blocks
streamed from disk, ``tokens``; every sum over tokens below is added in token order or per
sequence, so the blocks do not change a bit of the result):
1. ColumnMoments, firing floor and dense covariates on the whole dataset; n_eff (one pass,
   ``tokens.prepare``); Fisher-z screen with BH and the top-k candidates per node
   (``screen.screen_pairs_blocks``: one pass per block of the triangle), exactly as a
   replicate would, but on all sequences.
2. P = every pair inside every node block {i} ∪ candidates(i), as sorted keys.
3. One pass over the tokens, sequence by sequence (``sequence_sums``): S_s[p] = Σ_{t∈s}
   a_ti a_tj for p ∈ P (an n_seq × |P| CSR), per-sequence Σa, Σa² and firings of the node and
   covariate columns (and lag-1 co-firings of every column when n_eff is ``deflated``).
Per replicate (``replicate_from_dataset``):
4. w = 1 on the chosen sequences. n = w·lengths; moments = w·M; S at P = w·S_s. This is
   exactly the replicate's statistics; the cost does not depend on the token count.
5. Firing floor within the replicate: nodes with fewer than ``min_firings`` firings (or
   σ = 0) in the subsample leave every block. Covariate cross-products come from one pass
   over the chosen sequences' tokens (``tokens.dense_cross``; only when the replicate has
   dense covariates and some node has a candidate), for the nodes in some block only
   (``blocks.block_nodes``: the other columns would never be read).
6. Standardize, solve the nodes that have candidates, AND rule (``replicate.fit_blocks``);
   ``pending_from_dataset`` stops before the solve (``replicate.PendingReplicate``).
The matched null is one null dataset (each latent's column circularly shifted within
every sequence, or permuted), restricted to the same sequences as the real replicate: a
spurious correlation of a finite real sample persists across overlapping subsamples, and
so does the null's, so the null replicate counts match the real ones in that respect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.blocks import block_nodes, node_blocks
from saegraph.ingest.edges.lasso.replicate import PendingReplicate, ReplicateEdges, dense_correlations
from saegraph.ingest.edges.lasso.resample import deflated_n_eff
from saegraph.ingest.edges.lasso.screen import (
    block_pair_keys,
    screen_pairs_blocks,
    split_features,
    top_k_candidates,
)
from saegraph.ingest.edges.lasso.sequence_sums import (
    TooManySequencePairs,
    sequence_column_sums,
    sequence_lag,
    sequence_pair_sums,
)
from saegraph.ingest.edges.lasso.tokens import Prepared, dense_cross, prepare, sorted_tokens, with_columns
from saegraph.ingest.edges.stats.moments import select
from saegraph.ingest.edges.stats.stream import TokenBlocks

__all__ = ["ScreenedDataset", "TooManySequencePairs", "sequence_column_sums", "sequence_pair_sums"]


@dataclass
class ScreenedDataset:
    """One dataset screened once: what every replicate of it needs (module docstring, steps 1–3)."""

    n_features: int
    seq_len: np.ndarray  # tokens per sequence
    nodes: np.ndarray  # global ids of the node columns (sorted)
    dense: np.ndarray  # global ids of the dense covariates (sorted)
    cand_ptr: np.ndarray  # top-k candidates per node, CSR over the node index space
    cand_idx: np.ndarray
    pair_keys: np.ndarray  # sorted block pair keys min·n_nodes + max
    seq_pairs: sp.csr_matrix  # [n_seq, |P|] S per sequence at the block pairs
    seq_moments: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]  # Σa, Σa², firings [n_seq, nodes + dense]
    seq_lag: (
        tuple[sp.csr_matrix, sp.csr_matrix] | None
    )  # (firings, lag-1 co-firings) [n_seq, F] when deflated
    tokens: TokenBlocks  # the dataset's tokens, for the covariates' cross-products (step 5)
    info: dict


def _stack_rows(parts: list[sp.csr_matrix]) -> sp.csr_matrix:
    return parts[0] if len(parts) == 1 else sp.csr_matrix(sp.vstack(parts, format="csr"))


def _stack_shared(parts: list[tuple[sp.csr_matrix, ...]]) -> tuple[sp.csr_matrix, ...]:
    """Blocks' rows of matrices that share one sparsity pattern, stacked, still sharing it."""
    if len(parts) == 1:
        return parts[0]
    heads = [p[0] for p in parts]
    indices = np.concatenate([h.indices for h in heads])
    offsets = np.cumsum([0] + [h.nnz for h in heads[:-1]])
    indptr = np.concatenate([[0]] + [h.indptr[1:].astype(np.int64) + o for h, o in zip(heads, offsets)])
    shape = (sum(h.shape[0] for h in heads), heads[0].shape[1])
    return tuple(
        sp.csr_matrix((np.concatenate([p[k].data for p in parts]), indices, indptr), shape=shape)
        for k in range(len(parts[0]))
    )


def _sequence_statistics(
    rows, prep: Prepared, columns: np.ndarray, pair_keys: np.ndarray, config: LassoConfig
):
    """Step 3 in one pass over ``rows()`` (blocks with their node columns)."""
    pairs, moments, lags, used = [], [], [], 0
    for b, x in rows():
        bounds = b.segments()
        try:
            part = sequence_pair_sums(x, bounds, pair_keys, config.max_sequence_pair_entries - used)
        except TooManySequencePairs:
            raise TooManySequencePairs(
                f"more than {config.max_sequence_pair_entries:,} (sequence, block pair) sums for "
                f"{pair_keys.size:,} block pairs over {prep.n_sequences:,} sequences"
            ) from None
        used += part.nnz
        pairs.append(part)
        moments.append(sequence_column_sums(b.acts[0], bounds, columns))
        if config.n_eff == "deflated":
            lags.append(sequence_lag(b.acts[0], bounds))
    seq_moments = _stack_shared(moments)
    seq_lag = tuple(_stack_rows([g[k] for g in lags]) for k in range(2)) if lags else None
    return _stack_rows(pairs), seq_moments, seq_lag


def screen_dataset(
    acts: sp.csr_matrix | TokenBlocks,
    seq_starts: np.ndarray | None,
    config: LassoConfig,
    prepared: Prepared | None = None,
) -> ScreenedDataset:
    """Steps 1–3 of the module docstring on one dataset: a matrix with rows sorted by sequence
    (``seq_starts``) or its ``TokenBlocks`` (``seq_starts`` None); ``prepared``: the dataset's
    ``tokens.prepare``, when already computed."""
    tokens = acts if isinstance(acts, TokenBlocks) else sorted_tokens(acts, np.asarray(seq_starts))
    t0 = time.perf_counter()
    prep = prepared if prepared is not None else prepare(tokens)
    mom = prep.moments
    nodes, dense = split_features(mom, config.min_firings, config.dense_density)
    n_eff, n_eff_info = prep.n_eff(config.n_eff)
    rows = with_columns(tokens, nodes)
    t_prepare = time.perf_counter() - t0 + (prep.seconds if prepared is not None else 0.0)
    t0 = time.perf_counter()
    screen = screen_pairs_blocks(
        lambda: (x for _, x in rows()),
        select(mom, nodes),
        n_eff,
        min_count=config.min_count,
        q=config.screen_q,
        block_entries=config.block_entries,
        min_abs_r=config.min_abs_correlation,
        cache_sized=not tokens.streamed,
    )
    cand_ptr, cand_idx = top_k_candidates(screen, nodes.size, config.candidates)
    t_screen = time.perf_counter() - t0
    t0 = time.perf_counter()
    pair_keys = np.unique(block_pair_keys(cand_ptr, cand_idx, nodes.size))
    seq_pairs, seq_moments, seq_lag = _sequence_statistics(
        rows, prep, np.concatenate([nodes, dense]), pair_keys, config
    )
    info = {
        "nEffWhole": float(n_eff),
        "nEffWholeInfo": n_eff_info,
        "screenPrefiltered": int(screen.n_prefiltered),
        "screenPassed": int(screen.i.size),
        "blockPairs": int(pair_keys.size),
        "sequencePairEntries": int(seq_pairs.nnz),
        "sequenceLatentEntries": int(seq_moments[0].nnz),
        "seconds": {
            "screen": round(t_prepare + t_screen, 4),
            "statistics": round(time.perf_counter() - t0, 4),
        },
    }
    return ScreenedDataset(
        tokens.widths[0],
        prep.seq_len,
        nodes,
        dense,
        cand_ptr,
        cand_idx,
        pair_keys,
        seq_pairs,
        seq_moments,
        seq_lag,
        tokens,
        info,
    )


def _replicate_n_eff(
    ds: ScreenedDataset, w: np.ndarray, n: float, n_seq: int, mode: str
) -> tuple[float, dict]:
    """``resample.effective_sample_size`` from per-sequence sums (same formula, ``deflated_n_eff``)."""
    if mode == "sequences" or ds.seq_lag is None:
        return float(n_seq), {"mode": "sequences", "nSequences": n_seq, "nTokens": int(n)}
    fires, lagged = ds.seq_lag
    return deflated_n_eff(fires.T @ w, lagged.T @ w, n, n_seq)


def _alive_candidates(cand_ptr: np.ndarray, cand_idx: np.ndarray, alive: np.ndarray):
    """The candidate lists of alive nodes, keeping only alive candidates (same order)."""
    owner = np.repeat(np.arange(cand_ptr.size - 1), np.diff(cand_ptr))
    keep = alive[owner] & alive[cand_idx]
    counts = np.bincount(owner[keep], minlength=cand_ptr.size - 1)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), cand_idx[keep]


def replicate_from_dataset(ds: ScreenedDataset, chosen: np.ndarray, config: LassoConfig) -> ReplicateEdges:
    """Steps 4–6 of the module docstring: the replicate of ``ds`` on the sequences ``chosen``."""
    return pending_from_dataset(ds, chosen, config).solve(config)


def pending_from_dataset(ds: ScreenedDataset, chosen: np.ndarray, config: LassoConfig) -> PendingReplicate:
    """``replicate_from_dataset`` up to the solve."""
    t0 = time.perf_counter()
    w = np.zeros(ds.seq_len.size, dtype=np.float64)
    w[chosen] = 1.0
    n = float(ds.seq_len @ w)
    sums, squares, fired = (m.T @ w for m in ds.seq_moments)
    mean = sums / max(n, 1.0)
    sd = np.sqrt(np.maximum(squares / max(n, 1.0) - mean * mean, 0.0))
    k = ds.nodes.size
    alive = (fired[:k] >= config.min_firings) & (sd[:k] > 0)
    dense_ok = sd[k:] > 0
    n_eff, n_eff_info = _replicate_n_eff(ds, w, n, int(chosen.size), config.n_eff)
    cand_ptr, cand_idx = _alive_candidates(ds.cand_ptr, ds.cand_idx, alive)
    needed = np.unique(block_pair_keys(cand_ptr, cand_idx, k))
    pair_s = (ds.seq_pairs.T @ w)[np.searchsorted(ds.pair_keys, needed)]
    covariates, used = ds.dense[dense_ok], block_nodes(cand_ptr, cand_idx)
    with np.errstate(divide="ignore", invalid="ignore"):
        if covariates.size and used.size:
            s_dx, s_dd = dense_cross(ds.tokens, w > 0, ds.nodes[used], covariates)
            dense_corr, dense_gram = dense_correlations(
                s_dx, s_dd, n, mean[k:][dense_ok], sd[k:][dense_ok], mean[:k][used], sd[:k][used]
            )
        else:  # no covariates, or no fit to read them
            dense_corr, dense_gram = np.zeros((covariates.size, used.size)), np.zeros((covariates.size,) * 2)
        blocks = node_blocks(
            cand_ptr,
            cand_idx,
            needed,
            pair_s,
            n,
            mean[:k],
            sd[:k],
            dense_corr,
            dense_gram,
            n_eff,
            int(alive.sum()) - 1,
            columns=used,
        )
    info = {
        "nTokens": int(n),
        "nSequences": int(chosen.size),
        "nEff": float(n_eff),
        "nEffInfo": n_eff_info,
        "nodes": int(alive.sum()),
        "denseCovariates": [int(d) for d in ds.dense[dense_ok]],
        "screenPrefiltered": ds.info["screenPrefiltered"],
        "screenPassed": ds.info["screenPassed"],
        "meanCandidates": float(cand_idx.size / max(int(alive.sum()), 1)),
        "gramEntries": int(needed.size),
        "directedSelected": None,
        "seconds": {"statistics": round(time.perf_counter() - t0, 4)},
    }
    return PendingReplicate(blocks, ds.nodes, ds.n_features, config.rule, info)
