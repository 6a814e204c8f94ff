"""Per-column moments of a sparse activation matrix, shared by every edge stage.

Algorithm:
1. For each column (feature) of a CSR or CSC matrix: n_i = number of entries with a > 0
   (firings), Σa and Σa² over all stored entries, by ``np.bincount`` on the column index.
2. μ = Σa / N and σ = sqrt(max(Σa²/N − μ², 0)) (population moments over N rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class ColumnMoments:
    """Moments of every column of a token × feature matrix."""

    n: int
    """Rows (tokens) of the matrix."""
    firings: np.ndarray
    """n_i: entries with a > 0, int64."""
    sums: np.ndarray
    """Σ a per column, float64."""
    sumsq: np.ndarray
    """Σ a² per column, float64."""
    mean: np.ndarray
    """μ = Σa / n."""
    sd: np.ndarray
    """Population standard deviation."""


def column_moments(acts: sp.spmatrix) -> ColumnMoments:
    """Moments of every column of a CSR or CSC matrix (a feature fires when a > 0)."""
    n, n_features = acts.shape
    if acts.format == "csr":
        cols = acts.indices
    elif acts.format == "csc":
        cols = np.repeat(np.arange(n_features), np.diff(acts.indptr))
    else:
        raise ValueError(f"column_moments needs a CSR or CSC matrix, got {acts.format!r}")
    data = acts.data.astype(np.float64)
    firings = np.bincount(cols[data > 0], minlength=n_features).astype(np.int64)
    sums = np.bincount(cols, weights=data, minlength=n_features)
    sumsq = np.bincount(cols, weights=data * data, minlength=n_features)
    mean = sums / max(n, 1)
    sd = np.sqrt(np.maximum(sumsq / max(n, 1) - mean * mean, 0.0))
    return ColumnMoments(n=n, firings=firings, sums=sums, sumsq=sumsq, mean=mean, sd=sd)


def select(mom: ColumnMoments, columns: np.ndarray) -> ColumnMoments:
    """The moments of a subset of columns (same n)."""
    return ColumnMoments(
        n=mom.n,
        firings=mom.firings[columns],
        sums=mom.sums[columns],
        sumsq=mom.sumsq[columns],
        mean=mom.mean[columns],
        sd=mom.sd[columns],
    )
