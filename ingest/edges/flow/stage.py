"""FLOWS_TO edges: how features travel from one layer's SAE to the next layer's.

Algorithm (docs/methods.md, FLOWS_TO; data-free decoder matching as in Balagansky et al. 2025,
"Mechanistic Permutability" / Laptev et al. 2025, "Analyze Feature Flow"):
1. Successive layers (``successor_pairs``): SAEs are grouped by (model, d_in); within a group
   the successors of an SAE at layer L are the SAEs at the smallest layer above L (several
   widths or seeds may sit there). SAEs without a layer (< 0) take no part.
2. For each pair (A earlier, B later): normalise both decoders and take, for every feature of
   A, its ``top_k`` nearest decoder directions in B (exact blocked kNN,
   ``cosine.kernel.blocked_topk``); keep those with cosine >= ``min_cosine``. The extreme-value
   baseline of the best of M random directions at this d_in is stated beside it.
3. Activation check, when both SAEs' activations are in the bundle (the same tokens): for every
   kept pair the co-firing count n_ab and A's firing count n_a give
   P(B fires | A fires) = n_ab / n_a at the same token, and the Pearson correlation of the two
   activations (``matches.actcorr.pair_correlations_blocks``), in one pass over both SAEs'
   stacked activations, or over blocks of whole sequences streamed from disk when they exceed
   token_memory_mb (``stats.stream``; same result).
4. Per pair statistics: edges, the share of A's features with a successor (``continuing``), the
   share of B's features with no predecessor (``born``), mean best cosine each way against the
   baseline, and the activation check's medians. Rows are directed earlier -> later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from saegraph.ingest.config import FlowConfig
from saegraph.ingest.edges.cosine.kernel import blocked_topk, normalize_rows
from saegraph.ingest.edges.rows import frames_to_table
from saegraph.queries.analysis.universality import evt_baseline
from saegraph.schema.graph import RelType

log = logging.getLogger(__name__)

FLOWS_TO_SCHEMA = RelType.FLOWS_TO.arrow_schema()  # the schema's one definition (saegraph.schema.graph)


def successor_pairs(saes: pd.DataFrame) -> list[tuple[str, str]]:
    """(earlier saeId, later saeId) for every SAE and each SAE at the next layer of its group
    (same ``modelId`` and ``dIn``), in the table's order (step 1)."""
    pairs = []
    layer = dict(zip(saes["saeId"].astype(str), saes["layer"].astype(int)))
    for _, group in saes[saes["layer"].astype(int) >= 0].groupby(["modelId", "dIn"], sort=False):
        ids = group["saeId"].astype(str).tolist()
        layers = sorted({layer[s] for s in ids})
        following = dict(zip(layers, layers[1:]))
        for a in ids:
            nxt = following.get(layer[a])
            pairs += [(a, b) for b in ids if nxt is not None and layer[b] == nxt]
    return pairs


def flow_pairs(
    w_a: np.ndarray, w_b: np.ndarray, *, top_k: int, min_cosine: float, block_rows: int = 2048
) -> tuple[pd.DataFrame, dict]:
    """Kept (a, b, cosine, rank) rows from A's decoder to B's (step 2) and their statistics."""
    if w_a.shape[1] != w_b.shape[1]:
        raise ValueError(f"decoders have different d_in ({w_a.shape[1]} vs {w_b.shape[1]})")
    wa, wb = normalize_rows(w_a), normalize_rows(w_b)
    k = min(top_k, wb.shape[0])
    idx, val = blocked_topk(wa, wb, k, block_rows=block_rows)
    _, val_back = blocked_topk(wb, wa, 1, block_rows=block_rows)
    a = np.repeat(np.arange(wa.shape[0], dtype=np.int64), k)
    b, cos = idx.ravel().astype(np.int64), val.ravel().astype(np.float64)
    rank = np.tile(np.arange(1, k + 1, dtype=np.int64), wa.shape[0])
    keep = (b >= 0) & (cos >= min_cosine)
    rows = pd.DataFrame({"a": a[keep], "b": b[keep], "cosine": cos[keep], "rank": rank[keep]})
    fa, fb, d = wa.shape[0], wb.shape[0], wa.shape[1]
    stats = {
        "nFeaturesSource": int(fa),
        "nFeaturesTarget": int(fb),
        "dIn": int(d),
        "minCosine": min_cosine,
        "topK": k,
        "edges": len(rows),
        "continuing": float(np.unique(rows["a"]).size / fa) if fa else 0.0,
        "born": float(1.0 - np.unique(rows["b"]).size / fb) if fb else 0.0,
        "meanBestCosineForward": float(np.mean(val[:, 0])) if fa else float("nan"),
        "meanBestCosineBackward": float(np.mean(val_back[:, 0])) if fb else float("nan"),
        "baselineForward": evt_baseline(fb, d),
        "baselineBackward": evt_baseline(fa, d),
    }
    return rows, stats


