"""MATCHES edges and universality statistics between every pair of SAEs with equal d_in.

Algorithm (docs/methods.md, MATCHES; Paulo & Belrose 2024 for shared fractions, Lan et al. 2024 for
activation correlation, Bricken et al. 2023 for splitting):
1. Normalise both decoders (one float32 copy each; in place for the decoders ``compare_pair``
   loads); exact top-k kNN in both directions (A→B, B→A) from ONE blocked pass over A·Bᵀ
   (``cosine.topk.blocked_topk_both``: each block of A's rows against all of B gives those
   rows' lists and updates every B row's running list): F_A·F_B products, not twice that.
2. MCS (mean max cosine) each way, against the extreme-value baseline for the max of M
   Gaussians of σ = 1/√d: σ(√(2 ln M) − (ln ln M + ln 4π)/(2√(2 ln M))), and a
   random-rotation null: MCS of a seeded sample of A's rows against B rotated by a random
   orthogonal Q (Haar, from the QR of a Gaussian matrix). cos(a, Qᵀb) = (Q a)·b for unit
   rows, so the sampled rows of A are rotated by Q instead of all of B by Qᵀ (B Q as rows):
   the same Q from the same seed, the same values up to float32 rounding, at n_null x d²
   instead of F_B x d² work and without a rotated copy of B.
3. Mutual nearest neighbours from the two top-1 lists.
4. One-to-one matching with an "unmatched" option (``matching``): dense Hungarian when
   both widths <= dense_max, else sparse LAPJVsp on the union of the kNN graphs. The
   shared fraction at each τ is the share of features whose match has cos >= τ.
5. When both SAEs' activations are in the bundle (same tokens): max activation
   correlation each way (``actcorr``) and the correlation of every written pair, on both
   SAEs' stacked activations, or on blocks of whole sequences streamed from disk when they
   exceed token_memory_mb (``stats.stream``; same result).
6. Different widths: one-to-many parent/child edges (``splitting``).
Rows are directed A→B (A before B in config order): ``hungarian`` matches (``mutual`` when
also mutual nearest), ``mnn`` for mutual nearest pairs >= match_floor not already matched,
and ``parent`` edges (the parent is the feature of the narrower SAE).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from saegraph.ingest.config import MatchesConfig
from saegraph.ingest.edges.cosine.kernel import blocked_topk, normalize_rows
from saegraph.ingest.edges.cosine.topk import blocked_topk_both
from saegraph.ingest.edges.matches.matching import dense_one_to_one, shared_fractions, sparse_one_to_one
from saegraph.ingest.edges.rows import frames_to_table
from saegraph.queries.analysis.universality import evt_baseline
from saegraph.schema.graph import RelType

log = logging.getLogger(__name__)

MATCHES_SCHEMA = RelType.MATCHES.arrow_schema()  # the schema's one definition (saegraph.schema.graph)


def evt_max_cosine_baseline(n_candidates: int, d: int) -> float:
    """Expected max cosine of a random direction against M random others (extreme-value;
    the formula lives with the read path's universality summary)."""
    return evt_baseline(n_candidates, d)


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal d x d matrix."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


@dataclass
class MatchResult:
    """Everything computed between two decoders (indices are latent indices)."""

    knn_ab: tuple[np.ndarray, np.ndarray]  # (idx [Fa, k], val [Fa, k])
    knn_ba: tuple[np.ndarray, np.ndarray]
    matched: tuple[np.ndarray, np.ndarray, np.ndarray]  # (a, b, cos) one-to-one
    mutual: tuple[np.ndarray, np.ndarray, np.ndarray]  # (a, b, cos) mutual nearest neighbours
    stats: dict = field(default_factory=dict)


def match_saes(
    W_a: np.ndarray,
    W_b: np.ndarray,
    *,
    knn: int = 32,
    match_floor: float = 0.3,
    dense_max: int = 4096,
    thresholds=(0.5, 0.6, 0.7, 0.8, 0.9),
    block_rows: int = 2048,
    rotation_null_rows: int = 0,
    seed: int = 0,
    progress: bool = False,
    overwrite: bool = False,
) -> MatchResult:
    """Decoder-based comparison of two SAEs (steps 1–4 of the module docstring).

    ``overwrite``: float32 decoders may be normalised in place (the caller's arrays change).
    Rotation null (``rotation_null_rows`` > 0): ``default_rng(seed)`` draws the sampled rows
    of A (``choice`` without replacement), then the Gaussian matrix whose QR gives Q."""
    if W_a.shape[1] != W_b.shape[1]:
        raise ValueError(
            f"decoders have different d_in ({W_a.shape[1]} vs {W_b.shape[1]}): they cannot be matched"
        )
    t0 = time.perf_counter()
    wa, wb = normalize_rows(W_a, overwrite=overwrite), normalize_rows(W_b, overwrite=overwrite)
    fa, fb, d = wa.shape[0], wb.shape[0], wa.shape[1]
    idx_ab, val_ab, idx_ba, val_ba = blocked_topk_both(
        wa, wb, knn, block_rows=block_rows, progress=progress, desc="kNN A<->B"
    )
    t_knn = time.perf_counter() - t0

    nn_ab, nn_ba = idx_ab[:, 0].astype(np.int64), idx_ba[:, 0].astype(np.int64)
    a_idx = np.arange(fa)
    is_mutual = nn_ba[nn_ab] == a_idx
    mutual = (a_idx[is_mutual], nn_ab[is_mutual], val_ab[is_mutual, 0].astype(np.float64))

    t1 = time.perf_counter()
    if max(fa, fb) <= dense_max:
        method = "dense linear_sum_assignment"
        matched = dense_one_to_one(wa @ wb.T, match_floor)
    else:
        method = "sparse min_weight_full_bipartite_matching on the kNN graph"
        k_ab, k_ba = idx_ab.shape[1], idx_ba.shape[1]
        rows = np.r_[np.repeat(a_idx, k_ab), idx_ba.ravel()]
        cols = np.r_[idx_ab.ravel(), np.repeat(np.arange(fb), k_ba)]
        sims = np.r_[val_ab.ravel(), val_ba.ravel()]
        ok = (rows >= 0) & (cols >= 0)
        matched = sparse_one_to_one(rows[ok], cols[ok], sims[ok], fa, fb, match_floor)
    t_match = time.perf_counter() - t1

    stats = {
        "nFeaturesA": int(fa),
        "nFeaturesB": int(fb),
        "dIn": int(d),
        "mcsAB": float(np.mean(val_ab[:, 0])),
        "mcsBA": float(np.mean(val_ba[:, 0])),
        "mcsBaselineAB": evt_max_cosine_baseline(fb, d),
        "mcsBaselineBA": evt_max_cosine_baseline(fa, d),
        "mutualNearest": int(is_mutual.sum()),
        "mutualNearestAboveFloor": int((mutual[2] >= match_floor).sum()),
        "matchingMethod": method,
        "matchFloor": match_floor,
        "matched": int(matched[0].size),
        "meanMatchedCosine": float(np.mean(matched[2])) if matched[2].size else float("nan"),
        "sharedFraction": shared_fractions(matched[2], fa, fb, thresholds),
        "secondsKnn": round(t_knn, 3),
        "secondsMatching": round(t_match, 3),
    }
    if rotation_null_rows > 0:
        rng = np.random.default_rng(seed)
        rows_null = rng.choice(fa, size=min(rotation_null_rows, fa), replace=False)
        # a·(row j of B Q) = a·(Qᵀ b_j) = (Q a)·b_j: rotate the sampled rows of A by Q (as rows,
        # a Qᵀ) instead of all of B, the same null from the same Q (module docstring, step 2)
        rotated = wa[rows_null] @ random_rotation(d, rng).T
        _, v = blocked_topk(rotated, wb, 1, block_rows=block_rows)
        stats["mcsRotationNullAB"] = float(np.mean(v[:, 0]))
        stats["rotationNullRows"] = int(rows_null.size)
    return MatchResult((idx_ab, val_ab), (idx_ba, val_ba), matched, mutual, stats)


def knn_rank(idx: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1-based rank of b among a's kNN list (-1 when beyond the list)."""
    if a.size == 0:
        return np.zeros(0, np.int64)
    hit = idx[a] == b[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, -1).astype(np.int64)


def compare_pair(
    bundle, sid_a: str, sid_b: str, config: MatchesConfig, *, run_id: str, seed: int, progress: bool = False
) -> tuple[pd.DataFrame, dict]:
    """All MATCHES rows and statistics for the SAE pair (A, B)."""
    from saegraph.ingest.edges.matches.actcorr import (
        max_activation_correlation_blocks,
        pair_correlations_blocks,
    )
    from saegraph.ingest.edges.matches.splitting import parent_child
    from saegraph.ingest.edges.rows import feature_ids
    from saegraph.ingest.edges.stats.stream import token_blocks

    # Bundle.decoder loads a fresh array per call (np.load): normalised in place by match_saes,
    # so each decoder is held once; the splitting below reloads the raw rows when it needs them
    res = match_saes(
        bundle.decoder(sid_a),
        bundle.decoder(sid_b),
        knn=config.knn,
        match_floor=config.match_floor,
        dense_max=config.dense_max,
        thresholds=config.shared_thresholds,
        block_rows=config.block_rows,
        rotation_null_rows=config.rotation_null_rows,
        seed=seed,
        progress=progress,
        overwrite=True,
    )
    fa, fb = res.stats["nFeaturesA"], res.stats["nFeaturesB"]
    stats = dict(res.stats)
    stats["threshold"] = config.threshold
    stats["sharedAtThreshold"] = shared_fractions(res.matched[2], fa, fb, [config.threshold])[
        f"{config.threshold:g}"
    ]
    have_acts = {sid_a, sid_b} <= set(bundle.activations.sae_ids) and bundle.activations.n_tokens > 0
    blocks = None
    widths_differ = fa != fb
    if have_acts and (config.activation_correlation or widths_differ):
        blocks = token_blocks(bundle.activations, (sid_a, sid_b), config.token_memory_mb)
    if config.activation_correlation and blocks is not None:  # loaded when have_acts
        t0 = time.perf_counter()
        _, r_ab, _, r_ba = max_activation_correlation_blocks(
            blocks, block_rows=config.block_rows, progress=progress
        )
        stats["activationCorrelation"] = {
            "nTokens": int(blocks.n_tokens),
            "streamed": blocks.streamed,
            "tokenBlocks": int(blocks.n_blocks or 1),
            "meanMaxAB": float(np.nanmean(r_ab)) if np.isfinite(r_ab).any() else float("nan"),
            "meanMaxBA": float(np.nanmean(r_ba)) if np.isfinite(r_ba).any() else float("nan"),
            "fractionAbove0.5AB": float(np.mean(np.nan_to_num(r_ab, nan=-1) >= 0.5)),
            "fractionAbove0.5BA": float(np.mean(np.nan_to_num(r_ba, nan=-1) >= 0.5)),
            "seconds": round(time.perf_counter() - t0, 3),
        }
    else:
        why = (
            "disabled"
            if not config.activation_correlation
            else "activations of both SAEs are not in the bundle"
        )
        stats["activationCorrelation"] = {"skipped": why}

    idx_ab = res.knn_ab[0]
    ma, mb, mcos = res.matched
    mutual_set = set(zip(res.mutual[0].tolist(), res.mutual[1].tolist()))
    matched_set = set(zip(ma.tolist(), mb.tolist()))
    mut_keep = res.mutual[2] >= config.match_floor
    extra = [
        (a, b, c)
        for a, b, c in zip(res.mutual[0][mut_keep], res.mutual[1][mut_keep], res.mutual[2][mut_keep])
        if (a, b) not in matched_set
    ]
    xa = np.array([e[0] for e in extra], np.int64)
    xb = np.array([e[1] for e in extra], np.int64)
    xc = np.array([e[2] for e in extra], np.float64)
    parts = [
        pd.DataFrame(
            {
                "a": ma,
                "b": mb,
                "cosine": mcos,
                "method": "hungarian",
                "mutual": [(a, b) in mutual_set for a, b in zip(ma.tolist(), mb.tolist())],
                "rank": knn_rank(idx_ab, ma, mb),
            }
        ),
        pd.DataFrame(
            {
                "a": xa,
                "b": xb,
                "cosine": xc,
                "method": "mnn",
                "mutual": True,
                "rank": np.ones(xa.size, np.int64),
            }
        ),
    ]
    if widths_differ:
        w_a, w_b = bundle.decoder(sid_a), bundle.decoder(sid_b)  # raw rows, as parent_child takes them
        narrow_is_a = fa < fb
        kids, parents, split_stats = parent_child(
            w_a if narrow_is_a else w_b,
            w_b if narrow_is_a else w_a,
            min_cosine=config.parent_min_cosine,
            min_cooccurrence=config.parent_min_cooccurrence,
            block_rows=config.block_rows,
            progress=progress,
            blocks=None if blocks is None else blocks if narrow_is_a else blocks.reordered((1, 0)),
        )
        split_stats["parentSae"] = sid_a if narrow_is_a else sid_b
        stats["splitting"] = split_stats
        pa_ = kids["parent"].to_numpy() if narrow_is_a else kids["child"].to_numpy()
        pb_ = kids["child"].to_numpy() if narrow_is_a else kids["parent"].to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "a": pa_,
                    "b": pb_,
                    "cosine": kids["cosine"].to_numpy(),
                    "method": "parent",
                    "mutual": [(a, b) in mutual_set for a, b in zip(pa_.tolist(), pb_.tolist())],
                    "rank": kids["rank"].to_numpy().astype(np.int64),
                }
            )
        )
    rows = pd.concat(parts, ignore_index=True)
    if config.activation_correlation and blocks is not None and len(rows):
        _, r, _ = pair_correlations_blocks(blocks, rows["a"].to_numpy(), rows["b"].to_numpy())
        rows["actCorr"] = r
    else:
        rows["actCorr"] = np.nan
    frame = pd.DataFrame(
        {
            "source": feature_ids(sid_a, rows["a"].to_numpy()),
            "target": feature_ids(sid_b, rows["b"].to_numpy()),
            "sourceSae": sid_a,
            "targetSae": sid_b,
            "cosine": rows["cosine"].astype(np.float64).to_numpy(),
            "actCorr": rows["actCorr"].astype(np.float64).to_numpy(),
            "method": rows["method"].to_numpy(),
            "mutual": rows["mutual"].astype(bool).to_numpy(),
            "rank": rows["rank"].astype(np.int64).to_numpy(),
            "runId": run_id,
        }
    )
    stats["rowsByMethod"] = {str(k): int(v) for k, v in frame["method"].value_counts().items()}
    return frame, stats


