"""LASSO rows of the planted-truth benchmark (``bench_planted.py`` registers ``lasso_methods``).

1. Run the LASSO stage at default settings (``keep = "all"`` so every selected edge is scored)
   on the planted TRUE activations; the previous defaults (n_eff = sequences, empirical null
   tail, no effect floors, 25 firings) as a second row.
2. Rows: the kept set at q = 0.05 and q = 0.1 (claimed q, the null's estimate of the kept
   set's FDR), then one row per level r of the replicate-count table (edges seen in >= r of R
   replicates) with the table's estimated FDR (null edges / real edges at r), so the estimate
   stands next to the realized strictly-false proportion.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.stage import lasso_edges

PREVIOUS_DEFAULT = LassoConfig(
    n_eff="sequences",
    null_tail="empirical",
    min_abs_correlation=0.0,
    min_abs_coefficient=0.0,
    min_firings=25,
    fdr_control="bh",
)
"""LASSO as it was before issue 12."""


def lasso_methods(acts, seqs, seed: int, encoder=None) -> list:
    from tests.benchmarks.bench_planted import MethodResult

    positions = np.zeros(len(seqs), np.int64)
    starts = np.flatnonzero(np.r_[True, np.diff(seqs) != 0])
    positions = np.arange(len(seqs)) - np.repeat(starts, np.diff(np.r_[starts, len(seqs)]))
    rows = []
    variants = [("LASSO previous default", PREVIOUS_DEFAULT), ("LASSO default", LassoConfig())]
    for spec in filter(None, os.environ.get("SAEGRAPH_BENCH_LASSO_VARIANTS", "").split(";")):
        # e.g. "min_firings=5;rule=or": extra rows for a one-off comparison (values are ints or strings)
        key, _, value = spec.partition("=")
        variants.append(
            (f"LASSO {key}={value}", LassoConfig(**{key: int(value) if value.isdigit() else value}))
        )
    for label, cfg in variants:
        frame, stats = lasso_edges(acts, seqs, positions, replace(cfg, keep="all"), seed=seed)
        i, j = frame["i"].to_numpy(np.int64), frame["j"].to_numpy(np.int64)
        q = frame["qValue"].to_numpy()
        for level in (0.05, 0.1):
            k = q <= level
            est = stats["keptSet"]["estimatedFdr"] if level == cfg.fdr_q else None
            rows.append(MethodResult(f"{label} q <= {level}", i[k], j[k], claimed_q=level, est_fdr=est))
        if label == "LASSO default":
            counts = frame["nReplicates"].to_numpy()
            for row in stats["replicateCountTable"]:
                k = counts >= row["r"]
                rows.append(
                    MethodResult(
                        f"  LASSO seen in >= {row['r']} of {cfg.replicates}",
                        i[k],
                        j[k],
                        est_fdr=row["estimatedFdr"],
                    )
                )
    return rows
