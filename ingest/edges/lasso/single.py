"""Single LASSO problems on the batched solver's kernels: one fit, a λ path, and
Meinshausen–Bühlmann neighbourhood selection on a small dense correlation matrix.

Algorithm (the solver's, ``lasso.solver``; Meinshausen & Bühlmann 2006):
1. ``lasso_gram``: one cyclic coordinate-descent fit on a Gram block (``solver._cd_fit``),
   optionally warm-started.
2. ``lasso_path_gram``: the fits along a λ path, each warm-started from the previous one.
3. ``neighborhood_selection``: every node regressed on all others with ``solve_nodes`` (λ by
   EBIC), then the AND or OR rule on the selections. For tests and small graphs (dense F x F).
"""

from __future__ import annotations

import numpy as np

from saegraph.ingest.edges.lasso.solver import DEFAULT_MAX_ITER, DEFAULT_TOL, _cd_fit, solve_nodes


def lasso_gram(
    G,
    b,
    lam: float,
    *,
    beta0=None,
    penalized=None,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> np.ndarray:
    """One LASSO fit on a Gram block (optionally warm-started from ``beta0``)."""
    G = np.ascontiguousarray(G, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    beta = np.zeros(b.size) if beta0 is None else np.array(beta0, dtype=np.float64)
    q = G @ beta
    pen = np.ones(b.size, dtype=np.bool_) if penalized is None else np.asarray(penalized, dtype=np.bool_)
    _cd_fit(G, b, float(lam), beta, q, pen, tol, max_iter)
    return beta


def lasso_path_gram(
    G, b, lambdas, *, warm_start: bool = True, penalized=None, tol: float = DEFAULT_TOL
) -> np.ndarray:
    """Coefficients [len(lambdas), p] along a λ path, warm-started or each from zero."""
    out = np.zeros((len(lambdas), len(b)))
    prev = None
    for k, lam in enumerate(lambdas):
        out[k] = lasso_gram(G, b, lam, beta0=prev if warm_start else None, penalized=penalized, tol=tol)
        prev = out[k]
    return out


def neighborhood_selection(
    corr: np.ndarray,
    n_eff: float,
    *,
    n_lambdas: int = 25,
    lambda_min_ratio: float = 0.01,
    ebic_gamma: float = 0.5,
    ebic_refit: bool = True,
    rule: str = "and",
) -> tuple[np.ndarray, np.ndarray]:
    """Meinshausen–Bühlmann neighbourhood selection on a dense correlation matrix (small F).

    Every other node is a candidate of every node (no screen). Returns (adjacency bool
    [F, F] after the AND/OR rule, coefficient matrix B with B[i, j] = coefficient of j in
    the regression of i)."""
    corr = np.asarray(corr, dtype=np.float64)
    F = corr.shape[0]
    others = [np.delete(np.arange(F), i) for i in range(F)]
    g_flat = np.concatenate([corr[np.ix_(o, o)].ravel() for o in others])
    g_off = np.arange(F, dtype=np.int64) * (F - 1) ** 2
    b_flat = np.concatenate([corr[o, i] for i, o in enumerate(others)])
    b_off = np.arange(F + 1, dtype=np.int64) * (F - 1)
    beta, _ = solve_nodes(
        g_flat,
        g_off,
        b_flat,
        b_off,
        np.ones(b_flat.size, dtype=bool),
        n_lambdas=n_lambdas,
        lambda_min_ratio=lambda_min_ratio,
        n_eff=n_eff,
        n_predictors=F - 1,
        ebic_gamma=ebic_gamma,
        ebic_refit=ebic_refit,
    )
    B = np.zeros((F, F))
    for i, o in enumerate(others):
        B[i, o] = beta[b_off[i] : b_off[i + 1]]
    sel = B != 0
    adj = (sel & sel.T) if rule == "and" else (sel | sel.T)
    return adj, B
