"""Report of the scale benchmark (``bench_scale.py``): the Markdown table, scaling fits, targets.

1. ``markdown``: one row per token count x stage (x edge type), then the truth note, the fits
   and the target lines.
2. ``fits``: per stage the log-log slope of wall and CPU seconds against tokens, and the affine
   fit seconds = fixed + per-token x N (``affine_fit``, the cost model of docs/scaling.md);
   ``extrapolate`` evaluates the affine fits of seconds and peak (never below the largest
   measured peak); cosine and matches read decoders only, so they stay flat.
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


def affine_fit(n: list, y: list) -> tuple[float, float] | None:
    """(a, b) >= 0 of y = a + b N by least squares over the measured counts: the cost model's fixed
    part (the F x F scans, the fits) and its per-token part (docs/scaling.md, "Cost model per
    stage"); a negative intercept refits through the origin, a negative slope means flat."""
    if len(set(n)) < 2:
        return None
    b, a = np.polyfit(np.asarray(n, float), np.asarray(y, float), 1)
    if b <= 0:
        return float(max(y)), 0.0
    if a < 0:
        return 0.0, float(np.dot(n, y) / np.dot(n, n))
    return float(a), float(b)


def extrapolate(stage: str, pts: list, tokens: int) -> tuple[float, float] | None:
    """(seconds, peak GiB) at ``tokens`` from the affine fits of seconds and peak in N (the peak
    never below the largest measured one); flat for the stages that do not read tokens. A power
    law through the measured points would understate large N: the fixed part dominates them."""
    n_last, s_last, m_last, _ = pts[-1]
    if stage in TOKEN_FREE:
        return s_last, m_last
    n = [p[0] for p in pts]
    t_fit, m_fit = affine_fit(n, [p[1] for p in pts]), affine_fit(n, [p[2] for p in pts])
    if t_fit is None or m_fit is None:
        return None
    return t_fit[0] + t_fit[1] * tokens, max(m_fit[0] + m_fit[1] * tokens, m_last)


def fits(res: dict) -> dict:
    """Per stage: log-log slopes of wall and CPU seconds on tokens, the affine cost fit, and the
    seconds and peak at 10M."""
    out = {}
    for stage, pts in _by_stage(res).items():
        n = [p[0] for p in pts]
        at = extrapolate(stage, pts, EXTRAPOLATE_TO)
        ab = affine_fit(n, [p[1] for p in pts]) if stage not in TOKEN_FREE else None
        out[stage] = {
            "exponent": _slope(n, [p[1] for p in pts]),
            "cpuExponent": _slope(n, [p[3] for p in pts]),
            "fixedSeconds": ab[0] if ab else None,
            "secondsPerMillionTokens": ab[1] * 1e6 if ab else None,
            "seconds10M": at[0] if at else None,
            "peakGiB10M": at[1] if at else None,
        }
    return out


def fits_lines(res: dict) -> list[str]:
    lines = [
        "Scaling with tokens: log-log slope of the wall (and CPU) seconds over the measured counts; "
        "the affine fit seconds = fixed + per-token x N (least squares) and, from it, the seconds at "
        f"{EXTRAPOLATE_TO:,} tokens; the peak at 10M by the same fit of the peaks; cosine and matches "
        "read decoders only (flat).",
        "",
        "| stage | exponent (wall) | exponent (CPU) | fixed s | s per 1M tokens | seconds at 10M (extrapolated) "
        "| peak GiB at 10M (extrapolated) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for stage, f in res["fits"].items():
        lines.append(
            f"| {stage} | {fmt(f['exponent'], '.2f')} | {fmt(f['cpuExponent'], '.2f')} "
            f"| {fmt(f.get('fixedSeconds'), ',.0f')} | {fmt(f.get('secondsPerMillionTokens'), ',.0f')} "
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
        rows = {st: extrapolate(st, pts[st], TARGET_TOKENS) if st in pts else None for st in EDGE_STAGES}
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
