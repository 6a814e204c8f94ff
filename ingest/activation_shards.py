"""The activation pass sharded by sequence ranges, each shard one executor task.

Algorithm (``activations.shard_sequences = K`` > 0; docs/scaling.md "Sharded runs on Ray"):
1. Plan: K is rounded up to a multiple of ``activations.batch_size`` (the source's batches start
   at multiples of it, so a shard holds whole batches). Shard i covers sequences
   [i*K, (i+1)*K); their number comes from the dataset's size (``dataset.n_tokens`` over the
   sequence length), the last one open-ended: it runs until the source stops (a text dataset
   may hold fewer sequences than the budget; a shard past its end is empty, not an error).
   Shards the bundle's store already holds (up to its ``nextSequence``) are not planned again;
   the shard holding that sequence starts there.
2. Each shard is a picklable :class:`ShardTask` (the config and paths). :func:`run_shard` loads
   the model and SAEs from the config (``sources.load_model`` / ``load_saes``; an in-process
   executor hands over the parent's instead), runs the unchanged pass
   (``activations.run_activation_pass``) over its range into its own store
   ``BUNDLE.partial/.work/activations/shard-<i>/`` (synthetic runs: its true activations
   beside it), then writes ``done.json`` (its pass statistics) atomically: the commit point.
3. Checkpoints: ``shard.json`` records the range a shard directory was started for; a finished
   shard is reused by a re-run, an unfinished one resumes from its last chunk (the pass's own
   resume), so a task whose worker died is retried alone by Ray (``RayExecutor``) and redoes
   only its missing chunks. A directory started for another range is discarded.
4. Merge: the parent appends every shard's chunks, in sequence order, to the bundle's store
   (``ActivationStore.adopt``: renumbered, files hard-linked, ``nextSequence`` and the other
   index fields kept; the ground-truth chunks first, as the pass writes them), skipping chunks
   it already holds, so an interrupted merge resumes. Then the shard directories are removed.
5. The stacked activations of each SAE (all chunks in order) equal the single-process pass's;
   the chunk boundaries may differ (each shard closes its last chunk early). Pass statistics:
   counts from the merged store, timings and ``tokens_this_run`` summed over the shards run
   now, ``seconds_total`` the parent's wall time.
6. GPUs: on Ray with ``run.device`` other than ``cpu``, each shard task asks for one GPU when the
   cluster has any (``shard_executor``); the pass inside the task resolves the device as usual.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saegraph.ingest.activation_store import INDEX_FILE, ActivationStore, write_json_atomic
from saegraph.ingest.activations import NO_TOKENS, TRUTH_ID, ActivationError, PassStats
from saegraph.ingest.config import Config
from saegraph.ingest.executors import Executor, local_executor

log = logging.getLogger(__name__)

SHARDS_DIR = Path(".work") / "activations"
"""Where the shards live, relative to ``BUNDLE.partial/``."""
SHARD_FILE = "shard.json"
DONE_FILE = "done.json"
ACTS, TRUTH = "activations", "truth"
SUMMED = ("seconds_model", "seconds_encode", "seconds_sparsify", "seconds_write", "tokens_this_run")


def shard_size(cfg: Config) -> int:
    """``activations.shard_sequences`` rounded up to a multiple of ``batch_size`` (step 1)."""
    a = cfg.activations
    return -(-a.shard_sequences // a.batch_size) * a.batch_size


def total_sequences(cfg: Config) -> int:
    """Sequences in the token budget: ``ceil(n_tokens / sequence length)``."""
    synthetic = cfg.model.source == "synthetic"
    length = cfg.synthetic.sequence_length if synthetic else cfg.dataset.context_size
    return -(-cfg.dataset.n_tokens // length)


@dataclass
class ShardTask:
    """One shard: sequences [start, stop) (``stop`` None: to the end of the source) (step 2)."""

    cfg: Config
    index: int
    start: int
    stop: int | None
    directory: str
    truth: bool
    loaded: tuple[Any, Any] | None = field(default=None, compare=False)
    """The parent's (model, SAEs) for in-process executors; never pickled (step 2)."""

    def __getstate__(self) -> dict:
        return {**self.__dict__, "loaded": None}

    def __repr__(self) -> str:
        return f"shard {self.index} (sequences {self.start}-{'end' if self.stop is None else self.stop - 1})"


