"""Write ``docs/benchmarks.md`` (and ``docs/benchmarks/scaling.png``) from one ``run.py`` run."""

from __future__ import annotations

import time
from pathlib import Path

HOW_TO = """## Benchmarks

Run every benchmark and regenerate this page from the repository root:

```bash
python tests/benchmarks/run.py            # full sizes, ~20 min on 2 cores; rewrites this file
python tests/benchmarks/run.py --quick    # small sizes, < 3 min (what the smoke test runs, with --no-write)
python tests/benchmarks/run.py --only graph-stats --no-write   # one case, print only
```

Each case generates a seeded input of the stated size once, then runs the baseline and
saegraph's code on that same input, each in a fresh child process. A line reads: case |
sizes | baseline: seconds, peak | ours: seconds, peak | speed-up (baseline time / ours),
memory (our peak / baseline peak) | notes. **Peak** is the child's resident high-water mark
during the timed call (`VmHWM`, reset through `/proc/self/clear_refs` just before the call), so
it includes the interpreter (~150–300 MiB of imports) and the input; `+Δ` is the part above the
resident size just before the call. Where a baseline is too slow to run in full, a sample is
timed and extrapolated, and the line says so. `store-neo4j` runs only when `NEO4J_URI` is set.
The per-stage scripts (`bench_edges.py`, `bench_lasso.py`, `bench_store.py`,
`bench_activations.py`) give more detail on one stage each.

Cases (`--only NAME`, repeatable; `--only scaling` for the scaling run alone). Baselines
(`tests/benchmarks/baselines.py`) are what a careful notebook does today:

- `coactivation-dense`: dense `B.T @ B` on a float32 0/1 matrix (BLAS), then count and NPMI
  thresholds, vs `saegraph.ingest.edges.coactivation.stage.coactivation_edges` (exact hypergeometric p,
  BH, floors, top-k and all scores; the circular-shift null is switched off on both sides).
  Input: independent features with log-normal frequencies, so few or no pairs are significant
  while the baseline's thresholds keep chance pairs — the note gives both counts.
- `coactivation-sparse`: the same with `scipy.sparse` `B.T @ B`, at 16k features.
- `graph-stats`: `networkx` graph + degree + local clustering + `louvain_communities` vs
  `saegraph.queries.analysis` (`build_graph`, `centrality` incl. PageRank, `scalar_stats`, `louvain`
  on igraph), planted-partition graph; both modularities are printed.
- `lasso` / `lasso-path`: one literal LASSO replicate (`screen = "per_replicate"`; the real
  half: screen, Gram, batched path solve) vs per-node sklearn on the same subsample and
  candidates — `Lasso(warm_start=True, tol=1e-6)` refit per λ (`bench_lasso.sklearn_per_node`),
  or `lasso_path` with a precomputed Gram and sklearn's default tolerance (the fastest sklearn
  route); a sample of nodes is timed and extrapolated to every node with candidates. The
  default stage screens once and refits each replicate from sufficient statistics, several
  times cheaper again: `bench_lasso.py` times it against the co-activation pass.
- `matching`: dense cosine + `scipy.optimize.linear_sum_assignment` vs the kNN graph +
  `scipy.sparse.csgraph.min_weight_full_bipartite_matching` (both optima printed).
- `store-embedded`: one `MERGE` per row, one auto-committed transaction per row, into the
  embedded store (a sample of node and relationship rows timed, per-row cost extrapolated to
  the whole bundle) vs `load_bundle_embedded` (COPY from Arrow) of the whole bundle.
- `store-neo4j` (only with `NEO4J_URI`): the Neo4j loader with `batch_size=1` vs its batched
  `UNWIND`; ours runs first, so the baseline re-MERGEs rows that already exist.
"""

