"""Scaling run: how each stage's time grows with tokens and with features (for ``run.py``).

1. Tokens axis: F fixed, N in three sizes; features axis: N fixed, F in three sizes.
2. Input per point: ``lasso_synthetic.planted_activations`` (whole sequences of 128 tokens,
   planted dependencies, L0 fixed), seeded; decoders random Gaussian (d = 256).
3. Stages timed in this process (wall clock, after a numba warm-up):
   co-activation (``coactivation_edges``, no shift null), one LASSO replicate (real + matched
   null, ``run_replicates``); "(exact p)" is the part of the co-activation time spent in
   the exact hypergeometric p-values of the candidate pairs (``scipy.stats.hypergeom.sf``,
   whose cost depends on the counts, not only on the number of pairs); and — on the features
   axis only, since they do not read tokens — decoder-cosine kNN (k = 32), sparse cross-SAE
   matching (kNN 32) and the embedded-store load of a bundle with 30 edges per feature. The
   activation pass is not included (it needs a model forward per token;
   ``bench_activations.py`` measures it separately).
4. Output: a Markdown table and a log-log PNG (matplotlib, Agg backend).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

SEQ_LEN = 128
D_DECODER = 256
QUICK = {
    "fixed_features": 1024,
    "fixed_tokens": 25_600,
    "tokens": (12_800, 25_600, 51_200),
    "features": (512, 1024, 2048),
    "l0": 20.0,
}
FULL = {
    "fixed_features": 4096,
    "fixed_tokens": 128_000,
    "tokens": (64_000, 128_000, 256_000),
    "features": (2048, 4096, 8192),
    "l0": 40.0,
}
TOKEN_STAGES = ("coactivation", "(exact p)", "lasso replicate")
FEATURE_STAGES = ("coactivation", "(exact p)", "lasso replicate", "cosine kNN", "matching", "embedded load")


def _timed(fn, *args, **kwargs) -> float:
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0


def _acts(n_tokens: int, n_features: int, l0: float, seed: int):
    from saegraph.ingest.edges.lasso.resample import order_by_sequence
    from tests.helpers.lasso_synthetic import planted_activations

    d = planted_activations(
        n_tokens // SEQ_LEN,
        SEQ_LEN,
        n_features,
        l0=l0,
        n_trees=max(1, n_features // 50),
        branching=2,
        depth=2,
        n_pairs=max(1, n_features // 40),
        planted_rate=(0.005, 0.05),
        child_prob=0.7,
        seed=seed,
    )
    return order_by_sequence(d.acts, d.sequence_ids, d.positions)


def token_stages(n_tokens: int, n_features: int, l0: float) -> dict:
    from saegraph.ingest.config import CoactivationConfig, LassoConfig
    from saegraph.ingest.edges.coactivation.stage import coactivation_edges
    from saegraph.ingest.edges.lasso.stage import run_replicates

    acts, starts = _acts(n_tokens, n_features, l0, seed=n_tokens + n_features)
    t0 = time.perf_counter()
    _, stats = coactivation_edges(acts, CoactivationConfig(null_shift=False))
    return {
        "coactivation": time.perf_counter() - t0,
        "(exact p)": stats["secondsExactP"],
        "lasso replicate": _timed(
            run_replicates, acts, starts, LassoConfig(replicates=1, screen="per_replicate"), seed=0
        ),
    }


def feature_only_stages(n_features: int) -> dict:
    from bench_store import build

    from saegraph.ingest.edges.cosine.stage import cosine_knn
    from saegraph.ingest.edges.matches.stage import match_saes
    from saegraph.ingest.stores.embedded import load_bundle_embedded
    from saegraph.queries import open_store

    rng = np.random.default_rng(n_features)
    w_a = rng.standard_normal((n_features, D_DECODER)).astype(np.float32)
    w_b = w_a + 0.5 * rng.standard_normal((n_features, D_DECODER)).astype(np.float32)
    out = {
        "cosine kNN": _timed(cosine_knn, w_a, 32, 0.0),
        "matching": _timed(match_saes, w_a, w_b, knn=32, dense_max=0),
    }
    with tempfile.TemporaryDirectory() as tmp:
        bundle = build(Path(tmp) / "bundle", 1, n_features, 30 * n_features)
        store = open_store(store_dir=Path(tmp) / "db")
        out["embedded load"] = _timed(load_bundle_embedded, bundle, store, progress=False)
        store.close()
    return out


def warm_up() -> None:
    """Compile the numba kernels (disk-cached) so the first point is not charged for it."""
    token_stages(100 * SEQ_LEN, 512, 20.0)  # big enough that every kernel path (exact p, solve) runs
    from saegraph.ingest.edges.cosine.stage import cosine_knn

    cosine_knn(np.eye(8, dtype=np.float32), 2, 0.0)


def run_scaling(quick: bool = False) -> dict:
    """{"tokens": [(N, {stage: s})], "features": [(F, {stage: s})], "fixed": {...}}."""
    sizes = QUICK if quick else FULL
    warm_up()
    tok = [(n, token_stages(n, sizes["fixed_features"], sizes["l0"])) for n in sizes["tokens"]]
    feat = []
    for f in sizes["features"]:
        row = token_stages(sizes["fixed_tokens"], f, sizes["l0"])
        row.update(feature_only_stages(f))
        feat.append((f, row))
    return {
        "tokens": tok,
        "features": feat,
        "fixed": {"features": sizes["fixed_features"], "tokens": sizes["fixed_tokens"], "l0": sizes["l0"]},
    }


def markdown_table(res: dict) -> str:
    fx = res["fixed"]
    lines = [
        f"Tokens axis (F = {fx['features']:,}, L0 ≈ {fx['l0']:g}); seconds:",
        "",
        "| tokens | " + " | ".join(TOKEN_STAGES) + " |",
        "|---:|" + "---:|" * len(TOKEN_STAGES),
    ]
    lines += [
        f"| {n:,} | " + " | ".join(f"{row[s]:.2f}" for s in TOKEN_STAGES) + " |" for n, row in res["tokens"]
    ]
    lines += [
        "",
        f"Features axis ({fx['tokens']:,} tokens; the last three stages do not read tokens); seconds:",
        "",
        "| features | " + " | ".join(FEATURE_STAGES) + " |",
        "|---:|" + "---:|" * len(FEATURE_STAGES),
    ]
    lines += [
        f"| {f:,} | " + " | ".join(f"{row[s]:.2f}" for s in FEATURE_STAGES) + " |"
        for f, row in res["features"]
    ]
    return "\n".join(lines)


def plot(res: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, stages, xlabel in (
        (axes[0], "tokens", TOKEN_STAGES, f"tokens (F = {res['fixed']['features']:,})"),
        (axes[1], "features", FEATURE_STAGES, f"features ({res['fixed']['tokens']:,} tokens)"),
    ):
        xs = [x for x, _ in res[key]]
        for s in stages:
            if s.startswith("("):
                continue
            ax.loglog(xs, [max(row[s], 1e-3) for _, row in res[key]], marker="o", label=s)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("seconds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("saegraph stage time vs input size (log-log)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
