"""Scale benchmark (opt-in): the edge pipeline at Gemma-Scope width on input with planted structure.

Run from the repository root (the full run takes hours on 2 cores and ~3 GiB of disk per token count):
    python tests/benchmarks/bench_scale.py --features 131072 --tokens 250000,500000,1000000 \\
        --l0 64 --d 2304 --out DIR
    python tests/benchmarks/bench_scale.py --quick --out DIR   # F 4,096, 32,768 tokens, L0 32, d 256, R 4
``--decoder-stages-once`` runs cosine and matches (they read decoders only) at the largest count
only; ``--rate-cap`` sets the densest features' rate (default 0.25: ~25 latents above 20 %
density at 131k, which the LASSO stage takes as covariates of every regression).

Steps:
1. Warm-up: every stage once on a tiny bundle in one child process (numba's disk cache), not reported.
2. For each token count, in order, each stage in a fresh child process (``--worker``): bundle
   write (``scale_bundle.write_bundle``: the generator of ``scale_input`` streamed chunk by
   chunk into the bundle), then the real runner ``run_edges(bundle, cfg, only=[stage])`` for
   co-activation (with its circular-shift null), LASSO (replicates R, default 30), cosine
   kNN, matches A-B (SAE B's rows are added first, untimed: ``scale_bundle.add_sae_b``), and
   ``load_bundle_embedded`` into a new embedded store. Configs are the defaults except R.
3. Per stage: wall seconds of the call, CPU seconds of the child during it (user + system, all
   threads), the child's peak resident memory (``VmHWM`` of the child: its whole life, imports
   and input included; ``ru_maxrss`` would also count the parent's pages inherited at fork),
   edges kept, precision / recall against the planted pairs
   (``scale_bundle.TRUTH_NOTE``).
4. Output (``scale_report``): a Markdown table (printed, DIR/scale.md) and DIR/scale.json; per
   stage the log-log slope of time against tokens, the affine cost fit (fixed + per-token x N)
   and from it the time and the peak at 10M tokens; the edge pipeline (co-activation + LASSO +
   cosine + matches) against the targets: < 30 min and < 8 GiB at 1M tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from scale_input import ScaleSpec  # noqa: E402
from scale_report import EDGE_STAGES, TOKEN_FREE, fits, markdown, targets  # noqa: E402

STAGES = ("write", "coactivation", "lasso", "cosine", "matches", "load")
# quick: L0 32 (L0 64 at 4,096 features is a 1.6 % mean density and the LASSO solve alone then takes
# ~45 s on 2 shared cores)
QUICK = {"features": 4096, "tokens": [32_768], "d": 256, "replicates": 4, "l0": 32.0}
RESULT = "RESULT "


# ---------------------------------------------------------------- child process


def work(stage: str, spec: ScaleSpec, bundle: Path, truth: Path, replicates: int) -> dict:
    """Run one stage on ``bundle`` and measure it (in a child process)."""
    from scale_bundle import add_sae_b, score, stage_note, write_bundle

    pre = add_sae_b(bundle) if stage == "matches" else 0.0
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    if stage == "write":
        info = write_bundle(spec, bundle, truth)
    elif stage in EDGE_STAGES:
        from saegraph.ingest.config import EdgesConfig, LassoConfig
        from saegraph.ingest.edges.runner import run_edges

        cfg = EdgesConfig(lasso=LassoConfig(replicates=replicates))
        info = run_edges(bundle, cfg, only=[stage], progress=False)[stage]
    elif stage == "load":
        from saegraph.ingest.stores.embedded import load_bundle_embedded
        from saegraph.queries import open_store

        store = open_store(store_dir=bundle.parent / "store")
        rep = load_bundle_embedded(bundle, store, progress=False)
        store.close()
        info = {"nodes": rep.nodes, "relationships": rep.relationships, "copyThreads": rep.copy_threads}
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "stage": stage,
        "seconds": seconds,
        "cpuSeconds": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
        "peakGiB": peak_kib() / 2**20,
        "info": info,
        "edgeRows": score(stage, bundle, truth) if stage in EDGE_STAGES else [],
        "note": stage_note(stage, info, pre),
    }
    return out


def peak_kib() -> float:
    """This process's resident high-water mark: ``VmHWM`` (belongs to the exec'd image, so it never
    counts the parent's pages that ``ru_maxrss`` inherits across fork + exec), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _worker(stage: str, spec: ScaleSpec, wdir: Path | str, replicates: int, timeout: float):
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        stage,
        "--spec",
        json.dumps(asdict(spec)),
    ]
    cmd += ["--work-dir", str(wdir), "--lasso-replicates", str(replicates)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def run_child(stage: str, spec: ScaleSpec, wdir: Path, replicates: int, timeout: float) -> dict:
    """One stage in a fresh child process; its RESULT line (raises with the child's stderr tail)."""
    proc = _worker(stage, spec, wdir, replicates, timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-10:])
    raise RuntimeError(f"stage {stage} failed (exit {proc.returncode}):\n{tail}")


