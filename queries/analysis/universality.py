"""Universality summary for one SAE pair (docs/methods.md, MATCHES) (pure core).

Algorithm:
1. MCS (mean max cosine) both ways from the decoders when given: rows L2-normalised,
   blocked matmul A·Bᵀ keeping the running row max (A -> B) and column max (B -> A); never
   an F_A x F_B matrix at once. Without decoders, the best stored MATCHES cosine per
   feature is used and the output says so. Random baseline from extreme-value theory:
   sigma (sqrt(2 ln M) - (ln ln M + ln 4 pi) / (2 sqrt(2 ln M))), sigma = 1 / sqrt(d), M =
   number of candidates (0.155 at d = 512, M = 4096).
2. Shared-feature fraction at each threshold tau: one-to-one (``hungarian``, else ``mnn``)
   matches with cosine >= tau, over the width of A and of B.
3. Activation-correlation summary of the one-to-one matches (count, the number whose
   correlation is undefined because a feature never fired on the shared tokens, mean,
   median, 10th/90th percentiles).
4. Splitting (different widths): ``parent`` rows grouped by the parent feature (the side of
   the narrower SAE): number of children, mean/max child cosine and, with decoders, the
   NNLS R² of the parent direction from its children's directions (scipy ``nnls``);
   plus the distribution of children counts.
Reference: Lan et al. 2024 (universality across models); Paulo & Belrose 2025 (shared
fraction); Bricken et al. 2023 (feature splitting).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def evt_baseline(m: int, d: int) -> float:
    """Expected max |cosine| of one random unit vector against M random unit vectors in R^d."""
    if m < 3 or d < 1:
        return float("nan")
    a = math.sqrt(2 * math.log(m))
    return (a - (math.log(math.log(m)) + math.log(4 * math.pi)) / (2 * a)) / math.sqrt(d)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def max_cosines(dec_a: np.ndarray, dec_b: np.ndarray, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Max cosine of each A row over B rows and of each B row over A rows (blocked)."""
    a, b = _unit_rows(dec_a), _unit_rows(dec_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"decoders have different widths d_in ({a.shape[1]} vs {b.shape[1]}): MCS needs one space"
        )
    best_a = np.full(len(a), -np.inf, dtype=np.float32)
    best_b = np.full(len(b), -np.inf, dtype=np.float32)
    for lo in range(0, len(a), block):
        sims = a[lo : lo + block] @ b.T
        best_a[lo : lo + block] = sims.max(axis=1)
        np.maximum(best_b, sims.max(axis=0), out=best_b)
    return best_a, best_b


def mcs_summary(
    matches: pd.DataFrame,
    *,
    n_a: int,
    n_b: int,
    d_in: int | None,
    dec_a: np.ndarray | None = None,
    dec_b: np.ndarray | None = None,
) -> pd.DataFrame:
    """direction, mcs, baseline, source ('decoders' | 'stored matches')."""
    if dec_a is not None and dec_b is not None:
        best_a, best_b = max_cosines(dec_a, dec_b)
        values = {"A->B": float(best_a.mean()), "B->A": float(best_b.mean())}
        source = "decoders"
        d_in = dec_a.shape[1]
    else:
        values = {
            "A->B": float(matches.groupby("source")["cosine"].max().sum() / max(1, n_a)),
            "B->A": float(matches.groupby("target")["cosine"].max().sum() / max(1, n_b)),
        }
        source = "stored matches (features without a stored match count as 0)"
    return pd.DataFrame(
        [
            {
                "direction": "A->B",
                "mcs": values["A->B"],
                "baseline": evt_baseline(n_b, d_in or 0),
                "source": source,
            },
            {
                "direction": "B->A",
                "mcs": values["B->A"],
                "baseline": evt_baseline(n_a, d_in or 0),
                "source": source,
            },
        ]
    )


def one_to_one(matches: pd.DataFrame) -> pd.DataFrame:
    methods = set(matches["method"]) if "method" in matches.columns else set()
    for method in ("hungarian", "mnn"):
        if method in methods:
            return matches[matches["method"] == method]
    return matches.iloc[0:0] if methods else matches