def plan_shards(cfg: Config, work_dir: Path, done: int, *, truth: bool) -> list[ShardTask]:
    """The shards still to run when the bundle's store ends at sequence ``done`` (step 1)."""
    k, total = shard_size(cfg), total_sequences(cfg)
    n = max(1, -(-total // k))
    tasks = []
    for i in range(n):
        start, stop = max(i * k, done), (i + 1) * k if i < n - 1 else None
        if start < (total if stop is None else stop):
            tasks.append(ShardTask(cfg, i, start, stop, str(work_dir.absolute() / f"shard-{i}"), truth))
    return tasks


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _fits(root: Path, task: ShardTask) -> bool:
    """Whether the shard directory was started for this range (it may have passed ``start``)."""
    meta = _read_json(root / SHARD_FILE)
    if not isinstance(meta, dict) or meta.get("stop") != task.stop:
        return False
    ends = {meta.get("start")}
    if (root / ACTS / INDEX_FILE).exists():
        ends |= {c.get("nextSequence") for c in ActivationStore(root / ACTS).chunks}
    return task.start in ends


def _in_range(batches: Iterator[Any], stop: int | None) -> Iterator[Any]:
    """The source's batches up to sequence ``stop`` (whole batches; None: all of them)."""
    for batch in batches:
        first, last = int(batch.sequence_ids[0]), int(batch.sequence_ids[-1])
        if stop is not None and first >= stop:
            return
        if stop is not None and last >= stop:
            raise ActivationError(f"a batch spans sequences {first}-{last}, across the shard end {stop}")
        yield batch
        if stop is not None and last + 1 >= stop:
            return


def run_shard(task: ShardTask) -> dict:
    """Run (or reuse) one shard; ``{"stats": pass statistics, "reused": bool}`` (steps 2-3)."""
    from saegraph.ingest import sources
    from saegraph.ingest.activations import run_activation_pass

    root, cfg = Path(task.directory), task.cfg
    if root.exists() and not _fits(root, task):
        shutil.rmtree(root)
    done = _read_json(root / DONE_FILE)
    if isinstance(done, dict) and "stats" in done:
        return {"stats": done["stats"], "reused": True}
    if not root.exists():
        root.mkdir(parents=True)
        write_json_atomic(root / SHARD_FILE, {"start": task.start, "stop": task.stop})
    model, saes = task.loaded or (None, None)
    if model is None:
        model = sources.load_model(cfg)
        saes = sources.load_saes(cfg, model)
    stats = run_activation_pass(
        cfg,
        model,
        saes,
        lambda s: _in_range(sources.iter_batches(cfg, model, start_sequence=max(s, task.start)), task.stop),
        root / ACTS,
        truth_dir=root / TRUTH if task.truth else None,
        progress=False,
        allow_empty=True,
    )
    write_json_atomic(root / DONE_FILE, {"stats": stats.as_dict()})
    log.info("%r: %d chunks, %d tokens", task, stats.chunks_written, stats.tokens_this_run)
    return {"stats": stats.as_dict(), "reused": False}


@dataclass
class ShardedPassStats(PassStats):
    """``PassStats`` of a sharded pass, with its shards (module docstring, step 5)."""

    shards: int = 0
    """Shards the pass has (planned from the dataset's size)."""
    shards_reused: int = 0
    """Shards still to merge that an earlier invocation had finished (reused, not run again)."""
    shard_sequences: int = 0
    """Sequences per shard (``activations.shard_sequences`` rounded to whole batches)."""
    executor: str = ""
    seconds_merge: float = 0.0


def merge_shards(tasks: list[ShardTask], out_dir: Path, truth_dir: Path | None, widths: dict) -> int:
    """Append the shards' chunks after the store's last one, in order (step 4); chunks added."""
    store = ActivationStore(out_dir, sae_widths=widths)
    truth = ActivationStore(truth_dir) if truth_dir and (truth_dir / INDEX_FILE).exists() else None
    if truth is not None:
        truth.truncate(store.n_chunks)
    done = int(store.chunks[-1]["nextSequence"]) if store.n_chunks else 0
    added = 0
    for task in tasks:
        root = Path(task.directory)
        part = ActivationStore(root / ACTS)
        part_truth = ActivationStore(root / TRUTH) if (root / TRUTH / INDEX_FILE).exists() else None
        begin = int(_read_json(root / SHARD_FILE)["start"])
        for entry in part.chunks:
            end = int(entry["nextSequence"])
            if end <= done:
                begin = end
                continue
            if begin != done:
                raise ActivationError(
                    f"{root} starts at sequence {begin}, not {done}: delete {root.parent} and re-run"
                )
            if part_truth is not None and truth_dir is not None:
                if truth is None:
                    truth = ActivationStore(truth_dir, sae_widths={TRUTH_ID: part_truth.d_sae(TRUTH_ID)})
                truth.adopt(part_truth, entry["chunk"])
            store.adopt(part, entry["chunk"])
            begin = done = end
            added += 1
    return added


def remove_shards(work_dir: Path) -> None:
    """Delete the shard directories (and ``.work/`` when nothing else is left in it)."""
    shutil.rmtree(work_dir, ignore_errors=True)
    if work_dir.parent.is_dir() and not any(work_dir.parent.iterdir()):
        work_dir.parent.rmdir()


def shard_executor(executor: Executor, cfg: Config) -> Executor:
    """``executor``, or for Ray with a GPU device asked for, one asking a GPU per task (step 6)."""
    from saegraph.ingest.executors.ray_executor import RayExecutor

    if not isinstance(executor, RayExecutor) or executor.num_gpus or cfg.run.device == "cpu":
        return executor
    executor.start()
    if executor.ray.cluster_resources().get("GPU", 0) < 1:
        return executor
    return RayExecutor(
        executor.address,
        executor.num_workers,
        executor.max_retries,
        num_cpus=executor.num_cpus,
        num_gpus=1,
    )


def run_sharded_pass(
    cfg: Config,
    saes: list,
    out_dir: Path,
    work_dir: Path,
    *,
    truth_dir: Path | None = None,
    executor: Executor | None = None,
    loaded: tuple[Any, Any] | None = None,
) -> ShardedPassStats:
    """Fill ``out_dir`` like ``run_activation_pass``, one executor task per shard (steps 1-5).

    ``work_dir`` holds the shards (``BUNDLE.partial/.work/activations``); ``saes`` (the loaded
    SAEs) give the store's widths; ``loaded`` = (model, SAEs) is handed to in-process tasks.
    """
    t0 = time.perf_counter()
    executor = local_executor(executor)
    widths = {s.sae_id: s.d_sae for s in saes}
    store = ActivationStore(out_dir, sae_widths=widths)
    resumed = store.n_chunks
    done = int(store.chunks[-1]["nextSequence"]) if resumed else 0
    tasks = plan_shards(cfg, work_dir, done, truth=truth_dir is not None)
    if executor.in_process:
        for task in tasks:
            task.loaded = loaded
    runner = shard_executor(executor, cfg)
    log.info("activation pass: %d shards of %d sequences on %s", len(tasks), shard_size(cfg), runner.name)
    results = runner.map(run_shard, tasks)
    t_merge = time.perf_counter()
    added = merge_shards(tasks, out_dir, truth_dir, widths)
    store = ActivationStore(out_dir)
    if store.n_chunks == 0 or store.n_tokens == 0:
        raise ActivationError(NO_TOKENS)
    remove_shards(work_dir)
    ran = [r["stats"] for r in results if not r["reused"]]
    stats = ShardedPassStats(
        tokens_seen=sum(int(c.get("tokensSeen", c["nTokens"])) for c in store.chunks),
        tokens_kept=store.n_tokens,
        sequences=sum(int(c.get("sequencesSeen", c["nSequences"])) for c in store.chunks),
        chunks_written=added,
        chunks_resumed=resumed,
        device=",".join(sorted({s["device"] for s in ran})),
        sae_dtype=cfg.activations.sae_dtype,
        # after any out-of-memory halving: the smallest size a shard ended with
        forward_batch_size=min((int(s["forward_batch_size"]) for s in ran), default=0),
        oom_backoffs=sum(int(s["oom_backoffs"]) for s in ran),
        shards=len(plan_shards(cfg, work_dir, 0, truth=False)),
        shards_reused=len(results) - len(ran),
        shard_sequences=shard_size(cfg),
        executor=runner.name,
        seconds_merge=time.perf_counter() - t_merge,
    )
    for name in SUMMED:
        setattr(stats, name, sum(type(getattr(stats, name))(s[name]) for s in ran))
    stats.seconds_total = time.perf_counter() - t0
    return stats
