"""Resampling for the nodewise LASSO: whole-sequence subsamples, matched nulls, n_eff.

Algorithm (docs/methods.md, LASSO):
1. ``order_by_sequence`` sorts tokens by (sequence, position) so each sequence is a
   contiguous run of CSR rows delimited by ``seq_starts``.
2. ``subsample_sequences`` draws a fraction of the sequences without replacement and
   keeps all of their tokens (tokens of a sequence are dependent; never subsample tokens).
3. ``stats.nulls.circular_shift_null`` moves every non-zero ``(t, f)`` of sequence s to position
   ``(t − start_s + shift_{f,s}) mod len_s``, with an independent pseudo-random shift per
   (feature, sequence): each feature keeps its firing count and its within-sequence
   autocorrelation, but its alignment with every other feature is destroyed.
   ``permutation_null`` is the simpler variant: each feature's firings go to uniformly
   random distinct tokens of the replicate (autocorrelation destroyed too).
4. ``effective_sample_size``: ``sequences`` → the number of sequences; ``deflated`` (the
   default) → ``deflated_n_eff``: for every feature f firing at least twice, the lag-1
   autocorrelation of its firing indicator within sequences,
   ρ_f = (L_f / P − p_f²) / (p_f (1 − p_f)), with L_f its firings at both t and t+1 of one
   sequence, P = tokens − sequences the number of such adjacent pairs and p_f = n_f / tokens;
   ρ = the median ρ_f clipped to [0, 0.999]; n_eff = tokens · (1 − ρ)/(1 + ρ), the
   effective sample size of a mean under AR(1) dependence (Bartlett 1946; Kish's design
   effect 1 + 2Σρ_k with ρ_k = ρ^k), clipped to [sequences, tokens]. Independent tokens give
   n_eff ≈ tokens; a feature that persists over whole sequences gives about the number of
   sequences.
5. ``replicate_rng`` / ``null_rng``: the random streams of replicate r and of the one null
   dataset of ``screen = "once"``, from the run's seed and the SAE; ``matched_null`` draws a
   replicate's null (circular shift or permutation) from its stream.
"""

from __future__ import annotations

import zlib

import numpy as np
import scipy.sparse as sp

from saegraph.ingest.edges.stats.nulls import circular_shift_null


def order_by_sequence(acts: sp.csr_matrix, sequence_ids: np.ndarray, positions: np.ndarray):
    """Rows sorted by (sequence, position); returns (csr, seq_starts[n_seq + 1])."""
    sequence_ids = np.asarray(sequence_ids)
    order = np.lexsort((np.asarray(positions), sequence_ids))
    if not np.array_equal(order, np.arange(order.size)):
        acts = acts[order]
        sequence_ids = sequence_ids[order]
    acts = sp.csr_matrix(acts, dtype=np.float32)
    acts.sort_indices()
    if sequence_ids.size == 0:
        return acts, np.zeros(1, dtype=np.int64)
    boundaries = np.flatnonzero(np.diff(sequence_ids)) + 1
    seq_starts = np.concatenate([[0], boundaries, [sequence_ids.size]]).astype(np.int64)
    return acts, seq_starts