def warm_up(timeout: float) -> float:
    """Every stage once on a tiny bundle in one child (compiles / loads numba's disk cache)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="saegraph-scale-warm-") as tmp:
        proc = _worker("all", ScaleSpec(features=512, tokens=8192, l0=16.0, d=32), tmp, 2, timeout)
        if proc.returncode:
            raise RuntimeError("warm-up failed:\n" + "\n".join(proc.stderr.strip().splitlines()[-10:]))
    return time.perf_counter() - t0


# ---------------------------------------------------------------- main


def run(args, base: ScaleSpec, token_counts: list[int], out: Path) -> dict:
    import harness

    info = harness.machine()
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, {info['ramGiB']} GiB RAM, load average "
        f"{info['load'][0]:.2f}; F {base.features:,}, L0 {base.l0:g}, d {base.d}, LASSO R {args.lasso_replicates}",
        flush=True,
    )
    if not args.quick:  # quick: stage times are not the point, and the smoke run stays short
        print(f"warm-up {warm_up(args.timeout):.1f} s", flush=True)
    res = {"spec": asdict(base), "machine": info, "replicates": args.lasso_replicates, "rows": []}
    for n in token_counts:
        spec = replace(base, tokens=n)
        wdir = out / "work" / f"tokens-{n}"
        shutil.rmtree(wdir, ignore_errors=True)
        wdir.mkdir(parents=True)
        for stage in STAGES:
            if args.decoder_stages_once and stage in TOKEN_FREE and n != max(token_counts):
                continue
            try:
                r = run_child(stage, spec, wdir, args.lasso_replicates, args.timeout)
            except Exception as exc:  # report and go on with the next token count
                print(f"[{n:,}] {stage}: FAILED {exc}", flush=True)
                res["rows"].append({"tokens": spec.n_sequences * 128, "stage": stage, "error": str(exc)})
                break
            r["tokens"] = spec.n_sequences * 128
            res["rows"].append(r)
            edges = ", ".join(
                f"{e['type']} {e['edges']:,} (P {e['precision']:.3f}, R {e['recall']:.3f})"
                for e in r["edgeRows"]
            )
            print(
                f"[{r['tokens']:,}] {stage}: {r['seconds']:.1f} s, CPU {r['cpuSeconds']:.1f} s, peak "
                f"{r['peakGiB']:.2f} GiB {edges} {r['note']}",
                flush=True,
            )
        if not args.keep:
            shutil.rmtree(wdir, ignore_errors=True)
    from scale_bundle import TRUTH_NOTE

    res["truthNote"] = TRUTH_NOTE
    res["fits"] = fits(res)
    res["targets"] = targets(res)
    res["machine"]["loadEnd"] = os.getloadavg()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", type=int, default=131_072)
    ap.add_argument(
        "--tokens", default="1000000", help="comma-separated token counts (rounded up to sequences)"
    )
    ap.add_argument("--l0", type=float, default=64.0)
    ap.add_argument("--d", type=int, default=2304)
    ap.add_argument("--lasso-replicates", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="output directory (default: a temp directory)")
    ap.add_argument("--quick", action="store_true", help="F 4,096, 32,768 tokens, L0 32, d 256, LASSO R 4")
    ap.add_argument(
        "--rate-cap", type=float, default=ScaleSpec.rate_cap, help="largest firing rate (density)"
    )
    ap.add_argument(
        "--decoder-stages-once",
        action="store_true",
        help="run cosine and matches (which read decoders only) at the largest token count only",
    )
    ap.add_argument("--keep", action="store_true", help="keep the bundles under OUT/work/")
    ap.add_argument("--timeout", type=float, default=4 * 3600.0, help="seconds per stage")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    ap.add_argument("--work-dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        spec = ScaleSpec(**json.loads(args.spec))
        bundle, truth = args.work_dir / "bundle", args.work_dir / "truth.npz"
        for stage in STAGES if args.worker == "all" else [args.worker]:
            r = work(stage, spec, bundle, truth, args.lasso_replicates)
        print(RESULT + json.dumps(r, default=float), flush=True)
        return 0
    if args.quick:
        args.features, args.d, args.lasso_replicates = QUICK["features"], QUICK["d"], QUICK["replicates"]
        args.l0 = QUICK["l0"]
        counts = QUICK["tokens"]
    else:
        counts = [int(float(x)) for x in args.tokens.split(",") if x.strip()]
    base = ScaleSpec(
        features=args.features, tokens=counts[0], l0=args.l0, d=args.d, seed=args.seed, rate_cap=args.rate_cap
    )
    out = args.out or Path(tempfile.mkdtemp(prefix="saegraph-scale-"))
    out.mkdir(parents=True, exist_ok=True)
    res = run(args, base, counts, out)
    text = markdown(res)
    print("\n" + text, flush=True)
    (out / "scale.md").write_text(text + "\n")
    (out / "scale.json").write_text(json.dumps(res, indent=2, default=float))
    print(f"wrote {out / 'scale.md'} and {out / 'scale.json'}", flush=True)
    return 1 if any("error" in r for r in res["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
