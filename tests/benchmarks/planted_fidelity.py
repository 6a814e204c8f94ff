"""Where the SAE-trained rows' strictly false edges come from: fidelity of each latent's mapping,
and the encoder geometry of the exclusion edges (``planted_sae.sae_rows`` calls both).

1. Fidelity (``latent_fidelity``): every latent gets the true feature the Hungarian assignment
   of ``planted_sae.hungarian`` gives it (no cosine cut), and two scores of that mapping: the
   decoder/true-direction cosine, and the Pearson correlation over the benchmark's tokens of
   the latent's activation with its feature's true activation.
2. Per score and threshold t (``THRESHOLDS``), the edges of each method in ``SCORED`` whose two
   latents both score >= t are mapped to their features' pair and classified
   (``PlantedTruth.classify``): edges, structural precision, structural recall (over planted
   parent–child pairs whose two latents both score >= t), the strictly false count and share,
   and the share's Clopper–Pearson 95 % interval (``scipy.stats.beta``), so that 1 false edge
   among 57 reads as an interval, not a point.
3. EXCLUDES geometry (``exclusion_geometry``), on the edges between matched latents (the main
   table's mapping): the share of the strictly false edges whose two latents have encoder
   cosine < 0 and both firing densities > d (``DENSITY_CUTS``), against the same share among
   every tested pair (the exclusion family, rebuilt from the latents' firing counts and the
   stage's ``familyLogThreshold``), and the median co-firing odds ratio of the strictly false
   edges' latents against that of their true features.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

SCORED = ("CO_ACTIVATES default", "LASSO default q <= 0.05", "EXCLUDES default")
"""Method rows that get the fidelity breakdown."""
THRESHOLDS = {"decoder cosine": (0.3, 0.5, 0.7, 0.8, 0.9), "activation correlation": (0.5, 0.7, 0.8)}
"""Fidelity thresholds per score (activation correlations of matched latents stay below ~0.85)."""
DENSITY_CUTS = (0.1, 0.01)
"""Firing-density cuts of the geometric explanation (the median live latent fires in ~0.2 %)."""


def _column_moments(x: sp.csc_matrix) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    mean = np.asarray(x.sum(axis=0)).ravel() / n
    return mean, np.asarray(x.multiply(x).sum(axis=0)).ravel() / n - mean**2


def latent_fidelity(latent_acts, acts, assigned: np.ndarray, cosine: np.ndarray) -> dict[str, np.ndarray]:
    """Step 1: {score name: float [n_latents] (nan where a latent has no feature or never fires)}."""
    x = sp.csc_matrix(latent_acts, dtype=np.float64)
    y = sp.csc_matrix(acts, dtype=np.float64)[:, np.maximum(assigned, 0)]
    mx, vx = _column_moments(x)
    my, vy = _column_moments(y)
    cov = np.asarray(x.multiply(y).sum(axis=0)).ravel() / x.shape[0] - mx * my
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where((vx > 0) & (vy > 0), cov / np.sqrt(vx * vy), np.nan)
    r[assigned < 0] = np.nan
    return {"decoder cosine": np.asarray(cosine, float), "activation correlation": r}


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Exact binomial interval for k successes in n trials (None when n = 0)."""
    from scipy.stats import beta

    if n == 0:
        return None
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def fidelity_rows(res, truth, assigned: np.ndarray, fid: dict[str, np.ndarray], info: dict) -> list[dict]:
    """Step 2: one row per (score, threshold) for one method's edges."""
    latent_of = np.full(truth.parent.size, -1, np.int64)
    latent_of[assigned[assigned >= 0]] = np.flatnonzero(assigned >= 0)
    child = np.flatnonzero(truth.parent >= 0)
    lc, lp = latent_of[child], latent_of[truth.parent[child]]
    rows = []
    for name, thresholds in THRESHOLDS.items():
        s = np.nan_to_num(fid[name], nan=-np.inf)
        for t in thresholds:
            keep = (s[res.i] >= t) & (s[res.j] >= t)
            cls = truth.classify(assigned[res.i[keep]], assigned[res.j[keep]])
            n, k = int(keep.sum()), int(cls["false_exc" if res.kind == "exc" else "false_pos"].sum())
            n_struct = int(((lc >= 0) & (lp >= 0) & (s[lc] >= t) & (s[lp] >= t)).sum())
            ci = clopper_pearson(k, n)
            rows.append(
                {
                    "features": info["features"],
                    "seed": info["seed"],
                    "score": name,
                    "threshold": f">= {t}",
                    "latents": int((s >= t).sum()),
                    "method": res.name,
                    "edges": n,
                    "precision": cls["structural"].sum() / n if n else None,
                    "recall": cls["structural"].sum() / n_struct if n_struct else None,
                    "falseCount": k,
                    "strictlyFalse": k / n if n else None,
                    "falseCi": f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else None,
                    "claimedQ": res.claimed_q,
                }
            )
    return rows


