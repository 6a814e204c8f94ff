"""PNG figures of the family universality report (matplotlib, Agg backend; thin I/O shell).

1. ``plot_frequencies``: one step line per SAE of the live features per log10(density) bin.
2. ``plot_mcs``: heatmap of MCS A -> B over the SAEs (row A, column B; a family-table row
   (A, B) fills [A, B] with mcsAB and [B, A] with mcsBA; pairs with different d_in are blank).
3. ``plot_layers``: per layer, mean degree, communities (size >= 2) and born fraction, one line
   per width (dSae), seeds averaged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_frequencies(freq: pd.DataFrame, path: Path, labels: dict | None = None) -> None:
    """Feature-frequency histograms, one line per SAE (log10 density of live features)."""
    plt = _pyplot()
    bins = [c for c in freq.columns if c not in ("saeId", "dead")]
    fig, ax = plt.subplots(figsize=(7, 4))
    for _, row in freq.iterrows():
        name = (labels or {}).get(row.saeId, row.saeId)
        ax.step(
            [float(b) for b in bins],
            [row[b] for b in bins],
            where="post",
            label=f"{name} ({row.dead} dead)",
        )
    ax.set_xlabel("log10 firing density (fraction of tokens)")
    ax.set_ylabel("live features per 0.5-decade bin")
    ax.set_title("Feature frequency per SAE")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def mcs_matrix(table: pd.DataFrame, sae_ids: list[str]) -> np.ndarray:
    """[A, B] = MCS A -> B (NaN where not compared; 1 on the diagonal)."""
    pos = {s: i for i, s in enumerate(sae_ids)}
    m = np.full((len(sae_ids), len(sae_ids)), np.nan)
    np.fill_diagonal(m, 1.0)
    for _, row in table.iterrows():
        a, b = pos[row["saeA"]], pos[row["saeB"]]
        m[a, b], m[b, a] = row["mcsAB"], row["mcsBA"]
    return m


def plot_mcs(table: pd.DataFrame, sae_ids: list[str], path: Path, labels: dict | None = None) -> None:
    plt = _pyplot()
    m = mcs_matrix(table, sae_ids)
    n = len(sae_ids)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * n, 0.9 + 0.5 * n))
    im = ax.imshow(np.ma.masked_invalid(m), vmin=0, vmax=1, cmap="viridis")
    names = [(labels or {}).get(s, s) for s in sae_ids]
    ax.set_xticks(range(n), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    if n <= 16:
        for i in range(n):
            for j in range(n):
                if i != j and np.isfinite(m[i, j]):
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=6, color="w")
    ax.set_xlabel("B")
    ax.set_ylabel("A")
    ax.set_title("Mean max decoder cosine A -> B")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_layers(layers: pd.DataFrame, path: Path) -> None:
    plt = _pyplot()
    panels = [
        ("meanDegree", "mean CO_ACTIVATES degree (live features)"),
        ("communities", "Leiden communities (size >= 2)"),
        ("bornFraction", "born fraction (no FLOWS_TO predecessor)"),
    ]
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    widths = sorted(layers["dSae"].unique())
    colour = {w: plt.get_cmap("tab10")(i % 10) for i, w in enumerate(widths)}  # one colour per width
    for ax, (col, title) in zip(axes, panels):
        for width, group in layers.groupby("dSae"):
            g = group.groupby("layer")[col].mean()
            if g.notna().any():
                ax.plot(
                    g.index, g.to_numpy(dtype=float), marker="o", color=colour[width], label=f"width {width}"
                )
        ax.set_xlabel("layer")
        ax.set_xlim(layers["layer"].min() - 0.5, layers["layer"].max() + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, fontsize=9)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
