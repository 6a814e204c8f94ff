"""Baselines: the straightforward code a competent researcher writes today, for ``run.py``.

Each function is what a notebook would do with the standard tool, written carefully (vectorised,
float32 where it is safe, the library's own fast paths), so a ratio against it is a fair one:
1. co-occurrence: ``B = (A > 0)`` then ``C = B.T @ B`` (dense numpy float32 BLAS, or
   ``scipy.sparse``), keep the upper triangle with ``C >= min_count`` and NPMI >= ``min_npmi``;
2. graph statistics: a ``networkx.Graph`` from the edge list, degree, local clustering and
   ``networkx.community.louvain_communities``;
3. per-node ``sklearn.linear_model.Lasso`` (``bench_lasso.sklearn_per_node``);
4. dense Hungarian matching, ``scipy.optimize.linear_sum_assignment`` on the full F x F cosine
   matrix (``bench_edges.dense_matching``);
5. row-by-row loading: one ``MERGE`` statement and one (auto-committed) transaction per row,
   on the embedded store or through the Neo4j loader with ``batch_size=1``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

# One statement per row, $params only (no string building): what a per-row loader sends.
MERGE_FEATURE_ROW = (
    "MERGE (f:Feature {featureId: $featureId}) "
    "SET f.saeId = $saeId, f.`index` = $featureIndex, f.density = $density, f.nFirings = $nFirings, "
    "f.meanAct = $meanAct, f.maxAct = $maxAct, f.decoderNorm = $decoderNorm, f.dead = $dead"
)
MERGE_COACTIVATES_ROW = (
    "MATCH (a:Feature {featureId: $source}), (b:Feature {featureId: $target}) "
    "MERGE (a)-[r:CO_ACTIVATES {runId: $runId}]->(b) "
    "SET r.saeId = $saeId, r.count = $count, r.jaccard = $jaccard, r.npmi = $npmi, r.phi = $phi, "
    "r.pTargetGivenSource = $pTargetGivenSource, r.pSourceGivenTarget = $pSourceGivenTarget, "
    "r.pearson = $pearson, r.pValue = $pValue, r.qValue = $qValue"
)
FEATURE_ROW_COLUMNS = (
    "featureId",
    "saeId",
    "index",
    "density",
    "nFirings",
    "meanAct",
    "maxAct",
    "decoderNorm",
    "dead",
)


def _threshold_pairs(
    counts_upper: tuple, n_fires: np.ndarray, n_tokens: int, min_count: int, min_npmi: float
) -> int:
    i, j, c = counts_upper
    keep = c >= min_count
    i, j, c = i[keep], j[keep], c[keep].astype(np.float64)
    p_ij = c / n_tokens
    pmi = np.log(p_ij / ((n_fires[i] / n_tokens) * (n_fires[j] / n_tokens)))
    npmi = np.where(p_ij < 1.0, pmi / -np.log(p_ij), 1.0)
    return int(np.count_nonzero(npmi >= min_npmi))


def dense_cooccurrence(acts: sp.csr_matrix, min_count: int = 5, min_npmi: float = 0.1) -> int:
    """Notebook co-occurrence: dense 0/1 float32 B, C = B.T @ B (BLAS), threshold; returns #pairs."""
    n_tokens = acts.shape[0]
    b = (acts > 0).toarray().astype(np.float32)
    c = b.T @ b
    del b
    n_fires = np.diag(c).astype(np.float64)
    iu, ju = np.nonzero(np.triu(c >= min_count, k=1))
    return _threshold_pairs((iu, ju, c[iu, ju]), n_fires, n_tokens, min_count, min_npmi)


def scipy_cooccurrence(acts: sp.csr_matrix, min_count: int = 5, min_npmi: float = 0.1) -> int:
    """Sparse co-occurrence: scipy ``B.T @ B`` on the 0/1 pattern, upper triangle, threshold."""
    n_tokens = acts.shape[0]
    b = acts.copy()
    b.data[:] = 1.0
    b = b.astype(np.float32)
    c = (b.T @ b).tocoo()
    n_fires = np.asarray(b.sum(axis=0)).ravel().astype(np.float64)
    up = c.row < c.col
    return _threshold_pairs((c.row[up], c.col[up], c.data[up]), n_fires, n_tokens, min_count, min_npmi)


def networkx_graph_stats(edges: pd.DataFrame, seed: int = 0) -> dict:
    """networkx: build from (source, target, npmi), degree, local clustering, Louvain."""
    import networkx as nx

    g = nx.Graph()
    g.add_weighted_edges_from(zip(edges["source"], edges["target"], edges["npmi"]))
    degree = dict(g.degree())
    clustering = nx.clustering(g)
    communities = nx.community.louvain_communities(g, weight="weight", seed=seed)
    return {
        "nodes": g.number_of_nodes(),
        "edges": g.number_of_edges(),
        "maxDegree": max(degree.values()),
        "meanClustering": float(np.mean(list(clustering.values()))),
        "communities": len(communities),
        "modularity": float(nx.community.modularity(g, communities, weight="weight")),
    }


def rowwise_load_embedded(store, features: pd.DataFrame, edges: pd.DataFrame, run_id: str) -> int:
    """One MERGE per row, one auto-committed transaction per row: features, then CO_ACTIVATES."""
    n = 0
    for row in features[list(FEATURE_ROW_COLUMNS)].itertuples(index=False):
        params = dict(zip(FEATURE_ROW_COLUMNS, row))
        params["featureIndex"] = params.pop("index")  # `index` is a reserved word as a parameter name
        params = {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
        store.run(MERGE_FEATURE_ROW, params)
        n += 1
    cols = list(edges.columns)
    for row in edges.itertuples(index=False):
        params = {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(cols, row)}
        params["runId"] = run_id
        store.run(MERGE_COACTIVATES_ROW, params)
        n += 1
    return n


def rowwise_load_neo4j(bundle_path, store) -> float:
    """The Neo4j loader with ``batch_size=1``: one ``MERGE`` row per transaction; returns seconds."""
    from saegraph.ingest.stores.neo4j import StoreRunner, load_bundle_neo4j

    return load_bundle_neo4j(bundle_path, StoreRunner(store), batch_size=1, progress=False).seconds


def sklearn_lasso_path_per_node(acts, starts, cfg, n_nodes: int, seed: int) -> tuple[float, int]:
    """Per-node ``sklearn.linear_model.lasso_path`` (precomputed Gram, one call per node for the whole
    λ path, sklearn's default tol) on the same subsample, screen and candidates as
    ``bench_lasso.sklearn_per_node``; returns (mean seconds per node, nodes with candidates)."""
    import time

    from bench_lasso import sampled_candidate_nodes, standardized_block
    from sklearn.linear_model import lasso_path

    prepared = sampled_candidate_nodes(acts, starts, cfg, n_nodes, seed)
    if prepared is None:
        return float("nan"), 0
    x, cand_ptr, cand_idx, sample, n_with = prepared
    t0 = time.perf_counter()
    xc = x.tocsc()  # column slicing per node is what a careful notebook makes cheap
    for v in sample:
        y, Xc = standardized_block(xc, np.concatenate([[v], cand_idx[cand_ptr[v] : cand_ptr[v + 1]]]))
        lam_max = np.abs(Xc.T @ y).max() / y.size
        alphas = lam_max * cfg.lambda_min_ratio ** (np.arange(cfg.n_lambdas) / (cfg.n_lambdas - 1))
        lasso_path(Xc, y, alphas=alphas, precompute=True)
    return (time.perf_counter() - t0) / sample.size, n_with