# Kept by hand (not measured by run.py): the figures the code cites instead of carrying them.
MEASURED_CHOICES = """## Measured design choices

Figures behind choices in the code, measured once on the 2-core reference machines (the code
cites this section instead of carrying the numbers):

- Cache-sized blocks (`ingest/edges/stats/blocks.py`): the co-activation count took 6.3 s
  against 9.7 s with 4096-row blocks (16k features × 256k tokens), the LASSO screen 3.3 s
  against 6.5 s with 16M-cell blocks (12k nodes × 256k tokens).
- Fewer threads on a loaded machine (`ingest/threads.py`): on 2 cores under load, 100 SAE
  training steps took 87.5 s with 2 threads and 26.2 s with 1.
- The demo's thread default (`saegraph/demo/pipeline.py`): SAE training was 3.3× slower with
  2 threads at load average 8 on 2 cores.
- Parallel COPYs into the embedded store (`ingest/stores/embedded.py`): 3 × 700k edges
  (2.13M relationships, `bench_store.py`, load average ~1) in 12.6–12.9 s (165–169k/s) with
  two threads against 16.1–17.5 s (122–132k/s) with one, at the same ~18–19 CPU seconds.
- Neo4j load (`ingest/stores/neo4j.py`, step 4; `bench_store.py --neo4j URI --admin`, 3 SAEs ×
  16,384 features, 2,132,768 relationships, local Neo4j 5.26.24 + GDS 2.13.9, heap 1 GiB,
  2 cores, 2026-11-30): `MERGE (a)-[r:T {runId}]->(b)` was planned on index statistics sampled
  before the load, so Neo4j answered the lookup from the `runId` relationship index and
  scanned the whole run for every row: 177 rels/s at 98k relationships (the same run: one
  transaction per row 112 rels/s). Expanding between the endpoints instead
  (`properties(x).runId`): 6,636 rels/s for the first load (x57 vs one transaction per row,
  117 rels/s), 8,308 rels/s for a re-load of the same run; `neo4j-admin database import full`
  of the `export-admin` files 53,553 rels/s (39.8 s including the JVM start, x8.1 vs batched
  `UNWIND`; the export itself 37.0 s); warm `neighbors.top_k` 4.97 ms and
  `lookup.feature_card` 3.95 ms (median of 200). The load is client-bound (179 of 321 s were
  this process's CPU, PackStream encoding in pure Python): with `neo4j-rust-ext` the same
  load of 308k relationships ran at 11,424–11,568 rels/s against 5,698 without it (x2.0; CPU
  7.4–7.8 s against 32.8 s), so it is a dependency.
- Hypergeometric upper tail by the pmf ratio recurrence (`ingest/edges/stats/significance.py`,
  `hypergeom_pvalues`): 2–400× faster than `scipy.stats.hypergeom.sf`, whose boost CDF costs
  up to ~0.2 ms a pair at N ~ 10⁵.
- Decoder kNN from one product pass (`ingest/edges/cosine/topk.py`): at 16,384 features,
  d = 2304 (random decoders, old and new in one run, each in a fresh process, 2 cores at load
  average 2.7–4.7 from other processes, 2026-11-30), COSINE's kNN (k 16, floor 0.3, 4096-row
  blocks, the upper triangle only) took 15.2 s against 27.1 s for every row against all rows
  (×1.78; CPU 9.9 s against 18.0 s), and MATCHES' kNN both ways (k 32, 2048-row blocks, one
  pass over A·Bᵀ instead of two) with the rotation null (2048 rotated rows of A instead of
  all of B rotated) 38.2 s against 63.0 s (×1.65; CPU 25.1 s against 41.2 s). Peak RSS
  716 against 1,260 MiB and 686 against 1,203 MiB, the inputs' generation (611 MiB) included.
  The same lists: A→B bitwise, B→A and COSINE within 3·10⁻⁷ (near-ties within one float32
  step may swap places).
"""


def _machine_md(info: dict, quick: bool) -> str:
    v = ", ".join(f"{k} {val}" for k, val in info["versions"].items())
    la, lb = info["load"], info.get("loadEnd", info["load"])
    return "\n".join(
        [
            f"- CPU: {info['cpu']}, {info['cores']} cores; RAM {info['ramGiB']} GiB; {info['platform']}",
            f"- Versions: {v}",
            f"- Threads: {', '.join(f'{k}={val}' for k, val in info['threads'].items())}",
            f"- Load average at start {la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f} (1/5/15 min), at end "
            f"{lb[0]:.2f} / {lb[1]:.2f} / {lb[2]:.2f}. A load above the core count means other processes "
            f"competed for the CPUs during this run, which inflates both sides' times and adds noise.",
            f"- Sizes: {'--quick' if quick else 'full'}; whole run {info['seconds'] / 60:.1f} min; "
            f"recorded {time.strftime('%Y-%m-%d %H:%M %Z')}",
        ]
    )


def write(docs: Path, info: dict, rows: list[dict], scaling: dict | None, *, quick: bool) -> Path:
    parts = [
        "# Benchmarks: saegraph against what researchers use today",
        "",
        "This file is regenerated by `python tests/benchmarks/run.py`; do not edit the results by hand.",
        "",
        HOW_TO,
        MEASURED_CHOICES,
        "## Machine of the recorded run",
        "",
        _machine_md(info, quick),
        "",
        "## Results",
        "",
        "```",
    ]
    for r in rows:
        parts.append(r.get("line") or f"{r['case']} | FAILED: {r.get('error', '').splitlines()[0]}")
    parts += ["```", ""]
    if scaling is not None:
        import scaling as scaling_mod

        png = scaling_mod.plot(scaling, docs / "benchmarks" / "scaling.png")
        parts += [
            "## Scaling",
            "",
            scaling_mod.__doc__.split("\n\n", 1)[1].strip(),
            "",
            scaling_mod.markdown_table(scaling),
            "",
            f"![stage time vs size](benchmarks/{png.name})",
            "",
        ]
    out = docs / "benchmarks.md"
    out.write_text("\n".join(parts))
    return out
