"""SAE-trained rows of the planted-truth benchmark: edges built on a trained SAE's activations.

1. Hidden activations: ``feature_dict(true activations)`` of the benchmark's own tokens (the
   same tokens and sequences as the true-activation rows).
2. Train: the demo's SAELens trainer (``saegraph.demo.train_saes.train_sae``: a TopK SAE
   with the AuxK loss, decoder initialised at data directions, ``SAETrainer`` on seeded
   shuffled minibatches of step 1), width = number of true features, ``k`` = the true mean
   L0 rounded, ``train_tokens`` training samples (seeded epochs over the benchmark's tokens), lr
   ``TRAIN_LR``, torch on one thread. (``synthetic_saes.trained_sae`` trains on fresh
   samples through ``train_toy_sae``; sampling the planted model costs ~1 ms a token on a
   shared CPU, too slow for this budget, so the hidden activations are reused.)
3. Encode the tokens with the trained SAE's inference form; FVU, L0 and dead fraction come
   from ``train_sae``'s own measurement on the same tokens.
4. Match latents to true features one-to-one: cosine of the unit decoder rows with the true
   directions, Hungarian assignment (``scipy.optimize.linear_sum_assignment``) maximising the
   total cosine; a pair is kept when its cosine >= ``MATCH_COSINE``.
5. Every method of ``bench_planted.METHODS`` runs on the latent activations; an edge between
   two matched latents maps to the pair of their true features and is scored like a
   true-activation edge; edges touching an unmatched latent are counted but not scored.
   Recall is over the planted pairs whose two features were both matched (structural, and
   mutually exclusive); "testable" exclusive pairs use the latents' firing counts.
6. ``planted_fidelity``: the scored edges again, restricted to latents whose mapping is faithful
   (decoder cosine, activation correlation), and the EXCLUDES edges' encoder geometry; both go
   into the info dict (``fidelity``, ``geometry``).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp

from tests.benchmarks.planted_fidelity import SCORED, exclusion_geometry, fidelity_rows, latent_fidelity

TRAIN_LR = 3e-3
"""Adam learning rate of the short run."""
MATCH_COSINE = 0.7
"""Minimum decoder/true-direction cosine for a Hungarian match to count."""


def hidden_activations(model, acts: sp.csr_matrix, batch: int = 8192) -> np.ndarray:
    """Step 1: float32 [N, d] hidden activations of the benchmark tokens."""
    import torch

    with torch.no_grad():
        parts = [
            model.feature_dict(torch.from_numpy(acts[r0 : r0 + batch].toarray())).float().numpy()
            for r0 in range(0, acts.shape[0], batch)
        ]
    return np.concatenate(parts)


def train_planted_sae(hidden: np.ndarray, n_features: int, k: int, seed: int, train_tokens: int):
    """Step 2: (inference SAE, train_sae's measurements)."""
    import torch
    from sae_lens import SAE

    from saegraph.demo.train_saes import SAETrainingSettings, train_sae

    settings = SAETrainingSettings(
        hook="synthetic", d_sae=n_features, k=k, training_samples=int(train_tokens), lr=TRAIN_LR, seed=seed
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stats = train_sae(hidden, settings, "synthetic", Path(tmp) / "sae", progress=False)
            sae = SAE.load_from_disk(str(Path(tmp) / "sae"), device="cpu")
    finally:
        torch.set_num_threads(threads)
    return sae, stats


def encode(sae, hidden: np.ndarray, batch: int = 8192) -> sp.csr_matrix:
    """Step 3: latent activations (float32 CSR) of the benchmark tokens."""
    import torch

    with torch.no_grad():
        parts = [
            sp.csr_matrix(sae.encode(torch.from_numpy(hidden[r0 : r0 + batch])).numpy().astype(np.float32))
            for r0 in range(0, len(hidden), batch)
        ]
    return sp.vstack(parts, format="csr")


def encoder_geometry(sae):
    """The trained SAE's ``EncoderGeometry`` (what ``saegraph ingest`` stores in ``encoders/``)."""
    from saegraph.ingest.edges.coactivation.encoder_null import EncoderGeometry
    from saegraph.ingest.sources.base import encoder_parts

    w_dec = sae.W_dec.detach().float().cpu().numpy()
    d_sae, d_in = w_dec.shape
    rows, threshold, rule, k = encoder_parts(sae, d_in, d_sae, str(sae.cfg.architecture()))
    return EncoderGeometry(w_enc=rows, w_dec=w_dec, rule=rule, threshold=threshold, k=k)


def hungarian(sae, model) -> tuple[np.ndarray, np.ndarray]:
    """Step 4's assignment before the ``MATCH_COSINE`` cut: (feature of each latent or -1, its
    cosine or nan)."""
    from scipy.optimize import linear_sum_assignment

    dec = sae.W_dec.detach().float().cpu().numpy()
    true = model.feature_dict.feature_vectors.detach().float().cpu().numpy()
    dec = dec / np.maximum(np.linalg.norm(dec, axis=1, keepdims=True), 1e-12)
    true = true / np.maximum(np.linalg.norm(true, axis=1, keepdims=True), 1e-12)
    cos = dec @ true.T
    rows, cols = linear_sum_assignment(-cos)
    assigned = np.full(dec.shape[0], -1, np.int64)
    cosine = np.full(dec.shape[0], np.nan)
    assigned[rows] = cols
    cosine[rows] = cos[rows, cols]
    return assigned, cosine


def score_mapped(res, truth, latent_acts, feature: np.ndarray) -> dict:
    """Step 4: a ``bench_planted.score`` row for latent edges mapped to true-feature pairs."""
    from tests.benchmarks.bench_planted import score_row, testable_exclusive

    fi, fj = feature[res.i], feature[res.j]
    ok = (fi >= 0) & (fj >= 0)
    i, j = fi[ok], fj[ok]
    cls = truth.classify(i, j)
    matched = np.zeros(truth.parent.size, bool)
    matched[feature[feature >= 0]] = True
    p = truth.parent
    n_struct = int(((p >= 0) & matched & matched[np.maximum(p, 0)]).sum())
    row = score_row(res, cls, len(i), n_struct)
    row.update(edgesUnmapped=int((~ok).sum()), nStructuralMatched=n_struct)
    if res.kind == "exc":
        ex = truth.exclusive
        ex = ex[matched[ex[:, 0]] & matched[ex[:, 1]]] if ex.size else ex
        row["exclusiveRecall"] = cls["exclusive"].sum() / len(ex) if len(ex) else None
        latent = np.full(truth.parent.size, -1, np.int64)
        latent[feature[feature >= 0]] = np.flatnonzero(feature >= 0)
        lat_truth = SimpleNamespace(exclusive=latent[ex] if ex.size else ex)
        t = testable_exclusive(lat_truth, latent_acts, res.extra.get("logThr"))
        row["exclusiveTestable"] = t
        row["exclusiveRecallTestable"] = cls["exclusive"].sum() / t if t else None
    return row


def sae_rows(
    model, acts, seqs, truth, seed: int, methods, train_tokens: int, n_features: int, n_tokens: int
) -> tuple[list[dict], dict]:
    """Train, encode, match, then score every method group on the latents (steps 1-4)."""
    t0 = time.perf_counter()
    hidden = hidden_activations(model, acts)
    k = max(1, int(round((acts > 0).sum() / acts.shape[0])))
    sae, quality = train_planted_sae(hidden, n_features, k, seed, train_tokens)
    t_train = time.perf_counter() - t0
    latent_acts = encode(sae, hidden)
    assigned, cosine = hungarian(sae, model)
    with np.errstate(invalid="ignore"):
        feature = np.where(cosine >= MATCH_COSINE, assigned, -1)
    fid = latent_fidelity(latent_acts, acts, assigned, cosine)
    n_matched = int((feature >= 0).sum())
    matched = np.zeros(n_features, bool)
    matched[feature[feature >= 0]] = True
    p, ex = truth.parent, truth.exclusive
    info = {
        "structuralMatched": int(((p >= 0) & matched & matched[np.maximum(p, 0)]).sum()),
        "exclusiveMatched": int((matched[ex[:, 0]] & matched[ex[:, 1]]).sum()) if ex.size else 0,
        "features": n_features,
        "seed": seed,
        "trainTokens": int(train_tokens),
        "k": k,
        "fvu": quality["fvu"],
        "l0": quality["l0"],
        "deadFraction": quality["deadFraction"],
        "matched": n_matched,
        "recovered": n_matched / n_features,
        "medianCosine": float(np.nanmedian(cosine)),
        "trainSeconds": round(t_train, 1),
        "fidelity": [],
        "geometry": [],
    }
    rows = []
    geometry = encoder_geometry(sae)
    for group, fn in methods:
        t = time.perf_counter()
        results = fn(latent_acts, seqs, seed, encoder=geometry)
        secs = time.perf_counter() - t
        for res in results:
            row = score_mapped(res, truth, latent_acts, feature)
            row.update(
                features=n_features,
                tokens=n_tokens,
                seed=seed,
                activations=f"SAE-trained ({n_matched} matched)",
                matched=n_matched,
                seconds=round(secs, 1),
                group=group,
            )
            rows.append(row)
            if res.name in SCORED:
                info["fidelity"] += fidelity_rows(res, truth, assigned, fid, info)
            if res.name == "EXCLUDES without the encoder null":
                enc = sae.W_enc.detach().float().cpu().numpy()
                info["geometry"] += exclusion_geometry(res, truth, latent_acts, acts, feature, enc, info)
    return rows, info