def choose_sequences(n_seq: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a random ``fraction`` of ``n_seq`` sequences (at least one), without replacement."""
    k = min(n_seq, max(1, int(round(fraction * n_seq))))
    return np.sort(rng.choice(n_seq, size=k, replace=False))


def subsample_sequences(
    acts: sp.csr_matrix, seq_starts: np.ndarray, fraction: float, rng: np.random.Generator
):
    """Keep a random ``fraction`` of whole sequences; returns (csr, seq_starts)."""
    chosen = choose_sequences(seq_starts.size - 1, fraction, rng)
    lengths = seq_starts[chosen + 1] - seq_starts[chosen]
    new_starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    rows = np.repeat(seq_starts[chosen] - new_starts[:-1], lengths) + np.arange(new_starts[-1])
    return acts[rows], new_starts


def permutation_null(acts: sp.csr_matrix, rng: np.random.Generator) -> sp.csr_matrix:
    """Each feature's firings moved to uniformly random distinct tokens."""
    csc = acts.tocsc()
    n = acts.shape[0]
    rows = np.empty(csc.nnz, dtype=np.int64)
    for f in range(csc.shape[1]):
        a, b = csc.indptr[f], csc.indptr[f + 1]
        if b > a:
            rows[a:b] = rng.choice(n, size=b - a, replace=False)
    cols = np.repeat(np.arange(csc.shape[1]), np.diff(csc.indptr))
    out = sp.csr_matrix((csc.data, (rows, cols)), shape=acts.shape, dtype=np.float32)
    out.sort_indices()
    return out


def deflated_n_eff(
    firings: np.ndarray, lag_pairs: np.ndarray, n_tokens: float, n_seq: int
) -> tuple[float, dict]:
    """Step 4 from per-feature firings n_f and lag-1 co-firings L_f over ``n_tokens`` tokens in
    ``n_seq`` sequences: (n_eff, description for the stats)."""
    n_adjacent = max(float(n_tokens) - n_seq, 1.0)
    ok = (firings > 1) & (firings < n_tokens)
    p = firings[ok] / float(n_tokens)
    rho_f = (lag_pairs[ok] / n_adjacent - p * p) / (p * (1 - p))
    rho = float(np.clip(np.median(rho_f), 0.0, 0.999)) if rho_f.size else 0.0
    n_eff = float(np.clip(n_tokens * (1 - rho) / (1 + rho), n_seq, n_tokens))
    quart = np.quantile(rho_f, [0.25, 0.75]).round(4).tolist() if rho_f.size else [0.0, 0.0]
    return n_eff, {
        "mode": "deflated",
        "lag1Autocorrelation": rho,
        "lag1AutocorrelationQuartiles": quart,
        "featuresUsed": int(ok.sum()),
        "nSequences": int(n_seq),
        "nTokens": int(n_tokens),
        "formula": "n_eff = tokens (1 - rho)/(1 + rho), rho = median within-sequence lag-1 autocorrelation "
        "of the features' firing indicators, clipped to [sequences, tokens]",
    }


def effective_sample_size(acts: sp.csr_matrix, seq_starts: np.ndarray, mode: str) -> tuple[float, dict]:
    """n_eff for the screen and EBIC (step 4); returns (n_eff, description for the stats)."""
    n_tokens = acts.shape[0]
    n_seq = seq_starts.size - 1
    if mode == "sequences" or n_tokens < 2:
        return float(n_seq), {"mode": "sequences", "nSequences": n_seq, "nTokens": n_tokens}
    fires = acts.copy()
    fires.data = np.ones_like(fires.data)
    same_seq = np.ones(n_tokens - 1, dtype=bool)
    same_seq[seq_starts[1:-1] - 1] = False  # token t and t+1 lie in different sequences
    keep = sp.diags(same_seq.astype(np.float32))
    lagged = np.asarray((keep @ fires[:-1]).multiply(fires[1:]).sum(axis=0)).ravel()
    n_f = np.asarray(fires.sum(axis=0)).ravel()
    return deflated_n_eff(n_f, lagged, n_tokens, n_seq)


def replicate_rng(seed: int, sae_id: str, r: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(sae_id.encode()), r])


def matched_null(
    acts: sp.csr_matrix, seq_starts: np.ndarray, kind: str, rng: np.random.Generator
) -> sp.csr_matrix:
    if kind == "circular_shift":
        return circular_shift_null(acts, seq_starts, int(rng.integers(0, 2**62)))
    return permutation_null(acts, rng)


def null_rng(seed: int, sae_id: str) -> np.random.Generator:
    """The stream of the one null dataset of ``screen = "once"`` (apart from every replicate's)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(sae_id.encode()), 1 << 30])
