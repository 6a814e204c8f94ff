"""Embedded store benchmark: COPY load throughput and warm query latency.

Run: ``python tests/benchmarks/bench_store.py [--saes 3] [--features 16384] [--edges-per-sae 700000]
[--load-threads N]``
Builds a synthetic bundle (random edges, all eight tables), loads it into a fresh
LadybugDB store with N relationship COPY threads (0: every usable core; the count used
is printed), re-loads it (the idempotent path), then times the warm
top-k-neighbours and feature-card queries (median of --repeats calls with random features). Ratios are
printed against the targets (500k relationships/s; 10 ms) and against baselines measured
in the same run:
- engine floor: the same Arrow tables COPYed straight into a fresh store (no loader, one
  after another);
- endpoint floor: only ``source, target`` COPYed into a property-less rel table, the cost
  of the endpoint lookups and adjacency lists alone;
- pandas boolean-mask filtering of the in-memory edge table for the same top-k question.
Rates are given per wall second and per CPU second of this process (the machine may be
shared: the 1-minute load average is printed with every load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from saegraph.ingest.bundle import (
    BundleBuilder,
    open_bundle,
)
from saegraph.ingest.stores.common import rel_table
from saegraph.ingest.stores.embedded import conform, load_bundle_embedded
from saegraph.queries import (
    RelType,
    open_store,
    run,
)
from tests.helpers.store_fixtures import _features

RUN_ID = "20240101T000000-bench000"


def random_pairs(n: int, m: int, rng) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, n, int(m * 1.1))
    b = rng.integers(0, n, int(m * 1.1))
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys = np.unique(lo[lo != hi].astype(np.int64) * n + hi[lo != hi])[:m]
    return keys // n, keys % n


def ids(sae: str, idx: np.ndarray) -> pa.Array:
    return pa.array(np.char.add(f"{sae}:", idx.astype(str)))


def build(path: Path, n_saes: int, n_features: int, edges_per_sae: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    saes = [f"s{k}" for k in range(n_saes)]
    bb = BundleBuilder(path)
    bb.manifest.update({"runId": RUN_ID, "codeVersion": "bench", "config": {}})
    bb.write_table(
        "models",
        pa.table(
            {
                "modelId": ["m"],
                "name": ["m"],
                "nLayers": [1],
                "dModel": [8],
                "dMlp": [0],
                "dVocab": [50],
                "nParams": [1],
                "source": ["bench"],
            }
        ),
    )
    bb.write_table(
        "saes",
        pa.table(
            {
                "saeId": saes,
                "modelId": ["m"] * n_saes,
                "release": ["b"] * n_saes,
                "saeName": saes,
                "hookName": ["h"] * n_saes,
                "layer": [0] * n_saes,
                "dIn": [8] * n_saes,
                "dSae": [n_features] * n_saes,
                "architecture": ["standard"] * n_saes,
                "seed": list(range(n_saes)),
                "l0": [10.0] * n_saes,
                "source": ["bench"] * n_saes,
                "runId": [RUN_ID] * n_saes,
            }
        ),
    )
    bb.write_table(
        "datasets",
        pa.table(
            {"datasetId": ["d"], "name": ["d"], "nTokens": [1], "nSequences": [1], "fingerprint": ["f"]}
        ),
    )
    vocab = [f"tok{i}" for i in range(50)]
    bb.write_table("features", pa.concat_tables([_features(s, n_features, rng, vocab) for s in saes]))
    co, la, cs, ma = [], [], [], []
    for k, s in enumerate(saes):
        i, j = random_pairs(n_features, int(edges_per_sae * 0.6), rng)
        m = len(i)
        co.append(
            pa.table(
                {
                    "source": ids(s, i),
                    "target": ids(s, j),
                    "saeId": [s] * m,
                    "count": rng.integers(1, 99, m),
                    "jaccard": rng.random(m),
                    "npmi": rng.random(m),
                    "phi": rng.random(m),
                    "pTargetGivenSource": rng.random(m),
                    "pSourceGivenTarget": rng.random(m),
                    "pearson": rng.random(m),
                    "pValue": rng.random(m),
                    "qValue": rng.random(m),
                    "runId": [RUN_ID] * m,
                }
            )
        )
        i, j = random_pairs(n_features, int(edges_per_sae * 0.15), rng)
        m = len(i)
        la.append(
            pa.table(
                {
                    "source": ids(s, i),
                    "target": ids(s, j),
                    "saeId": [s] * m,
                    "weight": rng.normal(size=m),
                    "stability": rng.random(m),
                    "nReplicates": rng.integers(1, 9, m),
                    "nullReplicates": rng.integers(0, 3, m),
                    "pValue": rng.random(m),
                    "qValue": rng.random(m),
                    "runId": [RUN_ID] * m,
                }
            )
        )
        i, j = random_pairs(n_features, int(edges_per_sae * 0.25), rng)
        m = len(i)
        cs.append(
            pa.table(
                {
                    "source": ids(s, i),
                    "target": ids(s, j),
                    "saeId": [s] * m,
                    "similarity": rng.random(m),
                    "rank": rng.integers(1, 10, m),
                    "runId": [RUN_ID] * m,
                }
            )
        )
        if k + 1 < n_saes:
            src = np.arange(n_features)
            ma.append(
                pa.table(
                    {
                        "source": ids(s, src),
                        "target": ids(saes[k + 1], rng.permutation(n_features)),
                        "sourceSae": [s] * n_features,
                        "targetSae": [saes[k + 1]] * n_features,
                        "cosine": rng.random(n_features),
                        "actCorr": rng.random(n_features),
                        "method": ["hungarian"] * n_features,
                        "mutual": np.ones(n_features, bool),
                        "rank": np.ones(n_features, np.int64),
                        "runId": [RUN_ID] * n_features,
                    }
                )
            )
    for name, parts in (("co_activates", co), ("lasso", la), ("cosine", cs), ("matches", ma)):
        if parts:
            bb.write_table(name, pa.concat_tables(parts))
    return bb.finalize()


def load_avg() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def timed(fn) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``fn()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def rate_line(label: str, n: int, wall: float, cpu: float) -> str:
    return (
        f"{label}: {n:,} relationships in {wall:.2f} s = {n / wall:,.0f} rels/s "
        f"({cpu:.2f} CPU s = {n / cpu:,.0f} rels/CPU-s); {load_avg()}"
    )


def engine_floor(bundle: Path, db: Path) -> tuple[int, float, float]:
    """COPY the bundle's conformed relationship tables straight into a fresh store (no loader)."""
    b = open_bundle(bundle)
    with open_store(store_dir=db, buffer_pool_size=2 << 30) as store:
        store.copy_from("Feature", conform(b.table("features"), store.table_columns("Feature")))
        tables = [
            (r.value, conform(t, store.table_columns(r.value), keep=("source", "target")))
            for r in RelType
            if (t := rel_table(b, r)) is not None
        ]
        wall, cpu = timed(lambda: [store.copy_from(name, t) for name, t in tables])
    return sum(t.num_rows for _, t in tables), wall, cpu


