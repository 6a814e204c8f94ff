"""Feature splitting across widths: one-to-many parent/child edges (docs/methods.md, MATCHES).

Algorithm (after Bricken et al. 2023 "Towards Monosemanticity", feature splitting):
1. For every feature j of the wider SAE, parent(j) = argmax cosine over the narrower
   SAE's decoder rows (exact blocked top-1).
2. j is a child of parent(j) when cos >= ``min_cosine`` and, when activations of both SAEs
   over the same tokens are given, P(parent fires | child fires) = c(parent, child)/n_child
   >= ``min_cooccurrence`` (without activations only the cosine criterion is applied and
   the statistics say so).
3. Per parent with children: the number of children; the NNLS R² of the parent direction
   from its children's unit directions (``scipy.optimize.nnls``, uncentred:
   1 − ‖y − Xβ‖² / ‖y‖²); and the children's exclusivity — among tokens where at least one
   child fires, the fraction where exactly one does (reported for parents with >= 2
   children; needs activations).
The activations come as one ``stats.stream.TokenBlocks`` (narrow SAE first): every count is
summed over its token blocks, so blocks streamed from disk give the in-memory result.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import nnls

from saegraph.ingest.edges.cosine.kernel import blocked_topk, normalize_rows
from saegraph.ingest.edges.matches.actcorr import pair_blocks, pair_correlations_blocks
from saegraph.ingest.edges.stats.stream import TokenBlocks


@nb.njit(cache=True, nogil=True)
def _exclusivity_counts(indptr, indices, data, parent_of, n_parents):
    any_child = np.zeros(n_parents, np.int64)
    one_child = np.zeros(n_parents, np.int64)
    hits = np.zeros(n_parents, np.int64)
    touched = np.empty(indices.shape[0] + 1, np.int64)
    for t in range(indptr.shape[0] - 1):
        nt = 0
        for p in range(indptr[t], indptr[t + 1]):
            if data[p] <= 0:
                continue
            par = parent_of[indices[p]]
            if par < 0:
                continue
            if hits[par] == 0:
                touched[nt] = par
                nt += 1
            hits[par] += 1
        for u in range(nt):
            par = touched[u]
            any_child[par] += 1
            if hits[par] == 1:
                one_child[par] += 1
            hits[par] = 0
    return any_child, one_child


def children_exclusivity(acts_wide, parent_of: np.ndarray, n_parents: int) -> np.ndarray:
    """Per parent: P(exactly one child fires | at least one child fires); NaN where none fires.
    ``acts_wide``: a matrix, or ``TokenBlocks`` whose last SAE is the wide one."""
    blocks = acts_wide if isinstance(acts_wide, TokenBlocks) else TokenBlocks.in_memory([acts_wide])
    anyc = np.zeros(int(n_parents), np.int64)
    one = np.zeros(int(n_parents), np.int64)
    for block in blocks:
        m = sp.csr_matrix(block.acts[-1], dtype=np.float32, copy=True)
        a, o = _exclusivity_counts(
            m.indptr.astype(np.int64), m.indices, m.data, np.asarray(parent_of, np.int64), int(n_parents)
        )
        anyc += a
        one += o
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(anyc > 0, one / np.maximum(anyc, 1), np.nan)


def nnls_r2(parent_dir: np.ndarray, child_dirs: np.ndarray) -> float:
    """Uncentred R² of the parent direction from a non-negative mix of child directions."""
    y = np.asarray(parent_dir, np.float64)
    x = np.asarray(child_dirs, np.float64).T
    coef, resid = nnls(x, y)
    denom = float(y @ y)
    return float(1.0 - resid**2 / denom) if denom > 0 else float("nan")


def parent_child(
    W_narrow: np.ndarray,
    W_wide: np.ndarray,
    *,
    min_cosine: float = 0.5,
    min_cooccurrence: float = 0.8,
    acts_narrow=None,
    acts_wide=None,
    block_rows: int = 2048,
    progress: bool = False,
    blocks: TokenBlocks | None = None,
):
    """Parent/child edges from the narrow SAE to the wide one; the activations of both, when
    known, as ``acts_narrow`` and ``acts_wide`` or as ``blocks`` (narrow SAE first).

    Returns (children, parents, stats): children has columns child, parent, cosine,
    pParentGivenChild (NaN without activations), rank (1 = the parent's most similar child);
    parents has parent, nChildren, nnlsR2, exclusivity.
    """
    wn, ww = normalize_rows(W_narrow), normalize_rows(W_wide)
    idx, val = blocked_topk(ww, wn, 1, block_rows=block_rows, progress=progress, desc="splitting")
    parent = idx[:, 0].astype(np.int64)
    cos = val[:, 0].astype(np.float64)
    cand = np.flatnonzero((parent >= 0) & (cos >= min_cosine))
    if blocks is None and acts_narrow is not None and acts_wide is not None:
        blocks = pair_blocks(acts_narrow, acts_wide)
    use_acts = blocks is not None
    p_cond = np.full(cand.size, np.nan)
    if blocks is not None:
        counts, _, (_, m_wide) = pair_correlations_blocks(blocks, parent[cand], cand)
        n_child = m_wide.firings[cand]
        with np.errstate(invalid="ignore", divide="ignore"):
            p_cond = np.where(n_child > 0, counts / np.maximum(n_child, 1), 0.0)
        keep = p_cond >= min_cooccurrence
        cand, p_cond = cand[keep], p_cond[keep]
    children = pd.DataFrame(
        {"child": cand, "parent": parent[cand], "cosine": cos[cand], "pParentGivenChild": p_cond}
    )
    children = children.sort_values(["parent", "cosine", "child"], ascending=[True, False, True])
    children["rank"] = children.groupby("parent").cumcount() + 1
    children = children.reset_index(drop=True)

    parent_of = np.full(W_wide.shape[0], -1, np.int64)
    parent_of[children["child"].to_numpy()] = children["parent"].to_numpy()
    excl = children_exclusivity(blocks, parent_of, W_narrow.shape[0]) if blocks is not None else None
    rows = []
    for par, grp in children.groupby("parent", sort=True):
        kids = grp["child"].to_numpy()
        rows.append(
            {
                "parent": int(par),
                "nChildren": int(kids.size),
                "nnlsR2": nnls_r2(wn[par], ww[kids]),
                "exclusivity": float(excl[par]) if excl is not None and kids.size >= 2 else float("nan"),
            }
        )
    parents = pd.DataFrame(rows, columns=["parent", "nChildren", "nnlsR2", "exclusivity"])
    n_children = parents["nChildren"].to_numpy() if len(parents) else np.zeros(0, int)
    hist = np.bincount(n_children, minlength=1)
    stats = {
        "minCosine": min_cosine,
        "minCooccurrence": min_cooccurrence if use_acts else None,
        "cooccurrenceCriterion": bool(use_acts),
        "children": int(len(children)),
        "parents": int(len(parents)),
        "parentsWithTwoOrMore": int((n_children >= 2).sum()),
        "meanChildrenPerParent": float(n_children.mean()) if n_children.size else 0.0,
        "childrenPerParentHistogram": {str(k): int(v) for k, v in enumerate(hist) if k > 0 and v},
        "meanNnlsR2": float(parents["nnlsR2"].mean()) if len(parents) else float("nan"),
        "meanExclusivity": float(np.nanmean(parents["exclusivity"]))
        if len(parents) and parents["exclusivity"].notna().any()
        else float("nan"),
    }
    return children, parents, stats
