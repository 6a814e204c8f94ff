"""Report directory: PNG figures (matplotlib, Agg backend) plus a JSON of every figure's data.

Algorithm: each figure is first a plain dict (title, axis labels, series of x/y values),
written as ``<name>.json``; the PNG is drawn from that same dict, so the JSON is exactly
what the picture shows. Tables go to ``<name>.csv`` and ``report.json`` lists everything
with the run's info.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


def distribution_figure(title: str, samples: dict[str, np.ndarray], xlabel: str, unit: float = 1.0) -> dict:
    """Complementary CDF, P(value >= x), of each named sample.

    A histogram of a few thousand nodes on fine bins zig-zags between one-node bins and
    empty ones; the CCDF of the same values is monotone and shows the tails as they are.
    (The JSD in the title is computed on the shared histogram bins of docs/methods.md.)
    """
    series = []
    for label, values in samples.items():
        v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
        x, first = np.unique(v, return_index=True)
        y = 1.0 - first / max(len(v), 1)
        series.append({"label": label, "x": x, "y": y})
    return {
        "kind": "line",
        "title": title,
        "xlabel": xlabel,
        "ylabel": f"fraction of features with {xlabel.split(' (')[0]} >= x",
        "logx": True,
        "logy": True,
        "series": series,
    }


def size_figure(title: str, sizes: dict[str, np.ndarray]) -> dict:
    series = []
    for label, s in sizes.items():
        s = np.sort(np.asarray(s))[::-1]
        series.append({"label": label, "x": np.arange(1, len(s) + 1), "y": s})
    return {
        "kind": "line",
        "title": title,
        "xlabel": "rank",
        "ylabel": "size (features)",
        "logx": True,
        "logy": True,
        "series": series,
    }


def histogram_figure(title: str, values: np.ndarray, xlabel: str, bins: int = 40) -> dict:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=bins)
    return {
        "kind": "bar",
        "title": title,
        "xlabel": xlabel,
        "ylabel": "count",
        "logx": False,
        "logy": False,
        "series": [
            {
                "label": "",
                "x": (edges[:-1] + edges[1:]) / 2,
                "y": counts,
                "width": float(np.diff(edges)[0]) if len(edges) > 1 else 1.0,
            }
        ],
    }


def draw(fig: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f, ax = plt.subplots(figsize=(6.4, 4.4))
    for s in fig["series"]:
        x, y = np.asarray(s["x"], dtype=float), np.asarray(s["y"], dtype=float)
        if fig["kind"] == "bar":
            ax.bar(x, y, width=s.get("width", 1.0), label=s["label"] or None)
        else:
            # An empty bin is a gap, never a line down to it and back (no zig-zag across
            # empty bins); on a log axis it could not be drawn anyway.
            y = np.where(y > 0, y, np.nan) if fig["logy"] else y
            ax.plot(
                x,
                y,
                marker="o",
                markersize=3,
                linestyle="--" if "null" in s["label"] else "-",
                label=s["label"],
            )
    for line in fig.get("vlines", []):
        ax.axvline(
            line["x"], color=line.get("color", "grey"), linestyle=":", linewidth=1.2, label=line["label"]
        )
    if fig["logx"]:
        ax.set_xscale("symlog", linthresh=1.0)
    if fig["logy"]:
        ax.set_yscale("log")
    ax.set_title(fig["title"], fontsize=10)
    ax.set_xlabel(fig["xlabel"])
    ax.set_ylabel(fig["ylabel"])
    if any(s["label"] for s in fig["series"]) or fig.get("vlines"):
        ax.legend(fontsize=8)
    f.tight_layout()
    f.savefig(path, dpi=110)
    plt.close(f)


def write_report(directory, figures: dict[str, dict], tables: dict[str, pd.DataFrame], info: dict) -> Path:
    """Write PNG + JSON per figure, CSV per table and report.json; returns the directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in figures.items():
        (out / f"{name}.json").write_text(json.dumps(_jsonable(fig), indent=1))
        draw(fig, out / f"{name}.png")
    for name, table in tables.items():
        table.to_csv(out / f"{name}.csv", index=False)
    index = {
        "info": _jsonable(info),
        "figures": {n: [f"{n}.png", f"{n}.json"] for n in figures},
        "tables": {n: f"{n}.csv" for n in tables},
    }
    (out / "report.json").write_text(json.dumps(index, indent=1, default=str))
    return out


def compare_figures(result: dict) -> dict[str, dict]:
    """Degree and strength distributions with one null draw each, community sizes, match cosines."""
    info = result["info"]
    a, b = info["saeA"], info["saeB"]
    obs, nulls = result["_observed"], result["_null_examples"]
    unit = float(result["graphs"]["strengthUnit"].iloc[0])
    figs = {}
    for k, stat in enumerate(("degree", "strength")):
        samples = {a: obs["A"][k], b: obs["B"][k]}
        for key, arrays in nulls.items():
            label, kind = key.split(":")
            if kind == "rewire" and stat == "degree":
                continue  # identical to the observed degrees by construction
            samples[f"{a if label == 'A' else b} {kind} null"] = arrays[stat]
        jsd = result["jsd"]
        obs_jsd = float(jsd[(jsd.statistic == stat) & (jsd.null == "observed")]["jsdBits"].iloc[0])
        figs[f"{stat}_distribution"] = distribution_figure(
            f"{stat} distribution, {info['relType']} (JSD {a} vs {b} = {obs_jsd:.3f} bits)",
            samples,
            "degree (edges per feature)"
            if stat == "degree"
            else f"strength (sum of edge weights, unit {unit:.3g})",
            unit=1.0 if stat == "degree" else unit,
        )
    if "_communities" in result:
        figs["community_sizes"] = size_figure(
            f"Leiden community sizes, {info['relType']}",
            {lab: np.bincount(pd.factorize(s)[0]) for lab, s in zip((a, b), result["_communities"].values())},
        )
    if not result["matches"].empty:
        fig = histogram_figure(
            f"decoder cosine of the MATCHES {a} -> {b}",
            result["matches"]["cosine"].to_numpy(),
            "decoder cosine of the matched pair (dimensionless)",
        )
        fig["ylabel"] = "matched pairs"
        mcs = result.get("universality_mcs")
        if mcs is not None and "baseline" in mcs.columns and len(mcs):
            fig["vlines"] = [
                {"x": float(mcs["baseline"].iloc[0]), "label": "chance: max cosine of random directions"}
            ]
        figs["match_similarity"] = fig
    return figs


def compare_tables(result: dict) -> dict[str, pd.DataFrame]:
    return {
        k: v
        for k, v in result.items()
        if isinstance(v, pd.DataFrame) and not k.startswith("_") and k != "matches"
    }