def matches_unit(bundle, pair: tuple[str, ...], *, config: MatchesConfig, run_id: str, seed: int):
    """The MATCHES rows and statistics of one SAE pair (an executor task: module-level, picklable)."""
    from saegraph.ingest.edges.runner import progress_enabled

    sid_a, sid_b = pair
    log.info("matches %s -> %s", sid_a, sid_b)
    t0 = time.perf_counter()
    frame, st = compare_pair(
        bundle, sid_a, sid_b, config, run_id=run_id, seed=seed, progress=progress_enabled()
    )
    st["seconds"] = round(time.perf_counter() - t0, 3)
    return {"matches": frame}, st


def build_from_bundle(
    bundle,
    config: MatchesConfig,
    *,
    run_id: str,
    seed: int,
    work_dir: Path,
    sae_ids: Sequence[str] | None = None,
    executor=None,
):
    """MATCHES rows for every pair of SAEs (config order) with equal d_in, one ``matches_unit``
    task per pair on ``executor``; each pair is checkpointed in ``work_dir`` (``edges.checkpoint``);
    ``sae_ids`` rebuilds the pairs that involve those SAEs and keeps the committed rows of the
    others."""
    from saegraph.ingest.edges.checkpoint import PER_PAIR, StageUnits
    from saegraph.ingest.edges.runner import StageResult

    saes = bundle.frame("saes")
    order = [str(s) for s in saes["saeId"]]
    d_in = dict(zip(order, saes["dIn"].astype(int)))
    pairs, skipped = [], []
    for x, sid_a in enumerate(order):
        for sid_b in order[x + 1 :]:
            if d_in[sid_a] != d_in[sid_b]:
                skipped.append(f"{sid_a}->{sid_b} (dIn {d_in[sid_a]} vs {d_in[sid_b]})")
            else:
                pairs.append((sid_a, sid_b))

    units = StageUnits(
        bundle,
        "matches",
        config,
        run_id=run_id,
        seed=seed,
        work_dir=work_dir,
        tables=("matches",),
        layout=PER_PAIR,
        sae_ids=sae_ids,
    ).run(pairs, partial(matches_unit, config=config, run_id=run_id, seed=seed), executor)
    frames = [u.frames["matches"] for u in units]
    per_pair = {u.name: u.stats for u in units}
    table = frames_to_table(frames, MATCHES_SCHEMA)
    stats = {
        "method": "decoder-cosine kNN, one-to-one matching with an unmatched option, splitting",
        "pairs": per_pair,
        "skippedPairs": skipped,
        "edges": int(table.num_rows),
    }
    return StageResult("matches", table, stats)
