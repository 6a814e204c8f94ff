"""CO_ACTIVATES and EXCLUDES edges: both tails of the exact co-firing test, effect floors, BH, the null's FDR.

Algorithm (docs/methods.md, "CO_ACTIVATES and EXCLUDES"; Benjamini & Hochberg 1995;
Tarone 1990 and Gilbert 2005 for the exclusion family; Elias & Gygi 2007 for target–decoy):
1. Read the SAE's activation chunks (whole sequences per chunk, so sequence ids stay
   contiguous) as one token x feature CSR matrix A, or, when A exceeds token_memory_mb, as
   blocks of whole sequences streamed from disk (``stats.stream``; every sum over tokens below
   is then added block by block in token order, so the result is the same); B = A > 0,
   n_i = firings.
2. Exclusion family (``stats.hypergeom.exclusion_family``): the pairs whose margins allow
   an exclusion p small enough to pass BH at fdr_q; its size is BH's m for that tail.
3. Count co-firings in blocks of feature rows (``kernel.count_block``; the dense buffer is
   block_rows x F int32, never F x F) and read both tails in one pass (``tails``):
   co-occurrence candidates have c >= min_count and phi >= min_phi, p = P(C >= c);
   exclusion candidates are in the family, have odds ratio <= exclusion_odds_ratio (ω0),
   p = P_ω0(C <= c) under Fisher's noncentral hypergeometric law (a minimum-effect test).
   Floors act before the test, so BH's guarantee covers the kept set.
4. Null: the same scan on the within-sequence circular shift of every feature's column
   (``stats.nulls``), same margins, same family. With ``row_block_tasks`` > 0 steps 3-4 run
   as that many tasks of contiguous feature-row ranges on the executor, each checkpointed,
   concatenated in row order (``row_blocks``): the same candidates, so the same edges.
5. Encoder-competition null (``encoder_null``; with ``encoder_null`` and the SAE's encoder):
   each exclusion candidate's p is recomputed at odds ratio ω0·π_ij, π_ij the share of the two
   latents' joint occurrences in which the SAE's encoder lets both fire (the null's candidates
   keep ω0: the shift removes the competition along with the alignment).
6. Per tail, BH at fdr_q (``selection.select_tail``): over all m = F(F−1)/2 pairs for
   co-occurrence (pairs never tested count with p = 1; exact q-values), over the family for
   exclusion.
7. Per tail, the null's estimate of the FDR of the kept set, #null p <= t / #real p <= t at
   the BH threshold t; with null_calibrate the threshold is lowered to the largest t whose
   estimate is <= fdr_q (``stats.hypergeom.null_calibrated_threshold``). The null pass
   rate, the estimate and the effect-size quantiles go to the stats.
8. CO_ACTIVATES scores for the kept pairs: Jaccard, NPMI, phi, P(target|source),
   P(source|target) and the weighted Pearson correlation from S = AᵀA (two sorted CSC
   columns merged per kept pair); NPMI >= min_npmi; a per-node top_k (NPMI,
   ``selection.top_k_per_node``) only when top_k > 0 (off by default). EXCLUDES rows:
   count, expected count n_i n_j / N, odds ratio, NPMI, p and q.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from saegraph.ingest.config import CoactivationConfig
from saegraph.ingest.edges.coactivation import kernel as kern
from saegraph.ingest.edges.coactivation.counting import binary_pattern as binary_pattern
from saegraph.ingest.edges.coactivation.counting import cofiring_counts as cofiring_counts
from saegraph.ingest.edges.coactivation.counting import effective_block_rows as effective_block_rows
from saegraph.ingest.edges.coactivation.counting import significant_candidates as significant_candidates
from saegraph.ingest.edges.coactivation.encoder_null import (
    EncoderGeometry,
    apply_encoder_null,
    encoder_geometry,
)
from saegraph.ingest.edges.coactivation.row_blocks import Counter, RowBlocks, block_dir, scan_rows
from saegraph.ingest.edges.coactivation.selection import effect_quantiles, select_tail, top_k_per_node
from saegraph.ingest.edges.rows import frames_to_table, nonempty_activations, pair_rows
from saegraph.ingest.edges.stats.hypergeom import exclusion_family
from saegraph.ingest.edges.stats.significance import (
    log_factorial_table,
    pair_scores,
    pearson_from_moments,
)
from saegraph.ingest.edges.stats.stream import TokenBlocks, accumulate_moments, token_blocks
from saegraph.ingest.edges.stats.stream import sequence_segments as sequence_segments
from saegraph.schema.graph import RelType

log = logging.getLogger(__name__)

NULL_NAME = "within-sequence circular shift of each feature's column"


def coactivation_edges(
    acts: sp.spmatrix | TokenBlocks,
    config: CoactivationConfig | None = None,
    *,
    sequence_ids: np.ndarray | None = None,
    seed: int = 0,
    progress: bool = False,
    return_exclusions: bool = False,
    counter: Counter | None = None,
    encoder: EncoderGeometry | None = None,
):
    """The whole co-activation pipeline on a token x feature activation matrix (or the
    ``stats.stream.TokenBlocks`` of one SAE, which carry their own sequence ids); ``counter``
    runs the count phase (steps 3-4; default ``row_blocks.scan_rows`` in this process);
    ``encoder``: the SAE's encoder geometry, for the encoder-competition null (step 5).

    Returns a DataFrame of CO_ACTIVATES pairs (i < j latent indices, count, jaccard, npmi,
    phi, pTargetGivenSource, pSourceGivenTarget, pearson, pValue, qValue) and the summary
    statistics; with ``return_exclusions`` also the EXCLUDES frame (i, j, count, expected,
    oddsRatio, npmi, pValue, qValue) as a third item.
    """
    config = config or CoactivationConfig()
    t_start = time.perf_counter()
    blocks = acts if isinstance(acts, TokenBlocks) else TokenBlocks.in_memory([acts], sequence_ids)
    n_tokens, n_features = blocks.n_tokens, blocks.widths[0]
    (mom,) = accumulate_moments(blocks)
    n_fires, sums, sumsq = mom.firings, mom.sums, mom.sumsq
    logfact = log_factorial_table(n_tokens)
    if config.exclusion and n_features > 1:
        m_x, log_thr_x = exclusion_family(n_fires, n_tokens, logfact, config.fdr_q)
    else:
        m_x, log_thr_x = 0, -np.inf
    common: dict[str, Any] = dict(
        n_tokens=n_tokens,
        rows=effective_block_rows(
            n_features, config.block_rows, config.block_memory_mb, cache_sized=not blocks.streamed
        ),
        min_count=config.min_count,
        min_phi=config.min_phi,
        q=config.fdr_q,
        exclusion=bool(config.exclusion and m_x > 0),
        log_family_thr=float(log_thr_x),
        omega=config.exclusion_odds_ratio,
        progress=progress,
    )
    null_seed = int(seed) if config.null_shift and blocks.has_sequences else None
    pos, exc, scan_stats, npos, nexc, null_seconds = (counter or scan_rows)(
        blocks, n_fires, common, null_seed
    )

    exc, encoder_stats = apply_encoder_null(exc, blocks, n_fires, logfact, config, encoder)

    null_stats: dict = {}
    if null_seed is not None:
        null_stats = {
            "name": NULL_NAME,
            "seed": int(seed),
            "nSegments": int(blocks.n_segments or 0),
            "seconds": round(null_seconds, 3),
        }
    elif config.null_shift:
        null_stats = {"name": NULL_NAME, "skipped": "no sequence ids were given"}

    m = n_features * (n_features - 1) // 2
    calibrate = config.null_calibrate
    keep, qv, pos_stats = select_tail(
        pos["p"], None if npos is None else npos["p"], m, config.fdr_q, calibrate
    )
    i, j, c = pos["i"][keep], pos["j"][keep], pos["c"][keep]
    scores = pair_scores(c, n_fires[i], n_fires[j], n_tokens)
    floors = scores["npmi"] >= config.min_npmi
    sel = np.flatnonzero(floors)
    if config.top_k > 0:
        sel = sel[top_k_per_node(i[sel], j[sel], scores["npmi"][sel], config.top_k, config.top_k_mode)]
    cols = {"i": i[sel], "j": j[sel], "count": c[sel], "pValue": pos["p"][keep][sel], "qValue": qv[keep][sel]}
    cols.update({k: v[sel] for k, v in scores.items()})
    pos_stats["kept"] = int(sel.size)
    pos_stats["phi"] = effect_quantiles(cols["phi"])
    pos_stats["npmi"] = effect_quantiles(cols["npmi"])

    t0 = time.perf_counter()
    cnt = np.zeros(cols["i"].size, np.int64)
    dots = np.zeros(cols["i"].size, np.float64)
    for block in blocks if cnt.size else ():  # Σ_t a_ti a_tj in token order, block by block
        csc = block.acts[0].tocsc()
        csc.sort_indices()
        cptr = csc.indptr.astype(np.int64)
        kern.pair_dots_add(
            cptr, csc.indices, csc.data, cptr, csc.indices, csc.data, cols["i"], cols["j"], cnt, dots
        )
    if not np.array_equal(cnt, cols["count"]):
        raise RuntimeError("co-firing counts disagree between the blocked pass and the column merge")
    cols["pearson"] = pearson_from_moments(
        dots, sums[cols["i"]], sums[cols["j"]], sumsq[cols["i"]], sumsq[cols["j"]], n_tokens
    )
    t_pearson = time.perf_counter() - t0

    xkeep, xq, exc_stats = select_tail(
        exc["p"], None if nexc is None else nexc["p"], m_x, config.fdr_q, calibrate
    )
    xi, xj, xc = exc["i"][xkeep], exc["j"][xkeep], exc["c"][xkeep]
    ni, nj = n_fires[xi].astype(np.float64), n_fires[xj].astype(np.float64)
    expected = ni * nj / n_tokens
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = xc * (n_tokens - ni - nj + xc) / ((ni - xc) * (nj - xc))
    xscores = pair_scores(xc, ni, nj, n_tokens)
    exc_stats["oddsRatio"] = effect_quantiles(odds)
    exc_stats["expected"] = effect_quantiles(expected)
    exc_stats["familyLogThreshold"] = float(log_thr_x) if np.isfinite(log_thr_x) else None
    exc_stats["encoderNull"] = encoder_stats

    stats = {
        "nTokens": int(n_tokens),
        "nFeatures": int(n_features),
        "nFiringFeatures": int((n_fires > 0).sum()),
        "pairsTested": int(m),
        "minCount": config.min_count,
        "minPhi": config.min_phi,
        "fdrQ": config.fdr_q,
        "minNpmi": config.min_npmi,
        "topK": config.top_k,
        "topKMode": config.top_k_mode,
        "exclusionOddsRatio": config.exclusion_odds_ratio,
        "nullCalibrate": bool(calibrate),
        "tokenBlocks": int(blocks.n_blocks or 1),
        "streamed": blocks.streamed,
        **scan_stats,
        "passedBH": pos_stats["passedBH"],
        "kept": pos_stats["kept"],
        "coActivates": pos_stats,
        "excludes": exc_stats if config.exclusion else {"skipped": "edges.coactivation.exclusion = false"},
        "secondsPearson": round(t_pearson, 3),
    }
    if null_stats:
        stats["null"] = {
            **null_stats,
            "kept": pos_stats.get("nullKept", 0),
            "excludesKept": exc_stats.get("nullKept", 0),
        }
    stats["seconds"] = round(time.perf_counter() - t_start, 3)
    frame = (
        pd.DataFrame(
            {
                "i": cols["i"].astype(np.int64),
                "j": cols["j"].astype(np.int64),
                "count": cols["count"].astype(np.int64),
                "jaccard": cols["jaccard"],
                "npmi": cols["npmi"],
                "phi": cols["phi"],
                "pTargetGivenSource": cols["pTargetGivenSource"],
                "pSourceGivenTarget": cols["pSourceGivenTarget"],
                "pearson": cols["pearson"],
                "pValue": cols["pValue"],
                "qValue": cols["qValue"],
            }
        )
        .sort_values(["i", "j"], kind="stable")
        .reset_index(drop=True)
    )
    if not return_exclusions:
        return frame, stats
    xframe = (
        pd.DataFrame(
            {
                "i": xi.astype(np.int64),
                "j": xj.astype(np.int64),
                "count": xc.astype(np.int64),
                "expected": expected,
                "oddsRatio": odds,
                "exclusion": np.clip(1.0 - xc / np.maximum(expected, 1e-300), 0.0, 1.0),
                "npmi": xscores["npmi"],
                "pValue": exc["p"][xkeep],
                "qValue": xq[xkeep],
            }
        )
        .sort_values(["i", "j"], kind="stable")
        .reset_index(drop=True)
    )
    return frame, stats, xframe


# the schema's one definition (saegraph.schema.graph)
CO_ACTIVATES_SCHEMA = RelType.CO_ACTIVATES.arrow_schema()
EXCLUDES_SCHEMA = RelType.EXCLUDES.arrow_schema()


def _table(frames: list[pd.DataFrame], schema: pa.Schema) -> pa.Table:
    return frames_to_table(frames, schema)


def coactivation_unit(
    bundle,
    saes: tuple[str, ...],
    *,
    config: CoactivationConfig,
    run_id: str,
    seed: int,
    row_blocks: RowBlocks | None = None,
):
    """The CO_ACTIVATES and EXCLUDES rows and statistics of one SAE (an executor task:
    module-level, picklable); with ``row_blocks`` its count phase runs as row-block tasks on
    their executor (``row_blocks``)."""
    from saegraph.ingest.edges.runner import progress_enabled

    (sid,) = saes
    blocks = token_blocks(
        bundle.activations, (sid,), config.token_memory_mb, stack=partial(nonempty_activations, bundle)
    )
    log.info(
        "co-activation for %s: %d tokens x %d features%s",
        sid,
        blocks.n_tokens,
        blocks.widths[0],
        f", streamed in blocks of <= {config.token_memory_mb:g} MiB" if blocks.streamed else "",
    )
    counter = row_blocks.counter(bundle, sid, config.token_memory_mb) if row_blocks is not None else None
    frame, stats, xframe = coactivation_edges(
        blocks,
        config,
        seed=seed,
        progress=progress_enabled(),
        return_exclusions=True,
        counter=counter,
        encoder=encoder_geometry(bundle, sid) if config.exclusion and config.encoder_null else None,
    )
    return {"co_activates": pair_rows(frame, sid, run_id), "excludes": pair_rows(xframe, sid, run_id)}, stats


def build_from_bundle(
    bundle,
    config: CoactivationConfig,
    *,
    run_id: str,
    seed: int,
    work_dir: Path,
    sae_ids: Sequence[str] | None = None,
    executor=None,
):
    """CO_ACTIVATES (and, with ``exclusion``, EXCLUDES) edges for every SAE of the bundle, one
    ``coactivation_unit`` task per SAE on ``executor``; each SAE is checkpointed in ``work_dir``
    (``edges.checkpoint``); ``sae_ids`` rebuilds those SAEs and keeps the committed rows of the
    others. With ``row_block_tasks`` > 0 the SAEs run one after the other here and each maps
    its row blocks on ``executor`` instead (``row_blocks``; checkpoints in ``work_dir/blocks``)."""
    from saegraph.ingest.edges.checkpoint import StageUnits, stage_key
    from saegraph.ingest.edges.runner import StageResult
    from saegraph.ingest.executors import LocalExecutor, local_executor

    tables = ("co_activates", "excludes") if config.exclusion else ("co_activates",)
    compute = partial(coactivation_unit, config=config, run_id=run_id, seed=seed)
    if config.row_block_tasks > 0:
        key = stage_key(bundle, "coactivation", config, seed=seed, run_id=run_id)
        plan = RowBlocks(local_executor(executor), block_dir(work_dir, key), config.row_block_tasks)
        compute, executor = partial(compute, row_blocks=plan), LocalExecutor()
    units = StageUnits(
        bundle,
        "coactivation",
        config,
        run_id=run_id,
        seed=seed,
        work_dir=work_dir,
        tables=tables,
        sae_ids=sae_ids,
    ).run([(sid,) for sid in bundle.sae_ids], compute, executor)
    frames = [u.frames["co_activates"] for u in units]
    xframes = [u.frames["excludes"] for u in units if "excludes" in u.frames]
    per_sae = {u.name: u.stats for u in units}
    table = _table(frames, CO_ACTIVATES_SCHEMA)
    stats = {
        "method": (
            "blocked exact co-firing counts; co-occurrence: P(C >= c) with phi >= minPhi, BH over F(F-1)/2 "
            "pairs; exclusion: P(C <= c) under odds ratio exclusionOddsRatio (Fisher noncentral), BH over "
            "the Tarone/Gilbert testable family; each tail's kept set checked (and, with nullCalibrate, "
            "thresholded) by the within-sequence circular-shift null"
        ),
        "fdrLevel": config.fdr_q,
        "edges": int(table.num_rows),
        "nullName": NULL_NAME,
        "nullEdges": int(sum(s.get("null", {}).get("kept", 0) for s in per_sae.values())),
        "perSae": per_sae,
    }
    extra = {}
    if config.exclusion:
        extra["excludes"] = _table(xframes, EXCLUDES_SCHEMA)
        stats["excludesEdges"] = int(extra["excludes"].num_rows)
    return StageResult("co_activates", table, stats, extra)
