"""The demo's summary: what a researcher reads first (pure: analysis results in, dict/text out).

1. Top communities of each SAE's CO_ACTIVATES graph: size and the tokens their members
   fire on most (``partition_summary``), with the partition's modularity.
2. Degree-distribution JSD (bits) between the two SAEs' graphs, beside the same JSD
   against G(n, m) and degree-preserving nulls and the null-vs-null floor
   (``saegraph.queries.analysis.structure.floor_verdict``) — the seed's "0.15 vs 0.73" comparison.
3. The fraction of features shared one-to-one at each decoder-cosine threshold, and the
   mean max cosine against its random baseline when available.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def community_rows(result: dict, top: int = 5) -> list[dict]:
    table: pd.DataFrame = result["summary"]
    rows = []
    for _, r in table.head(top).iterrows():
        rows.append(
            {
                "community": int(r["community"]),
                "size": int(r["size"]),
                "topTokens": [str(t) for t in list(r["topTokens"])[:8]],
            }
        )
    return rows


def jsd_rows(comparison: dict) -> dict:
    from saegraph.queries.analysis.structure import floor_verdict

    out = {}
    jsd = comparison.get("jsd")
    if jsd is None or jsd.empty:
        return out
    for null in sorted(set(jsd["null"]) - {"observed"}):
        try:
            out[null] = floor_verdict(jsd, "degree", null)
        except (IndexError, KeyError):
            continue
    return out


def shared_rows(comparison: dict) -> list[dict]:
    table = comparison.get("universality_shared")
    if table is None:
        return []
    return [
        {k: (_num(v) if k != "nShared" else int(v)) for k, v in r.items()} for r in table.to_dict("records")
    ]


def build_summary(
    communities: dict[str, dict], comparison: dict, settings, extra: dict, timings: dict, cores: int = 0
) -> dict:
    """The JSON-able summary of one demo run."""
    info = comparison.get("info", {})
    graphs = comparison.get("graphs")
    mcs = comparison.get("universality_mcs")
    return {
        "mode": "quick (synthetic)" if settings.quick else "full (all-MiniLM-L6-v2 on Python stdlib text)",
        "communities": {
            sid: {
                "modularity": _num(res["info"].get("modularity")),
                "nCommunities": res["info"].get("nCommunities"),
                "edges": res["info"].get("edges"),
                "top": community_rows(res),
            }
            for sid, res in communities.items()
        },
        "degreeJsd": jsd_rows(comparison),
        "jsdNote": info.get("jsd", ""),
        "graphs": graphs.to_dict("records") if isinstance(graphs, pd.DataFrame) else [],
        "shared": shared_rows(comparison),
        "meanMaxCosine": mcs.to_dict("records") if isinstance(mcs, pd.DataFrame) else [],
        "matching": info.get("matching", ""),
        **extra,
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "cores": cores,
    }


def format_summary(summary: dict) -> str:
    """Plain-text rendering for the terminal."""
    lines = [f"saegraph demo: {summary['mode']}", ""]
    for sid, st in summary.get("saeTraining", {}).items():
        lines.append(
            f"SAE {sid} (seed {st['seed']}{', cached' if st['cached'] else ''}): FVU {st['fvu']:.3f}, "
            f"L0 {st['l0']:.1f}, dead {100 * st['deadFraction']:.1f}%"
        )
    for sid, c in summary["communities"].items():
        mod = c["modularity"]
        lines.append(
            f"\nTop CO_ACTIVATES communities of {sid} ({c['nCommunities']} communities over {c['edges']} edges, "
            f"modularity {mod:.3f}):"
            if mod is not None
            else f"\nTop communities of {sid}:"
        )
        for r in c["top"]:
            lines.append(
                f"  #{r['community']:<4} {r['size']:>4} features  {' '.join(repr(t) for t in r['topTokens'])}"
            )
    lines.append(
        "\nDegree-distribution JSD (bits), demo-a vs demo-b, beside demo-a vs a random G(n, m) graph:"
    )
    for null, v in summary["degreeJsd"].items():
        if null == "rewire":  # a degree-preserving null has the same degrees by construction
            continue
        lines.append(
            f"  observed {v['observed']:.3f} | A vs {null} null {v['baselineMean']:.3f} ± {v['baselineSd']:.3f}"
            f" | {null} null vs null {v['floorMean']:.3f} ± {v['floorSd']:.3f}"
        )
    if summary["shared"]:
        lines.append("\nFeatures shared one-to-one (decoder cosine >= tau):")
        lines.append(
            "  "
            + "  ".join(f"tau {r['threshold']:.1f}: {100 * r['fractionOfA']:.1f}%" for r in summary["shared"])
        )
    else:
        lines.append(f"\nShared features: {summary.get('matching') or 'no MATCHES'}")
    lines.append(
        "\nTimes (s): "
        + ", ".join(f"{k} {v}" for k, v in summary["timings"].items())
        + (f" on {summary['cores']} cores" if summary.get("cores") else "")
    )
    return "\n".join(lines)
