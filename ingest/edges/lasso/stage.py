"""LASSO edges: nodewise LASSO with resampling, matched nulls and FDR on replicate counts.

Algorithm (docs/methods.md, LASSO; Meinshausen & Bühlmann 2006 and 2010; Foygel & Drton 2010):
1. Stack the SAE's chunks into one token × latent CSR matrix, rows sorted by
   (sequence, position) (``resample.order_by_sequence``).
2. ``screen = "once"`` (default): build one matched-null dataset (each latent's column
   circularly shifted within every sequence, or a plain permutation) and screen the real
   and the null data once each (``sufficient.screen_dataset``: Fisher-z screen + BH,
   top-k candidates, per-sequence sufficient statistics). For r = 1..R: draw
   ``subsample_fraction`` of the sequences (whole sequences) and refit both datasets on
   them (``replicate_from_dataset``: firing floor, LASSO path on the Gram block with warm
   starts, EBIC with n_eff, dense covariates, AND rule).
   ``screen = "per_replicate"``: for r = 1..R, subsample, draw a fresh null of the subsample
   and run the whole of ``replicate.select_edges_once`` (screen included) on both.
   Each finished replicate is written to ``work_dir`` (``checkpoints``: temp file +
   fsync + rename) and skipped on restart.
3. Count c_e (real) and c⁰_e (null) per edge; p_e from the null counts in the edge's
   endpoint-frequency stratum (``null_tail``: the truncated-Markov bound by default, or the
   empirical tail); BH at ``fdr_q`` over all eligible pairs (``fdr``). Replicates are never
   pooled into a binomial test.
4. Report the table "edges seen in ≥ r replicates vs expected null edges vs estimated
   FDR", the null's pass rate (``report``) (screen and LASSO, null against real), the kept set (size,
   the null's estimate of its FDR, its effect sizes), the stability-selection view
   (fraction ≥ ``stability_threshold``, MB bound), the n_eff used, the null, the caveats
   and timings; write the ``lasso`` table.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm.auto import tqdm

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.checkpoints import load_replicate, prepare_checkpoints, save_replicate
from saegraph.ingest.edges.lasso.fdr import (
    count_replicates,
    frequency_bins,
    mb_bound,
    replicate_count_table,
    stratified_pvalues,
    stratum_sizes,
)
from saegraph.ingest.edges.lasso.replicate import ReplicateEdges, select_edges_once
from saegraph.ingest.edges.lasso.report import (
    NULL_TAILS,
    SCREEN_NAMES,
    kept_set_statistics,
    mean_seconds,
    null_name,
    null_pass_rate,
)
from saegraph.ingest.edges.lasso.resample import (
    choose_sequences,
    order_by_sequence,
    permutation_null,
    subsample_sequences,
)
from saegraph.ingest.edges.lasso.sufficient import (
    TooManySequencePairs,
    replicate_from_dataset,
    screen_dataset,
)
from saegraph.ingest.edges.rows import frames_to_table, nonempty_activations, pair_rows
from saegraph.ingest.edges.stats.moments import column_moments
from saegraph.ingest.edges.stats.nulls import circular_shift_null
from saegraph.ingest.edges.stats.significance import bh_qvalues
from saegraph.schema.graph import RelType

log = logging.getLogger(__name__)

LASSO_SCHEMA = RelType.LASSO.arrow_schema()  # the schema's one definition (saegraph.schema.graph)


# ------------------------------------------------------------------ replicates
def replicate_rng(seed: int, sae_id: str, r: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(sae_id.encode()), r])


def matched_null(
    acts: sp.csr_matrix, seq_starts: np.ndarray, kind: str, rng: np.random.Generator
) -> sp.csr_matrix:
    if kind == "circular_shift":
        return circular_shift_null(acts, seq_starts, int(rng.integers(0, 2**62)))
    return permutation_null(acts, rng)


def null_rng(seed: int, sae_id: str) -> np.random.Generator:
    """The stream of the one null dataset of ``screen = "once"`` (apart from every replicate's)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(sae_id.encode()), 1 << 30])


class _ScreenedOnce:
    """The real dataset and its matched null, screened on first use (a resumed run with every
    replicate on disk never screens)."""

    def __init__(self, acts, seq_starts, config: LassoConfig, seed: int, sae_id: str):
        self.acts, self.seq_starts, self.config, self.seed, self.sae_id = (
            acts,
            seq_starts,
            config,
            seed,
            sae_id,
        )
        self.real = self.null = None
        self.fallback = config.screen != "once"
        self.info: dict = {}

    def datasets(self):
        """(real, null) ScreenedDatasets, or None when the statistics exceed the memory cap."""
        if self.real is None and not self.fallback:
            t0 = time.perf_counter()
            null_acts = matched_null(
                self.acts, self.seq_starts, self.config.null, null_rng(self.seed, self.sae_id)
            )
            t_null = time.perf_counter() - t0
            try:
                self.real = screen_dataset(self.acts, self.seq_starts, self.config)
                self.null = screen_dataset(null_acts, self.seq_starts, self.config)
            except TooManySequencePairs as exc:
                log.warning(
                    "LASSO %s: %s (edges.lasso.max_sequence_pair_entries); screening every replicate "
                    "instead (screen = per_replicate)",
                    self.sae_id,
                    exc,
                )
                self.fallback = True
                self.info = {"fallback": f"per_replicate: {exc}"}
                return None
            self.null.info["seconds"]["buildNull"] = round(t_null, 4)
            self.info = {"real": self.real.info, "null": self.null.info}
        return None if self.fallback else (self.real, self.null)


def _compute_replicate(
    r: int, acts, seq_starts, config: LassoConfig, seed: int, sae_id: str, once: _ScreenedOnce
) -> list[ReplicateEdges]:
    """Replicate r: [real, matched null]."""
    rng = replicate_rng(seed, sae_id, r)
    datasets = once.datasets()
    if datasets is not None:
        chosen = choose_sequences(seq_starts.size - 1, config.subsample_fraction, rng)
        return [replicate_from_dataset(ds, chosen, config) for ds in datasets]
    t0 = time.perf_counter()
    sub, starts = subsample_sequences(acts, seq_starts, config.subsample_fraction, rng)
    t_sub = time.perf_counter() - t0
    t0 = time.perf_counter()
    sub_null = matched_null(sub, starts, config.null, rng)
    t_null = time.perf_counter() - t0
    done = [select_edges_once(sub, starts, config), select_edges_once(sub_null, starts, config)]
    done[0].info["seconds"]["subsample"] = round(t_sub, 4)
    done[1].info["seconds"]["buildNull"] = round(t_null, 4)
    return done


def run_replicates(
    acts: sp.csr_matrix,
    seq_starts: np.ndarray,
    config: LassoConfig,
    *,
    seed: int,
    sae_id: str = "sae",
    work_dir: Path | None = None,
    progress: bool = False,
    screened: dict | None = None,
):
    """R real and R matched-null replicates (lists of ReplicateEdges), resuming from ``work_dir``.

    With ``config.screen == "once"`` the screen's statistics (seconds, pairs) are written
    into ``screened`` when given (empty when every replicate came from a checkpoint)."""
    fingerprint = {
        "config": asdict(config),
        "seed": int(seed),
        "saeId": sae_id,
        "shape": list(acts.shape),
        "nnz": int(acts.nnz),
        "sum": float(np.round(acts.data.astype(np.float64).sum(), 3)),
        "sequences": int(seq_starts.size - 1),
    }
    ckpt = prepare_checkpoints(work_dir, fingerprint)
    once = _ScreenedOnce(acts, seq_starts, config, seed, sae_id)
    real, null = [], []
    bar = tqdm(total=config.replicates, desc=f"lasso {sae_id}", unit="replicate", disable=not progress)
    for r in range(config.replicates):
        paths = [ckpt / f"rep{r:03d}_{kind}.npz" for kind in ("real", "null")] if ckpt else [None, None]
        cached = [load_replicate(p) if p is not None and p.exists() else None for p in paths]
        if cached[0] is not None and cached[1] is not None:
            done = [cached[0], cached[1]]
        else:
            if not once.fallback and once.real is None:
                bar.set_description(f"lasso {sae_id} (screening real + null once)")
            done = _compute_replicate(r, acts, seq_starts, config, seed, sae_id, once)
            bar.set_description(f"lasso {sae_id}")
            for p, rep in zip(paths, done):
                if p is not None:
                    save_replicate(p, rep)
        real.append(done[0])
        null.append(done[1])
        bar.update(1)
        bar.set_postfix(edges=done[0].keys.size, null=done[1].keys.size)
    bar.close()
    if screened is not None:
        screened.update(once.info)
    return real, null


def lasso_edges(
    acts: sp.spmatrix,
    sequence_ids: np.ndarray,
    positions: np.ndarray,
    config: LassoConfig,
    *,
    seed: int = 0,
    sae_id: str = "sae",
    work_dir: Path | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict]:
    """The whole LASSO stage on one SAE's token × latent matrix.

    Returns a DataFrame (i < j latent indices, weight, stability, nReplicates, nullReplicates,
    pValue, qValue) and the SAE's statistics (see module docstring, step 4)."""
    t_start = time.perf_counter()
    acts, seq_starts = order_by_sequence(sp.csr_matrix(acts, dtype=np.float32), sequence_ids, positions)
    n_tokens, F = acts.shape
    screened: dict = {}
    real, null = run_replicates(
        acts,
        seq_starts,
        config,
        seed=seed,
        sae_id=sae_id,
        work_dir=work_dir,
        progress=progress,
        screened=screened,
    )
    scope = "per_replicate" if "fallback" in screened else config.screen
    R = config.replicates
    keys, counts, wsum = count_replicates([x.keys for x in real], [x.weights for x in real])
    nkeys, ncounts, _ = count_replicates([x.keys for x in null])
    firings = column_moments(acts).firings
    bins = frequency_bins(firings, config.min_firings, config.frequency_strata)
    n_eligible = int((bins >= 0).sum())
    m_pairs = n_eligible * (n_eligible - 1) // 2
    p = stratified_pvalues(
        keys, counts, nkeys, ncounts, F, bins, config.frequency_strata, tail=config.null_tail
    )
    q = bh_qvalues(p, m_pairs)
    pos = np.searchsorted(nkeys, keys)
    hit = (
        (pos < nkeys.size) & (nkeys[np.minimum(pos, max(nkeys.size - 1, 0))] == keys)
        if nkeys.size
        else np.zeros(keys.size, bool)
    )
    null_of_real = np.where(hit, ncounts[np.minimum(pos, max(nkeys.size - 1, 0))] if nkeys.size else 0, 0)
    sizes = stratum_sizes(bins, config.frequency_strata)
    p_floor = float(1.0 / (1.0 + sizes[sizes > 0].min())) if (sizes > 0).any() else 1.0
    if config.null_tail == "bound":
        p_floor /= R
    frame = pd.DataFrame(
        {
            "i": keys // max(F, 1),
            "j": keys % max(F, 1),
            "weight": wsum / np.maximum(counts, 1),
            "stability": counts / R,
            "nReplicates": counts,
            "nullReplicates": null_of_real.astype(np.int64),
            "pValue": p,
            "qValue": q,
        }
    )
    significant = frame["qValue"] <= config.fdr_q
    kept_stats = kept_set_statistics(frame[significant], ncounts, R, config.fdr_q)
    if config.keep == "significant":
        frame = frame[significant].reset_index(drop=True)

    mean_sel = float(np.mean([x.keys.size for x in real])) if real else 0.0
    stable = counts >= config.stability_threshold * R
    n_eff_vals = [x.info["nEff"] for x in real]
    stats = {
        "nTokens": int(n_tokens),
        "nSequences": int(seq_starts.size - 1),
        "nFeatures": int(F),
        "eligibleFeatures": n_eligible,
        "eligiblePairs": int(m_pairs),
        "replicates": R,
        "subsampleFraction": config.subsample_fraction,
        "nEff": {
            "mode": config.n_eff,
            "meanPerReplicate": float(np.mean(n_eff_vals)) if n_eff_vals else 0.0,
            "details": real[0].info["nEffInfo"] if real else {},
            "usedFor": "Fisher-z screen z = atanh(r)*sqrt(n_eff-3) and EBIC = n_eff*log(sigma2) + "
            "df*(log(n_eff) + 2*gamma*log(p)), p = node latents of the replicate - 1",
        },
        "screen": {"scope": scope, "description": SCREEN_NAMES[scope], **screened},
        "null": {
            "kind": config.null,
            "name": null_name(config.null, scope),
            "edgesPerReplicateMean": float(np.mean([x.keys.size for x in null])) if null else 0.0,
        },
        "edgesPerReplicateMean": mean_sel,
        "replicateCountTable": replicate_count_table(counts, ncounts, R),
        "fdrLevel": config.fdr_q,
        "frequencyStrata": config.frequency_strata,
        "edgesSelectedOnce": int(keys.size),
        "significantEdges": int(significant.sum()),
        "pValueFloor": p_floor,
        "pValueFloorNote": "smallest attainable p (1/(1 + pairs of the smallest stratum), divided by R for "
        "the truncated-Markov bound); BH over eligiblePairs rejects nothing unless about "
        "pValueFloor*eligiblePairs/fdrLevel edges reach it - lower frequency_strata when few edges are expected",
        "nullTail": NULL_TAILS[config.null_tail],
        "nullPassRate": null_pass_rate(real, null, screened),
        "keptSet": kept_stats,
        "effectFloors": {
            "minAbsCorrelation": config.min_abs_correlation,
            "minAbsCoefficient": config.min_abs_coefficient,
            "minFirings": config.min_firings,
            "minCountPositive": config.min_count,
        },
        "stability": {
            "threshold": config.stability_threshold,
            "stableEdges": int(stable.sum()),
            "stableNullEdges": int((ncounts >= config.stability_threshold * R).sum()),
            "mbBound": mb_bound(mean_sel, config.stability_threshold, m_pairs),
            "mbBoundFormula": "E[V] <= qbar^2 / ((2*pi_thr - 1) * M), qbar = mean AND-rule edges per "
            "replicate, M = eligible pairs (Meinshausen & Buhlmann 2010)",
        },
        "denseCovariates": sorted({d for x in real for d in x.info["denseCovariates"]}),
        "meanNodes": float(np.mean([x.info["nodes"] for x in real])) if real else 0.0,
        "meanScreenPassed": float(np.mean([x.info["screenPassed"] for x in real])) if real else 0.0,
        "meanCandidates": float(np.mean([x.info["meanCandidates"] for x in real])) if real else 0.0,
        "secondsPerReplicate": {"real": mean_seconds(real), "null": mean_seconds(null)},
        "seconds": round(time.perf_counter() - t_start, 3),
    }
    return frame, stats


# ------------------------------------------------------------------ bundle shell
def lasso_unit(bundle, saes: tuple[str, ...], *, config: LassoConfig, run_id: str, seed: int, work_dir):
    """The LASSO rows and statistics of one SAE (an executor task: module-level, picklable)."""
    from saegraph.ingest.edges.runner import progress_enabled

    (sid,) = saes
    acts, seqs, poss = nonempty_activations(bundle, sid)
    log.info("LASSO for %s: %d tokens x %d latents, %d replicates", sid, *acts.shape, config.replicates)
    sae_dir = Path(work_dir) / sid if work_dir is not None else None
    frame, stats = lasso_edges(
        acts, seqs, poss, config, seed=seed, sae_id=sid, work_dir=sae_dir, progress=progress_enabled()
    )
    return {"lasso": pair_rows(frame, sid, run_id)}, stats


def build_from_bundle(
    bundle,
    config: LassoConfig,
    *,
    run_id: str,
    seed: int,
    work_dir: Path,
    sae_ids: Sequence[str] | None = None,
    executor=None,
):
    """LASSO edges for every SAE of the bundle (one table with a saeId column), one
    ``lasso_unit`` task per SAE on ``executor``. Each SAE resumes from its replicate checkpoints
    in ``work_dir/<saeId>/`` (``checkpoints``); ``sae_ids`` rebuilds those SAEs and keeps the
    committed rows of the others (``edges.checkpoint``)."""
    from saegraph.ingest.edges.checkpoint import StageUnits
    from saegraph.ingest.edges.lasso.summary import stage_stats
    from saegraph.ingest.edges.runner import StageResult

    sae_order = [str(s) for s in bundle.frame("saes")["saeId"]]
    unit = partial(lasso_unit, config=config, run_id=run_id, seed=seed, work_dir=work_dir)
    units = StageUnits(
        bundle,
        "lasso",
        config,
        run_id=run_id,
        seed=seed,
        work_dir=work_dir,
        tables=("lasso",),
        sae_ids=sae_ids,
        checkpoints=False,  # replicate checkpoints resume each SAE (units: out of process only)
    ).run([(sid,) for sid in sae_order], unit, executor)
    frames = [u.frames["lasso"] for u in units]
    per_sae = {u.name: u.stats for u in units}
    table = frames_to_table(frames, LASSO_SCHEMA)
    stats = stage_stats(config, per_sae, table.num_rows)
    return StageResult("lasso", table, stats)