def activation_check(acts_a, acts_b, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P(B_b fires | A_a fires), activation correlation) for each pair (step 3); ``acts_a`` may
    instead be the ``stats.stream.TokenBlocks`` of (A, B), with ``acts_b`` None."""
    from saegraph.ingest.edges.matches.actcorr import pair_blocks, pair_correlations_blocks
    from saegraph.ingest.edges.stats.stream import TokenBlocks

    if a.size == 0:
        return np.zeros(0), np.zeros(0)
    blocks = acts_a if isinstance(acts_a, TokenBlocks) else pair_blocks(acts_a, acts_b)
    counts, r, (mom_a, _) = pair_correlations_blocks(blocks, a, b)
    fired = mom_a.firings.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(fired[a] > 0, counts / fired[a], np.nan)
    return p, r


def flow_between(
    bundle, sid_a: str, sid_b: str, layers: dict[str, int], config: FlowConfig, *, run_id: str
) -> tuple[pd.DataFrame, dict]:
    """FLOWS_TO rows and statistics for one (earlier, later) SAE pair (steps 2-4); ``layers``
    maps saeId -> layer."""
    from saegraph.ingest.edges.rows import feature_ids
    from saegraph.ingest.edges.stats.stream import token_blocks

    rows, stats = flow_pairs(
        bundle.decoder(sid_a),
        bundle.decoder(sid_b),
        top_k=config.top_k,
        min_cosine=config.min_cosine,
        block_rows=config.block_rows,
    )
    have_acts = {sid_a, sid_b} <= set(bundle.activations.sae_ids) and bundle.activations.n_tokens > 0
    p = r = np.full(len(rows), np.nan)
    if config.activation_check and have_acts:
        blocks = token_blocks(bundle.activations, (sid_a, sid_b), config.token_memory_mb)
        p, r = activation_check(blocks, None, rows["a"].to_numpy(), rows["b"].to_numpy())
        stats["activationCheck"] = {
            "nTokens": int(blocks.n_tokens),
            "streamed": blocks.streamed,
            "medianPTargetGivenSource": float(np.nanmedian(p)) if np.isfinite(p).any() else None,
            "medianActCorr": float(np.nanmedian(r)) if np.isfinite(r).any() else None,
        }
    else:
        why = "disabled" if not config.activation_check else "activations of both SAEs are not in the bundle"
        stats["activationCheck"] = {"skipped": why}
    frame = pd.DataFrame(
        {
            "source": feature_ids(sid_a, rows["a"].to_numpy()),
            "target": feature_ids(sid_b, rows["b"].to_numpy()),
            "sourceSae": sid_a,
            "targetSae": sid_b,
            "sourceLayer": layers[sid_a],
            "targetLayer": layers[sid_b],
            "cosine": rows["cosine"].to_numpy(np.float64),
            "rank": rows["rank"].to_numpy(np.int64),
            "pTargetGivenSource": np.asarray(p, np.float64),
            "actCorr": np.asarray(r, np.float64),
            "runId": run_id,
        }
    )
    return frame, stats


def flow_unit(bundle, pair: tuple[str, ...], *, layers: dict[str, int], config: FlowConfig, run_id: str):
    """The FLOWS_TO rows and statistics of one SAE pair (an executor task: module-level, picklable)."""
    sid_a, sid_b = pair
    log.info("flow %s -> %s", sid_a, sid_b)
    t0 = time.perf_counter()
    frame, st = flow_between(bundle, sid_a, sid_b, layers, config, run_id=run_id)
    st["seconds"] = round(time.perf_counter() - t0, 3)
    return {"flows_to": frame}, st


def build_from_bundle(
    bundle,
    config: FlowConfig,
    *,
    run_id: str,
    seed: int,
    work_dir: Path,
    sae_ids: Sequence[str] | None = None,
    executor=None,
):
    """FLOWS_TO rows for every SAE and the SAEs at the next layer of its model (step 1), one
    ``flow_unit`` task per pair on ``executor``; each pair is checkpointed in ``work_dir``
    (``edges.checkpoint``); ``sae_ids`` rebuilds the pairs that involve those SAEs and keeps the
    committed rows of the others."""
    from saegraph.ingest.edges.checkpoint import PER_PAIR, StageUnits
    from saegraph.ingest.edges.runner import StageResult

    saes = bundle.frame("saes")
    layers = dict(zip(saes["saeId"].astype(str), saes["layer"].astype(int)))
    unit = partial(flow_unit, layers=layers, config=config, run_id=run_id)
    units = StageUnits(
        bundle,
        "flow",
        config,
        run_id=run_id,
        seed=seed,
        work_dir=work_dir,
        tables=("flows_to",),
        layout=PER_PAIR,
        sae_ids=sae_ids,
    ).run(successor_pairs(saes), unit, executor)
    frames = [u.frames["flows_to"] for u in units]
    per_pair = {u.name: u.stats for u in units}
    table = frames_to_table(frames, FLOWS_TO_SCHEMA)
    stats = {
        "method": "decoder-cosine top-k to the next layer's SAEs, checked by P(later fires | earlier fires)",
        "pairs": per_pair,
        "edges": int(table.num_rows),
    }
    if not per_pair:
        stats["note"] = "no two SAEs of one model and d_in sit at different layers: nothing to link"
    return StageResult("flows_to", table, stats)
