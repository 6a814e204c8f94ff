"""Benchmark: one LASSO replicate at 16k latents vs the co-activation pass and per-node sklearn.

Run: ``python tests/benchmarks/bench_lasso.py`` (full: 16384 latents, 2000 × 128 tokens,
L0 ≈ 50) or ``python tests/benchmarks/bench_lasso.py --smoke`` (a few seconds).

1. Generate planted sparse activations (``tests.helpers.lasso_synthetic``).
2. Time the co-activation pass (``saegraph.ingest.edges.coactivation.stage.coactivation_edges``, its
   default config including its circular-shift null) on the same matrix.
3. Time the default LASSO stage (``screen = "once"``): the one-time screen of the real data
   and of its matched null, then ``--timed-replicates`` replicates refitted from per-sequence
   sufficient statistics. Printed against the co-activation pass: the per-replicate cost,
   the cost per replicate with the one-time screen amortized over the default R = 30, and
   the whole 30-replicate stage. Then one literal replicate (``screen = "per_replicate"``:
   subsample, fresh null, screen and fit both) with its phases, and the ratio of the two
   30-replicate stages.
4. Per-node sklearn baseline: ``sklearn.linear_model.Lasso`` with warm starts along the
   same λ path, on the standardized data columns of the node's candidates, for a sample
   of nodes; extrapolated to all nodes with candidates.
5. Recovery: R replicates on a smaller planted problem; precision/recall of the LASSO
   edges and of the co-activation edges vs the planted truth, the NPMI ranking's
   precision at the LASSO's recall, and the replicate-count table.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.linear_model import Lasso

from saegraph.ingest.config import CoactivationConfig, LassoConfig
from saegraph.ingest.edges.coactivation.stage import coactivation_edges
from saegraph.ingest.edges.lasso.resample import order_by_sequence, subsample_sequences
from saegraph.ingest.edges.lasso.screen import screen_pairs, split_features, top_k_candidates
from saegraph.ingest.edges.lasso.stage import lasso_edges, run_replicates
from saegraph.ingest.edges.stats.moments import column_moments
from tests.helpers.lasso_synthetic import planted_activations


def make_data(features: int, sequences: int, seq_len: int, l0: float, seed: int):
    """Planted trees (6 true edges each) on ~15% of the latents and correlated pairs on ~5%."""
    return planted_activations(
        sequences,
        seq_len,
        features,
        l0=l0,
        n_trees=max(1, features // 50),
        branching=2,
        depth=2,
        n_pairs=max(1, features // 40),
        planted_rate=(0.005, 0.05),
        child_prob=0.7,
        seed=seed,
    )


def sampled_candidate_nodes(acts, starts, cfg: LassoConfig, n_nodes: int, seed: int):
    """The real half of one replicate up to the candidates, as the fast solver sees it: returns
    (subsample over eligible nodes as CSR, cand_ptr, cand_idx, sampled node ids, nodes with
    candidates) or None when no node has a candidate. Shared by the sklearn baselines."""
    rng = np.random.default_rng(seed)
    sub, sub_starts = subsample_sequences(acts, starts, cfg.subsample_fraction, rng)
    mom = column_moments(sub)
    nodes, _ = split_features(mom, cfg.min_firings, cfg.dense_density)
    x = sub[:, nodes].tocsr()
    x.sort_indices()
    sub_mom = type(mom)(n=mom.n, mean=mom.mean[nodes], sd=mom.sd[nodes], firings=mom.firings[nodes])
    screen = screen_pairs(
        x,
        sub_mom,
        float(sub_starts.size - 1),
        min_count=cfg.min_count,
        q=cfg.screen_q,
        block_entries=cfg.block_entries,
    )
    cand_ptr, cand_idx = top_k_candidates(screen, nodes.size, cfg.candidates)
    with_cands = np.flatnonzero(np.diff(cand_ptr) > 0)
    if with_cands.size == 0:
        return None
    sample = rng.choice(with_cands, size=min(n_nodes, with_cands.size), replace=False)
    return x, cand_ptr, cand_idx, sample, int(with_cands.size)


def standardized_block(x, cols):
    """Dense standardized (target, candidates) of one node: what a per-node sklearn fit takes."""
    X = x[:, cols].toarray().astype(np.float64)
    X = (X - X.mean(0)) / X.std(0)
    return X[:, 0], X[:, 1:]


def sklearn_per_node(acts, starts, cfg: LassoConfig, n_nodes: int, seed: int) -> tuple[float, int]:
    """Mean seconds per node of a warm-started sklearn path, and the number of nodes with candidates."""
    prepared = sampled_candidate_nodes(acts, starts, cfg, n_nodes, seed)
    if prepared is None:
        return float("nan"), 0
    x, cand_ptr, cand_idx, sample, n_with = prepared
    t0 = time.perf_counter()
    for v in sample:
        y, Xc = standardized_block(x, np.concatenate([[v], cand_idx[cand_ptr[v] : cand_ptr[v + 1]]]))
        lam_max = np.abs(Xc.T @ y).max() / y.size
        model = Lasso(fit_intercept=False, warm_start=True, tol=1e-6, max_iter=10_000)
        for k in range(cfg.n_lambdas):
            model.set_params(alpha=lam_max * cfg.lambda_min_ratio ** (k / (cfg.n_lambdas - 1)))
            model.fit(Xc, y)
    return (time.perf_counter() - t0) / sample.size, n_with


def timing(args) -> dict:
    d = make_data(args.features, args.sequences, args.seq_len, args.l0, args.seed)
    acts = d.acts
    n, F = acts.shape
    out = {
        "tokens": n,
        "latents": F,
        "sequences": args.sequences,
        "L0": round(acts.nnz / n, 2),
        "nnz": int(acts.nnz),
    }
    t0 = time.perf_counter()
    _, co_stats = coactivation_edges(acts, CoactivationConfig(), sequence_ids=d.sequence_ids, seed=0)
    co_s = time.perf_counter() - t0
    out["coactivationSeconds"] = round(co_s, 2)
    out["coactivationNullSeconds"] = co_stats.get("null", {}).get("seconds")

    sorted_acts, starts = order_by_sequence(acts, d.sequence_ids, d.positions)
    for screen in ("once", "per_replicate"):  # compile the numba kernels on a small slice first
        run_replicates(
            sorted_acts[: min(n, 20 * args.seq_len)],
            starts[:21],
            LassoConfig(replicates=2, screen=screen),
            seed=0,
        )

    # default: screen once (real + null), then every replicate refits from sufficient statistics
    cfg = LassoConfig(replicates=args.timed_replicates)
    screened: dict = {}
    t0 = time.perf_counter()
    real, null = run_replicates(sorted_acts, starts, cfg, seed=args.seed, screened=screened)
    once_total = time.perf_counter() - t0
    one_time = sum(sum(screened[k]["seconds"].values()) for k in ("real", "null"))  # null: incl. buildNull
    per_rep = (once_total - one_time) / cfg.replicates
    R = LassoConfig().replicates
    amortized = one_time / R + per_rep
    out["screenOnce"] = {
        "replicatesTimed": cfg.replicates,
        "oneTimeSeconds": round(one_time, 2),
        "oneTimePhases": {k: screened[k]["seconds"] for k in ("real", "null")},
        "blockPairs": screened["real"]["blockPairs"],
        "sequencePairEntries": screened["real"]["sequencePairEntries"],
        "perReplicateSeconds": round(per_rep, 3),
        "replicatePhases": {"real": real[0].info["seconds"], "null": null[0].info["seconds"]},
        "perReplicateOverCoactivation": round(per_rep / co_s, 4),
        f"amortizedOver{R}Seconds": round(amortized, 3),
        f"amortizedOver{R}OverCoactivation": round(amortized / co_s, 4),
        f"stageOf{R}OverCoactivation": round(amortized * R / co_s, 3),
        "edgesReal": real[0].info["edges"],
        "edgesNull": null[0].info["edges"],
    }

    # the literal replicate (docs/methods.md, LASSO, screen = "per_replicate"): subsample,
    # fresh null, screen and fit both
    t0 = time.perf_counter()
    real_l, null_l = run_replicates(
        sorted_acts, starts, LassoConfig(replicates=1, screen="per_replicate"), seed=args.seed
    )
    literal_s = time.perf_counter() - t0
    phases = {kind: rep[0].info["seconds"] for kind, rep in (("real", real_l), ("null", null_l))}
    after_s = sum(p.get("gram", 0) + p.get("solve", 0) for p in phases.values())
    out["screenPerReplicate"] = {
        "replicateSeconds": round(literal_s, 2),
        "phases": phases,
        "replicateOverCoactivation": round(literal_s / co_s, 3),
        "afterSOverCoactivation": round(after_s / co_s, 4),
        f"stageOf{R}OverScreenOnceStage": round(literal_s * R / (amortized * R), 1),
        "nodes": real_l[0].info["nodes"],
        "meanCandidates": round(real_l[0].info["meanCandidates"], 2),
        "edgesReal": real_l[0].info["edges"],
        "edgesNull": null_l[0].info["edges"],
    }
    per_node, n_nodes = sklearn_per_node(sorted_acts, starts, LassoConfig(), args.sklearn_nodes, args.seed)
    solve_per_node = phases["real"]["solve"] / max(n_nodes, 1)
    out["sklearn"] = {
        "secondsPerNode": round(per_node, 5),
        "nodesExtrapolated": n_nodes,
        "extrapolatedSeconds": round(per_node * n_nodes, 1),
        "fastSolveSecondsPerNode": solve_per_node,
        "overFastSolve": round(per_node / max(solve_per_node, 1e-12), 1),
        "overScreenOnceRealReplicateAmortized": round(per_node * n_nodes / (amortized / 2), 1),
        "overLiteralRealReplicate": round(per_node * n_nodes / (literal_s / 2), 2),
    }
    return out


def recovery(args) -> dict:
    d = make_data(
        args.recovery_features, args.recovery_sequences, args.seq_len, args.recovery_l0, args.seed + 1
    )
    cfg = LassoConfig(replicates=args.replicates, screen=args.screen)
    t0 = time.perf_counter()
    frame, stats = lasso_edges(d.acts, d.sequence_ids, d.positions, cfg, seed=args.seed, progress=True)
    seconds = time.perf_counter() - t0
    truth = {tuple(map(int, e)) for e in d.true_edges}
    indirect = {tuple(map(int, e)) for e in d.indirect_pairs}

    def pr(pairs: set) -> dict:
        tp = len(pairs & truth)
        return {
            "edges": len(pairs),
            "precision": round(tp / max(len(pairs), 1), 3),
            "recall": round(tp / max(len(truth), 1), 3),
            "indirectFound": len(pairs & indirect),
        }

    lasso_set = {(int(a), int(b)) for a, b in zip(frame["i"], frame["j"])}
    stable = frame[frame["stability"] >= cfg.stability_threshold]
    co, _ = coactivation_edges(d.acts, CoactivationConfig(null_shift=False))
    co_set = {(int(a), int(b)) for a, b in zip(co["i"], co["j"])}
    tp = len(lasso_set & truth)
    ranked = co.sort_values("npmi", ascending=False)
    hits = np.cumsum([(int(a), int(b)) in truth for a, b in zip(ranked["i"], ranked["j"])])
    k = int(np.searchsorted(hits, tp)) + 1 if hits.size and hits[-1] >= tp else None
    return {
        "screen": cfg.screen,
        "tokens": int(d.acts.shape[0]),
        "latents": int(d.acts.shape[1]),
        "L0": round(d.acts.nnz / d.acts.shape[0], 2),
        "plantedEdges": len(truth),
        "indirectPairs": len(indirect),
        "replicates": cfg.replicates,
        "seconds": round(seconds, 1),
        "lassoSignificant": pr(lasso_set),
        "lassoStable": pr({(int(a), int(b)) for a, b in zip(stable["i"], stable["j"])}),
        "coactivationEdges": pr(co_set),
        "coactivationNpmiPrecisionAtLassoRecall": round(tp / k, 3) if k else None,
        "replicateCountTable": stats["replicateCountTable"],
        "nEff": stats["nEff"]["meanPerReplicate"],
        "mbBound": stats["stability"]["mbBound"],
        "stableEdges": stats["stability"]["stableEdges"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=int, default=16384)
    ap.add_argument("--sequences", type=int, default=2000)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--l0", type=float, default=50.0)
    ap.add_argument("--sklearn-nodes", type=int, default=30)
    ap.add_argument(
        "--timed-replicates",
        type=int,
        default=5,
        help="replicates timed after the one-time screen (default screen = once)",
    )
    ap.add_argument("--recovery-features", type=int, default=2048)
    ap.add_argument("--recovery-sequences", type=int, default=1500)
    ap.add_argument("--recovery-l0", type=float, default=30.0)
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument(
        "--screen",
        choices=["once", "per_replicate"],
        default="once",
        help="where the recovery run screens (the timing part measures both)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--skip-recovery", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes for a quick check")
    args = ap.parse_args()
    if args.smoke:
        args.features, args.sequences, args.l0, args.sklearn_nodes = 1024, 200, 20.0, 5
        args.recovery_features, args.recovery_sequences, args.recovery_l0, args.replicates = 400, 400, 10.0, 4
    report = {}
    if not args.skip_timing:
        report["timing"] = timing(args)
        print(json.dumps(report["timing"], indent=1), flush=True)
    if not args.skip_recovery:
        report["recovery"] = recovery(args)
        print(json.dumps(report["recovery"], indent=1), flush=True)


if __name__ == "__main__":
    main()
