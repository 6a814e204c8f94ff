"""Bundle side of the scale benchmark: write the generated input as a bundle, add SAE B, score edges.

1. ``write_bundle``: SAE A's activations chunk by chunk into the bundle's ``ActivationStore``
   (``scale_input.sample_chunk``, the format the ingest writes), both decoders (B's written
   block by block beside A's), the models / saes / datasets / features tables (the columns
   ``tests/helpers/builders.py`` writes, features' firing statistics accumulated per chunk),
   and the ground truth (planted pair keys, B's permutation) in a ``.npz`` outside the bundle.
2. ``add_sae_b``: B's ``saes`` and ``features`` rows, added once the token-reading stages are
   done. B has a decoder and no activations: the co-activation and LASSO stages then never
   see it (they would fail on an SAE without activations) and MATCHES skips its activation
   correlation ("activations of both SAEs are not in the bundle"), which would otherwise
   double the activation pass and the stored chunks.
3. ``score``: each edge table against the planted pairs (``TRUTH_NOTE`` says what counts).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scale_input import SEQ_LEN, ScaleSpec, decoder_a, make_plan, sample_chunk, write_decoder_b
from scale_report import fmt

RUN_ID = "scale-bench"
TRUTH_NOTE = (
    "Truth: direct = planted parent-child pairs (trees and exclusive sets); implied = the other pairs of "
    "one tree (siblings, grandparent-grandchild, cousins: associated through the ancestor, conditionally "
    "independent given it); exclusive = siblings of an exclusive set (never co-fire); topic = members of "
    "one topic group (sequence-level co-firing, which the circular-shift null reproduces). Precision / "
    "recall: CO_ACTIVATES (direct + implied) / direct; EXCLUDES exclusive / exclusive; LASSO (direct + "
    "exclusive) / direct, its in-tree precision counting implied pairs too (zero-inflated magnitudes make "
    "indirect pairs partially correlated: docs/methods.md, LASSO 'Known limit'); COSINE (direct + implied "
    "+ exclusive: the decoder rows pulled towards a common parent) / direct; MATCHES: hungarian rows that "
    "hit B's planted permutation / hungarian rows, and / the planted permutation (70 % of A's features). "
    "'recall>=5': only direct pairs whose child fires >= 5 times (co-activation's min_count)."
)


def _features_frame(sae_id: str, n_tokens: int, n_fires, sums, maxes, w_norm) -> pd.DataFrame:
    width = n_fires.size
    empty = [[] for _ in range(width)]
    fired = n_fires > 0
    return pd.DataFrame(
        {
            "featureId": (sae_id + ":") + pd.Series(np.arange(width)).astype(str),
            "saeId": sae_id,
            "index": np.arange(width, dtype=np.int64),
            "density": n_fires / max(n_tokens, 1) if n_tokens else np.full(width, np.nan),
            "nFirings": n_fires.astype(np.int64),
            "meanAct": np.where(fired, sums / np.maximum(n_fires, 1), 0.0),
            "maxAct": maxes,
            "decoderNorm": w_norm.astype(np.float64),
            "dead": ~fired if n_tokens else np.zeros(width, bool),
            "topTokens": empty,
            "topTokenActs": empty,
            "topLogits": empty,
            "topLogitValues": empty,
            "topExamples": empty,
            "topExampleActs": empty,
        }
    )


def _saes_row(sae_id: str, spec: ScaleSpec, l0: float) -> dict:
    return {
        "saeId": sae_id,
        "modelId": "m0",
        "release": "scale-bench",
        "saeName": sae_id,
        "hookName": "blocks.0.hook_resid_post",
        "layer": 0,
        "dIn": spec.d,
        "dSae": spec.features,
        "architecture": "relu",
        "seed": -1,
        "l0": l0,
        "source": "synthetic",
        "runId": RUN_ID,
    }


def write_bundle(spec: ScaleSpec, path: Path, truth_path: Path) -> dict:
    """Write the bundle for ``spec`` at ``path`` and the ground truth at ``truth_path``."""
    from saegraph.ingest.activation_store import ActivationChunk, ActivationStore
    from saegraph.ingest.bundle import BundleBuilder
    from saegraph.queries.bundle import DECODERS_DIR

    t0 = time.perf_counter()
    plan = make_plan(spec)
    F, n_seq = spec.features, spec.n_sequences
    n_tokens = n_seq * SEQ_LEN
    builder = BundleBuilder(path)
    dataset = {"datasetId": "0" * 16, "name": "scale", "nTokens": n_tokens, "nSequences": n_seq}
    builder.manifest.update(
        {
            "runId": RUN_ID,
            "config": {"run": {"seed": spec.seed}},
            "dataset": {**dataset, "fingerprint": "0" * 64},
        }
    )
    store = ActivationStore(builder.activations_path, sae_widths={"A": F})
    n_fires, sums, maxes = np.zeros(F, np.int64), np.zeros(F), np.zeros(F)
    per_chunk = max(1, spec.chunk_tokens // SEQ_LEN)
    t_sample = t_store = 0.0
    for k, s0 in enumerate(range(0, n_seq, per_chunk)):
        s1 = min(s0 + per_chunk, n_seq)
        ts = time.perf_counter()
        indptr, indices, data = sample_chunk(plan, s1 - s0, np.random.default_rng([spec.seed, 3, k]))
        n_fires += np.bincount(indices, minlength=F)
        sums += np.bincount(indices, weights=data, minlength=F)
        np.maximum.at(maxes, indices, data)
        tok = np.arange(s0 * SEQ_LEN, s1 * SEQ_LEN)
        acts = sp.csr_matrix((data, indices, indptr), shape=(tok.size, F))
        t_sample += time.perf_counter() - ts
        ts = time.perf_counter()
        store.append(
            ActivationChunk(
                index=k,
                token_ids=(tok % 50_257).astype(np.int32),
                sequence_ids=tok // SEQ_LEN,
                positions=(tok % SEQ_LEN).astype(np.int32),
                acts={"A": acts},
            )
        )
        t_store += time.perf_counter() - ts
    td = time.perf_counter()
    w_a = decoder_a(spec, plan)
    builder.write_decoder("A", w_a)
    perm = write_decoder_b(spec, w_a, builder.work / DECODERS_DIR / "B.npy")
    t_dec = time.perf_counter() - td
    l0 = float(n_fires.sum() / n_tokens)
    builder.write_table(
        "models",
        pd.DataFrame(
            {
                "modelId": ["m0"],
                "name": ["scale"],
                "nLayers": [1],
                "dModel": [spec.d],
                "dMlp": [0],
                "dVocab": [50_257],
                "nParams": [0],
                "source": ["synthetic"],
            }
        ),
    )
    builder.write_table("saes", pd.DataFrame([_saes_row("A", spec, l0)]))
    builder.write_table("datasets", pd.DataFrame([{**dataset, "fingerprint": "0" * 64}]))
    norms = np.linalg.norm(w_a, axis=1)
    del w_a
    builder.write_table("features", _features_frame("A", n_tokens, n_fires, sums, maxes, norms))
    builder.finalize()
    np.savez(truth_path, perm=perm, n_fires=n_fires, **plan.truth)
    disk = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return {
        "tokens": n_tokens,
        "l0": l0,
        "expectedL0": plan.expected_l0,
        "deadFeatures": int((n_fires == 0).sum()),
        "medianFirings": float(np.median(n_fires)),
        "chunks": store.n_chunks,
        "secondsSample": t_sample,
        "secondsStore": t_store,
        "secondsDecoders": t_dec,
        "secondsTotal": time.perf_counter() - t0,
        "diskGiB": disk / 2**30,
        "planted": {k: int(v.size) for k, v in plan.truth.items()} | {"permutation": int((perm >= 0).sum())},
    }


def add_sae_b(path: Path) -> float:
    """Add B's saes / features rows (decoder already in the bundle); returns seconds."""
    from saegraph.ingest.bundle import open_bundle, update_bundle

    t0 = time.perf_counter()
    bundle = open_bundle(path)
    if "B" in bundle.sae_ids:
        return 0.0
    w_b = np.load(Path(path) / "decoders" / "B.npy", mmap_mode="r")
    norms = np.concatenate([np.linalg.norm(w_b[r : r + 8192], axis=1) for r in range(0, w_b.shape[0], 8192)])
    spec = ScaleSpec(features=int(w_b.shape[0]), d=int(w_b.shape[1]))
    saes = pd.concat(
        [bundle.frame("saes"), pd.DataFrame([_saes_row("B", spec, float("nan"))])], ignore_index=True
    )
    zeros = np.zeros(spec.features)
    feats_b = _features_frame("B", 0, zeros.astype(np.int64), zeros, zeros, norms)
    feats = pd.concat([bundle.frame("features"), feats_b], ignore_index=True)
    update_bundle(path, tables={"saes": saes, "features": feats})
    return time.perf_counter() - t0


