"""Seeded graph bundles for store, query and analysis tests (no model, no activations).

``make_graph_bundle`` writes all eight tables of docs/bundle.md with planted structure:
- each SAE's features fall into ``n_blocks`` equal blocks; CO_ACTIVATES edges are dense
  inside a block and rare between blocks (planted communities), so block = community;
- LASSO is a sparse subset of the CO_ACTIVATES pairs; COSINE is a k-nearest-neighbour graph
  on random decoder directions (rank 1 = nearest);
- MATCHES maps feature i of SAE k to feature perm_k[i] of SAE k+1 for the first 80 % of
  features (the rest unmatched), mutual for even i.
A few features are dead (no edges, density 0). Sizes are small by default.

``prefix`` prefixes every id (SAEs, so features, the model, the dataset; pass a run id
with the same prefix): tests on a shared Neo4j create and delete only their own nodes
(tests/neo4j/conftest.py). ``parent_matches`` adds, for the first n matches, a second
MATCHES row between the same two features with method ``parent`` (as the matching and
splitting stages emit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from saegraph.ingest.bundle import BundleBuilder
from saegraph.schema.graph import RelType

RUN_ID = "20240101T000000-abcdef01"


def _features(sae: str, n: int, rng: np.random.Generator, vocab: list[str]) -> pa.Table:
    density = rng.uniform(0.001, 0.2, n)
    dead = np.zeros(n, bool)
    dead[-2:] = True
    density[dead] = 0.0
    n_firings = (density * 10_000).astype(np.int64)
    top_tokens = [list(rng.choice(vocab, 3, replace=False)) if not d else [] for d in dead]
    return pa.table(
        {
            "featureId": [f"{sae}:{i}" for i in range(n)],
            "saeId": [sae] * n,
            "index": np.arange(n, dtype=np.int64),
            "density": density,
            "nFirings": n_firings,
            "meanAct": rng.uniform(0.5, 3, n),
            "maxAct": rng.uniform(3, 10, n),
            "decoderNorm": rng.uniform(0.9, 1.1, n),
            "dead": dead,
            "topTokens": pa.array(top_tokens, pa.list_(pa.string())),
            "topTokenActs": pa.array(
                [list(np.sort(rng.uniform(1, 5, len(t)))[::-1]) for t in top_tokens], pa.list_(pa.float64())
            ),
            "topLogits": pa.array(
                [list(rng.choice(vocab, 2, replace=False)) for _ in range(n)], pa.list_(pa.string())
            ),
            "topLogitValues": pa.array([[2.0, 1.0]] * n, pa.list_(pa.float64())),
            "topExamples": pa.array(
                [[f"the «{t[0]}» cat"] if t else [] for t in top_tokens], pa.list_(pa.string())
            ),
            "topExampleActs": pa.array([[3.0] if t else [] for t in top_tokens], pa.list_(pa.float64())),
        }
    )


def _pairs_in_blocks(n_alive: int, n_blocks: int, p_in: float, p_out: float, rng) -> np.ndarray:
    i, j = np.triu_indices(n_alive, 1)
    block = np.arange(n_alive) * n_blocks // n_alive
    same = block[i] == block[j]
    keep = rng.random(len(i)) < np.where(same, p_in, p_out)
    return np.stack([i[keep], j[keep]], 1)


def _co_activates(sae: str, n: int, n_blocks: int, rng, run_id: str) -> pa.Table:
    pairs = _pairs_in_blocks(n - 2, n_blocks, 0.3, 0.005, rng)
    m = len(pairs)
    npmi = rng.uniform(0.05, 0.9, m)
    p = rng.uniform(0, 0.01, m)
    return pa.table(
        {
            "source": [f"{sae}:{a}" for a in pairs[:, 0]],
            "target": [f"{sae}:{b}" for b in pairs[:, 1]],
            "saeId": [sae] * m,
            "count": rng.integers(5, 500, m),
            "jaccard": npmi / 2,
            "npmi": npmi,
            "phi": npmi / 3,
            "pTargetGivenSource": rng.uniform(0, 1, m),
            "pSourceGivenTarget": rng.uniform(0, 1, m),
            "pearson": rng.uniform(-0.2, 0.9, m),
            "pValue": p,
            "qValue": np.minimum(p * 10, 1),
            "runId": [run_id] * m,
        }
    )


def _excludes(sae: str, n: int, n_blocks: int, rng, run_id: str) -> pa.Table:
    """EXCLUDES: a sparse set of pairs across blocks (features that rarely fire together)."""
    i, j = np.triu_indices(n - 2, 1)
    block = np.arange(n - 2) * n_blocks // (n - 2)
    keep = (block[i] != block[j]) & (rng.random(len(i)) < 0.02)
    i, j = i[keep], j[keep]
    m = len(i)
    expected = rng.uniform(5, 50, m)
    count = np.floor(expected * rng.uniform(0, 0.3, m)).astype(np.int64)
    p = rng.uniform(0, 0.01, m)
    schema = RelType.EXCLUDES.arrow_schema()  # typed even when a sparse draw keeps no pair
    return pa.Table.from_pydict(
        {
            "source": [f"{sae}:{a}" for a in i],
            "target": [f"{sae}:{b}" for b in j],
            "saeId": [sae] * m,
            "count": count,
            "expected": expected,
            "oddsRatio": count / expected,
            "exclusion": 1 - count / expected,
            "npmi": -rng.uniform(0.05, 0.9, m),
            "pValue": p,
            "qValue": np.minimum(p * 10, 1),
            "runId": [run_id] * m,
        },
        schema=schema,
    )


def _lasso(co: pa.Table, rng, run_id: str) -> pa.Table:
    keep = np.flatnonzero(rng.random(co.num_rows) < 0.3)
    m = len(keep)
    t = co.take(pa.array(keep))
    return pa.table(
        {
            "source": t["source"],
            "target": t["target"],
            "saeId": t["saeId"],
            "weight": rng.normal(0, 0.5, m),
            "stability": rng.uniform(0.5, 1, m),
            "nReplicates": rng.integers(5, 20, m),
            "nullReplicates": rng.integers(0, 3, m),
            "pValue": rng.uniform(0, 0.01, m),
            "qValue": rng.uniform(0, 0.1, m),
            "runId": [run_id] * m,
        }
    )


def _cosine(sae: str, n: int, k: int, rng, run_id: str) -> pa.Table:
    w = rng.normal(size=(n, 16))
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    sim = w @ w.T
    np.fill_diagonal(sim, -np.inf)
    best: dict[tuple[int, int], tuple[float, int]] = {}
    for i in range(n):
        order = np.argsort(-sim[i])[:k]
        for r, j in enumerate(order, start=1):
            key = (min(i, j), max(i, j))
            old = best.get(key)
            best[key] = (float(sim[i, j]), r if old is None else min(old[1], r))
    keys = sorted(best)
    return pa.table(
        {
            "source": [f"{sae}:{a}" for a, _ in keys],
            "target": [f"{sae}:{b}" for _, b in keys],
            "saeId": [sae] * len(keys),
            "similarity": [best[k_][0] for k_ in keys],
            "rank": pa.array([best[k_][1] for k_ in keys], pa.int64()),
            "runId": [run_id] * len(keys),
        }
    )


def _matches(a: str, b: str, n: int, rng, run_id: str) -> pa.Table:
    perm = rng.permutation(n)
    m = int(0.8 * n)
    src = np.arange(m)
    return pa.table(
        {
            "source": [f"{a}:{i}" for i in src],
            "target": [f"{b}:{perm[i]}" for i in src],
            "sourceSae": [a] * m,
            "targetSae": [b] * m,
            "cosine": rng.uniform(0.3, 0.99, m),
            "actCorr": rng.uniform(0, 1, m),
            "method": ["hungarian"] * m,
            "mutual": (src % 2 == 0),
            "rank": pa.array(np.ones(m, np.int64)),
            "runId": [run_id] * m,
        }
    )


def _flows_to(a: str, b: str, layer_a: int, n: int, rng, run_id: str) -> pa.Table:
    """FLOWS_TO rows from SAE a (layer_a) to b (the next layer): 70 % of a's features continue,
    a few to two later features; the rest end, and b's features nobody reaches are born."""
    # features 0-9 continue into b's features 0-9 (fixed cases for the tests); the rest at random
    perm = np.r_[np.arange(min(n, 10)), min(n, 10) + rng.permutation(max(n - 10, 0))]
    src = np.flatnonzero((rng.random(n) < 0.7) | (np.arange(n) < 10))
    second = src[rng.random(src.size) < 0.2]
    sources = np.r_[src, second]
    targets = np.r_[perm[src], perm[(second + 1) % n]]
    ranks = np.r_[np.ones(src.size, np.int64), np.full(second.size, 2, np.int64)]
    m = sources.size
    return pa.table(
        {
            "source": [f"{a}:{i}" for i in sources],
            "target": [f"{b}:{j}" for j in targets],
            "sourceSae": [a] * m,
            "targetSae": [b] * m,
            "sourceLayer": pa.array(np.full(m, layer_a, np.int64)),
            "targetLayer": pa.array(np.full(m, layer_a + 1, np.int64)),
            "cosine": np.where(ranks == 1, rng.uniform(0.6, 0.99, m), rng.uniform(0.3, 0.6, m)),
            "rank": pa.array(ranks),
            "pTargetGivenSource": rng.uniform(0, 1, m),
            "actCorr": rng.uniform(-0.1, 1, m),
            "runId": [run_id] * m,
        }
    )


