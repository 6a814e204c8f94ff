"""Feature ids and relationship rows shared by the edge stages (docs/bundle.md ids)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def feature_ids(sae_id: str, index) -> pd.Series:
    """``"{saeId}:{index}"`` strings."""
    return (sae_id + ":") + pd.Series(np.asarray(index, dtype=np.int64)).astype(str)


def pair_rows(frame: pd.DataFrame, sae_id: str, run_id: str) -> pd.DataFrame:
    """A within-SAE pair frame with latent columns ``i``/``j`` -> ``source``, ``target``,
    ``saeId``, its other columns, ``runId`` (the layout of the undirected edge tables)."""
    out = frame.drop(columns=["i", "j"])
    out.insert(0, "source", feature_ids(sae_id, frame["i"].to_numpy()))
    out.insert(1, "target", feature_ids(sae_id, frame["j"].to_numpy()))
    out.insert(2, "saeId", sae_id)
    out["runId"] = run_id
    return out


def frames_to_table(frames: list[pd.DataFrame], schema: pa.Schema) -> pa.Table:
    """The stage's per-SAE (or per-pair) row frames as one table of the schema's types; no
    frames give an empty table with the schema's columns."""
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=schema.names)
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def nonempty_activations(bundle, sae_id: str):
    """``ActivationStore.stack`` of one SAE, refusing a bundle that holds no tokens for it."""
    acts, seqs, poss = bundle.activations.stack(sae_id)
    if acts.shape[0] == 0:
        raise ValueError(f"SAE {sae_id!r} has no activations in {bundle.path}: re-run `saegraph ingest`")
    return acts, seqs, poss
