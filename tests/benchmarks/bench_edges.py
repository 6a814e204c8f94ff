"""Benchmark the edge stages against named baselines, each case in a forked child process.

Run:  python tests/benchmarks/bench_edges.py            (full sizes, tens of minutes)
      python tests/benchmarks/bench_edges.py --quick    (smoke run, seconds)

Cases (every one on the same generated input within a run):
1. co-activation counting at F features x N tokens x L0: scipy.sparse ``B.T @ B`` (the
   baseline) vs our blocked pass (counts + exact p-values) — time and peak RSS ratios.
2. the wide top-k pass (default 131k features) — time and peak RSS of our pass alone
   (a dense F x F baseline would need F²·4 bytes).
3. one-to-one matching at F: dense ``linear_sum_assignment`` vs sparse
   ``min_weight_full_bipartite_matching`` on the kNN graph (same decoders).
Peak memory: what the method allocates on top of the input (``tracemalloc`` peak, which
sees every numpy buffer), printed beside the child's resident high-water mark (VmHWM).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def in_child(fn, *args):
    """Run fn(*args) in a forked child; return (result, seconds, (child VmHWM, traced peak) MiB).

    The traced peak (``tracemalloc``, which sees every numpy buffer) is the memory the method
    allocates on top of the shared input; VmHWM is the child's whole resident high-water mark."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            tracemalloc.start()
            t0 = time.perf_counter()
            out = fn(*args)
            secs = time.perf_counter() - t0
            _, peak = tracemalloc.get_traced_memory()
            payload = pickle.dumps(((out, peak_rss_mb(), peak / 2**20), secs, None))
        except BaseException as exc:  # report, never hang the parent
            payload = pickle.dumps((None, 0.0, repr(exc)))
        with os.fdopen(w, "wb") as fh:
            fh.write(payload)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    res, secs, err = pickle.loads(data)
    if err:
        raise RuntimeError(f"benchmark child failed: {err}")
    out, hwm, traced = res
    return out, secs, (hwm, traced)


def synthetic_acts(n_tokens: int, n_features: int, l0: float, seed: int) -> sp.csr_matrix:
    """Token x feature activations with log-normal feature frequencies and Poisson(L0) per token."""
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0.0, 1.0, n_features)
    weights /= weights.sum()
    per_token = rng.poisson(l0, n_tokens)
    rows = np.repeat(np.arange(n_tokens, dtype=np.int64), per_token)
    cols = rng.choice(n_features, size=rows.size, p=weights).astype(np.int64)
    key = np.unique(rows * n_features + cols)
    rows, cols = key // n_features, (key % n_features).astype(np.int32)
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n_tokens))].astype(np.int64)
    data = rng.uniform(0.1, 5.0, cols.size).astype(np.float32)
    return sp.csr_matrix((data, cols, indptr), shape=(n_tokens, n_features))


def scipy_gram(acts):
    b = acts.copy()
    b.data[:] = 1.0
    b = b.astype(np.float32)
    c = (b.T @ b).tocsr()
    return int(c.nnz)


def our_pass(acts, block_memory_mb):
    from saegraph.ingest.edges.coactivation.stage import binary_pattern, significant_candidates
    from saegraph.ingest.edges.stats.moments import column_moments

    indptr, indices = binary_pattern(acts)
    n_fires = column_moments(acts).firings
    cand, stats = significant_candidates(
        indptr, indices, n_fires, min_count=5, q=0.01, block_rows=4096, block_memory_mb=block_memory_mb
    )
    return stats


def warm_kernels():
    """Compile numba kernels (cached on disk) outside the timed children."""
    small = synthetic_acts(200, 50, 5, 0)
    our_pass(small, 1)
    from saegraph.ingest.edges.cosine.kernel import blocked_topk

    x = np.eye(4, dtype=np.float32)
    blocked_topk(x, x, 2)


