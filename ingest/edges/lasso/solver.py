"""LASSO on a standardized Gram block: coordinate descent, λ path, EBIC, batched over nodes.

For a node ``i`` with predictors ``P`` (screened candidates plus unpenalized covariates), the
LASSO on standardized columns only needs ``G = corr(P, P)`` and ``b = corr(P, i)``:

    minimize_β  ½ (1 − 2 bᵀβ + βᵀGβ) + λ Σ_{j penalized} |β_j|

which is sklearn's ``Lasso`` objective ``(1/2n)‖y − Xβ‖² + α‖β‖₁`` with ``α = λ`` when the
columns of ``X`` and ``y`` are standardized (mean 0, population variance 1).

Algorithm (Friedman, Hastie & Tibshirani 2010, "Regularization paths for GLMs via
coordinate descent"; EBIC from Foygel & Drton 2010, "Extended Bayesian information
criteria for Gaussian graphical models"):
1. Fit the unpenalized covariates alone; ``λ_max = max_j |b_j − (Gβ)_j|`` over penalized j.
2. Path ``λ_k = λ_max · ratio^{k/(K−1)}``, k = 0..K−1; each fit is cyclic coordinate
   descent ``β_j ← S(b_j − (Gβ)_j + G_jj β_j, λ)/G_jj`` (no threshold for covariates),
   warm-started from the previous λ, until the largest coefficient change is below ``tol``.
   After a sweep that keeps the sign pattern, the exact solution for that pattern,
   ``G_AA β_A = b_A − λ s_A``, is tried and accepted when it keeps the signs and every other
   coordinate satisfies ``|b_j − (Gβ)_j| <= λ`` (the KKT conditions): on correlated
   candidates this ends fits that coordinate descent would take hundreds of sweeps over
   (demo: median sweeps per node over the path 576 -> 36).
3. For every λ: σ̂² = residual variance of the standardized target, by default from the
   least-squares refit on the λ's support (``1 − b_Aᵀ G_AA⁻¹ b_A``, relaxed LASSO: the
   shrunken fit's ``1 − 2bᵀβ + βᵀGβ`` rewards small λ for undoing shrinkage and admits
   spurious predictors); ``EBIC_γ = n_eff·log σ̂² + df·(log n_eff + 2γ log p)`` with df the
   non-zero coefficients (covariates included) and p the full predictor dimension before
   screening. Keep the λ with the smallest EBIC and its coefficients, signed: the refit
   ones on its support when refitting (unshrunken), else the LASSO ones.
4. ``solve_nodes`` runs steps 1–3 for many nodes in one numba loop over flattened blocks;
   per node the cost is O(K · sweeps · p²), independent of the token count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

DEFAULT_TOL = 1e-10
DEFAULT_MAX_ITER = 10_000


@njit(cache=True)
def _exact_on_support(G, b, lam, beta, q, penalized):
    """Try the exact LASSO solution for the sign pattern of ``beta``: on the support A (non-zero
    or unpenalized coefficients) solve G_AA β_A = b_A − λ s_A and accept it when the signs
    hold and every other coordinate satisfies the KKT condition |b_j − (Gβ)_j| <= λ. On
    success ``beta`` and ``q`` are overwritten and True is returned."""
    p = b.size
    idx = np.empty(p, np.int64)
    m = 0
    for j in range(p):
        if beta[j] != 0.0 or not penalized[j]:
            idx[m] = j
            m += 1
    if m == 0:
        return False
    Ga = np.empty((m, m))
    rhs = np.empty(m)
    for u in range(m):
        j = idx[u]
        rhs[u] = b[j]
        if penalized[j]:
            rhs[u] -= lam if beta[j] > 0 else -lam
        for w in range(m):
            Ga[u, w] = G[j, idx[w]]
        Ga[u, u] += 1e-12  # duplicated columns: stay solvable (the sign check then rejects)
    x = np.linalg.solve(Ga, rhs)
    for u in range(m):
        j = idx[u]
        if not np.isfinite(x[u]) or (penalized[j] and x[u] * beta[j] <= 0.0):
            return False
    new_q = np.zeros(p)
    for u in range(m):
        for k in range(p):
            new_q[k] += G[k, idx[u]] * x[u]
    slack = lam * (1.0 + 1e-12)
    for j in range(p):
        if beta[j] == 0.0 and penalized[j] and abs(b[j] - new_q[j]) > slack:
            return False
    beta[:] = 0.0
    for u in range(m):
        beta[idx[u]] = x[u]
    q[:] = new_q
    return True


@njit(cache=True)
def _cd_fit(G, b, lam, beta, q, penalized, tol, max_iter):
    """Coordinate descent in place on (beta, q = G @ beta); returns sweeps done.

    After a sweep that changed no coefficient's sign (or zero-ness) and still moved one by
    ``tol`` or more, the exact solution for that sign pattern is tried
    (``_exact_on_support``): it ends the fit when the KKT conditions hold, which spares the
    many slow sweeps coordinate descent needs on strongly correlated predictors."""
    p = b.size
    next_try = 1
    for sweep in range(max_iter):
        max_change = 0.0
        pattern_changed = False
        for j in range(p):
            old = beta[j]
            gjj = G[j, j]
            rho = b[j] - q[j] + gjj * old
            if penalized[j]:
                if rho > lam:
                    new = (rho - lam) / gjj
                elif rho < -lam:
                    new = (rho + lam) / gjj
                else:
                    new = 0.0
            else:
                new = rho / gjj
            d = new - old
            if d != 0.0:
                if (old > 0.0) != (new > 0.0) or (old < 0.0) != (new < 0.0):
                    pattern_changed = True
                for k in range(p):
                    q[k] += G[k, j] * d
                beta[j] = new
                if abs(d) > max_change:
                    max_change = abs(d)
        if max_change < tol:
            return sweep + 1
        if not pattern_changed and sweep + 1 >= next_try:
            if _exact_on_support(G, b, lam, beta, q, penalized):
                return sweep + 1
            next_try = 2 * (sweep + 1)  # back off after a failed try
    return max_iter


@njit(cache=True)
def _lambda_max(G, b, penalized, beta, q, tol, max_iter):
    """Fit covariates alone (penalized coefficients at zero) and return λ_max."""
    p = b.size
    n_unpen = 0
    for j in range(p):
        if not penalized[j]:
            n_unpen += 1
    if n_unpen > 0:
        huge = np.inf
        # λ = ∞ keeps every penalized coefficient at zero
        _cd_fit(G, b, huge, beta, q, penalized, tol, max_iter)
    lam_max = 0.0
    for j in range(p):
        if penalized[j]:
            v = abs(b[j] - q[j])
            if v > lam_max:
                lam_max = v
    return lam_max


@njit(cache=True)
def _refit_rss(G, b, beta, df, refit_beta):
    """Residual variance of the least-squares refit on the support of beta (relaxed LASSO);
    the refit coefficients are written into refit_beta (zero off the support)."""
    idx = np.empty(df, np.int64)
    k = 0
    for j in range(b.size):
        if beta[j] != 0.0:
            idx[k] = j
            k += 1
    Gs = np.empty((df, df))
    bs = np.empty(df)
    for u in range(df):
        bs[u] = b[idx[u]]
        for w in range(df):
            Gs[u, w] = G[idx[u], idx[w]]
        Gs[u, u] += 1e-10
    coef = np.linalg.solve(Gs, bs)
    refit_beta[:] = 0.0
    for u in range(df):
        refit_beta[idx[u]] = coef[u]
    return 1.0 - np.dot(bs, coef)


@njit(cache=True)
def _path_ebic(G, b, penalized, n_lambdas, ratio, n_eff, log_p, gamma, refit, tol, max_iter, best_beta):
    """Run the λ path with warm starts; write the EBIC-best coefficients into best_beta.

    Returns (best λ index, best λ value, λ_max)."""
    p = b.size
    beta = np.zeros(p)
    q = np.zeros(p)
    lam_max = _lambda_max(G, b, penalized, beta, q, tol, max_iter)
    best_ebic = np.inf
    best_k = -1
    best_lam = lam_max
    refit_beta = np.zeros(p)
    penalty = math.log(n_eff) + 2.0 * gamma * log_p
    for k in range(n_lambdas):
        lam = lam_max * ratio ** (k / (n_lambdas - 1.0))
        _cd_fit(G, b, lam, beta, q, penalized, tol, max_iter)
        df = 0
        for j in range(p):
            if beta[j] != 0.0:
                df += 1
        if refit and df > 0:
            rss = _refit_rss(G, b, beta, df, refit_beta)
        else:
            refit_beta[:] = beta
            rss = 1.0
            for j in range(p):
                rss += -2.0 * b[j] * beta[j] + beta[j] * q[j]
        if rss < 1e-12:
            rss = 1e-12
        ebic = n_eff * math.log(rss) + df * penalty
        if ebic < best_ebic - 1e-12:
            best_ebic = ebic
            best_k = k
            best_lam = lam
            for j in range(p):
                best_beta[j] = refit_beta[j] if refit else beta[j]
    return best_k, best_lam, lam_max


@njit(cache=True, parallel=True)
def _solve_blocks(
    g_flat,
    g_off,
    b_flat,
    b_off,
    pen_flat,
    n_lambdas,
    ratio,
    n_eff,
    log_p,
    gamma,
    refit,
    tol,
    max_iter,
    beta_out,
    lam_out,
):
    n_nodes = b_off.size - 1
    for v in prange(n_nodes):
        b0, b1 = b_off[v], b_off[v + 1]
        p = b1 - b0
        if p == 0:
            lam_out[v] = 0.0
            continue
        G = g_flat[g_off[v] : g_off[v] + p * p].reshape((p, p))
        best = np.zeros(p)
        _k, lam, _lmax = _path_ebic(
            G,
            b_flat[b0:b1],
            pen_flat[b0:b1],
            n_lambdas,
            ratio,
            n_eff,
            log_p,
            gamma,
            refit,
            tol,
            max_iter,
            best,
        )
        beta_out[b0:b1] = best
        lam_out[v] = lam


def _finite_blocks(g_flat, g_off, b_off, b_flat):
    """Zero-variance columns have undefined correlations (a replicate's subsample can leave a
    feature constant): treat them as uncorrelated with everything, unit diagonal, so their
    coefficient is 0 instead of a NaN that poisons the node's whole fit."""
    g = np.asarray(g_flat, dtype=np.float64)
    b = np.asarray(b_flat, dtype=np.float64)
    if np.isfinite(g).all() and np.isfinite(b).all():
        return g, b
    g, b = (
        np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0),
        np.nan_to_num(b, nan=0.0, posinf=0.0, neginf=0.0),
    )
    for v in range(b_off.size - 1):
        p = int(b_off[v + 1] - b_off[v])
        diag = g_off[v] + np.arange(p) * (p + 1)
        g[diag] = np.where(g[diag] == 0.0, 1.0, g[diag])
    return g, b


