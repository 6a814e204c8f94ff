"""Agreement of two graphs through a node matching, against permutation nulls (pure core).

Algorithm (docs/methods.md, Comparing two SAE graphs):
1. Matching pi: A-features -> B-features from the MATCHES table: the one-to-one
   ``hungarian`` rows (else ``mnn`` rows), optionally only those with cosine >= tau; a
   feature matched twice keeps its highest-cosine partner.
2. Community agreement on matched nodes: contingency table of (label_A(u), label_B(pi(u)));
   MI, ARI (Hubert & Arabie 1985) and AMI with arithmetic-mean normalisation (Vinh,
   Epps & Bailey, JMLR 2010). Under a permutation of pi both marginals are fixed, so the
   expected MI (EMI) and the entropies are computed once and each permutation costs one
   bincount: AMI_perm = (MI_perm - EMI) / (mean(H_A, H_B) - EMI).
3. Edge overlap: |{(u, v) in E_A : u, v matched, (pi(u), pi(v)) in E_B}| / |E_A on matched
   nodes|, by sorted integer keys and ``np.isin``.
4. Nulls: ``n_perm`` >= 1000 random permutations of pi's image over the matched nodes;
   report null mean, sd, z and the one-sided p = (1 + #{null >= observed}) / (1 + n_perm).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def node_matching(
    matches: pd.DataFrame,
    *,
    method: str | None = None,
    min_cosine: float | None = None,
    source_sae: str | None = None,
    target_sae: str | None = None,
) -> pd.DataFrame:
    """One-to-one matching as a frame: source, target, cosine (sorted by source)."""
    m = matches
    if source_sae is not None and "sourceSae" in m.columns:
        m = m[(m["sourceSae"] == source_sae) & (m["targetSae"] == target_sae)]
    if method is None:
        methods = set(m["method"]) if "method" in m.columns else set()
        method = "hungarian" if "hungarian" in methods else ("mnn" if "mnn" in methods else None)
    if method is not None and "method" in m.columns:
        m = m[m["method"] == method]
    if min_cosine is not None:
        m = m[m["cosine"] >= min_cosine]
    m = m.sort_values("cosine", ascending=False)
    m = m.drop_duplicates("source").drop_duplicates("target")
    return m[["source", "target", "cosine"]].sort_values("source").reset_index(drop=True)


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _contingency_scores(a: np.ndarray, b: np.ndarray, ka: int, kb: int, n: int):
    """MI (nats) and the sum over cells of C(n_ij, 2) for integer labels a, b."""
    cells = np.bincount(a * kb + b, minlength=ka * kb).astype(float)
    nz = cells[cells > 0]
    rows = np.bincount(a, minlength=ka).astype(float)
    cols = np.bincount(b, minlength=kb).astype(float)
    ij = np.nonzero(cells)[0]
    mi = float((nz / n * np.log(nz * n / (rows[ij // kb] * cols[ij % kb]))).sum())
    pairs = float((nz * (nz - 1) / 2).sum())
    return mi, pairs


def _null_summary(observed: float, null: np.ndarray) -> dict[str, float]:
    sd = float(null.std(ddof=1)) if len(null) > 1 else 0.0
    return {
        "observed": observed,
        "nullMean": float(null.mean()),
        "nullSd": sd,
        "z": (observed - float(null.mean())) / sd if sd > 0 else float("nan"),
        "p": float((1 + (null >= observed - 1e-12).sum()) / (1 + len(null))),
    }


def community_agreement(
    labels_a: pd.Series, labels_b: pd.Series, matching: pd.DataFrame, *, n_perm: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """AMI and ARI of communities on matched nodes vs permutations of the matching.

    ``labels_a``/``labels_b``: Series featureId -> label. Rows: metric, observed, nullMean,
    nullSd, z, p, nMatched, nPerm."""
    from sklearn.metrics.cluster import contingency_matrix, expected_mutual_information

    pairs = matching[matching["source"].isin(labels_a.index) & matching["target"].isin(labels_b.index)]
    a_raw = labels_a.loc[pairs["source"]].to_numpy()
    b_raw = labels_b.loc[pairs["target"]].to_numpy()
    n = len(pairs)
    if n < 2:
        raise ValueError(
            "fewer than 2 matched nodes carry community labels: check the MATCHES table and SAE ids"
        )
    _, a = np.unique(a_raw, return_inverse=True)
    _, b = np.unique(b_raw, return_inverse=True)
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    rows_c = np.bincount(a).astype(float)
    cols_c = np.bincount(b).astype(float)
    h_a, h_b = _entropy(rows_c), _entropy(cols_c)
    emi = float(expected_mutual_information(contingency_matrix(a, b, sparse=True), n))
    sum_a = float((rows_c * (rows_c - 1) / 2).sum())
    sum_b = float((cols_c * (cols_c - 1) / 2).sum())
    total_pairs = n * (n - 1) / 2
    expected_index = sum_a * sum_b / total_pairs
    max_index = 0.5 * (sum_a + sum_b)

    def scores(bb: np.ndarray) -> tuple[float, float]:
        mi, index = _contingency_scores(a, bb, ka, kb, n)
        denom = 0.5 * (h_a + h_b) - emi
        ami = (mi - emi) / denom if abs(denom) > 1e-15 else 1.0
        ari_den = max_index - expected_index
        ari = (index - expected_index) / ari_den if abs(ari_den) > 1e-15 else 1.0
        return ami, ari

    ami_obs, ari_obs = scores(b)
    rng = np.random.default_rng(seed)
    null = np.array([scores(b[rng.permutation(n)]) for _ in range(n_perm)]).reshape(-1, 2)
    out = []
    for k, (metric, obs) in enumerate((("AMI", ami_obs), ("ARI", ari_obs))):
        out.append({"metric": metric, **_null_summary(obs, null[:, k]), "nMatched": n, "nPerm": n_perm})
    return pd.DataFrame(out)


def _edge_keys(edges: np.ndarray, n: int) -> np.ndarray:
    e = np.sort(edges, axis=1)
    return np.unique(e[:, 0] * n + e[:, 1])


def edge_overlap(
    edges_a: pd.DataFrame, edges_b: pd.DataFrame, matching: pd.DataFrame, *, n_perm: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Fraction of A's edges among matched nodes whose image is a B edge, vs permutations.

    ``edges_a``/``edges_b``: frames with source, target (featureIds). One row: metric,
    observed, nullMean, nullSd, z, p, nMatched, nEdgesA (A edges on matched nodes), nPerm."""
    src = matching["source"].to_numpy()
    tgt = matching["target"].to_numpy()
    n = len(src)
    a_index = pd.Index(src)
    b_index = pd.Index(tgt)
    ea = np.stack([a_index.get_indexer(edges_a["source"]), a_index.get_indexer(edges_a["target"])], axis=1)
    ea = ea[(ea >= 0).all(axis=1) & (ea[:, 0] != ea[:, 1])]
    eb = np.stack([b_index.get_indexer(edges_b["source"]), b_index.get_indexer(edges_b["target"])], axis=1)
    eb = eb[(eb >= 0).all(axis=1) & (eb[:, 0] != eb[:, 1])]
    ea_keys = _edge_keys(ea, n) if len(ea) else np.zeros(0, dtype=np.int64)
    ea = np.stack([ea_keys // n, ea_keys % n], axis=1) if len(ea_keys) else ea.reshape(0, 2)
    eb_keys = _edge_keys(eb, n) if len(eb) else np.zeros(0, dtype=np.int64)
    m = len(ea)

    def overlap(perm: np.ndarray) -> float:
        if m == 0:
            return float("nan")
        u, v = perm[ea[:, 0]], perm[ea[:, 1]]
        keys = np.minimum(u, v) * n + np.maximum(u, v)
        return float(np.isin(keys, eb_keys, assume_unique=False).mean())

    observed = overlap(np.arange(n))
    rng = np.random.default_rng(seed)
    null = np.array([overlap(rng.permutation(n)) for _ in range(n_perm)])
    summary = (
        _null_summary(observed, null)
        if m
        else {
            "observed": float("nan"),
            "nullMean": float("nan"),
            "nullSd": float("nan"),
            "z": float("nan"),
            "p": float("nan"),
        }
    )
    return pd.DataFrame(
        [
            {
                "metric": "edgeOverlap",
                **summary,
                "nMatched": n,
                "nEdgesA": m,
                "nEdgesB": len(eb_keys),
                "nPerm": n_perm,
            }
        ]
    )
