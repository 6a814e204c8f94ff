"""Gram-block LASSO solver against sklearn Lasso and graphical_lasso."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.covariance import graphical_lasso
from sklearn.linear_model import Lasso

from saegraph.ingest.edges.lasso.single import lasso_gram, lasso_path_gram, neighborhood_selection
from saegraph.ingest.edges.lasso.solver import solve_nodes


def standardized_problem(seed: int, n: int = 400, p: int = 12):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ (np.eye(p) + 0.4 * rng.normal(size=(p, p)))
    y = X[:, :3] @ np.array([0.8, -0.5, 0.3]) + rng.normal(size=n)
    Xs = (X - X.mean(0)) / X.std(0)
    ys = (y - y.mean()) / y.std()
    return Xs, ys, Xs.T @ Xs / n, Xs.T @ ys / n


def sklearn_coef(Xs, ys, lam):
    return Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=1_000_000).fit(Xs, ys).coef_


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_single_fit_equals_sklearn(seed):
    Xs, ys, G, b = standardized_problem(seed)
    for lam in np.abs(b).max() * np.array([0.9, 0.3, 0.05, 0.005]):
        np.testing.assert_allclose(lasso_gram(G, b, lam), sklearn_coef(Xs, ys, lam), atol=1e-6)


@pytest.mark.parametrize("warm", [True, False])
def test_path_equals_sklearn_with_and_without_warm_starts(warm):
    Xs, ys, G, b = standardized_problem(7, p=20)
    lams = np.abs(b).max() * np.geomspace(1.0, 0.01, 15)
    path = lasso_path_gram(G, b, lams, warm_start=warm)
    for k, lam in enumerate(lams):
        np.testing.assert_allclose(path[k], sklearn_coef(Xs, ys, lam), atol=1e-6)


def test_unpenalized_covariates_satisfy_kkt():
    _, _, G, b = standardized_problem(3)
    pen = np.ones(b.size, dtype=bool)
    pen[[0, 5]] = False
    lam = 0.1
    beta = lasso_gram(G, b, lam, penalized=pen)
    grad = b - G @ beta
    np.testing.assert_allclose(grad[~pen], 0.0, atol=1e-8)
    active = pen & (beta != 0)
    np.testing.assert_allclose(grad[active], lam * np.sign(beta[active]), atol=1e-8)
    assert np.all(np.abs(grad[pen & (beta == 0)]) <= lam + 1e-8)


def reference_ebic(Xs, ys, n_lambdas, ratio, n_eff, p_full, gamma, refit):
    """EBIC-selected coefficients computed with sklearn fits (and numpy refits)."""
    n = Xs.shape[0]
    lam_max = np.abs(Xs.T @ ys / n).max()
    best, best_beta = np.inf, None
    for k in range(n_lambdas):
        lam = lam_max * ratio ** (k / (n_lambdas - 1))
        beta = sklearn_coef(Xs, ys, lam)
        sup = np.flatnonzero(beta)
        if refit and sup.size:
            coef, *_ = np.linalg.lstsq(Xs[:, sup], ys, rcond=None)
            fitted = np.zeros_like(beta)
            fitted[sup] = coef
        else:
            fitted = beta
        rss = np.mean((ys - Xs @ fitted) ** 2)
        ebic = n_eff * math.log(rss) + sup.size * (math.log(n_eff) + 2 * gamma * math.log(p_full))
        if ebic < best - 1e-12:
            best, best_beta = ebic, fitted
    return best_beta


@pytest.mark.parametrize("refit", [True, False])
def test_batched_ebic_selection_equals_reference(refit):
    problems = [standardized_problem(s, n=300, p=p) for s, p in [(11, 8), (12, 15), (13, 4)]]
    g_flat = np.concatenate([G.ravel() for _, _, G, _ in problems])
    g_off = np.cumsum([0] + [G.size for _, _, G, _ in problems[:-1]])
    b_flat = np.concatenate([b for *_, b in problems])
    b_off = np.cumsum([0] + [b.size for *_, b in problems])
    beta, lam = solve_nodes(
        g_flat,
        g_off,
        b_flat,
        b_off,
        np.ones(b_flat.size, bool),
        n_lambdas=20,
        lambda_min_ratio=0.01,
        n_eff=300.0,
        n_predictors=50,
        ebic_gamma=0.5,
        ebic_refit=refit,
    )
    assert lam.shape == (3,)
    for v, (Xs, ys, _, _) in enumerate(problems):
        ref = reference_ebic(Xs, ys, 20, 0.01, 300.0, 50, 0.5, refit)
        np.testing.assert_allclose(beta[b_off[v] : b_off[v + 1]], ref, atol=1e-6)


def chain_precision(p: int, strength: float = 0.4) -> np.ndarray:
    K = np.eye(p)
    for i in range(p - 1):
        K[i, i + 1] = K[i + 1, i] = strength
    return K


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_neighbourhood_selection_matches_graphical_lasso_support(seed):
    rng = np.random.default_rng(seed)
    p, n = 15, 3000
    K = chain_precision(p)
    X = rng.multivariate_normal(np.zeros(p), np.linalg.inv(K), size=n)
    R = np.corrcoef(X, rowvar=False)
    adj, B = neighborhood_selection(R, n)
    _, prec = graphical_lasso(R, alpha=0.2)
    off = ~np.eye(p, dtype=bool)
    glasso_support = (np.abs(prec) > 1e-8) & off
    truth = (K != 0) & off
    assert np.array_equal(adj, glasso_support)
    assert np.array_equal(adj, truth)
    # signs kept: a positive precision entry is a negative partial correlation
    assert np.all(B[adj] < 0)


def test_a_constant_column_in_a_replicate_gives_zero_not_nan():
    """A subsample can leave a feature constant: its correlations are NaN, its coefficient 0."""
    from saegraph.ingest.edges.lasso.solver import solve_nodes

    g = np.array([1.0, np.nan, np.nan, np.nan])  # one node, two predictors; the second is constant
    b = np.array([0.8, np.nan])
    beta, lam = solve_nodes(
        g,
        np.array([0]),
        b,
        np.array([0, 2]),
        np.array([True, False]),
        n_lambdas=6,
        lambda_min_ratio=0.01,
        n_eff=100.0,
        n_predictors=2,
        ebic_gamma=0.5,
    )
    assert np.isfinite(beta).all() and np.isfinite(lam).all()
    assert beta[1] == 0.0 and beta[0] > 0.0