def _keys(table, n_features: int, source: str = "source", target: str = "target") -> np.ndarray:
    frame = table.select([source, target]).to_pandas()
    a = frame[source].str.slice(2).astype(np.int64).to_numpy()
    b = frame[target].str.slice(2).astype(np.int64).to_numpy()
    return np.minimum(a, b) * n_features + np.maximum(a, b)


def _row(kind: str, kept: np.ndarray, good: np.ndarray, target: np.ndarray, note: str = "") -> dict:
    hit = np.isin(kept, good)
    found = np.isin(target, kept)
    return {
        "type": kind,
        "edges": int(kept.size),
        "precision": float(hit.mean()) if kept.size else float("nan"),
        "recall": float(found.mean()) if target.size else float("nan"),
        "note": note,
    }


def score(stage: str, bundle_path: Path, truth_path: Path) -> list[dict]:
    """Rows (edge type, edges, precision, recall, note) for the tables ``stage`` wrote."""
    from saegraph.ingest.bundle import open_bundle

    bundle = open_bundle(bundle_path, verify=False)
    z = dict(np.load(truth_path))
    F = int(z["perm"].size)
    direct, implied, excl, topic = z["direct"], z["implied"], z["exclusive"], z["topic"]
    child = direct % F
    detectable = direct[z["n_fires"][child] >= 5]
    tree = np.union1d(direct, implied)

    def count(kept, pairs) -> int:
        return int(np.isin(kept, pairs).sum())

    if stage == "coactivation":
        co = _keys(bundle.table("co_activates"), F)
        note = (
            f"recall>=5 {np.isin(detectable, co).mean():.3f}; implied kept {count(co, implied):,}; "
            f"topic kept {count(co, topic):,}"
        )
        rows = [_row("CO_ACTIVATES", co, tree, direct, note)]
        if bundle.has_table("excludes"):
            ex = _keys(bundle.table("excludes"), F)
            rows.append(_row("EXCLUDES", ex, excl, excl, f"planted exclusive pairs {excl.size:,}"))
        return rows
    if stage == "lasso":
        table = bundle.table("lasso")
        kept = _keys(table, F)
        negative = np.asarray(table.column("weight")) < 0
        note = (
            f"recall>=5 {np.isin(detectable, kept).mean():.3f}; in-tree precision "
            f"{np.isin(kept, np.union1d(tree, excl)).mean() if kept.size else float('nan'):.3f} "
            f"(implied kept {count(kept, implied):,}); exclusive kept {count(kept, excl):,}; "
            f"topic kept {count(kept, topic):,}; negative weights {int(negative.sum()):,}"
        )
        return [_row("LASSO", kept, np.union1d(direct, excl), direct, note)]
    if stage == "cosine":
        kept = _keys(bundle.table("cosine"), F)
        note = f"implied kept {count(kept, implied):,}; exclusive siblings kept {count(kept, excl):,}"
        return [_row("COSINE", kept, np.union1d(tree, excl), direct, note)]
    if stage == "matches":
        m = bundle.frame("matches")
        hung = m[m["method"] == "hungarian"]
        a = hung["source"].str.slice(2).astype(np.int64).to_numpy()
        b = hung["target"].str.slice(2).astype(np.int64).to_numpy()
        ok = z["perm"][a] == b
        planted = int((z["perm"] >= 0).sum())
        by = m["method"].value_counts().to_dict()
        return [
            {
                "type": "MATCHES",
                "edges": len(m),
                "precision": float(ok.mean()) if ok.size else float("nan"),
                "recall": float(ok.sum() / max(planted, 1)),
                "note": f"rows {by}; permutation recovered {ok.sum():,} / {planted:,}",
            }
        ]
    return []


