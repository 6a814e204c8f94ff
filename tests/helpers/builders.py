"""Build small, complete bundles from in-memory arrays (shared by unit and integration tests).

``make_bundle_from_arrays`` writes every table docs/bundle.md requires for a finished
bundle (models, saes, datasets, features with minimal metadata), one decoder per SAE, and
the activations split into chunks of whole sequences of ``sequence_length`` tokens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from saegraph.ingest.activation_store import ActivationChunk, ActivationStore
from saegraph.ingest.bundle import BundleBuilder


def _features_frame(sae_id: str, acts: sp.csr_matrix, w_dec: np.ndarray) -> pd.DataFrame:
    n_tokens, width = acts.shape
    pos = acts.data > 0
    n_fires = np.bincount(acts.indices[pos], minlength=width)
    sums = np.bincount(acts.indices[pos], weights=acts.data[pos], minlength=width)
    maxes = np.zeros(width)
    np.maximum.at(maxes, acts.indices[pos], acts.data[pos])
    empty_s = [[] for _ in range(width)]
    return pd.DataFrame(
        {
            "featureId": [f"{sae_id}:{i}" for i in range(width)],
            "saeId": sae_id,
            "index": np.arange(width, dtype=np.int64),
            "density": n_fires / max(n_tokens, 1),
            "nFirings": n_fires.astype(np.int64),
            "meanAct": np.where(n_fires > 0, sums / np.maximum(n_fires, 1), 0.0),
            "maxAct": maxes,
            "decoderNorm": np.linalg.norm(w_dec, axis=1).astype(np.float64),
            "dead": n_fires == 0,
            "topTokens": empty_s,
            "topTokenActs": [[] for _ in range(width)],
            "topLogits": [[] for _ in range(width)],
            "topLogitValues": [[] for _ in range(width)],
            "topExamples": [[] for _ in range(width)],
            "topExampleActs": [[] for _ in range(width)],
        }
    )


def make_bundle_from_arrays(
    path,
    acts_by_sae: dict[str, sp.spmatrix],
    decoders: dict[str, np.ndarray],
    sequence_length: int,
    run_id: str = "test-run",
    *,
    seed: int = 0,
    config: dict | None = None,
    sequences_per_chunk: int = 4,
    token_ids: np.ndarray | None = None,
    layers: dict[str, int] | None = None,
) -> Path:
    """Write a finished bundle at ``path``; all SAEs share the same tokens (rows).

    ``acts_by_sae`` maps saeId -> [n_tokens, dSae] activations; ``decoders`` maps saeId ->
    [dSae, dIn]. n_tokens must be a multiple of ``sequence_length``. The manifest config
    holds ``{"run": {"seed": seed}}`` plus ``config`` (e.g. an ``edges`` section). ``layers``
    maps saeId -> block index (default 0 for every SAE: one hook).
    """
    path = Path(path)
    sae_ids = list(acts_by_sae)
    mats = {sid: sp.csr_matrix(acts_by_sae[sid], dtype=np.float32) for sid in sae_ids}
    n_tokens = {m.shape[0] for m in mats.values()}
    if len(n_tokens) != 1:
        raise ValueError(f"all SAEs must see the same tokens, got row counts {sorted(n_tokens)}")
    n = n_tokens.pop()
    if n % sequence_length:
        raise ValueError(f"{n} tokens is not a multiple of sequence_length={sequence_length}")
    if set(decoders) != set(sae_ids):
        raise ValueError("decoders and acts_by_sae must name the same SAEs")
    n_seq = n // sequence_length
    tokens = np.asarray(token_ids if token_ids is not None else np.arange(n) % 97, dtype=np.int32)

    builder = BundleBuilder(path)
    builder.manifest.update(
        {
            "runId": run_id,
            "config": {"run": {"seed": seed}, **(config or {})},
            "dataset": {
                "datasetId": "0" * 16,
                "name": "arrays",
                "nTokens": n,
                "nSequences": n_seq,
                "fingerprint": "0" * 64,
            },
        }
    )
    widths = {sid: mats[sid].shape[1] for sid in sae_ids}
    store = ActivationStore(builder.activations_path, sae_widths=widths)
    step = sequences_per_chunk * sequence_length
    for k, t0 in enumerate(range(0, n, step)):
        t1 = min(t0 + step, n)
        store.append(
            ActivationChunk(
                index=k,
                token_ids=tokens[t0:t1],
                sequence_ids=(np.arange(t0, t1) // sequence_length).astype(np.int64),
                positions=(np.arange(t0, t1) % sequence_length).astype(np.int32),
                acts={sid: mats[sid][t0:t1] for sid in sae_ids},
            )
        )
    for sid in sae_ids:
        builder.write_decoder(sid, decoders[sid])
    builder.write_table(
        "models",
        pd.DataFrame(
            {
                "modelId": ["m0"],
                "name": ["arrays"],
                "nLayers": [1],
                "dModel": [int(next(iter(decoders.values())).shape[1])],
                "dMlp": [0],
                "dVocab": [97],
                "nParams": [0],
                "source": ["test"],
            }
        ),
    )
    builder.write_table(
        "saes",
        pd.DataFrame(
            {
                "saeId": sae_ids,
                "modelId": "m0",
                "release": "test",
                "saeName": sae_ids,
                "hookName": [f"blocks.{(layers or {}).get(s, 0)}.hook_resid_post" for s in sae_ids],
                "layer": [int((layers or {}).get(s, 0)) for s in sae_ids],
                "dIn": [int(decoders[s].shape[1]) for s in sae_ids],
                "dSae": [widths[s] for s in sae_ids],
                "architecture": "relu",
                "seed": -1,
                "l0": [float(mats[s].getnnz() / max(n, 1)) for s in sae_ids],
                "source": "test",
                "runId": run_id,
            }
        ),
    )
    builder.write_table(
        "datasets",
        pd.DataFrame(
            {
                "datasetId": ["0" * 16],
                "name": ["arrays"],
                "nTokens": [n],
                "nSequences": [n_seq],
                "fingerprint": ["0" * 64],
            }
        ),
    )
    builder.write_table(
        "features", pd.concat([_features_frame(s, mats[s], decoders[s]) for s in sae_ids], ignore_index=True)
    )
    return builder.finalize()


def three_sae_arrays(
    seed: int, n: int, f: int, d: int, density: float, *, second_parent: bool = False
) -> tuple[dict[str, sp.csr_matrix], dict[str, np.ndarray]]:
    """Activations and decoders of SAEs ``a``, ``b`` (a's latents permuted, decoders perturbed)
    and ``w`` (a plus f more latents: a wider SAE): latent 1 fires whenever 0 does (and 3 with 2
    when ``second_parent``), 4 and 5 fire often but never together (an EXCLUDES pair)."""
    rng = np.random.default_rng(seed)
    base = rng.random((n, f)) < density
    base[:, 1] |= base[:, 0]
    if second_parent:
        base[:, 3] |= base[:, 2]
    base[:, 4] = rng.random(n) < 0.4
    base[:, 5] = ~base[:, 4] & (rng.random(n) < 0.5)
    acts = sp.csr_matrix((base * rng.uniform(0.5, 2, base.shape)).astype(np.float32))
    perm = rng.permutation(f)
    wide = sp.hstack([acts, sp.csr_matrix((rng.random((n, f)) < 0.03).astype(np.float32))]).tocsr()
    w_a = rng.standard_normal((f, d)).astype(np.float32)
    w_b = w_a[perm] + 0.1 * rng.standard_normal((f, d)).astype(np.float32)
    w_w = np.vstack([w_a, rng.standard_normal((f, d))]).astype(np.float32)
    return {"a": acts, "b": acts[:, perm], "w": wide}, {"a": w_a, "b": w_b, "w": w_w}
