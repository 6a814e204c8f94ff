"""Report of the scale benchmark (``bench_scale.py``): the Markdown table, scaling fits, targets.

1. ``markdown``: one row per token count x stage (x edge type), then the truth note, the fits
   and the target lines.
2. ``fits``: per stage the log-log slope of wall and CPU seconds against tokens; ``extrapolate``
   takes the largest measured point x (N' / N)^max(slope, 0) and a linear fit of the peak (never
   below the largest measured peak); cosine and matches read decoders only, so they stay flat.
3. ``targets``: the edge pipeline (co-activation + LASSO + cosine + matches) at every measured
   count, and at 1M tokens: measured when a count lies within 10 % of 1M, else extrapolated;
   PASS / FAIL against < 30 min and < 8 GiB.
"""

from __future__ import annotations

import numpy as np

EDGE_STAGES = ("coactivation", "lasso", "cosine", "matches")
TOKEN_FREE = ("cosine", "matches")  # read the decoders only
TARGET_SECONDS, TARGET_GIB, TARGET_TOKENS = 30 * 60, 8.0, 1_000_000
EXTRAPOLATE_TO = 10_000_000


def fmt(x, spec: str) -> str:
    """``format(x, spec)``, or "–" for None / NaN."""
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def markdown(res: dict) -> str:
    lines = [
        "| tokens | stage | edge type | seconds | CPU s | peak GiB | edges | precision | recall | note |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in res["rows"]:
        head = f"| {r['tokens']:,} | {r['stage']} "
        if "error" in r:
            lines.append(head + f"| | | | | | | | FAILED: {r['error'].splitlines()[0]} |")
            continue
        timing = f"| {r['seconds']:.1f} | {r['cpuSeconds']:.1f} | {r['peakGiB']:.2f} "
        edge_rows = r["edgeRows"] or [
            {"type": "", "edges": None, "precision": None, "recall": None, "note": ""}
        ]
        for k, e in enumerate(edge_rows):
            note = "; ".join(x for x in (e["note"], r["note"] if k == 0 else "") if x)
            t = timing if k == 0 else "| ″ | ″ | ″ "
            lines.append(
                head + f"| {e['type']} {t}| {fmt(e['edges'], ',')} | {fmt(e['precision'], '.3f')} "
                f"| {fmt(e['recall'], '.3f')} | {note} |"
            )
    lines += ["", res["truthNote"], "", *fits_lines(res), "", *target_lines(res)]
    return "\n".join(lines)


def _by_stage(res: dict) -> dict:
    """stage -> [(tokens, seconds, peak GiB, CPU seconds)] in token order."""
    out: dict = {}
    for r in res["rows"]:
        if "error" not in r:
            out.setdefault(r["stage"], []).append((r["tokens"], r["seconds"], r["peakGiB"], r["cpuSeconds"]))
    return {k: sorted(v) for k, v in out.items()}


def _slope(n, y) -> float | None:
    if len(set(n)) < 2:
        return None
    return float(np.polyfit(np.log(n), np.log(np.maximum(y, 1e-3)), 1)[0])


def extrapolate(stage: str, pts: list, exponent: float | None, tokens: int) -> tuple[float, float] | None:
    """(seconds, peak GiB) at ``tokens``: the largest measured point x (tokens / N)^max(exponent, 0)
    and a linear fit of the peak (never below the largest measured peak); flat for the stages
    that do not read tokens."""
    n_last, s_last, m_last, _ = pts[-1]
    if stage in TOKEN_FREE:
        return s_last, m_last
    if exponent is None:
        return None
    b, a = np.polyfit([p[0] for p in pts], [p[2] for p in pts], 1)
    return s_last * (tokens / n_last) ** max(exponent, 0.0), max(a + b * tokens, m_last)


def fits(res: dict) -> dict:
    """Per stage: log-log slopes of wall and CPU seconds on tokens; seconds and peak at 10M."""
    out = {}
    for stage, pts in _by_stage(res).items():
        n = [p[0] for p in pts]
        slope = _slope(n, [p[1] for p in pts])
        at = extrapolate(stage, pts, slope, EXTRAPOLATE_TO)
        out[stage] = {
            "exponent": slope,
            "cpuExponent": _slope(n, [p[3] for p in pts]),
            "seconds10M": at[0] if at else None,
            "peakGiB10M": at[1] if at else None,
        }
    return out


def fits_lines(res: dict) -> list[str]:
    lines = [
        f"Scaling with tokens: log-log slope of the wall (and CPU) seconds over the measured counts; at "
        f"{EXTRAPOLATE_TO:,} tokens the largest measured point x (10M / N)^max(slope, 0), the peak by a "
        "linear fit in N; cosine and matches read decoders only (flat: their slopes are noise).",
        "",
        "| stage | exponent (wall) | exponent (CPU) | seconds at 10M (extrapolated) | peak GiB at 10M (extrapolated) |",
        "|---|---:|---:|---:|---:|",
    ]
    for stage, f in res["fits"].items():
        lines.append(
            f"| {stage} | {fmt(f['exponent'], '.2f')} | {fmt(f['cpuExponent'], '.2f')} "
            f"| {fmt(f['seconds10M'], ',.0f')} | {fmt(f['peakGiB10M'], '.1f')} |"
        )
    return lines


def _pipeline(rows: dict) -> dict:
    missing = [s for s, v in rows.items() if v is None]
    total = sum(v[0] for v in rows.values() if v)
    peak = max((v[1] for v in rows.values() if v), default=float("nan"))
    return {"seconds": total, "peakGiB": peak, "missing": missing}


def targets(res: dict) -> dict:
    """The edge pipeline at every measured token count, and at 1M: measured when a count lies
    within 10 % of it, else extrapolated per stage (``extrapolate``), else None."""
    pts = _by_stage(res)
    counts = sorted({p[0] for st in EDGE_STAGES for p in pts.get(st, [])})
    measured = {
        n: _pipeline(
            {st: next(((p[1], p[2]) for p in pts.get(st, []) if p[0] == n), None) for st in EDGE_STAGES}
        )
        for n in counts
    }
    near = [n for n in counts if abs(n - TARGET_TOKENS) <= 0.1 * TARGET_TOKENS]
    if near:
        n = min(near, key=lambda x: abs(x - TARGET_TOKENS))
        at_1m = {**measured[n], "how": f"measured at {n:,} tokens"}
    else:
        rows = {
            st: extrapolate(st, pts[st], res["fits"][st]["exponent"], TARGET_TOKENS) if st in pts else None
            for st in EDGE_STAGES
        }
        how = f"extrapolated from {', '.join(f'{c:,}' for c in counts)} tokens"
        at_1m = {**_pipeline(rows), "how": how} if all(rows.values()) else None
    return {"measured": {str(n): v for n, v in measured.items()}, "at1M": at_1m}


def target_lines(res: dict) -> list[str]:
    t = res["targets"]
    lines = ["Edge pipeline (co-activation + LASSO + cosine + matches), measured:"]
    for n, v in t["measured"].items():
        miss = f" (stages missing: {', '.join(v['missing'])})" if v["missing"] else ""
        lines.append(
            f"- {int(n):,} tokens: {v['seconds']:.0f} s = {v['seconds'] / 60:.1f} min, "
            f"max peak {v['peakGiB']:.2f} GiB{miss}"
        )
    a = t["at1M"]
    if a is None:
        return lines + [
            "Targets (< 30 min, < 8 GiB at 1M tokens): not compared (no count near 1M, no fit for every stage)."
        ]
    ok_t, ok_m = a["seconds"] < TARGET_SECONDS and not a["missing"], a["peakGiB"] < TARGET_GIB
    return lines + [
        f"Targets at 1M tokens, F = {res['spec']['features']:,} (set for 131,072), {a['how']}:",
        f"- total time {a['seconds']:.0f} s = {a['seconds'] / 60:.1f} min, target < 30 min: "
        + ("PASS" if ok_t else "FAIL"),
        f"- max peak {a['peakGiB']:.2f} GiB, target < {TARGET_GIB:g} GiB: {'PASS' if ok_m else 'FAIL'}",
    ]
