"""Node-signature matching across two graphs (pure core; docs/methods.md, Comparing two SAE
graphs).

Algorithm:
1. Signature per node: log(1 + degree), log(1 + strength), local clustering, core number,
   PageRank, size of its Leiden community (modularity, seed 0), and the 1- and 2-step
   neighbour-degree histograms (fraction of the node's neighbours, resp. of its 2-step
   walks, whose log2(1 + degree) falls in each of ``hist_bins`` equal bins).
2. Each column is rank-normalised within its own graph (average rank / n, in (0, 1]),
   which makes graphs of different sizes and weight scales comparable.
3. For each G_A node u with a ground-truth partner t(u) (decoder-cosine matches), rank all
   G_B nodes by Euclidean distance to u's signature; with ties, the expected metrics under a
   uniformly random tie-break: rank is uniform on [less + 1, less + ties], so
   P(hit@k) = clip((k - less) / ties, 0, 1) and E[1/rank] = (H(less + ties) - H(less)) / ties.
4. Report hits@1, hits@10 and MRR for the full signature and a degree-only signature, with
   chance levels 1/n_B, 10/n_B and H(n_B)/n_B. Distances are computed in row blocks, so
   memory is O(block * n_B).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma

from saegraph.queries.analysis.graph import FeatureGraph

DEGREE_ONLY = ("logDegree",)


def _harmonic(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, digamma(x + 1) + np.euler_gamma, 0.0)


def raw_signatures(fg: FeatureGraph, *, hist_bins: int = 6, communities=None) -> pd.DataFrame:
    """Un-normalised signature columns, index featureId."""
    import scipy.sparse as sp

    from saegraph.queries.analysis.communities import leiden

    g = fg.graph
    n = g.vcount()
    deg = np.asarray(g.degree(), dtype=float)
    strength = np.asarray(g.strength(weights="weight"), dtype=float) if g.ecount() else np.zeros(n)
    labels = (
        np.asarray(communities)
        if communities is not None
        else (leiden(fg, objective="modularity", seed=0) if g.ecount() else np.arange(n))
    )
    comm_size = np.bincount(labels)[labels].astype(float)
    frame = {
        "logDegree": np.log1p(deg),
        "logStrength": np.log1p(strength),
        "clustering": np.nan_to_num(np.asarray(g.transitivity_local_undirected(mode="zero"), dtype=float)),
        "core": np.asarray(g.coreness(), dtype=float),
        "pagerank": np.asarray(g.pagerank(directed=False), dtype=float),
        "communitySize": comm_size,
    }
    el = fg.edge_array()
    adj = sp.coo_matrix(
        (np.ones(2 * len(el)), (np.r_[el[:, 0], el[:, 1]], np.r_[el[:, 1], el[:, 0]])), shape=(n, n)
    ).tocsr()
    ld = np.log2(1 + deg)
    top = max(float(ld.max()) if n else 1.0, 1e-9)
    bin_of = np.minimum((ld / top * hist_bins).astype(int), hist_bins - 1)
    onehot = sp.csr_matrix((np.ones(n), (np.arange(n), bin_of)), shape=(n, hist_bins))
    hop1 = np.asarray((adj @ onehot).todense())
    hop2 = np.asarray(adj @ hop1)
    for name, h in (("hop1", hop1), ("hop2", hop2)):
        tot = h.sum(axis=1, keepdims=True)
        h = np.divide(h, tot, out=np.zeros_like(h), where=tot > 0)
        for k in range(hist_bins):
            frame[f"{name}Bin{k}"] = h[:, k]
    return pd.DataFrame(frame, index=pd.Index(fg.ids, name="featureId"))


def rank_normalise(sig: pd.DataFrame) -> pd.DataFrame:
    """Average rank / n per column (ties share a rank)."""
    return sig.rank(method="average") / max(1, len(sig))


def node_signatures(fg: FeatureGraph, **kwargs) -> pd.DataFrame:
    """Rank-normalised structural signature per node (module docstring, steps 1–2)."""
    return rank_normalise(raw_signatures(fg, **kwargs))


def truth_ranks(
    sig_a: pd.DataFrame, sig_b: pd.DataFrame, truth: pd.DataFrame, *, columns=None, block: int = 1024
) -> pd.DataFrame:
    """Per truth pair: source, target, less (B nodes strictly closer), ties (incl. the target)."""
    cols = list(columns) if columns is not None else list(sig_a.columns)
    pairs = truth[truth["source"].isin(sig_a.index) & truth["target"].isin(sig_b.index)]
    xa = sig_a.loc[pairs["source"], cols].to_numpy(dtype=float)
    xb = sig_b[cols].to_numpy(dtype=float)
    t_pos = sig_b.index.get_indexer(pairs["target"])
    less = np.zeros(len(pairs), dtype=np.int64)
    ties = np.zeros(len(pairs), dtype=np.int64)
    nb2 = (xb**2).sum(axis=1)
    for lo in range(0, len(pairs), block):
        xa_blk = xa[lo : lo + block]
        d = (xa_blk**2).sum(axis=1)[:, None] + nb2[None, :] - 2.0 * xa_blk @ xb.T
        d = np.round(np.maximum(d, 0.0), 12)
        dt = d[np.arange(len(xa_blk)), t_pos[lo : lo + block]][:, None]
        less[lo : lo + block] = (d < dt).sum(axis=1)
        ties[lo : lo + block] = (d == dt).sum(axis=1)
    return pd.DataFrame(
        {
            "source": pairs["source"].to_numpy(),
            "target": pairs["target"].to_numpy(),
            "less": less,
            "ties": ties,
        }
    )


def retrieval_scores(ranks: pd.DataFrame, n_b: int, ks=(1, 10)) -> dict[str, float]:
    """Expected hits@k and MRR under random tie-breaking (module docstring, step 3)."""
    less = ranks["less"].to_numpy(dtype=float)
    ties = ranks["ties"].to_numpy(dtype=float)
    out = {}
    for k in ks:
        out[f"hits@{k}"] = float(np.clip((k - less) / ties, 0.0, 1.0).mean()) if len(less) else float("nan")
    out["MRR"] = (
        float(((_harmonic(less + ties) - _harmonic(less)) / ties).mean()) if len(less) else float("nan")
    )
    return out


def signature_matching(
    fg_a: FeatureGraph,
    fg_b: FeatureGraph,
    truth: pd.DataFrame,
    *,
    communities_a=None,
    communities_b=None,
    hist_bins: int = 6,
) -> pd.DataFrame:
    """hits@1, hits@10, MRR of the full and degree-only signatures and chance; one row each."""
    sig_a = node_signatures(fg_a, hist_bins=hist_bins, communities=communities_a)
    sig_b = node_signatures(fg_b, hist_bins=hist_bins, communities=communities_b)
    n_b = len(sig_b)
    rows = []
    for name, cols in (("signature", None), ("degreeOnly", DEGREE_ONLY)):
        ranks = truth_ranks(sig_a, sig_b, truth, columns=cols)
        rows.append(
            {"method": name, **retrieval_scores(ranks, n_b), "nQueries": len(ranks), "nCandidates": n_b}
        )
    harmonic = float(_harmonic(np.array([n_b]))[0])
    rows.append(
        {
            "method": "chance",
            "hits@1": 1.0 / n_b,
            "hits@10": min(1.0, 10.0 / n_b),
            "MRR": harmonic / n_b,
            "nQueries": rows[0]["nQueries"],
            "nCandidates": n_b,
        }
    )
    frame = pd.DataFrame(rows)
    # How many times chance; below 1 means the signature ranks the true match worse than a
    # random ordering would (the structure around a feature does not identify its match).
    frame["hits@1xChance"] = frame["hits@1"] / (1.0 / n_b)
    return frame