def endpoint_floor(bundle: Path, db: Path) -> tuple[int, float, float]:
    """COPY only ``source, target`` of every relationship into a property-less rel table."""
    import ladybug

    b = open_bundle(bundle)
    database = ladybug.Database(str(db), buffer_pool_size=2 << 30)
    conn = ladybug.Connection(database)
    conn.execute("CREATE NODE TABLE Feature(featureId STRING PRIMARY KEY)")
    conn.execute("CREATE REL TABLE EDGE(FROM Feature TO Feature)")
    conn.execute("COPY Feature FROM $d", {"d": b.table("features", ["featureId"])})
    pairs = pa.concat_tables(
        [t.select(["source", "target"]) for r in RelType if (t := rel_table(b, r)) is not None]
    )
    wall, cpu = timed(lambda: conn.execute("COPY EDGE FROM $d", {"d": pairs}))
    conn.close()
    database.close()
    return pairs.num_rows, wall, cpu


def latency(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def random_feature(rng, n_saes: int, n_features: int) -> str:
    return f"s{rng.integers(n_saes)}:{rng.integers(n_features)}"


def warm_latencies(store, rng, n_saes: int, n_features: int, repeats: int) -> tuple[float, float]:
    """Median ms of ``neighbors.top_k`` and ``lookup.feature_card`` on random features, after 20
    warm-up calls of each."""

    def pick():
        return random_feature(rng, n_saes, n_features)

    for _ in range(20):
        run(store, "neighbors.top_k", featureId=pick(), relType="CO_ACTIVATES", k=10)
        run(store, "lookup.feature_card", featureId=pick())
    topk = latency(
        lambda: run(store, "neighbors.top_k", featureId=pick(), relType="CO_ACTIVATES", k=10), repeats
    )
    card = latency(lambda: run(store, "lookup.feature_card", featureId=pick()), repeats)
    return topk, card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--saes", type=int, default=3)
    ap.add_argument("--features", type=int, default=16384)
    ap.add_argument("--edges-per-sae", type=int, default=700_000)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--no-floor", action="store_true", help="skip the engine / endpoint floor baselines")
    ap.add_argument(
        "--load-threads",
        type=int,
        default=0,
        help="relationship COPY threads of the loader; 0 = every usable core",
    )
    ap.add_argument(
        "--neo4j",
        metavar="URI",
        default=None,
        help="benchmark this Neo4j instead (NEO4J_USER / NEO4J_PASSWORD from the environment): "
        "batched UNWIND load vs one transaction per row (timed on --rowwise-sample rows), warm latency",
    )
    ap.add_argument(
        "--rowwise-edges", type=int, default=300, help="Neo4j: edges per SAE of the per-row sample"
    )
    ap.add_argument(
        "--admin",
        action="store_true",
        help="Neo4j: also time export-admin + neo4j-admin import into a fresh home (scripts/neo4j-local)",
    )
    args = ap.parse_args()
    if args.neo4j:
        neo4j_main(args)
        return
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        bundle = build(Path(tmp) / "bundle", args.saes, args.features, args.edges_per_sae)
        print(f"built bundle in {time.perf_counter() - t0:.1f} s")
        store = open_store(store_dir=Path(tmp) / "db", buffer_pool_size=2 << 30)
        print(f"start: {load_avg()}")
        report = load_bundle_embedded(bundle, store, progress=False, max_workers=args.load_threads)
        rate = report.rels_per_second
        print(
            rate_line(
                f"load ({report.copy_threads} COPY threads)",
                report.n_relationships,
                report.rel_seconds,
                report.rel_cpu_seconds,
            )
            + f"; ratio to 500k/s target: {rate / 5e5:.2f}"
        )
        print(
            f"  total {report.seconds:.2f} s with {sum(report.nodes.values()):,} nodes; steps (s): "
            + ", ".join(f"{k} {v:.2f}" for k, v in report.steps.items())
        )
        if not args.no_floor:
            n, wall, cpu = engine_floor(bundle, Path(tmp) / "floor_db")
            print(
                rate_line("engine floor (same COPYs, no loader)", n, wall, cpu)
                + f"; loader/floor CPU {report.rel_cpu_seconds / cpu:.2f}"
            )
            n, wall, cpu = endpoint_floor(bundle, Path(tmp) / "endpoint_db")
            print(rate_line("endpoint floor (source, target only)", n, wall, cpu))
        again = load_bundle_embedded(bundle, store, progress=False, max_workers=args.load_threads)
        print(
            f"re-load (same run): total {again.seconds:.2f} s; steps (s): "
            + ", ".join(f"{k} {v:.2f}" for k, v in again.steps.items())
        )

        topk, card = warm_latencies(store, rng, args.saes, args.features, args.repeats)
        co = store.edges("CO_ACTIVATES")

        def pandas_topk():
            f = random_feature(rng, args.saes, args.features)
            sub = co[(co.source.to_numpy() == f) | (co.target.to_numpy() == f)]
            return sub.nlargest(10, "npmi")

        base = latency(pandas_topk, min(args.repeats, 50))
        print(
            f"neighbors.top_k warm median {topk:.2f} ms (target 10 ms: ratio {topk / 10:.2f}; "
            f"baseline pandas mask over {len(co):,} in-memory edges {base:.2f} ms: store/baseline {topk / base:.2f})"
        )
        print(f"lookup.feature_card warm median {card:.2f} ms (target 10 ms: ratio {card / 10:.2f})")
        store.close()


def _neo4j_cleanup(store, sae_ids: list[str]) -> None:
    """Delete exactly the benchmark's SAEs, their features and its run (nothing else)."""
    with store.driver.session(database=store.database) as sess:
        sess.run(
            "MATCH (n:Feature) WHERE n.saeId IN $ids CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 500 ROWS",
            ids=sae_ids,
        ).consume()
    store.run("MATCH (n:SAE) WHERE n.saeId IN $ids DETACH DELETE n", {"ids": sae_ids})
    store.run("MATCH (n:Run {runId: $r}) DETACH DELETE n", {"r": RUN_ID})


def admin_import(bundle: Path, work: Path) -> tuple[int, float, float]:
    """(relationships, export seconds, import seconds): ``saegraph export-admin`` of the bundle,
    then the fetched ``neo4j-admin database import full`` into a fresh home under ``work`` (no
    server is started; the running one is untouched)."""
    import subprocess

    from saegraph.ingest.stores.export_admin import export_admin, import_command

    t0 = time.perf_counter()
    out = work / "admin"
    args = export_admin(bundle, out)
    t_export = time.perf_counter() - t0
    command = import_command(out, args)
    env = {**os.environ, "NEO4J_LOCAL_HOME": str(work / "home"), "NEO4J_ADMIN_HEAP": "2g"}
    script = Path(__file__).resolve().parents[2] / "scripts" / "neo4j-local"
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            str(script),
            "admin",
            *command[0].split()[1:],
            *command[1:],
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    t_import = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"neo4j-admin import failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    b = open_bundle(bundle)
    n_rels = sum(b.table(rel.table).num_rows for rel in RelType if b.has_table(rel.table))
    return n_rels, t_export, t_import


def neo4j_main(args) -> None:
    """Neo4j: batched UNWIND load, one transaction per row (a small bundle of the same shape,
    extrapolated per relationship), a re-load of the same run, neo4j-admin import (--admin),
    warm latency of neighbors.top_k and lookup.feature_card."""
    from saegraph.ingest.stores.neo4j import StoreRunner, load_bundle_neo4j

    rng = np.random.default_rng(1)
    sae_ids = [f"s{k}" for k in range(args.saes)]
    store = open_store(neo4j_uri=args.neo4j)
    taken = store.run("MATCH (s:SAE) WHERE s.saeId IN $ids RETURN count(s) AS n", {"ids": sae_ids})
    if int(taken["n"].iloc[0]):
        raise SystemExit(f"SAEs {sae_ids} already exist on {args.neo4j}: not ours to overwrite or delete")
    store.apply_schema()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            bundle = build(Path(tmp) / "bundle", args.saes, args.features, args.edges_per_sae)
            small = build(Path(tmp) / "small", args.saes, min(args.features, 256), args.rowwise_edges)
            print(f"built bundles in {time.perf_counter() - t0:.1f} s; start: {load_avg()}")
            runner = StoreRunner(store)
            rep = load_bundle_neo4j(small, runner, batch_size=1, progress=False, resume=False)
            row_rate = rep.n_relationships / rep.rel_seconds if rep.rel_seconds else float("nan")
            print(
                f"one transaction per row: {rep.n_relationships:,} rels in {rep.rel_seconds:.2f} s "
                f"-> {row_rate:,.0f} rels/s "
                f"(nodes {sum(rep.nodes.values()):,} in {rep.seconds - rep.rel_seconds:.1f} s)"
            )
            _neo4j_cleanup(store, sae_ids)
            cpu0 = time.process_time()
            rep = load_bundle_neo4j(bundle, runner, progress=False, resume=False)
            batched = rep.n_relationships / rep.rel_seconds
            print(
                rate_line(
                    "batched UNWIND (10k rows/batch)",
                    rep.n_relationships,
                    rep.rel_seconds,
                    time.process_time() - cpu0,
                )
                + f"; total {rep.seconds:.1f} s; x{batched / row_rate:.0f} vs one tx per row; {load_avg()}"
            )

            cpu0 = time.process_time()
            rep2 = load_bundle_neo4j(bundle, runner, progress=False, resume=False)
            print(
                rate_line(
                    "re-load of the same run (MERGE finds every relationship)",
                    rep2.n_relationships,
                    rep2.rel_seconds,
                    time.process_time() - cpu0,
                )
                + f"; x{(rep2.n_relationships / rep2.rel_seconds) / batched:.2f} vs the first load"
            )
            if args.admin:
                n, t_export, t_import = admin_import(bundle, Path(tmp))
                print(
                    f"neo4j-admin import: {n:,} relationships (+ {sum(rep.nodes.values()):,} nodes) imported in "
                    f"{t_import:.1f} s (JVM start included) -> {n / t_import:,.0f} rels/s; export-admin "
                    f"{t_export:.1f} s; x{(n / t_import) / batched:.1f} vs batched UNWIND, "
                    f"x{(n / t_import) / row_rate:.0f} vs one tx per row; {load_avg()}"
                )

            topk, card = warm_latencies(store, rng, args.saes, args.features, args.repeats)
            print(f"neighbors.top_k warm median {topk:.2f} ms (target 10 ms: ratio {topk / 10:.2f})")
            print(f"lookup.feature_card warm median {card:.2f} ms (target 10 ms: ratio {card / 10:.2f})")
    finally:
        _neo4j_cleanup(store, sae_ids)
        store.close()


if __name__ == "__main__":
    main()