def _family_pairs(n_fires: np.ndarray, n_tokens: int, log_thr: float, unit: np.ndarray, block: int = 256):
    """(i, j, encoder cosine) of the exclusion family (``stats.hypergeom.exclusion_family``'s
    pairs), in blocks of rows."""
    from saegraph.ingest.edges.stats.significance import log_factorial_table

    lf = log_factorial_table(n_tokens)
    n = np.asarray(n_fires, np.int64)
    cols = np.arange(n.size)
    for r0 in range(0, n.size, block):
        rows = cols[r0 : r0 + block]
        a, b = n[rows][:, None], n[None, :]
        ok = (a > 0) & (b > 0) & (a + b <= n_tokens) & (cols[None, :] > rows[:, None])
        na, nb, nab = (np.clip(v, 0, n_tokens) for v in (n_tokens - a, n_tokens - b, n_tokens - a - b))
        log_p0 = lf[na] - lf[nab] - lf[n_tokens] + lf[nb]  # log P(C = 0): the smallest lower-tail p
        ii, jj = np.nonzero(ok & (log_p0 <= log_thr))
        yield rows[ii], jj, (unit[:, rows].T @ unit)[ii, jj]


def _odds_ratio(binary: sp.csc_matrix, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    n = binary.shape[0]
    c = np.asarray(binary[:, i].multiply(binary[:, j]).sum(axis=0)).ravel()
    a = np.asarray(binary[:, i].sum(axis=0)).ravel()
    b = np.asarray(binary[:, j].sum(axis=0)).ravel()
    return (c + 0.5) * (n - a - b + c + 0.5) / ((a - c + 0.5) * (b - c + 0.5))


def exclusion_geometry(res, truth, latent_acts, acts, feature, enc: np.ndarray, info: dict) -> list[dict]:
    """Step 3: one row per density cut; ``enc`` is the SAE's W_enc [d_in, n_latents]."""
    log_thr = res.extra.get("logThr")
    if log_thr is None:
        return []
    n_tokens = latent_acts.shape[0]
    binary = sp.csc_matrix(latent_acts > 0, dtype=np.float32)
    n_fires = np.asarray(binary.sum(axis=0)).ravel().astype(np.int64)
    density = n_fires / n_tokens
    unit = enc / np.maximum(np.linalg.norm(enc, axis=0, keepdims=True), 1e-12)
    matched = feature >= 0
    both = matched[res.i] & matched[res.j]
    i, j = res.i[both], res.j[both]
    false = truth.classify(feature[i], feature[j])["false_exc"]
    i, j = i[false], j[false]
    enc_cos = np.einsum("dk,dk->k", unit[:, i], unit[:, j])
    parts = list(_family_pairs(n_fires, n_tokens, log_thr, unit))
    fi, fj = (np.concatenate([p[k] for p in parts]).astype(np.int64) for k in (0, 1))
    fc = np.concatenate([p[2] for p in parts])
    fam_matched = matched[fi] & matched[fj]
    true_binary = sp.csc_matrix(acts > 0, dtype=np.float32)
    or_latent = _odds_ratio(binary, i, j) if i.size else np.zeros(0)
    or_true = _odds_ratio(true_binary, feature[i], feature[j]) if i.size else np.zeros(0)
    rows = []
    for cut in DENSITY_CUTS:
        geo = (enc_cos < 0) & (density[i] > cut) & (density[j] > cut)
        fgeo = (fc < 0) & (density[fi] > cut) & (density[fj] > cut)
        rows.append(
            {
                "features": info["features"],
                "seed": info["seed"],
                "falseEdges": int(i.size),
                "densityCut": f"> {cut}",
                "geoFalse": geo.mean() if geo.size else None,
                "family": int(fc.size),
                "geoFamily": fgeo.mean() if fgeo.size else None,
                "geoFamilyMatched": fgeo[fam_matched].mean() if fam_matched.any() else None,
                "encNegFalse": (enc_cos < 0).mean() if i.size else None,
                "encNegFamily": (fc < 0).mean() if fc.size else None,
                "orLatent": float(np.median(or_latent)) if i.size else None,
                "orTrue": float(np.median(or_true)) if i.size else None,
            }
        )
    return rows
