"""The LASSO stage's statistics over every SAE of the bundle.

1. ``combined_count_table``: the replicate-count table ("edges seen in >= r replicates vs
   expected null edges vs estimated FDR") summed over the SAEs, row by row; the estimated FDR
   is null / real edges, capped at 1.
2. ``stage_stats``: the stage's method, caveats, settings, the combined table, the edge count
   and the per-SAE statistics, as committed to the bundle manifest.
"""

from __future__ import annotations

from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.report import CAVEATS, SCREEN_NAMES, null_name

METHOD = (
    "nodewise LASSO (Meinshausen-Buhlmann) on standardized Gram blocks after a Fisher-z BH "
    "screen; lambda by EBIC; AND rule; R whole-sequence subsamples each with a matched null; "
    "per-edge empirical p from null replicate counts within endpoint-frequency strata; BH"
)


def combined_count_table(per_sae: dict[str, dict]) -> list[dict]:
    """Every SAE's replicate-count table summed row by row (step 1)."""
    combined = []
    for row_idx, row in enumerate(next(iter(per_sae.values()))["replicateCountTable"] if per_sae else []):
        real = sum(s["replicateCountTable"][row_idx]["edges"] for s in per_sae.values())
        nul = sum(s["replicateCountTable"][row_idx]["nullEdges"] for s in per_sae.values())
        combined.append(
            {
                "r": row["r"],
                "edges": real,
                "nullEdges": nul,
                "estimatedFdr": float(min(1.0, nul / real)) if real else float(nul > 0),
            }
        )
    return combined


def stage_stats(config: LassoConfig, per_sae: dict[str, dict], edges: int) -> dict:
    """The stage's statistics (step 2)."""
    return {
        "method": METHOD,
        "caveats": CAVEATS,
        "replicates": config.replicates,
        "fdrLevel": config.fdr_q,
        "nEffMode": config.n_eff,
        "null": null_name(config.null, config.screen),
        "screen": SCREEN_NAMES[config.screen],
        "replicateCountTable": combined_count_table(per_sae),
        "edges": int(edges),
        "perSae": per_sae,
    }