def make_graph_bundle(
    path: str | Path,
    n_saes: int = 2,
    n_features: int = 200,
    seed: int = 0,
    n_blocks: int = 4,
    cosine_k: int = 5,
    run_id: str = RUN_ID,
    prefix: str = "",
    parent_matches: int = 0,
) -> Path:
    """Write a finished bundle with every table of docs/bundle.md; returns its path."""
    rng = np.random.default_rng(seed)
    vocab = [f"tok{i}" for i in range(50)]
    saes = [f"{prefix}s{k}" for k in range(n_saes)]
    model_id, ds_id = f"{prefix}toy", f"{prefix}0123456789abcdef"
    builder = BundleBuilder(Path(path))
    builder.manifest.update(
        {
            "runId": run_id,
            "codeVersion": "saegraph test",
            "config": {"seed": seed, "saes": saes},
            "dataset": {
                "datasetId": ds_id,
                "name": "synthetic",
                "nTokens": 10_000,
                "nSequences": 100,
                "fingerprint": "0123456789abcdef" * 4,
            },
        }
    )
    builder.write_table(
        "models",
        pa.table(
            {
                "modelId": [model_id],
                "name": ["toy-model"],
                "nLayers": [2],
                "dModel": [16],
                "dMlp": [64],
                "dVocab": [50],
                "nParams": [12345],
                "source": ["synthetic"],
            }
        ),
    )
    builder.write_table(
        "saes",
        pa.table(
            {
                "saeId": saes,
                "modelId": [model_id] * n_saes,
                "release": ["test"] * n_saes,
                "saeName": saes,
                "hookName": [f"blocks.{k}.hook_resid_post" for k in range(n_saes)],
                "layer": list(range(n_saes)),  # one SAE per layer: FLOWS_TO links s<k> -> s<k+1>
                "dIn": [16] * n_saes,
                "dSae": [n_features] * n_saes,
                "architecture": ["standard"] * n_saes,
                "seed": list(range(n_saes)),
                "l0": rng.uniform(5, 20, n_saes),
                "source": ["synthetic"] * n_saes,
                "runId": [run_id] * n_saes,
            }
        ),
    )
    builder.write_table(
        "datasets",
        pa.table(
            {
                "datasetId": [ds_id],
                "name": ["synthetic"],
                "nTokens": [10_000],
                "nSequences": [100],
                "fingerprint": ["0123456789abcdef" * 4],
            }
        ),
    )
    feats, co, lasso, cos, matches, excl = [], [], [], [], [], []
    for k, sae in enumerate(saes):
        feats.append(_features(sae, n_features, rng, vocab))
        c = _co_activates(sae, n_features, n_blocks, rng, run_id)
        co.append(c)
        lasso.append(_lasso(c, rng, run_id))
        cos.append(_cosine(sae, n_features, cosine_k, rng, run_id))
        excl.append(_excludes(sae, n_features, n_blocks, rng, run_id))
        if k + 1 < n_saes:
            matches.append(_matches(sae, saes[k + 1], n_features, rng, run_id))
    builder.write_table("features", pa.concat_tables(feats))
    builder.write_table("co_activates", pa.concat_tables(co))
    builder.write_table("lasso", pa.concat_tables(lasso))
    builder.write_table("cosine", pa.concat_tables(cos))
    builder.write_table("excludes", pa.concat_tables(excl))
    m = pa.concat_tables(matches) if matches else _matches(saes[0], saes[0], 0, rng, run_id)
    if parent_matches:
        dup = m.slice(0, parent_matches)
        dup = dup.set_column(
            dup.schema.get_field_index("method"), "method", pa.array(["parent"] * dup.num_rows)
        )
        m = pa.concat_tables([m, dup])
    builder.write_table("matches", m)
    flow_rng = np.random.default_rng(seed + 7919)  # its own stream: the other tables stay as they were
    flows = [_flows_to(saes[k], saes[k + 1], k, n_features, flow_rng, run_id) for k in range(n_saes - 1)]
    builder.write_table(
        "flows_to", pa.concat_tables(flows) if flows else _flows_to(saes[0], saes[0], 0, 0, flow_rng, run_id)
    )
    return builder.finalize()
