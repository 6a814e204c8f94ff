"""``saegraph ingest``: config -> sources -> activations -> features -> edges -> bundle.

Algorithm:
1. Resolve the run id from the config (``run_id_for``) and open ``BUNDLE.partial/``. A
   ``progress.json`` there records the config fingerprint; a different config refuses to
   resume (``restart=True`` discards the old work instead).
2. Load the model and SAEs and validate hooks and widths (``saegraph.ingest.sources``); store the
   decoders.
3. Stream the activation pass (``saegraph.ingest.activations``), resuming from the last chunk;
   with ``activations.shard_sequences`` one executor task per shard of sequences
   (``saegraph.ingest.activation_shards``), merged in order.
4. Compute feature metadata per SAE (``saegraph.ingest.features``) from the stored chunks.
5. Write models/saes/datasets/features and the manifest, publish the bundle atomically.
6. Build the enabled edge stages on the finished bundle (``saegraph.ingest.edges.runner.run_edges``),
   each committed as soon as it finishes, so an interrupted edge stage is re-run alone; their
   units run on the given executor (``saegraph.ingest.executors``; default in-process).
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

import saegraph
from saegraph.ingest.activation_store import ActivationStore, write_json_atomic
from saegraph.ingest.bundle import BundleBuilder, BundleError, partial_path, remove_partial
from saegraph.ingest.config import Config

log = logging.getLogger(__name__)
PROGRESS_FILE = "progress.json"


def run_id_for(cfg: Config) -> str:
    """Deterministic run id: the run name's slug and 12 hex of the config fingerprint."""
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "-", cfg.run.name).strip("-") or "run"
    return f"{slug}-{cfg.fingerprint()[:12]}"


def _check_resume(out: Path, cfg: Config, restart: bool) -> None:
    """Discard (``restart``) or verify the unfinished work of a previous run into ``out``."""
    if restart:
        remove_partial(out)
        return
    prog = partial_path(out) / PROGRESS_FILE
    if prog.exists() and json.loads(prog.read_text()).get("configFingerprint") != cfg.fingerprint():
        raise BundleError(
            f"{partial_path(out)} holds an unfinished run of a different config: pass --restart to "
            "discard it, or choose another -o directory"
        )


def run_ingest(
    cfg: Config,
    out: str | Path,
    *,
    progress: bool = True,
    restart: bool = False,
    edges: bool = True,
    executor=None,
) -> Path:
    """Run the whole ingestion and return the finished bundle's path; ``executor``
    (``saegraph.ingest.executors``) runs the edge stages' units and the activation pass's
    shards (``activations.shard_sequences``; default: in-process)."""
    from saegraph.ingest import sources

    out = Path(out)
    work = partial_path(out)
    _check_resume(out, cfg, restart)
    t0 = time.perf_counter()
    builder = BundleBuilder(out)
    run_id = run_id_for(cfg)
    write_json_atomic(work / PROGRESS_FILE, {"configFingerprint": cfg.fingerprint(), "runId": run_id})

    model = sources.load_model(cfg)
    saes = sources.load_saes(cfg, model)
    info = sources.dataset_info(cfg, model)
    for sae in saes:
        builder.write_decoder(sae.sae_id, sae.w_dec)
        enc = sae.encoder_parts()
        if enc is not None:
            builder.write_encoder(sae.sae_id, *enc, floor=cfg.activations.threshold)
    if cfg.model.source == "synthetic":
        builder.ground_truth_path.mkdir(exist_ok=True)
        sources.write_ground_truth(cfg, model, builder.ground_truth_path)

    from saegraph.ingest.activations import PassStats, run_activation_pass

    truth_dir = builder.ground_truth_path / "true_activations" if cfg.model.source == "synthetic" else None
    pass_stats: PassStats
    if cfg.activations.shard_sequences:
        from saegraph.ingest.activation_shards import SHARDS_DIR, run_sharded_pass

        pass_stats = run_sharded_pass(
            cfg,
            saes,
            builder.activations_path,
            work / SHARDS_DIR,
            truth_dir=truth_dir,
            executor=executor,
            loaded=(model, saes),
        )
    else:
        from saegraph.ingest.activation_shards import SHARDS_DIR, remove_shards

        remove_shards(work / SHARDS_DIR)  # left by a sharded run this one resumes without sharding
        pass_stats = run_activation_pass(
            cfg,
            model,
            saes,
            lambda start: sources.iter_batches(cfg, model, start_sequence=start),
            builder.activations_path,
            truth_dir=truth_dir,
            progress=progress,
        )
    store = ActivationStore(builder.activations_path)

    from saegraph.ingest.features import feature_table

    token_meta = store.token_metadata()
    tables, feature_stats, l0 = [], {}, {}
    for sae in saes:
        tbl, st = feature_table(
            store,
            sae.sae_id,
            sae.w_dec,
            _as_numpy(model.unembed(sae.hook_name)),
            model.decode,
            cfg.features,
            token_meta=token_meta,
            decode_texts=model.decode_texts,
        )
        tables.append(tbl)
        feature_stats[sae.sae_id] = st
        l0[sae.sae_id] = st["meanL0"]

    builder.write_table("features", pa.concat_tables(tables))
    builder.write_table("models", models_table(model))
    builder.write_table("saes", saes_table(saes, cfg, l0, run_id))
    dataset = {
        "datasetId": info.fingerprint[:16],
        "name": info.name,
        "nTokens": store.n_tokens,
        "nSequences": store.n_sequences,
        "fingerprint": info.fingerprint,
    }
    builder.write_table("datasets", pa.Table.from_pylist([dataset]))
    builder.manifest.update(
        {
            "runId": run_id,
            "runName": cfg.run.name,
            "codeVersion": f"saegraph {saegraph.__version__}",
            "config": cfg.to_dict(),
            "dataset": dataset,
            "modelId": model.model_id,
        }
    )
    builder.set_stats("activations", pass_stats.as_dict())
    builder.set_stats("features", feature_stats)
    (work / PROGRESS_FILE).unlink()
    path = builder.finalize()
    log.info("bundle %s written in %.1f s", path, time.perf_counter() - t0)
    if edges:
        from saegraph.ingest.edges.runner import run_edges

        run_edges(path, cfg.edges, progress=progress, executor=executor)
    return path


def _as_numpy(w_u) -> np.ndarray | None:
    if w_u is None:
        return None
    return w_u.detach().to("cpu").float().numpy() if hasattr(w_u, "detach") else np.asarray(w_u, np.float32)


def models_table(model) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "modelId": model.model_id,
                "name": model.name,
                "nLayers": int(model.n_layers),
                "dModel": int(model.d_model),
                "dMlp": int(model.d_mlp),
                "dVocab": int(model.d_vocab),
                "nParams": int(model.n_params),
                "source": model.source,
            }
        ]
    )


def saes_table(saes, cfg: Config, l0: dict[str, float], run_id: str) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "saeId": s.sae_id,
                "modelId": cfg.model.model_id,
                "release": s.release,
                "saeName": s.sae_name,
                "hookName": s.hook_name,
                "layer": int(s.layer),
                "dIn": int(s.d_in),
                "dSae": int(s.d_sae),
                "architecture": s.architecture,
                "seed": int(s.seed),
                "l0": float(l0[s.sae_id]),
                "source": s.source,
                "runId": run_id,
            }
            for s in saes
        ]
    )
