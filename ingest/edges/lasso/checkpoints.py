"""LASSO replicate checkpoints: one ``rep<r>.npz`` per finished replicate, so a stopped run
resumes where it stopped.

1. ``prepare_checkpoints`` keeps the directory only when its ``fingerprint.json`` matches the
   input and config (``replicate_fingerprint``); otherwise it empties it, the node-block
   tasks' range files in ``nodes/`` included (a checkpoint of other data is never reused).
2. ``save_replicate`` writes a replicate's edge keys, weights and info atomically
   (temp file, fsync, rename); ``load_replicate`` reads it back, or returns None for an
   unreadable file (the replicate is then recomputed).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from saegraph.ingest.edges.lasso.replicate import ReplicateEdges

log = logging.getLogger(__name__)

NODES_DIR = "nodes"
"""The node-block tasks' range files (``node_blocks``)."""
KINDS = ("real", "null")
"""The two datasets of every replicate."""


def replicate_name(r: int, kind: str) -> str:
    """Replicate r's checkpoint name (``rep<r>_<kind>``, the file ``<name>.npz``)."""
    return f"rep{r:03d}_{kind}"


def save_replicate(path: Path, rep: ReplicateEdges) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, keys=rep.keys, weights=rep.weights, info=np.array(json.dumps(rep.info)))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_replicate(path: Path) -> ReplicateEdges | None:
    try:
        with np.load(path) as z:
            return ReplicateEdges(
                keys=z["keys"].astype(np.int64), weights=z["weights"], info=json.loads(str(z["info"]))
            )
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        log.warning("ignoring unreadable LASSO checkpoint %s", path)
        return None


def prepare_checkpoints(work_dir: Path | None, fingerprint: dict) -> Path | None:
    """The checkpoint directory, emptied when it belongs to another input or config."""
    if work_dir is None:
        return None
    work_dir.mkdir(parents=True, exist_ok=True)
    fp_path = work_dir / "fingerprint.json"
    text = json.dumps(fingerprint, sort_keys=True)
    if not fp_path.exists() or fp_path.read_text() != text:
        for old in work_dir.glob("rep*.npz"):
            old.unlink()
        shutil.rmtree(work_dir / NODES_DIR, ignore_errors=True)
        tmp = fp_path.with_name(fp_path.name + f".tmp-{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, fp_path)
    return work_dir


VOLATILE_SETTINGS = ("token_memory_mb", "node_block_tasks")
"""Settings that change how the replicates are computed, never what they are."""


def replicate_fingerprint(config, seed: int, sae_id: str, tokens, prep) -> dict:
    """What the replicates of one SAE depend on: the settings (less ``VOLATILE_SETTINGS``), the
    seed, the SAE and a digest of its tokens (``tokens.prepare``)."""
    return {
        "config": {k: v for k, v in asdict(config).items() if k not in VOLATILE_SETTINGS},
        "seed": int(seed),
        "saeId": sae_id,
        "shape": [int(tokens.n_tokens), int(tokens.widths[0])],
        "nnz": int(prep.stored.sum()),
        "sum": float(np.round(prep.moments.sums.sum(), 3)),
        "sequences": prep.n_sequences,
    }
