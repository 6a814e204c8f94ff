"""Benchmark: CO_ACTIVATES / EXCLUDES (and any registered method) against planted ground truth.

Run: ``python tests/benchmarks/bench_planted.py`` (2,048 and 8,192 features, 200k tokens in
128-token sequences, seeds 0 and 1, SAE-trained rows at 2,048; writes ``docs/validation.md``)
or ``--quick`` (512 features, 40k tokens, seeds 0 and 1, SAE-trained CO_ACTIVATES rows at 512;
prints only, or writes ``--out``). ``--sae-only`` skips the true-activation rows (prints only,
or writes ``--out``), e.g. ``--features 2048 --sae-only --out /tmp/x.md``.

1. Data: ``tests.helpers.planted_hierarchy`` (``sae_lens.synthetic``: hierarchy with mutually
   exclusive children, low-rank correlation, Zipfian firing); the TRUE feature activations,
   and (``--sae-features``) the activations of an SAE trained on the same model's hidden
   activations, its latents matched to true features (``planted_sae.py``).
   ``planted_fidelity.py`` breaks the SAE-trained edges down by how faithfully their latents
   map to true features, and the exclusion edges by the latents' encoder geometry.
2. Methods, each giving a pair list (and the q it claims, and the null's FDR estimate):
   the previous default CO_ACTIVATES (q = 0.01, NPMI >= 0.1, top-32 per node, no effect
   floor), the current default CO_ACTIVATES and EXCLUDES, the baseline phi > 0.1 (no test),
   and the NPMI ranking (pairs with c >= 5) cut at the edge count of each CO_ACTIVATES
   variant; the LASSO rows come from ``planted_lasso.lasso_methods``. Other stages add rows
   by appending ``(name, function)`` to ``METHODS``: the function takes (acts,
   sequence_ids, seed) and returns a list of ``MethodResult``; ``--methods`` picks groups.
3. Scores (``PlantedTruth.classify``): edges; precision and recall of structural
   (parent–child) pairs; share of indirect pairs; strictly-false proportion (for exclusion
   edges, relative to negative dependence); claimed q; the null's estimated FDR; recall of
   planted mutually exclusive pairs (all, and those the exclusion family can test).
4. Targets checked (``targets``, on the true-activation rows): default CO_ACTIVATES structural precision >= 0.8 at
   recall >= 0.2 and strictly-false <= 1.5 q; EXCLUDES strictly-false <= 1.5 q and recall
   of testable exclusive pairs >= 0.5.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from saegraph.ingest.config import CoactivationConfig  # noqa: E402
from saegraph.ingest.edges.coactivation.stage import coactivation_edges  # noqa: E402
from saegraph.ingest.edges.stats.hypergeom import log_min_lower_p  # noqa: E402
from saegraph.ingest.edges.stats.significance import log_factorial_table  # noqa: E402
from tests.benchmarks.planted_report import fidelity_section, markdown_table, sae_section, sae_table  # noqa: E402
from tests.helpers.planted_hierarchy import PlantedTruth, planted_data  # noqa: E402

PREVIOUS_DEFAULT = CoactivationConfig(
    min_phi=-1.0, min_npmi=0.1, top_k=32, exclusion=False, null_calibrate=False
)
"""CO_ACTIVATES as it was before issue 12: significance only, NPMI >= 0.1, top-32 per node."""


@dataclass
class MethodResult:
    name: str
    i: np.ndarray
    j: np.ndarray
    kind: str = "pos"
    """``pos`` (co-occurrence) or ``exc`` (exclusion): which strictly-false rule applies."""
    claimed_q: float | None = None
    est_fdr: float | None = None
    extra: dict = field(default_factory=dict)


def _pairs(frame) -> tuple[np.ndarray, np.ndarray]:
    return frame["i"].to_numpy(np.int64), frame["j"].to_numpy(np.int64)


def all_pair_scores(acts) -> dict[str, np.ndarray]:
    """phi and NPMI of every pair with c >= 1 and (phi >= 0.05 or c >= 5), by blocked counting."""
    import scipy.sparse as sp

    b = sp.csr_matrix(acts)
    b.data = (b.data > 0).astype(np.float32)
    b.eliminate_zeros()
    n_tokens, n_features = b.shape
    n = np.asarray(b.sum(axis=0)).ravel()
    out = {"i": [], "j": [], "c": []}
    bt = b.T.tocsr()
    step = max(1, 4_000_000 // max(n_features, 1))
    for r0 in range(0, n_features, step):
        blk = (bt[r0 : r0 + step] @ b).tocoo()  # rows r0.., all columns: a slab, never F x F at once
        keep = blk.col > blk.row + r0
        i, j, c = blk.row[keep] + r0, blk.col[keep], blk.data[keep]
        a, bb = n[i].astype(float), n[j].astype(float)
        phi = (n_tokens * c - a * bb) / np.sqrt(a * bb * (n_tokens - a) * (n_tokens - bb))
        sel = (phi >= 0.05) | (c >= 5)
        out["i"].append(i[sel])
        out["j"].append(j[sel])
        out["c"].append(c[sel])
    i, j, c = (np.concatenate(out[k]) for k in ("i", "j", "c"))
    a, bb = n[i].astype(float), n[j].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = (n_tokens * c - a * bb) / np.sqrt(a * bb * (n_tokens - a) * (n_tokens - bb))
        npmi = np.log(n_tokens * c / (a * bb)) / (-np.log(c / n_tokens))
    return {"i": i.astype(np.int64), "j": j.astype(np.int64), "c": c, "phi": phi, "npmi": npmi, "n": n}


def coactivation_methods(acts, seqs, seed: int, encoder=None) -> list[MethodResult]:
    """The co-activation rows; ``encoder`` (an SAE's ``EncoderGeometry``, SAE-trained rows only)
    turns on the EXCLUDES encoder-competition null, as a bundle with encoders does."""
    rows = []
    old, old_stats = coactivation_edges(acts, PREVIOUS_DEFAULT, sequence_ids=seqs, seed=seed)
    rows.append(
        MethodResult(
            "CO_ACTIVATES previous default",
            *_pairs(old),
            claimed_q=0.01,
            est_fdr=old_stats["coActivates"].get("estimatedFdr"),
        )
    )
    cfg = CoactivationConfig()
    new, st, exc = coactivation_edges(
        acts, cfg, sequence_ids=seqs, seed=seed, return_exclusions=True, encoder=encoder
    )
    rows.append(
        MethodResult(
            "CO_ACTIVATES default",
            *_pairs(new),
            claimed_q=cfg.fdr_q,
            est_fdr=st["coActivates"].get("estimatedFdr"),
        )
    )
    rows.append(
        MethodResult(
            "EXCLUDES default",
            *_pairs(exc),
            kind="exc",
            claimed_q=cfg.fdr_q,
            est_fdr=st["excludes"].get("estimatedFdr"),
            extra={"logThr": st["excludes"].get("familyLogThreshold")},
        )
    )
    if encoder is not None:
        *_, plain = coactivation_edges(acts, cfg, sequence_ids=seqs, seed=seed, return_exclusions=True)
        rows.append(
            MethodResult(
                "EXCLUDES without the encoder null",
                *_pairs(plain),
                kind="exc",
                claimed_q=cfg.fdr_q,
                extra={"logThr": st["excludes"].get("familyLogThreshold")},
            )
        )
    s = all_pair_scores(acts)
    k = s["phi"] > 0.1
    rows.append(MethodResult("baseline phi > 0.1", s["i"][k], s["j"][k]))
    order = np.argsort(-np.where(s["c"] >= 5, s["npmi"], -9.0), kind="stable")
    for name, frame in (("previous default", old), ("default", new)):
        top = order[: len(frame)]
        rows.append(MethodResult(f"baseline NPMI top-{len(frame)} (= {name})", s["i"][top], s["j"][top]))
    return rows


METHODS: list[tuple[str, Callable]] = [("coactivation", coactivation_methods)]


def _register_lasso() -> None:
    """LASSO rows live beside the LASSO stage's own benchmark (``planted_lasso.py``)."""
    from tests.benchmarks.planted_lasso import lasso_methods

    METHODS.append(("lasso", lasso_methods))


_register_lasso()


def testable_exclusive(truth: PlantedTruth, acts, log_thr: float | None) -> int:
    if log_thr is None or truth.exclusive.size == 0:
        return 0
    n_tokens = acts.shape[0]
    n = np.asarray((acts > 0).sum(axis=0)).ravel().astype(np.int64)
    lf = log_factorial_table(n_tokens)
    return int(
        sum(log_min_lower_p(n_tokens, int(n[a]), int(n[b]), lf) <= log_thr for a, b in truth.exclusive)
    )


def score_row(res: MethodResult, cls: dict, n_edges: int, n_structural: int) -> dict:
    """The row fields every scoring shares: edges, precision, recall, indirect and strictly-false
    shares of ``n_edges`` classified edges (``PlantedTruth.classify``), the claimed q and estimate."""
    k = max(n_edges, 1)
    false = cls["false_exc"] if res.kind == "exc" else cls["false_pos"]
    return {
        "method": res.name,
        "edges": int(n_edges),
        "precision": cls["structural"].sum() / k,
        "recall": cls["structural"].sum() / max(n_structural, 1),
        "indirect": cls["indirect"].sum() / k,
        "strictlyFalse": false.sum() / k,
        "claimedQ": res.claimed_q,
        "estFdr": res.est_fdr,
        "exclusiveRecall": None,
        "exclusiveRecallTestable": None,
    }


def score(res: MethodResult, truth: PlantedTruth, acts) -> dict:
    cls = truth.classify(res.i, res.j)
    row = score_row(res, cls, len(res.i), truth.n_structural)
    if res.kind == "exc":
        n_ex = max(len(truth.exclusive), 1)
        row["exclusiveRecall"] = cls["exclusive"].sum() / n_ex
        t = testable_exclusive(truth, acts, res.extra.get("logThr"))
        row["exclusiveTestable"] = t
        row["exclusiveRecallTestable"] = cls["exclusive"].sum() / t if t else None
    return row


def run_case(
    n_features: int,
    n_tokens: int,
    seed: int,
    methods: list[str] | None = None,
    sae_tokens: int = 0,
    sae_methods: list[str] | None = None,
    true_rows: bool = True,
) -> tuple[list[dict], dict | None]:
    """Rows on the true activations (unless not ``true_rows``), then (``sae_tokens`` > 0) on a
    trained SAE's (``planted_sae``)."""
    t0 = time.perf_counter()
    acts, seqs, truth, model = planted_data(n_features, n_tokens, seed)
    t_data = time.perf_counter() - t0
    rows = []
    chosen = [(g, fn) for g, fn in METHODS if not methods or g in methods]
    for _group, fn in chosen if true_rows else []:
        t = time.perf_counter()
        results = fn(acts, seqs, seed)
        secs = time.perf_counter() - t
        for res in results:
            row = score(res, truth, acts)
            row.update(
                features=n_features,
                tokens=n_tokens,
                seed=seed,
                activations="true",
                seconds=round(secs, 1),
                dataSeconds=round(t_data, 1),
                nStructural=truth.n_structural,
                nExclusive=int(len(truth.exclusive)),
            )
            rows.append(row)
    info = None
    if sae_tokens > 0:
        from tests.benchmarks.planted_sae import sae_rows

        picked = [(g, fn) for g, fn in chosen if not sae_methods or g in sae_methods]
        sae, info = sae_rows(model, acts, seqs, truth, seed, picked, sae_tokens, n_features, n_tokens)
        rows.extend(sae)
    return rows, info


COLUMNS = [
    ("features", "F"),
    ("seed", "seed"),
    ("activations", "activations"),
    ("method", "method"),
    ("edges", "edges"),
    ("edgesUnmapped", "edges off matched latents"),
    ("precision", "struct. precision"),
    ("recall", "struct. recall"),
    ("indirect", "indirect share"),
    ("strictlyFalse", "strictly false"),
    ("claimedQ", "claimed q"),
    ("estFdr", "null est. FDR"),
    ("exclusiveRecall", "excl. recall (all)"),
    ("exclusiveRecallTestable", "excl. recall (testable)"),
]


def table(rows: list[dict]) -> str:
    return markdown_table(rows, COLUMNS)


def targets(rows: list[dict]) -> list[str]:
    """Failed targets (empty when all are met)."""
    bad = []
    for r in rows:
        if r.get("activations") != "true":
            continue  # the targets are stated for the true activations (issue 12)
        tag = f"F={r['features']} seed={r['seed']} {r['method']}"
        if r["method"] == "CO_ACTIVATES default":
            if not (r["precision"] >= 0.8 and r["recall"] >= 0.2):
                bad.append(f"{tag}: precision {r['precision']:.3f} at recall {r['recall']:.3f}")
            if r["strictlyFalse"] > 1.5 * r["claimedQ"]:
                bad.append(f"{tag}: strictly false {r['strictlyFalse']:.4f} > 1.5 q")
        if r["method"] == "EXCLUDES default":
            if r["strictlyFalse"] > 1.5 * r["claimedQ"]:
                bad.append(f"{tag}: strictly false {r['strictlyFalse']:.4f} > 1.5 q")
            rt = r.get("exclusiveRecallTestable")
            if r.get("exclusiveTestable") and (rt is None or rt < 0.5):
                bad.append(f"{tag}: recall of testable exclusive pairs {rt}")
    return bad


SAE_EPOCHS = 5
"""Passes over the benchmark's tokens that train its SAE (seeded reshuffles): one pass left a TopK
SAE at FVU 0.44 with 32 % of the true features recovered (2,048 features, 200k tokens), five at
0.24 and 71 %, the regime of a usable SAE (docs/validation.md, "SAE-trained activations")."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="512 features, 40k tokens (seconds)")
    ap.add_argument("--features", type=int, nargs="*", help="feature counts (default 2048 8192)")
    ap.add_argument("--tokens", type=int, help="tokens per case (default 200000)")
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    ap.add_argument(
        "--methods", nargs="*", help=f"method groups to run (default all: {', '.join(n for n, _ in METHODS)})"
    )
    ap.add_argument(
        "--sae-features",
        type=int,
        nargs="*",
        help="feature counts that also get SAE-trained rows (default 2048; --quick: 512; none: bare flag)",
    )
    ap.add_argument(
        "--sae-train-tokens",
        type=int,
        help=f"SAE training samples (default: {SAE_EPOCHS} epochs of --tokens; --quick: one)",
    )
    ap.add_argument(
        "--sae-methods", nargs="*", help="method groups run on the SAE's activations (default all)"
    )
    ap.add_argument("--sae-only", action="store_true", help="only the SAE-trained rows (writes only --out)")
    ap.add_argument("--out", type=Path, help="write the markdown here (full run default: docs/validation.md)")
    args = ap.parse_args(argv)
    feats = args.features or ([512] if args.quick else [2048, 8192])
    tokens = args.tokens or (40_000 if args.quick else 200_000)
    sae_feats = args.sae_features if args.sae_features is not None else ([512] if args.quick else [2048])
    sae_methods = args.sae_methods or (["coactivation"] if args.quick else None)
    sae_tokens = args.sae_train_tokens or (tokens if args.quick else SAE_EPOCHS * tokens)
    out = args.out or (None if args.quick or args.sae_only else ROOT / "docs" / "validation.md")
    rows, infos = [], []
    for f in feats:
        for seed in args.seeds:
            case, info = run_case(
                f,
                tokens,
                seed,
                args.methods,
                sae_tokens if f in sae_feats else 0,
                sae_methods,
                not args.sae_only,
            )
            rows.extend(case)
            if info:
                infos.append(info)
            print(f"done F={f} seed={seed}\n{table(case)}", file=sys.stderr, flush=True)
            if info:
                print(sae_table([info]), file=sys.stderr, flush=True)
    text = table(rows)
    print(text)
    if infos:
        print(sae_table(infos) + "\n\n" + fidelity_section(infos))
    bad = targets(rows)
    print("targets: " + ("all met" if not bad else "FAILED\n  " + "\n  ".join(bad)))
    if out is not None:
        out.write_text(
            VALIDATION_HEAD.format(
                tokens=tokens, feats=", ".join(map(str, feats)), seeds=", ".join(map(str, args.seeds))
            )
            + text
            + "\n\n"
            + (
                sae_section(infos, ", ".join(map(str, sae_feats)), sae_tokens) + fidelity_section(infos)
                if infos
                else ""
            )
            + (
                "Targets (true activations): all met.\n"
                if not bad and not args.sae_only
                else "Targets: not checked (SAE-trained rows only).\n"
                if args.sae_only
                else "Targets NOT met:\n\n" + "\n".join(f"- {b}" for b in bad) + "\n"
            )
        )
    return 0 if not bad else 1


VALIDATION_HEAD = """# Validation on planted ground truth

Generated by `python tests/benchmarks/bench_planted.py` (do not edit by hand; `--quick` runs
in the test suite). Data: `sae_lens.synthetic` (`tests/helpers/planted_hierarchy.py`):
Zipfian firing (exponent 0.5, 0.01–0.3), F/64 hierarchy roots with branching 4 and depth 2
(a child fires only when its parent fires), half of the roots with mutually exclusive
children (base probability 0.25 given the parent), a rank-32 latent Gaussian-copula
correlation (scale 0.075); the TRUE feature activations (a perfect SAE); {tokens} tokens in
sequences of 128; features {feats}; seeds {seeds}.

Pair classes: **structural** = planted parent–child; **indirect** = same tree otherwise
(siblings, grandparents, cousins); **strictly false** = no shared tree and planted latent
correlation (max over the two ancestor chains) <= 0.05 — for EXCLUDES: min >= −0.05;
**exclusive** = two children of one mutually exclusive parent; *testable* = inside the
exclusion family (docs/methods.md). "null est. FDR" = the within-sequence circular-shift
null's kept count / real kept count at the final threshold (tokens here are i.i.d., so it
is near 0). Baselines: phi > 0.1 without any test, and the NPMI ranking (pairs with c >= 5)
cut at the edge count of each CO_ACTIVATES variant. "previous default" = CO_ACTIVATES before
issue 12 (BH at q = 0.01 only, NPMI >= 0.1, top-32 per node). Rows with activations
"true" use the true feature activations; rows "SAE-trained (m matched)" use a trained SAE's
latents mapped to true features (next section); the targets are checked on the "true" rows.

"""

if __name__ == "__main__":
    raise SystemExit(main())
