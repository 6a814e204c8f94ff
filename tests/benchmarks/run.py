"""saegraph benchmarks: each stage against the baseline researchers use today, one line each.

Run from the repository root:
    python tests/benchmarks/run.py            # full sizes (~20 min on 2 cores), rewrites docs/benchmarks.md
    python tests/benchmarks/run.py --quick    # small sizes (< 3 min)
    python tests/benchmarks/run.py --only coactivation-sparse --no-write

Steps:
1. For each case, generate a seeded input of the stated size once (cached in a temp dir).
2. Run the baseline and ours, each in a fresh child process (``harness``): time of the call
   and the child's resident peak during it.
3. Print one line per case (what, sizes, both times and peaks, speed-up, memory ratio).
4. Unless ``--no-write``: the scaling run (``scaling.py``) and ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (str(ROOT), str(HERE), str(HERE.parent)):
    if p not in sys.path:
        sys.path.insert(0, p)

import harness  # noqa: E402
import numpy as np  # noqa: E402

QUICK = {
    "coactivation-dense": {"features": 1024, "tokens": 8192, "l0": 30},
    "coactivation-sparse": {"features": 2048, "tokens": 20_000, "l0": 30},
    "graph-stats": {"nodes": 2000, "edges": 20_000, "blocks": 20},
    "lasso": {"features": 1024, "sequences": 200, "seq_len": 128, "l0": 20.0, "sample_nodes": 5},
    "lasso-path": {"features": 1024, "sequences": 200, "seq_len": 128, "l0": 20.0, "sample_nodes": 5},
    "matching": {"features": 1024, "d": 64},
    "store-embedded": {"features": 2000, "edges": 30_000, "sample_rows": 400},
    "store-neo4j": {"features": 1000, "edges": 5_000},
}
FULL = {
    "coactivation-dense": {"features": 8192, "tokens": 32_768, "l0": 50},
    "coactivation-sparse": {"features": 16_384, "tokens": 250_000, "l0": 50},
    "graph-stats": {"nodes": 16_384, "edges": 300_000, "blocks": 128},
    "lasso": {"features": 16_384, "sequences": 2000, "seq_len": 128, "l0": 50.0, "sample_nodes": 30},
    "lasso-path": {"features": 16_384, "sequences": 2000, "seq_len": 128, "l0": 50.0, "sample_nodes": 30},
    "matching": {"features": 8192, "d": 512},
    "store-embedded": {"features": 16_384, "edges": 700_000, "sample_rows": 2000},
    "store-neo4j": {"features": 16_384, "edges": 100_000},
}
CASES = list(QUICK)


# ---------------------------------------------------------------- inputs (cached, seeded)


def _acts(p: dict, cache: Path, seed: int):
    import scipy.sparse as sp
    from bench_edges import synthetic_acts

    f = cache / f"acts-{p['tokens']}-{p['features']}-{p['l0']}-{seed}.npz"
    if not f.exists():
        sp.save_npz(f, synthetic_acts(p["tokens"], p["features"], p["l0"], seed), compressed=False)
    return sp.load_npz(f).tocsr()


def _graph_edges(p: dict, cache: Path):
    import pandas as pd

    f = cache / f"graph-{p['nodes']}-{p['edges']}-{p['blocks']}.parquet"
    if not f.exists():  # planted partition: 80 % of edges inside blocks, weights higher inside
        rng = np.random.default_rng(4)
        n, m, k = p["nodes"], int(p["edges"] * 1.15), p["blocks"]
        block = rng.integers(0, k, n)
        members = [np.flatnonzero(block == b) for b in range(k)]
        inside = rng.random(m) < 0.8
        u = rng.integers(0, n, m)
        v = rng.integers(0, n, m)
        for idx in np.flatnonzero(inside):
            mem = members[block[u[idx]]]
            v[idx] = mem[rng.integers(mem.size)]
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        key = np.unique(lo[lo != hi] * n + hi[lo != hi])[: p["edges"]]
        lo, hi = key // n, key % n
        same = block[lo] == block[hi]
        npmi = np.where(same, rng.uniform(0.3, 0.9, key.size), rng.uniform(0.1, 0.4, key.size))
        pd.DataFrame(
            {
                "source": [f"s0:{i}" for i in lo],
                "target": [f"s0:{j}" for j in hi],
                "npmi": npmi,
                "jaccard": npmi / 2,
            }
        ).to_parquet(f)
    return pd.read_parquet(f)


def _lasso_data(p: dict, cache: Path):
    from bench_lasso import make_data

    from saegraph.ingest.edges.lasso.resample import order_by_sequence

    f = cache / f"lasso-{p['features']}-{p['sequences']}-{p['l0']}.npz"
    if not f.exists():
        import scipy.sparse as sp

        d = make_data(p["features"], p["sequences"], p["seq_len"], p["l0"], 0)
        acts, starts = order_by_sequence(d.acts, d.sequence_ids, d.positions)
        sp.save_npz(f, sp.csr_matrix(acts), compressed=False)
        np.save(cache / (f.stem + "-starts.npy"), starts)
    import scipy.sparse as sp

    return sp.load_npz(f).tocsr(), np.load(cache / (f.stem + "-starts.npy"))


def _bundle(p: dict, cache: Path, n_saes: int = 1) -> Path:
    from bench_store import build

    path = cache / f"bundle-{n_saes}-{p['features']}-{p['edges']}"
    if not path.exists():
        build(path, n_saes, p["features"], p["edges"])
    return path


# ---------------------------------------------------------------- workers (run in a child)


def work(case: str, side: str, p: dict, cache: Path) -> dict:
    if case.startswith("coactivation"):
        import baselines

        from saegraph.ingest.config import CoactivationConfig
        from saegraph.ingest.edges.coactivation.stage import coactivation_edges

        acts = _acts(p, cache, 1)
        if side == "ours":
            coactivation_edges(acts[:500, :64], CoactivationConfig(null_shift=False))  # numba warm-up
            r = harness.measure(coactivation_edges, acts, CoactivationConfig(null_shift=False))
            r["out"] = {"edges": len(r["out"][0])}
            return r
        fn = baselines.dense_cooccurrence if case == "coactivation-dense" else baselines.scipy_cooccurrence
        r = harness.measure(fn, acts)
        r["out"] = {"pairs": r["out"]}
        return r
    if case == "graph-stats":
        edges = _graph_edges(p, cache)
        if side == "baseline":
            import networkx  # noqa: F401 - import outside the timed call
            from baselines import networkx_graph_stats

            return harness.measure(networkx_graph_stats, edges)

        def ours():
            from saegraph.queries.analysis.centrality import centrality
            from saegraph.queries.analysis.communities import louvain, modularity
            from saegraph.queries.analysis.graph import build_graph
            from saegraph.queries.analysis.structure import scalar_stats

            fg = build_graph(edges, "CO_ACTIVATES")
            cen = centrality(fg)
            stats = scalar_stats(fg)
            labels = louvain(fg, seed=0)
            return {
                "nodes": fg.n_nodes,
                "edges": fg.n_edges,
                "maxDegree": int(cen["degree"].max()),
                "meanClustering": stats["avgClustering"],
                "communities": int(labels.max() + 1),
                "modularity": modularity(fg, labels),
            }

        import igraph  # noqa: F401

        return harness.measure(ours)
    if case in ("lasso", "lasso-path"):
        from saegraph.ingest.config import LassoConfig

        acts, starts = _lasso_data(p, cache)
        # the literal replicate (screen included), so the ratio to per-node sklearn counts the screen;
        # bench_lasso.py reports the default screen = "once" (screen amortized over the replicates)
        cfg = LassoConfig(replicates=1, screen="per_replicate")
        if side == "baseline":
            from baselines import sklearn_lasso_path_per_node
            from bench_lasso import sklearn_per_node

            fn = sklearn_per_node if case == "lasso" else sklearn_lasso_path_per_node
            r = harness.measure(fn, acts, starts, cfg, p["sample_nodes"], 0)
            per_node, n_nodes = r["out"]
            r["measuredSeconds"] = r["seconds"]
            r["seconds"] = per_node * n_nodes  # extrapolated to every node with candidates
            r["out"] = {"secondsPerNode": per_node, "nodes": n_nodes}
            return r
        from saegraph.ingest.edges.lasso.stage import run_replicates

        n_warm = min(20, starts.size - 1)
        run_replicates(acts[: starts[n_warm]], starts[: n_warm + 1], cfg, seed=0)  # numba warm-up
        r = harness.measure(run_replicates, acts, starts, cfg, seed=0)
        real, null = r["out"]
        phases = real[0].info["seconds"]
        r["measuredSeconds"] = r["seconds"]
        r["seconds"] = float(sum(phases.values()))  # the real half of the replicate
        r["out"] = {"phases": phases, "edges": real[0].info["edges"], "nodes": real[0].info["nodes"]}
        return r
    if case == "matching":
        from bench_edges import decoders_for_matching, dense_matching, sparse_matching

        w_a, w_b = decoders_for_matching(p["features"], p["d"], 3)
        if side == "baseline":
            return harness.measure(dense_matching, w_a, w_b, 0.3)
        sparse_matching(w_a[:64], w_b[:64], 0.3, 8)  # numba warm-up
        return harness.measure(sparse_matching, w_a, w_b, 0.3, 32)
    if case == "store-embedded":
        return _work_store_embedded(side, p, cache)
    if case == "store-neo4j":
        from saegraph.queries import open_store

        bundle = _bundle(p, cache)
        store = open_store(neo4j_uri=os.environ["NEO4J_URI"])
        if side == "baseline":
            from baselines import rowwise_load_neo4j

            return harness.measure(rowwise_load_neo4j, bundle, store)
        from saegraph.ingest.stores.neo4j import StoreRunner, load_bundle_neo4j

        r = harness.measure(load_bundle_neo4j, bundle, StoreRunner(store), progress=False)
        r["out"] = {"relationships": r["out"].n_relationships}
        return r
    raise SystemExit(f"unknown case {case!r}: choose from {', '.join(CASES)}")


def _work_store_embedded(side: str, p: dict, cache: Path) -> dict:
    from saegraph.ingest.bundle import open_bundle
    from saegraph.queries import open_store

    bundle_path = _bundle(p, cache)
    bundle = open_bundle(bundle_path)
    n_nodes = bundle.table("features").num_rows
    n_rels = sum(
        bundle.table(t).num_rows
        for t in ("co_activates", "lasso", "cosine", "matches")
        if bundle.has_table(t)
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(store_dir=Path(tmp) / "db")
        if side == "ours":
            from saegraph.ingest.stores.embedded import load_bundle_embedded

            r = harness.measure(load_bundle_embedded, bundle_path, store, progress=False)
            r["out"] = {"nodes": n_nodes, "relationships": r["out"].n_relationships}
        else:
            from baselines import rowwise_load_embedded

            half = p["sample_rows"] // 2
            feats = bundle.frame("features").head(half)
            ids = set(feats["featureId"])
            co = bundle.frame("co_activates")
            co = co[co["source"].isin(ids) & co["target"].isin(ids)]
            if len(co) < half:  # few edges among a prefix of features: take edges first, then their nodes
                co = bundle.frame("co_activates").head(half)
                ids = set(co["source"]) | set(co["target"])
                feats = bundle.frame("features")
                feats = feats[feats["featureId"].isin(ids)]
            co = co.head(half).drop(columns=["runId"], errors="ignore")
            r = harness.measure(rowwise_load_embedded, store, feats, co, bundle.run_id)
            # per-row cost of node rows and relationship rows, measured separately, extrapolated
            t_nodes = harness.measure(
                rowwise_load_embedded,
                open_store(store_dir=Path(tmp) / "db2"),
                feats,
                co.iloc[:0],
                bundle.run_id,
            )["seconds"]
            per_node = t_nodes / max(len(feats), 1)
            per_rel = max(r["seconds"] - t_nodes, 0.0) / max(len(co), 1)
            r["measuredSeconds"] = r["seconds"]
            r["seconds"] = per_node * n_nodes + per_rel * n_rels
            r["out"] = {
                "sampleNodes": len(feats),
                "sampleRels": len(co),
                "msPerNodeRow": 1e3 * per_node,
                "msPerRelRow": 1e3 * per_rel,
                "nodes": n_nodes,
                "relationships": n_rels,
            }
        store.close()
    return r


# ---------------------------------------------------------------- parent: lines


def describe(case: str, p: dict, base: dict, ours: dict) -> tuple[str, str, str, str]:
    """(sizes, baseline label, ours label, note) for one case."""
    bo, oo = base.get("out") or {}, ours.get("out") or {}
    if case.startswith("coactivation"):
        sizes = f"F={p['features']:,} tokens={p['tokens']:,} L0~{p['l0']}"
        blabel = (
            "dense numpy float32 B.T@B + count/NPMI threshold"
            if case == "coactivation-dense"
            else "scipy.sparse B.T@B + count/NPMI threshold"
        )
        return (
            sizes,
            blabel,
            "coactivation_edges (exact p, BH, top-k, scores; no shift null)",
            f"baseline pairs {bo.get('pairs')}, our edges {oo.get('edges')}",
        )
    if case == "graph-stats":
        return (
            f"nodes={p['nodes']:,} edges={oo.get('edges', p['edges']):,}",
            "networkx build + degree + clustering + louvain_communities",
            "saegraph.queries.analysis build_graph + centrality + scalar_stats + louvain (igraph)",
            f"communities nx {bo.get('communities')} (Q {bo.get('modularity', 0):.3f}) vs ours "
            f"{oo.get('communities')} (Q {oo.get('modularity', 0):.3f})",
        )
    if case in ("lasso", "lasso-path"):
        how = (
            "sklearn Lasso(warm_start, tol 1e-6) per lambda"
            if case == "lasso"
            else "sklearn lasso_path(precompute Gram, default tol)"
        )
        return (
            f"F={p['features']:,} tokens={p['sequences'] * p['seq_len']:,} nodes={bo.get('nodes')}",
            f"per-node {how}, {p['sample_nodes']} nodes timed, extrapolated",
            "one replicate (real half: screen+Gram+batched solve)",
            f"sklearn {1e3 * bo.get('secondsPerNode', 0):.1f} ms/node; ours solve "
            f"{oo.get('phases', {}).get('solve', 0):.2f} s",
        )
    if case == "matching":
        return (
            f"{p['features']:,} x {p['features']:,} features d={p['d']}",
            "dense cosine + scipy linear_sum_assignment",
            "kNN(32) + sparse min_weight_full_bipartite_matching",
            f"cost dense {bo.get('cost', 0):.3f} vs sparse {oo.get('cost', 0):.3f}",
        )
    if case == "store-embedded":
        return (
            f"{oo.get('nodes'):,} nodes + {oo.get('relationships'):,} rels",
            f"per-row MERGE, 1 tx/row ({bo.get('sampleNodes')}+{bo.get('sampleRels')} rows timed, extrapolated)",
            "load_bundle_embedded (COPY from Arrow)",
            f"per-row {bo.get('msPerNodeRow', 0):.2f} ms/node, {bo.get('msPerRelRow', 0):.2f} ms/rel",
        )
    return (
        f"features={p['features']:,} edges~{p['edges']:,}",
        "Neo4j loader batch_size=1 (1 MERGE row/tx)",
        "Neo4j loader batched UNWIND",
        "ours ran first (creates); baseline re-MERGEs existing rows",
    )


def run_cases(names: list[str], sizes: dict, cache: Path, timeout: float) -> list[dict]:
    rows = []
    for case in names:
        if case == "store-neo4j" and not os.environ.get("NEO4J_URI"):
            print(f"{case} | skipped: NEO4J_URI is not set", flush=True)
            continue
        p = sizes[case]
        try:
            if case == "store-neo4j":  # ours first: see describe()
                ours = harness.run_child(case, "ours", p, cache, timeout)
                base = harness.run_child(case, "baseline", p, cache, timeout)
            else:
                base = harness.run_child(case, "baseline", p, cache, timeout)
                ours = harness.run_child(case, "ours", p, cache, timeout)
        except Exception as exc:
            print(f"{case} | FAILED: {str(exc).splitlines()[0]}", flush=True)
            rows.append({"case": case, "error": str(exc)})
            continue
        sizes_s, blabel, olabel, note = describe(case, p, base, ours)
        line = harness.fmt_line(case, sizes_s, blabel, base, olabel, ours, note)
        print(line, flush=True)
        rows.append({"case": case, "line": line, "baseline": base, "ours": ours, "params": p})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (whole run < 3 min)")
    ap.add_argument(
        "--only", action="append", choices=CASES + ["scaling"], help="run only this case (repeatable)"
    )
    ap.add_argument("--no-write", action="store_true", help="print only; do not touch docs/benchmarks*")
    ap.add_argument("--no-scaling", action="store_true", help="skip the scaling run")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per child process")
    ap.add_argument("--worker", nargs=2, metavar=("CASE", "SIDE"), help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        harness.emit(work(args.worker[0], args.worker[1], json.loads(args.params), Path(args.cache)))
        return 0

    info = harness.machine()
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, {info['ramGiB']} GiB RAM, load average at start "
        f"{info['load'][0]:.2f}/{info['load'][1]:.2f}/{info['load'][2]:.2f}",
        flush=True,
    )
    names = [c for c in (args.only or CASES) if c != "scaling"]
    do_scaling = not args.no_scaling and (args.only is None or "scaling" in args.only)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="saegraph-bench-") as tmp:
        rows = run_cases(names, QUICK if args.quick else FULL, Path(tmp), args.timeout)
        scaling = None
        if do_scaling:
            import scaling as scaling_mod

            scaling = scaling_mod.run_scaling(quick=args.quick)
            print(scaling_mod.markdown_table(scaling), flush=True)
    info["loadEnd"] = os.getloadavg()
    info["seconds"] = time.perf_counter() - t0
    if not args.no_write:
        import report

        out = report.write(ROOT / "docs", info, rows, scaling, quick=args.quick)
        print(f"wrote {out.relative_to(ROOT)}", flush=True)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
