"""Histograms on shared bins and the Jensen-Shannon divergence in bits (pure core).

Algorithm (docs/methods.md, Comparing two SAE graphs):
1. Bins cover the union of both samples' supports. Degrees (integers): one bin per integer
   0, 1, ..., 50, then logarithmic bins (``log_bins_per_decade`` per decade) up to the
   maximum. Strengths (real): the same rule applied to strength / unit, where ``unit`` is
   the median non-zero edge weight of the two graphs (so "integer" means "one typical edge").
2. Each sample becomes a probability vector over those bins (isolated nodes are kept in
   bin 0 and their count is reported separately by the callers).
3. JSD(P, Q) = H(M) - (H(P) + H(Q)) / 2 with M = (P + Q) / 2 and H in bits (log base 2),
   so 0 <= JSD <= 1. This is the divergence, not the Jensen-Shannon *distance*
   sqrt(JSD) that ``scipy.spatial.distance.jensenshannon`` returns.
Reference: Lin, "Divergence measures based on the Shannon entropy", IEEE T-IT 1991.
"""

from __future__ import annotations

import numpy as np

LINEAR_MAX = 50


def shared_bins(
    *samples: np.ndarray, linear_max: int = LINEAR_MAX, log_bins_per_decade: int = 10
) -> np.ndarray:
    """Bin edges: [0,1), [1,2), ..., [linear_max, linear_max+1), then log-spaced to the max."""
    top = max((float(np.max(s)) for s in samples if len(s)), default=0.0)
    edges = list(np.arange(0, linear_max + 2, dtype=float))
    if top >= edges[-1]:
        lo = np.log10(edges[-1])
        hi = np.log10(top) + 1e-9
        n = max(1, int(np.ceil((hi - lo) * log_bins_per_decade)))
        edges.extend(np.logspace(lo, hi, n + 1)[1:].tolist())
        edges[-1] = np.nextafter(max(edges[-1], top), np.inf)
    return np.asarray(edges)


def histogram(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Probability vector of ``values`` over ``bins`` (values at the top edge go in the last bin)."""
    values = np.asarray(values, dtype=float)
    counts, _ = np.histogram(np.clip(values, bins[0], bins[-1] - 1e-12 * max(1.0, bins[-1])), bins=bins)
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def entropy_bits(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def jsd_bits(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two probability vectors."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.shape != q.shape:
        raise ValueError("jsd_bits needs two vectors over the same bins")
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)
    return max(0.0, entropy_bits(m) - 0.5 * (entropy_bits(p) + entropy_bits(q)))


def strength_unit(*weight_arrays: np.ndarray) -> float:
    """Median non-zero edge weight over all given weight arrays (1.0 when there is none)."""
    w = np.concatenate([np.abs(np.asarray(a, dtype=float)) for a in weight_arrays] or [np.zeros(0)])
    w = w[w > 0]
    return float(np.median(w)) if len(w) else 1.0


def distribution_jsd(a: np.ndarray, b: np.ndarray, unit: float = 1.0) -> float:
    """JSD in bits between the distributions of two samples on shared bins (values / unit)."""
    a = np.asarray(a, dtype=float) / unit
    b = np.asarray(b, dtype=float) / unit
    bins = shared_bins(a, b)
    return jsd_bits(histogram(a, bins), histogram(b, bins))