def stage_note(stage: str, info: dict, pre: float) -> str:
    if stage == "write":
        return (
            f"L0 {info['l0']:.1f} (expected {info['expectedL0']:.1f}); {info['chunks']} chunks, "
            f"{info['diskGiB']:.2f} GiB; sample {info['secondsSample']:.0f} s, store {info['secondsStore']:.0f} s, "
            f"decoders A+B {info['secondsDecoders']:.0f} s; dead {info['deadFeatures']:,}, median firings "
            f"{info['medianFirings']:.0f}"
        )
    if stage == "coactivation":
        per = next(iter(info.get("perSae", {}).values()), {})
        co, ex = per.get("coActivates", {}), per.get("excludes", {})
        return (
            f"null kept {co.get('nullKept')} + {ex.get('nullKept')} (CO_ACTIVATES + EXCLUDES), null FDR "
            f"estimate {fmt(co.get('estimatedFdr'), '.4f')}, calibrated {co.get('calibratedByNull')}"
        )
    if stage == "lasso":
        per = next(iter(info.get("perSae", {}).values()), {})
        kept, scr = per.get("keptSet", {}), per.get("screen", {})
        real, null = scr.get("real", {}), scr.get("null", {})
        rep = per.get("secondsPerReplicate", {})
        solve = sum(v.get("solve", 0.0) for v in rep.values()) if isinstance(rep, dict) else float("nan")
        return (
            f"screen passed {real.get('screenPassed')} (null {null.get('screenPassed')}); null FDR estimate "
            f"{fmt(kept.get('estimatedFdr'), '.3f')}; {len(per.get('denseCovariates', []))} dense covariates; "
            f"solve {solve:.1f} s per replicate (real + null); sequence-pair entries "
            f"{fmt(real.get('sequencePairEntries'), ',')} (cap 1e8), sequence-latent entries "
            f"{fmt(real.get('sequenceLatentEntries'), ',')}"
            + (f"; screen fallback: {scr['fallback']}" if "fallback" in scr else "")
        )
    if stage == "cosine":
        per = next(iter(info.get("perSae", {}).values()), {})
        return f"chance max cosine {per.get('chanceMaxCosine', float('nan')):.3f}; kNN k 16, floor 0.3"
    if stage == "matches":
        per = next(iter(info.get("pairs", {}).values()), {})
        return (
            f"{per.get('matchingMethod')}; kNN {per.get('secondsKnn')} s, matching {per.get('secondsMatching')} s; "
            f"adding B's rows {pre:.1f} s (not counted)"
        )
    if stage == "load":
        return f"{sum(info['relationships'].values()):,} relationships, {info['copyThreads']} COPY threads"
    return ""