def shared_fraction(matches: pd.DataFrame, thresholds, *, n_a: int, n_b: int) -> pd.DataFrame:
    """threshold, nShared, fractionOfA, fractionOfB (one-to-one matches with cosine >= tau)."""
    pairs = one_to_one(matches)
    rows = []
    for tau in thresholds:
        k = int((pairs["cosine"] >= tau).sum())
        rows.append(
            {
                "threshold": float(tau),
                "nShared": k,
                "fractionOfA": k / max(1, n_a),
                "fractionOfB": k / max(1, n_b),
            }
        )
    return pd.DataFrame(rows)


def act_corr_summary(matches: pd.DataFrame) -> pd.DataFrame:
    pairs = one_to_one(matches)
    x = pairs["actCorr"].to_numpy(dtype=float) if "actCorr" in pairs.columns else np.zeros(0)
    ok = x[~np.isnan(x)]

    def stat(f) -> float:
        return float(f(ok)) if len(ok) else float("nan")

    return pd.DataFrame(
        [
            {
                "n": len(x),
                "nUndefined": int(np.isnan(x).sum()),
                "mean": stat(np.mean),
                "median": stat(np.median),
                "q10": stat(lambda v: np.quantile(v, 0.1)),
                "q90": stat(lambda v: np.quantile(v, 0.9)),
            }
        ]
    )


def splitting_table(
    matches: pd.DataFrame,
    *,
    parent_side: str,
    dec_parent: np.ndarray | None = None,
    dec_child: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-parent table, children-count distribution). ``parent_side``: 'source' or 'target'."""
    from scipy.optimize import nnls

    rows = matches[matches["method"] == "parent"] if "method" in matches.columns else matches.iloc[0:0]
    child_side = "target" if parent_side == "source" else "source"
    out = []
    for parent, sub in rows.groupby(parent_side):
        r2 = float("nan")
        if dec_parent is not None and dec_child is not None:
            p = _unit_rows(dec_parent[[int(str(parent).rsplit(":", 1)[1])]])[0]
            kids = _unit_rows(dec_child[[int(str(c).rsplit(":", 1)[1]) for c in sub[child_side]]])
            coef, resid = nnls(kids.T.astype(float), p.astype(float))
            r2 = 1.0 - float(resid) ** 2 / float((p**2).sum())
        out.append(
            {
                "parent": parent,
                "nChildren": len(sub),
                "meanCosine": float(sub["cosine"].mean()),
                "maxCosine": float(sub["cosine"].max()),
                "nnlsR2": r2,
                "children": sub[child_side].tolist(),
            }
        )
    table = pd.DataFrame(
        out, columns=["parent", "nChildren", "meanCosine", "maxCosine", "nnlsR2", "children"]
    )
    table = table.sort_values(["nChildren", "parent"], ascending=[False, True]).reset_index(drop=True)
    counts = table.groupby("nChildren").size().rename("nParents").reset_index()
    return table, counts


def universality_summary(
    matches: pd.DataFrame, *, n_a: int, n_b: int, d_in: int | None, thresholds, dec_a=None, dec_b=None
) -> dict[str, pd.DataFrame]:
    """All universality tables for the pair A -> B (module docstring)."""
    out = {
        "mcs": mcs_summary(matches, n_a=n_a, n_b=n_b, d_in=d_in, dec_a=dec_a, dec_b=dec_b),
        "shared": shared_fraction(matches, thresholds, n_a=n_a, n_b=n_b),
        "actCorr": act_corr_summary(matches),
    }
    if n_a != n_b:
        parent_side = "source" if n_a < n_b else "target"
        dec_p, dec_c = (dec_a, dec_b) if parent_side == "source" else (dec_b, dec_a)
        out["splitting"], out["splittingCounts"] = splitting_table(
            matches, parent_side=parent_side, dec_parent=dec_p, dec_child=dec_c
        )
    return out
