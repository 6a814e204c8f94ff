"""LASSO edges: nodewise LASSO with resampling, matched nulls and FDR on replicate counts.

Algorithm (docs/methods.md, LASSO; Meinshausen & Bühlmann 2006 and 2010; Foygel & Drton 2010):
1. The SAE's tokens in (sequence, position) order (``tokens``): stacked into one token ×
   latent CSR matrix (``resample.order_by_sequence``), or, when the activations exceed
   ``token_memory_mb`` (``stats.stream.csr_bytes``), streamed from disk in blocks of whole
   sequences (default null and screen only; other settings raise). Every sum over tokens is
   added in token order or per sequence, so both give the same edges and statistics.
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
   fsync + rename) and skipped on restart. With ``node_block_tasks`` > 0 every replicate
   not on disk is taken up to its fits here and the fits run as (replicate, dataset, node
   range) tasks on the executor (``node_blocks``), giving the same replicates.
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
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm.auto import tqdm

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.checkpoints import (
    KINDS,
    load_replicate,
    prepare_checkpoints,
    replicate_fingerprint,
    replicate_name,
    save_replicate,
)
from saegraph.ingest.edges.lasso.fdr import edge_table
from saegraph.ingest.edges.lasso.node_blocks import NodeBlocksPlan
from saegraph.ingest.edges.lasso.replicate import PendingReplicate, prepare_edges_once
from saegraph.ingest.edges.lasso.report import kept_set_statistics, sae_statistics
from saegraph.ingest.edges.lasso.resample import (
    choose_sequences,
    matched_null,
    null_rng,
    order_by_sequence,
    replicate_rng,
    subsample_sequences,
)
from saegraph.ingest.edges.lasso.sufficient import (
    TooManySequencePairs,
    pending_from_dataset,
    screen_dataset,
)
from saegraph.ingest.edges.lasso.tokens import (
    LassoStreamingError,
    Prepared,
    check_streamable,
    null_tokens,
    prepare,
    sorted_tokens,
    stacked,
    store_tokens,
)
from saegraph.ingest.edges.rows import frames_to_table, nonempty_activations, pair_rows
from saegraph.ingest.edges.stats.stream import TokenBlocks, budget_bytes, csr_bytes
from saegraph.schema.graph import RelType

log = logging.getLogger(__name__)

LASSO_SCHEMA = RelType.LASSO.arrow_schema()  # the schema's one definition (saegraph.schema.graph)


# ------------------------------------------------------------------ replicates
class _ScreenedOnce:
    """The real dataset and its matched null, screened on first use (a resumed run with every
    replicate on disk never screens)."""

    def __init__(self, tokens: TokenBlocks, prep: Prepared, config: LassoConfig, seed: int, sae_id: str):
        self.tokens, self.prep, self.config, self.seed, self.sae_id = tokens, prep, config, seed, sae_id
        self.real = self.null = None
        self.fallback = config.screen != "once"
        self.info: dict = {}

    def datasets(self):
        """(real, null) ScreenedDatasets, or None when the statistics exceed the memory cap."""
        if self.real is None and not self.fallback:
            t0 = time.perf_counter()
            null = null_tokens(self.tokens, self.config.null, null_rng(self.seed, self.sae_id))
            t_null = time.perf_counter() - t0
            try:
                self.real = screen_dataset(self.tokens, None, self.config, self.prep)
                self.null = screen_dataset(null, None, self.config)
            except TooManySequencePairs as exc:
                if self.tokens.streamed:
                    raise LassoStreamingError(
                        f"LASSO {self.sae_id}: {exc} (edges.lasso.max_sequence_pair_entries), and the "
                        "per_replicate fallback needs the stacked tokens: raise max_sequence_pair_entries "
                        "or token_memory_mb"
                    ) from None
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
    r: int, tokens: TokenBlocks, config: LassoConfig, seed: int, sae_id: str, once: _ScreenedOnce
) -> list[PendingReplicate]:
    """Replicate r up to its fits: [real, matched null]."""
    rng = replicate_rng(seed, sae_id, r)
    datasets = once.datasets()
    if datasets is not None:
        chosen = choose_sequences(once.prep.n_sequences, config.subsample_fraction, rng)
        return [pending_from_dataset(ds, chosen, config) for ds in datasets]
    acts, seq_starts = stacked(tokens)
    t0 = time.perf_counter()
    sub, starts = subsample_sequences(acts, seq_starts, config.subsample_fraction, rng)
    t_sub = time.perf_counter() - t0
    t0 = time.perf_counter()
    sub_null = matched_null(sub, starts, config.null, rng)
    t_null = time.perf_counter() - t0
    done = [prepare_edges_once(sub, starts, config), prepare_edges_once(sub_null, starts, config)]
    done[0].info["seconds"]["subsample"] = round(t_sub, 4)
    done[1].info["seconds"]["buildNull"] = round(t_null, 4)
    return done


def run_replicates(
    acts: sp.csr_matrix | TokenBlocks,
    seq_starts: np.ndarray | None,
    config: LassoConfig,
    *,
    seed: int,
    sae_id: str = "sae",
    work_dir: Path | None = None,
    progress: bool = False,
    screened: dict | None = None,
    prepared: Prepared | None = None,
    node_blocks: NodeBlocksPlan | None = None,
):
    """R real and R matched-null replicates (lists of ReplicateEdges), resuming from ``work_dir``.

    ``acts``: the matrix with rows sorted by sequence (``seq_starts``) or its ``TokenBlocks``
    (``seq_starts`` None); ``prepared``: their ``tokens.prepare``, when already computed.
    With ``config.screen == "once"`` the screen's statistics (seconds, pairs) are written
    into ``screened`` when given (empty when every replicate came from a checkpoint).
    ``node_blocks``: run the fits of every replicate not on disk as node-block tasks."""
    tokens = acts if isinstance(acts, TokenBlocks) else sorted_tokens(acts, np.asarray(seq_starts))
    prep = prepared if prepared is not None else prepare(tokens)
    ckpt = prepare_checkpoints(work_dir, replicate_fingerprint(config, seed, sae_id, tokens, prep))
    once = _ScreenedOnce(tokens, prep, config, seed, sae_id)
    done: dict[int, list] = {}
    waiting: list[tuple[int, list[PendingReplicate]]] = []
    bar = tqdm(total=config.replicates, desc=f"lasso {sae_id}", unit="replicate", disable=not progress)

    def commit(r: int, reps: list) -> None:
        done[r] = reps
        bar.update(1)
        bar.set_postfix(edges=reps[0].keys.size, null=reps[1].keys.size)

    for r in range(config.replicates):
        paths = [ckpt / f"{replicate_name(r, kind)}.npz" for kind in KINDS] if ckpt else [None, None]
        cached = [load_replicate(p) if p is not None and p.exists() else None for p in paths]
        if cached[0] is not None and cached[1] is not None:
            commit(r, cached)
            continue
        if not once.fallback and once.real is None:
            bar.set_description(f"lasso {sae_id} (screening real + null once)")
        pending = _compute_replicate(r, tokens, config, seed, sae_id, once)
        bar.set_description(f"lasso {sae_id}")
        if node_blocks is not None:  # the fits as node-block tasks, in waves of bounded size
            waiting.append((r, pending))
            if node_blocks.full(waiting):
                for done_r in node_blocks.finish(waiting, config, ckpt):
                    commit(*done_r)
                waiting.clear()
            continue
        reps = [p.solve(config) for p in pending]
        for path, rep in zip(paths, reps):
            if path is not None:
                save_replicate(path, rep)
        commit(r, reps)
    if node_blocks is not None and waiting:
        for done_r in node_blocks.finish(waiting, config, ckpt):
            commit(*done_r)
    bar.close()
    if screened is not None:
        screened.update(once.info)
    order = sorted(done)
    return [done[r][0] for r in order], [done[r][1] for r in order]


def lasso_edges(
    acts: sp.spmatrix | TokenBlocks,
    sequence_ids: np.ndarray | None,
    positions: np.ndarray | None,
    config: LassoConfig,
    *,
    seed: int = 0,
    sae_id: str = "sae",
    work_dir: Path | None = None,
    progress: bool = False,
    node_blocks: NodeBlocksPlan | None = None,
) -> tuple[pd.DataFrame, dict]:
    """The whole LASSO stage on one SAE's token × latent matrix (with its tokens' sequence ids
    and positions), or on its ``TokenBlocks`` in (sequence, position) order (``tokens``; the ids
    and positions None).

    Returns a DataFrame (i < j latent indices, weight, stability, nReplicates, nullReplicates,
    pValue, qValue) and the SAE's statistics (see module docstring, step 4). ``node_blocks``:
    the fits as node-block tasks (``run_replicates``)."""
    t_start = time.perf_counter()
    if isinstance(acts, TokenBlocks):
        tokens = acts
        if tokens.streamed:
            check_streamable(config, sae_id)
    elif sequence_ids is None or positions is None:
        raise ValueError("lasso_edges needs the sequence ids and positions of a matrix's tokens")
    else:
        ordered, seq_starts = order_by_sequence(
            sp.csr_matrix(acts, dtype=np.float32), sequence_ids, positions
        )
        tokens = sorted_tokens(ordered, seq_starts)
    prep = prepare(tokens)
    F = tokens.widths[0]
    screened: dict = {}
    real, null = run_replicates(
        tokens,
        None,
        config,
        seed=seed,
        sae_id=sae_id,
        work_dir=work_dir,
        progress=progress,
        screened=screened,
        prepared=prep,
        node_blocks=node_blocks,
    )
    scope = "per_replicate" if "fallback" in screened else config.screen
    R = config.replicates
    table = edge_table(real, null, prep.moments.firings, F, config)
    frame, counts, ncounts, n_eligible, m_pairs, p_floor, decoy = table
    n_selected, significant = len(frame), frame["qValue"] <= config.fdr_q
    kept_stats = kept_set_statistics(frame[significant], ncounts, R, config.fdr_q, decoy)
    if config.keep == "significant":
        frame = frame[significant].reset_index(drop=True)

    stats = sae_statistics(
        config,
        real,
        null,
        screened,
        scope,
        {
            "nTokens": int(tokens.n_tokens),
            "nSequences": prep.n_sequences,
            "nFeatures": int(F),
            "eligibleFeatures": n_eligible,
            "eligiblePairs": int(m_pairs),
        },
        counts,
        ncounts,
        n_selected,
        int(significant.sum()),
        p_floor,
        kept_stats,
    )
    stats["streamed"], stats["tokenBlocks"] = tokens.streamed, prep.n_blocks
    stats["seconds"] = round(time.perf_counter() - t_start, 3)
    return frame, stats


# ------------------------------------------------------------------ bundle shell
def lasso_unit(
    bundle,
    saes: tuple[str, ...],
    *,
    config: LassoConfig,
    run_id: str,
    seed: int,
    work_dir,
    node_blocks: NodeBlocksPlan | None = None,
):
    """The LASSO rows and statistics of one SAE (an executor task: module-level, picklable);
    with ``node_blocks`` its fits run as node-block tasks on their executor (``node_blocks``)."""
    from saegraph.ingest.edges.runner import progress_enabled

    (sid,) = saes
    store, budget = bundle.activations, budget_bytes(config.token_memory_mb)
    if csr_bytes(store, (sid,)) > budget:  # step 1: stream the tokens
        check_streamable(config, sid)
        acts, seqs, poss = store_tokens(store, sid, budget), None, None
        shape = (acts.n_tokens, acts.widths[0])
    else:
        acts, seqs, poss = nonempty_activations(bundle, sid)
        shape = acts.shape
    log.info(
        "LASSO for %s: %d tokens x %d latents, %d replicates%s",
        sid,
        *shape,
        config.replicates,
        f", streamed in blocks of <= {config.token_memory_mb:g} MiB" if seqs is None else "",
    )
    sae_dir = Path(work_dir) / sid if work_dir is not None else None
    frame, stats = lasso_edges(
        acts,
        seqs,
        poss,
        config,
        seed=seed,
        sae_id=sid,
        work_dir=sae_dir,
        progress=progress_enabled(),
        node_blocks=node_blocks,
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
    committed rows of the others (``edges.checkpoint``). With ``node_block_tasks`` > 0 the SAEs
    run one after the other here and each maps its fits' node blocks on ``executor`` instead
    (``node_blocks``; range files in ``work_dir/<saeId>/nodes/``)."""
    from saegraph.ingest.edges.checkpoint import StageUnits
    from saegraph.ingest.edges.lasso.summary import stage_stats
    from saegraph.ingest.edges.runner import StageResult
    from saegraph.ingest.executors import LocalExecutor, local_executor

    sae_order = [str(s) for s in bundle.frame("saes")["saeId"]]
    unit = partial(lasso_unit, config=config, run_id=run_id, seed=seed, work_dir=work_dir)
    if config.node_block_tasks > 0:
        plan = NodeBlocksPlan(local_executor(executor), config.node_block_tasks)
        unit, executor = partial(unit, node_blocks=plan), LocalExecutor()
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