def solve_nodes(
    g_flat: np.ndarray,
    g_off: np.ndarray,
    b_flat: np.ndarray,
    b_off: np.ndarray,
    penalized: np.ndarray,
    *,
    n_lambdas: int,
    lambda_min_ratio: float,
    n_eff: float,
    n_predictors: int,
    ebic_gamma: float,
    ebic_refit: bool = True,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> tuple[np.ndarray, np.ndarray]:
    """EBIC-selected LASSO coefficients for many nodes at once.

    Node v has ``p_v = b_off[v+1] − b_off[v]`` predictors; its Gram block is the row-major
    ``p_v × p_v`` slice of ``g_flat`` at ``g_off[v]``; ``penalized`` is aligned with ``b_flat``.
    Returns (coefficients aligned with ``b_flat``, chosen λ per node)."""
    beta = np.zeros(b_flat.size, dtype=np.float64)
    lam = np.zeros(b_off.size - 1, dtype=np.float64)
    g_flat, b_flat = _finite_blocks(g_flat, g_off, b_off, b_flat)
    if b_off.size > 1:
        _solve_blocks(
            np.ascontiguousarray(g_flat, dtype=np.float64),
            g_off.astype(np.int64),
            np.ascontiguousarray(b_flat, dtype=np.float64),
            b_off.astype(np.int64),
            penalized.astype(np.bool_),
            int(n_lambdas),
            float(lambda_min_ratio),
            float(n_eff),
            math.log(max(n_predictors, 2)),
            float(ebic_gamma),
            bool(ebic_refit),
            float(tol),
            int(max_iter),
            beta,
            lam,
        )
    return beta, lam
