"""The demo's summary: what a researcher reads first (pure: analysis results in, dict/text out).

1. Features: one definition of dead (never fired on the graph's text, the bundle's
   ``features`` stats); alive features without CO_ACTIVATES edges are counted apart.
2. Edges of every type from the bundle's manifest stats, read by key (a missing key is left
   out, never guessed): kept edges, the FDR level, and what the matched null kept (its
   count over the real count estimates the false-discovery proportion); a top-k cap on
   CO_ACTIVATES degree is stated when one was applied.
3. Communities of each SAE's CO_ACTIVATES graph: communities of two or more features apart
   from singletons, the top ones with their tokens, and the partition's modularity.
4. Degree-distribution JSD (bits) between the two SAEs' graphs, beside the null-vs-null
   floor and A against a random G(n, m) graph, with a plain-words verdict (``jsd_verdict``).
5. Mean max decoder cosine beside its random baseline, and the fraction of features shared
   one-to-one at each threshold beside its chance level (``chance_shared``: random unit
   directions in the hook's width).
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


def _get(d: Any, *keys: str) -> Any:
    """``d[k1][k2]...`` or None when any level is missing (stats keys change between versions)."""
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def chance_shared(tau: float, d: int, n_b: int) -> float:
    """P(a random unit direction in R^d has cosine >= tau with at least one of n_b random
    ones): 1 - (1 - p)^n_b, p = P(cos >= tau) = I_{1-tau^2}((d-1)/2, 1/2) / 2. An upper bound
    on chance one-to-one sharing (matching only lowers it)."""
    from scipy.special import betainc

    if d < 2 or tau <= 0:
        return 1.0
    p = 0.5 * float(betainc((d - 1) / 2.0, 0.5, 1.0 - tau * tau))
    return float(-math.expm1(n_b * math.log1p(-p))) if p < 1 else 1.0


def jsd_verdict(v: dict) -> str:
    """One line: is the observed JSD at the null-vs-null floor, or towards a random graph?"""
    obs, floor, sd, base = v["observed"], v["floorMean"], v["floorSd"], v["baselineMean"]
    if obs <= floor + 2 * sd:
        return "verdict: as close as two random graphs of the same size: the degree distributions agree"
    z = f" ({(obs - floor) / sd:.0f} sd above the floor)" if sd > 0 else ""
    if obs < 0.5 * base:
        return (
            f"verdict: measurably different{z}, but {base / max(obs, 1e-12):.0f}x closer to each other "
            "than to a random graph: similar degree distributions"
        )
    return f"verdict: different{z}, about as far apart as from a random graph"


def feature_rows(stats: dict, graphs: list[dict]) -> dict:
    out = {}
    isolated = {g.get("saeId"): g.get("isolated") for g in graphs}
    for sid, st in (_get(stats, "features") or {}).items():
        if not isinstance(st, dict) or "features" not in st:
            continue
        out[sid] = {
            "features": st["features"],
            "dead": st.get("dead"),
            "isolated": isolated.get(sid),
            "meanL0": st.get("meanL0"),
        }
    return out


def edge_rows(stats: dict) -> list[dict]:
    """Step 2 of the module docstring; each row: type, sae, edges, fdr, nullKept, note."""
    rows = []
    co = _get(stats, "coactivation") or {}
    for sid, st in (co.get("perSae") or {}).items():
        kept = st.get("kept")
        rows.append(
            {
                "type": "CO_ACTIVATES",
                "sae": sid,
                "edges": kept,
                "fdr": st.get("fdrQ", co.get("fdrLevel")),
                "nullKept": _get(st, "null", "kept"),
                "null": _get(st, "null", "name") or co.get("nullName"),
                "topK": st.get("topK"),
            }
        )
        exc = st.get("excludes")
        if isinstance(exc, dict) and "kept" in exc:
            rows.append(
                {
                    "type": "EXCLUDES",
                    "sae": sid,
                    "edges": exc.get("kept"),
                    "fdr": exc.get("fdrQ", st.get("fdrQ")),
                    "nullKept": _get(st, "null", "excludesKept"),
                    "null": _get(st, "null", "name"),
                }
            )
    lasso = _get(stats, "lasso") or {}
    for sid, st in (lasso.get("perSae") or {}).items():
        kept = st.get("keptSet") if isinstance(st.get("keptSet"), dict) else {}
        est = kept.get("estimatedFdr")
        rows.append(
            {
                "type": "LASSO",
                "sae": sid,
                "edges": kept.get("edges", st.get("significantEdges", st.get("edges"))),
                "fdr": st.get("fdrLevel", lasso.get("fdrLevel")),
                "nullKept": kept.get("nullEdgesAtCut", kept.get("nullEdgesAtMinReplicates")),
                "estimatedFdr": est,
                "rule": "null (target-decoy) cut" if "cutPValue" in kept else "BH",
                "null": "matched null replicates",
                "note": _lasso_note(st, lasso),
            }
        )
    if lasso and not lasso.get("perSae"):
        rows.append(
            {"type": "LASSO", "sae": "all", "edges": lasso.get("edges"), "fdr": lasso.get("fdrLevel")}
        )
    cos = _get(stats, "cosine") or {}
    for sid, st in (cos.get("perSae") or {}).items():
        rows.append(
            {
                "type": "COSINE",
                "sae": sid,
                "edges": st.get("edges"),
                "note": f"top {st.get('topK')} decoder neighbours with cosine >= {st.get('minSimilarity')}",
            }
        )
    for pair, st in (_get(stats, "matches", "pairs") or {}).items():
        rows.append(
            {
                "type": "MATCHES",
                "sae": pair,
                "edges": st.get("matched"),
                "note": f"one-to-one matches with cosine >= {st.get('matchFloor')}"
                + (f", {st['mutualNearest']} mutual nearest" if "mutualNearest" in st else ""),
            }
        )
    return rows


def _lasso_note(st: dict, lasso: dict) -> str | None:
    """Replicates; and when the kept set is empty, the replicate table's best set at or below the FDR
    level, so that an empty kept set is not read as "no dependence" (docs/methods.md, LASSO)."""
    reps = st.get("replicates", lasso.get("replicates"))
    note = f"{reps} resampling replicates" if reps is not None else None
    kept_set = st.get("keptSet")
    kept: dict = kept_set if isinstance(kept_set, dict) else {}
    level = st.get("fdrLevel", lasso.get("fdrLevel"))
    table = st.get("replicateCountTable") or []
    ok = [r for r in table if r.get("edges") and level is not None and r.get("estimatedFdr", 1.0) <= level]
    if kept.get("edges") == 0 and ok:
        best = max(ok, key=lambda r: r["edges"])
        note = (note + "; " if note else "") + (
            f"none passed the FDR cut, but {best['edges']} edges were seen in >= {best['r']} "
            f"replicates against {best['nullEdges']} null edges (estimated FDR {100 * best['estimatedFdr']:.1f}%)"
        )
    return note


def community_rows(result: dict, top: int = 5) -> list[dict]:
    table: pd.DataFrame = result["summary"]
    table = table[table["size"] > 1]
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

    out: dict[str, dict[str, float]] = {}
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
    communities: dict[str, dict],
    comparison: dict,
    settings,
    extra: dict,
    timings: dict,
    cores: int = 0,
    stats: dict | None = None,
) -> dict:
    """The JSON-able summary of one demo run; ``stats``: the bundle manifest's ``stats``."""
    info = comparison.get("info", {})
    graphs = comparison.get("graphs")
    mcs = comparison.get("universality_mcs")
    stats = stats or {}
    graph_rows = graphs.to_dict("records") if isinstance(graphs, pd.DataFrame) else []
    pair: dict = next(iter((_get(stats, "matches", "pairs") or {}).values()), {})
    d_in, n_b = pair.get("dIn"), pair.get("nFeaturesB")
    shared = shared_rows(comparison)
    for r in shared:
        r["chance"] = chance_shared(r["threshold"], int(d_in), int(n_b)) if d_in and n_b else None
    return {
        "mode": "quick (synthetic)" if settings.quick else "full (all-MiniLM-L6-v2 on Python stdlib text)",
        "communities": {
            sid: {
                "modularity": _num(res["info"].get("modularity")),
                "nCommunities": res["info"].get("nCommunities"),
                "nGrouped": int((res["summary"]["size"] > 1).sum()),
                "featuresGrouped": int(res["summary"].loc[res["summary"]["size"] > 1, "size"].sum()),
                "nSingletons": int((res["summary"]["size"] == 1).sum()),
                "edges": res["info"].get("edges"),
                "top": community_rows(res),
            }
            for sid, res in communities.items()
        },
        "degreeJsd": jsd_rows(comparison),
        "jsdNote": info.get("jsd", ""),
        "graphs": graph_rows,
        "features": feature_rows(stats, graph_rows),
        "edgeCounts": edge_rows(stats),
        "dIn": d_in,
        "shared": shared,
        "meanMaxCosine": mcs.to_dict("records") if isinstance(mcs, pd.DataFrame) else [],
        "matching": info.get("matching", ""),
        **extra,
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "cores": cores,
    }


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def format_summary(summary: dict) -> str:
    """Plain-text rendering for the terminal."""
    a, b = summary.get("saeIds") or ["demo-a", "demo-b"]
    lines = [f"saegraph demo: {summary['mode']}"]
    if summary.get("store"):
        lines.append(f"Store: {summary['store']}")
    lines.append("")
    for sid, st in summary.get("saeTraining", {}).items():
        lines.append(
            f"SAE {sid} (seed {st['seed']}{', cached' if st['cached'] else ''}): FVU {st['fvu']:.3f}, "
            f"L0 {st['l0']:.1f} (training)"
        )
    feats = summary.get("features", {})
    if feats:
        lines.append("\nFeatures (dead = never fired on the graph's text; one definition throughout):")
        for sid, f in feats.items():
            n, dead, iso = f["features"], f.get("dead") or 0, f.get("isolated")
            alive_iso = f" {iso - dead} alive but without CO_ACTIVATES edges," if iso is not None else ""
            lines.append(
                f"  {sid}: {n} features, {dead} dead ({_pct(dead / n if n else None)}),{alive_iso}"
                f" mean L0 {f.get('meanL0') or 0:.1f}"
            )
    rows = summary.get("edgeCounts", [])
    if rows:
        lines.append("\nEdges (kept after FDR; the matched null's count estimates the false discoveries):")
        for r in rows:
            extra = []
            if r.get("fdr") is not None:
                extra.append(f"{r.get('rule', 'BH')} at q = {r['fdr']:g}")
            if r.get("nullKept") is not None and r.get("edges"):
                est = r.get("estimatedFdr", r["nullKept"] / r["edges"])
                extra.append(f"null kept {r['nullKept']} (estimated FDR {_pct(est)})")
            elif r.get("nullKept") is not None:
                extra.append(f"null kept {r['nullKept']}")
            if r.get("note"):
                extra.append(r["note"])
            edges = "-" if r.get("edges") is None else str(r["edges"])
            lines.append(f"  {r['type']:<13}{r['sae']:<17}{edges:>7}  " + "; ".join(extra))
        caps = {r.get("topK") for r in rows if r["type"] == "CO_ACTIVATES" and r.get("topK")}
        if caps:
            lines.append(
                f"  (each feature keeps at most {max(caps)} CO_ACTIVATES edges: the cap shapes the degree "
                "distribution compared below)"
            )
    for sid, c in summary["communities"].items():
        mod = c["modularity"]
        grouped = c.get("nGrouped")
        head = f"\nCO_ACTIVATES communities of {sid}: "
        if grouped is not None:
            head += (
                f"{grouped} communities of 2+ features ({c['featuresGrouped']} features) and "
                f"{c['nSingletons']} single features (dead or without edges)"
            )
        else:
            head += f"{c['nCommunities']} communities"
        lines.append(head + (f"; modularity {mod:.3f} over {c['edges']} edges" if mod is not None else ""))
        for r in c["top"]:
            lines.append(
                f"  #{r['community']:<4} {r['size']:>4} features  {' '.join(repr(t) for t in r['topTokens'])}"
            )
    ex = summary.get("examplePath")
    if ex:
        lines.append(f"\nExample path, largest to second-largest community of {a} ({ex['engine']}):")
        if ex["nodes"]:
            lines.append(
                f"  {' -> '.join(ex['nodes'])}  ({ex['hops']} hops, cost {ex['cost']:.3f}; {ex['costRule']})"
            )
        else:
            lines.append(f"  no CO_ACTIVATES path from {ex['source']} to {ex['target']}")
    gnm = summary["degreeJsd"].get("gnm")
    if gnm:
        lines.append(f"\nDegree-distribution JSD (bits, 0 = identical, 1 = disjoint), {a} vs {b}:")
        lines.append(
            f"  observed {gnm['observed']:.3f} | two random G(n, m) graphs {gnm['floorMean']:.3f} ± "
            f"{gnm['floorSd']:.3f} | {a} vs a random graph {gnm['baselineMean']:.3f} ± {gnm['baselineSd']:.3f}"
        )
        lines.append("  " + jsd_verdict(gnm))
    mcs_rows = [m for m in summary.get("meanMaxCosine", []) if _num(m.get("mcs")) is not None]
    if mcs_rows:
        base = _num(mcs_rows[0].get("baseline"))
        vals = ", ".join(f"{m.get('direction', '')} {_num(m['mcs']):.3f}" for m in mcs_rows)
        lines.append(
            f"\nMean max decoder cosine: {vals}" + (f" | random directions {base:.3f}" if base else "")
        )
        if base:
            top = max(v for m in mcs_rows if (v := _num(m["mcs"])) is not None)
            if top > base + 0.5 * (1 - base):
                lines.append("  verdict: far above chance: the two seeds learned largely the same directions")
            elif top > base + 0.05:
                lines.append(
                    "  verdict: above chance: the seeds share some directions, see the fractions below"
                )
            else:
                lines.append("  verdict: at chance: no evidence the seeds learned the same directions")
    if summary["shared"]:
        d = summary.get("dIn")
        lines.append(
            "\nFeatures shared one-to-one (matched decoder cosine >= tau), beside chance"
            + (f" (random directions in {d} dims):" if d else ":")
        )
        for r in summary["shared"]:
            ch = r.get("chance")
            lines.append(
                f"  tau {r['threshold']:.1f}: {_pct(r['fractionOfA'])} of {a}"
                + (f"  (chance {_pct(ch) if ch >= 0.001 else '< 0.1%'})" if ch is not None else "")
            )
    else:
        lines.append(f"\nShared features: {summary.get('matching') or 'no MATCHES'}")
    if summary.get("release"):
        from saegraph.demo.release import format_release

        lines.extend(format_release(summary["release"]))
    lines.append(
        "\nTimes (s): "
        + ", ".join(f"{k} {v}" for k, v in summary["timings"].items())
        + (f" on {summary['cores']} cores" if summary.get("cores") else "")
    )
    return "\n".join(lines)
