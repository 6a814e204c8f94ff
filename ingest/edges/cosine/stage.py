"""COSINE edges: exact top-k decoder-cosine neighbours within each SAE.

Algorithm (docs/methods.md, COSINE):
1. Normalise the decoder rows W_dec [F, d] to unit length (one float32 copy; in place for
   the decoder ``cosine_unit`` loads).
2. Ŵ Ŵᵀ is symmetric: for blocks of ``block_rows`` rows compute only the blocks on and above
   the diagonal, Ŵ[r0:r1] Ŵ[r0:]ᵀ, by one BLAS matmul each (about F²/2 products instead of
   F²), and offer each pair (i < j) once to both i's and j's running exact top-k lists
   (cosine >= the floor, self excluded; ``topk.blocked_topk_self``). Memory: block_rows x F
   floats + 8 B x k per feature.
3. Store each undirected pair once (lower index as source) with its similarity and the
   smaller of the two ranks (rank 1 = nearest; a pair seen from one side only has that
   side's rank).
4. Report the chance level: the expected max cosine of F random directions in d
   dimensions, ≈ sqrt(2 ln F / d), next to the floor.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from saegraph.ingest.config import CosineConfig
from saegraph.ingest.edges.cosine.kernel import normalize_rows
from saegraph.ingest.edges.cosine.topk import blocked_topk_self
from saegraph.ingest.edges.rows import frames_to_table
from saegraph.schema.graph import RelType

log = logging.getLogger(__name__)

COSINE_SCHEMA = RelType.COSINE.arrow_schema()  # the schema's one definition (saegraph.schema.graph)


def chance_max_cosine(n_features: int, d: int) -> float:
    """≈ expected max |cosine| of one random direction against F others in d dimensions."""
    if n_features < 2 or d < 1:
        return float("nan")
    return math.sqrt(2.0 * math.log(n_features) / d)


def cosine_knn(
    W_dec: np.ndarray,
    k: int,
    floor: float,
    block_rows: int = 4096,
    *,
    progress: bool = False,
    overwrite: bool = False,
):
    """Directed exact kNN by decoder cosine: (rows, cols, sims), rows ascending and each
    row's neighbours by similarity descending, ties by column (so position within a row is
    rank − 1). ``overwrite``: a float32 ``W_dec`` may be normalised in place."""
    w = normalize_rows(W_dec, overwrite=overwrite)
    n = w.shape[0]
    idx, val = blocked_topk_self(w, k, floor, block_rows=block_rows, progress=progress, desc="cosine kNN")
    del w
    valid = idx >= 0
    rows = np.repeat(np.arange(n, dtype=np.int32), valid.sum(axis=1))
    return rows, idx[valid].astype(np.int32), val[valid].astype(np.float32)


def directed_ranks(rows: np.ndarray) -> np.ndarray:
    """Rank (1-based) of each entry within its row for the row-major output of cosine_knn."""
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(rows)) + 1]
    lengths = np.diff(np.r_[starts, rows.size])
    return np.arange(rows.size) - np.repeat(starts, lengths) + 1


def undirected_pairs(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray) -> pd.DataFrame:
    """One row per unordered pair: i < j, similarity, rank = the smaller of the two ranks."""
    rank = directed_ranks(rows)
    lo = np.minimum(rows, cols).astype(np.int64)
    hi = np.maximum(rows, cols).astype(np.int64)
    df = pd.DataFrame({"i": lo, "j": hi, "similarity": sims.astype(np.float64), "rank": rank})
    df = df.groupby(["i", "j"], sort=True, as_index=False).agg(
        similarity=("similarity", "max"), rank=("rank", "min")
    )
    return df


def cosine_unit(bundle, saes: tuple[str, ...], *, config: CosineConfig, run_id: str):
    """The COSINE rows and statistics of one SAE (an executor task: module-level, picklable)."""
    from saegraph.ingest.edges.rows import feature_ids
    from saegraph.ingest.edges.runner import progress_enabled

    (sid,) = saes
    t0 = time.perf_counter()
    w = bundle.decoder(sid)
    n_feat, d = w.shape
    rows, cols, sims = cosine_knn(  # the loaded decoder is ours: normalised in place
        w, config.top_k, config.min_similarity, config.block_rows, progress=progress_enabled(), overwrite=True
    )
    del w
    pairs = undirected_pairs(rows, cols, sims)
    degree = np.bincount(np.r_[pairs["i"], pairs["j"]].astype(np.int64), minlength=n_feat)
    stats = {
        "nFeatures": int(n_feat),
        "dIn": int(d),
        "topK": config.top_k,
        "minSimilarity": config.min_similarity,
        "chanceMaxCosine": chance_max_cosine(n_feat, d),
        "directedNeighbours": int(rows.size),
        "edges": int(len(pairs)),
        "featuresWithNeighbour": int((degree > 0).sum()),
        "meanDegree": float(degree.mean()) if n_feat else 0.0,
        "maxSimilarity": float(sims.max()) if sims.size else float("nan"),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    log.info("cosine %s: %d edges", sid, len(pairs))
    frame = pd.DataFrame(
        {
            "source": feature_ids(sid, pairs["i"].to_numpy()),
            "target": feature_ids(sid, pairs["j"].to_numpy()),
            "saeId": sid,
            "similarity": pairs["similarity"].to_numpy(),
            "rank": pairs["rank"].to_numpy().astype(np.int64),
            "runId": run_id,
        }
    )
    return {"cosine": frame}, stats


def build_from_bundle(
    bundle,
    config: CosineConfig,
    *,
    run_id: str,
    seed: int,
    work_dir: Path,
    sae_ids: Sequence[str] | None = None,
    executor=None,
):
    """Decoder-cosine kNN edges for every SAE of the bundle, one ``cosine_unit`` task per SAE on
    ``executor``; each SAE is checkpointed in ``work_dir`` (``edges.checkpoint``); ``sae_ids``
    rebuilds those SAEs and keeps the committed rows of the others."""
    from saegraph.ingest.edges.checkpoint import StageUnits
    from saegraph.ingest.edges.runner import StageResult

    units = StageUnits(
        bundle,
        "cosine",
        config,
        run_id=run_id,
        seed=seed,
        work_dir=work_dir,
        tables=("cosine",),
        sae_ids=sae_ids,
    ).run([(sid,) for sid in bundle.sae_ids], partial(cosine_unit, config=config, run_id=run_id), executor)
    frames = [u.frames["cosine"] for u in units]
    per_sae = {u.name: u.stats for u in units}
    table = frames_to_table(frames, COSINE_SCHEMA)
    stats = {
        "method": "exact blocked matmul top-k on unit decoder rows",
        "topK": config.top_k,
        "minSimilarity": config.min_similarity,
        "edges": int(table.num_rows),
        "perSae": per_sae,
    }
    return StageResult("cosine", table, stats)