def decoders_for_matching(n_features: int, d: int, seed: int):
    rng = np.random.default_rng(seed)
    w_a = rng.standard_normal((n_features, d)).astype(np.float32)
    perm = rng.permutation(n_features)
    w_b = rng.standard_normal((n_features, d)).astype(np.float32)
    shared = perm[: n_features // 2]  # half the features are shared (perturbed), half are new
    w_b[shared] = w_a[shared] + 0.5 * rng.standard_normal((shared.size, d)).astype(np.float32)
    return w_a, w_b


def dense_matching(w_a, w_b, floor):
    from saegraph.ingest.edges.cosine.kernel import normalize_rows
    from saegraph.ingest.edges.matches.matching import dense_one_to_one, matching_cost

    a, b = normalize_rows(w_a), normalize_rows(w_b)
    t0 = time.perf_counter()
    sims = a @ b.T
    t_mm = time.perf_counter() - t0
    _, _, cos = dense_one_to_one(sims, floor)
    return {"matched": int(cos.size), "cost": matching_cost(cos, a.shape[0], floor), "secondsMatmul": t_mm}


def sparse_matching(w_a, w_b, floor, knn):
    from saegraph.ingest.edges.matches.matching import matching_cost
    from saegraph.ingest.edges.matches.stage import match_saes

    res = match_saes(w_a, w_b, knn=knn, match_floor=floor, dense_max=0)
    cos = res.matched[2]
    return {
        "matched": int(cos.size),
        "cost": matching_cost(cos, w_a.shape[0], floor),
        "secondsKnn": res.stats["secondsKnn"],
        "secondsMatching": res.stats["secondsMatching"],
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", type=int, default=16_384)
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--l0", type=float, default=50.0)
    ap.add_argument("--wide-features", type=int, default=131_072)
    ap.add_argument("--match-features", type=int, default=16_384)
    ap.add_argument("--d", type=int, default=512, help="decoder width for the matching case")
    ap.add_argument("--block-memory-mb", type=int, default=512)
    ap.add_argument("--skip", action="append", default=[], choices=["gram", "wide", "matching"])
    ap.add_argument("--quick", action="store_true", help="tiny sizes for a smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        args.features, args.tokens, args.wide_features, args.match_features, args.d = (
            2048,
            50_000,
            8192,
            1024,
            64,
        )
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (shared machine: other "
        f"processes compete for the cores), NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'default')}"
    )
    warm_kernels()

    if "gram" not in args.skip:
        acts = synthetic_acts(args.tokens, args.features, args.l0, 1)
        base = rss_mb()
        csr_mib = (acts.data.nbytes + acts.indices.nbytes + acts.indptr.nbytes) / 2**20
        print(
            f"\n[1] co-activation, {args.features:,} features x {args.tokens:,} tokens, "
            f"L0 {acts.nnz / args.tokens:.1f}; input CSR {csr_mib:.0f} MiB, "
            f"parent RSS {base:.0f} MiB"
        )
        nnz, t_sp, (m_sp, x_sp) = in_child(scipy_gram, acts)
        print(
            f"    scipy B.T @ B          {t_sp:8.1f} s  peak RSS {m_sp:7.0f} MiB "
            f"(+{x_sp:.0f} allocated)  nnz(C)={nnz:,}"
        )
        st, t_ours, (m_ours, x_ours) = in_child(our_pass, acts, args.block_memory_mb)
        print(
            f"    blocked counts + exact p {t_ours:6.1f} s  peak RSS {m_ours:7.0f} MiB (+{x_ours:.0f} allocated)  "
            f"(counting {st['secondsCounting']:.1f} s, scan+prescreen {st['secondsScanning']:.1f} s, "
            f"exact p {st['secondsExactP']:.1f} s for {st['pairsExactTested']:,} pairs)"
        )
        print(
            f"    ratio: {t_sp / t_ours:.2f}x faster; peak RSS {m_ours / m_sp:.2f}x of scipy's "
            f"(extra over input {x_ours / max(x_sp, 1):.2f}x); "
            f"counting alone {t_sp / st['secondsCounting']:.1f}x faster"
        )
        del acts

    if "wide" not in args.skip:
        acts = synthetic_acts(args.tokens, args.wide_features, args.l0, 2)
        base = rss_mb()
        print(
            f"\n[2] wide pass, {args.wide_features:,} features x {args.tokens:,} tokens; dense F x F int32 "
            f"would be {args.wide_features**2 * 4 / 2**30:.0f} GiB; parent RSS {base:.0f} MiB"
        )
        st, t_w, (m_w, x_w) = in_child(our_pass, acts, args.block_memory_mb)
        print(
            f"    blocked counts + exact p {t_w:6.1f} s  peak RSS {m_w:7.0f} MiB ({m_w / 1024:.2f} GiB; "
            f"+{x_w:.0f} allocated); block rows {st['blockRows']}; counting {st['secondsCounting']:.1f} s, "
            f"scan+prescreen {st['secondsScanning']:.1f} s, exact p {st['secondsExactP']:.1f} s "
            f"for {st['pairsExactTested']:,} pairs"
        )
        del acts

    if "matching" not in args.skip:
        w_a, w_b = decoders_for_matching(args.match_features, args.d, 3)
        print(
            f"\n[3] one-to-one matching, {args.match_features:,} x {args.match_features:,} features, d={args.d}"
        )
        dn, t_d, (m_d, _) = in_child(dense_matching, w_a, w_b, 0.3)
        print(
            f"    dense linear_sum_assignment {t_d:7.1f} s (matmul {dn['secondsMatmul']:.1f} s) "
            f"peak RSS {m_d:6.0f} MiB  matched {dn['matched']:,} cost {dn['cost']:.3f}"
        )
        sn, t_s, (m_s, _) = in_child(sparse_matching, w_a, w_b, 0.3, 32)
        print(
            f"    sparse kNN + LAPJVsp        {t_s:7.1f} s (kNN {sn['secondsKnn']:.1f} s, matching "
            f"{sn['secondsMatching']:.2f} s) peak RSS {m_s:6.0f} MiB  matched {sn['matched']:,} cost {sn['cost']:.3f}"
        )
        print(
            f"    ratio: {t_d / t_s:.1f}x faster overall; assignment step alone "
            f"{(t_d - dn['secondsMatmul']) / max(sn['secondsMatching'], 1e-9):.0f}x; same optimum: "
            f"{abs(dn['cost'] - sn['cost']) < 1e-3 * max(dn['cost'], 1)}"
        )


if __name__ == "__main__":
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    main()
