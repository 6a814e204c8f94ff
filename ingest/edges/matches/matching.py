"""One-to-one matching of two SAEs' features by decoder cosine, with an "unmatched" option.

Problem: choose a one-to-one partial matching π of A's features into B's minimising
Σ_{matched} (1 − cos(a, π(a))) + (unmatched a) · (1 − τ), τ = ``floor``; equivalently a
feature is left unmatched rather than matched below cosine τ.

Algorithm:
1. Sparse (any size): the candidate graph is the union of both directions' top-k kNN
   lists restricted to cos >= τ. Rows are A's features; columns are B's features plus one
   private dummy column per row ("unmatched", cost 1 − τ). Costs are shifted by +1 so no
   stored entry is 0 (a sparse zero means "no edge"). A full row matching always exists
   (each row has its dummy), and ``scipy.sparse.csgraph.min_weight_full_bipartite_matching``
   (LAPJVsp; Crouse 2016) solves it exactly on the kNN graph.
2. Dense (both widths <= dense_max): ``scipy.optimize.linear_sum_assignment`` on
   1 − max(cos, τ), then matches with cos < τ are dropped. Its optimum equals that of
   the dummy formulation on the full graph (an unmatched row can always take a free
   column at the same cost 1 − τ), so the two agree whenever every pair with cos >= τ
   of the optimal matching lies in the kNN lists.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import min_weight_full_bipartite_matching


def dense_one_to_one(sims: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact optimum on the full cosine matrix [n_a, n_b]; returns (a, b, cos) with cos >= floor."""
    sims = np.asarray(sims, dtype=np.float64)
    if sims.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    cost = 1.0 - np.maximum(sims, floor)
    a, b = linear_sum_assignment(cost)
    keep = sims[a, b] >= floor
    return a[keep].astype(np.int64), b[keep].astype(np.int64), sims[a, b][keep]


def sparse_one_to_one(
    rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, n_a: int, n_b: int, floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact optimum restricted to the candidate pairs (rows[k], cols[k]) with cosine sims[k]."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    sims = np.asarray(sims, dtype=np.float64)
    ok = sims >= floor
    rows, cols, sims = rows[ok], cols[ok], sims[ok]
    if rows.size == 0 or n_a == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    # dedupe (a pair may come from both kNN directions): keep one copy
    key = rows * (n_b + 1) + cols
    _, first = np.unique(key, return_index=True)
    rows, cols, sims = rows[first], cols[first], sims[first]
    dummy_rows = np.arange(n_a, dtype=np.int64)
    graph = sp.csr_matrix(
        (
            np.r_[2.0 - sims, np.full(n_a, 2.0 - floor)],
            (np.r_[rows, dummy_rows], np.r_[cols, n_b + dummy_rows]),
        ),
        shape=(n_a, n_b + n_a),
    )
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    real = col_ind < n_b
    a = row_ind[real].astype(np.int64)
    b = col_ind[real].astype(np.int64)
    cos = 2.0 - np.asarray(graph[a, b], dtype=np.float64).ravel()
    return a, b, cos


def matching_cost(cos: np.ndarray, n_a: int, floor: float) -> float:
    """Objective of a partial matching: Σ(1 − cos) over matches + (1 − τ) per unmatched row."""
    return float(np.sum(1.0 - np.asarray(cos)) + (n_a - len(cos)) * (1.0 - floor))


def shared_fractions(cos: np.ndarray, n_a: int, n_b: int, thresholds) -> dict[str, dict[str, float]]:
    """Fraction of A's and of B's features whose one-to-one match has cosine >= each τ."""
    out = {}
    for tau in thresholds:
        k = int(np.sum(np.asarray(cos) >= tau))
        out[f"{tau:g}"] = {
            "matched": k,
            "fractionOfA": k / n_a if n_a else float("nan"),
            "fractionOfB": k / n_b if n_b else float("nan"),
        }
    return out
