"""``saegraph universality BUNDLE``: the universality table of every SAE pair, and feature frequencies."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write universality.csv, frequency.csv and frequency.png here.",
)
def universality(bundle: str, out_dir: str | None) -> None:
    """Universality across the bundle's SAEs: one row per pair with the same d_in.

    Mean max decoder cosine both ways beside the best of M random directions (baseline),
    the share of A's features matched one-to-one at cosine >= 0.5 / 0.7 / 0.9, and the mean
    activation correlation of those matches; `relation` says whether the two SAEs differ in
    seed, width or layer (docs/methods.md, "Universality across a family").

    \b
    Examples:
      saegraph universality bundle/
      saegraph universality bundle/ --out report/
    """
    from saegraph.queries.analysis.family import family_table, frequency_histograms
    from saegraph.queries.analysis.sources import BundleSource

    source = BundleSource(bundle)
    table = family_table(source)
    if table.empty:
        click.echo("no two SAEs with the same d_in: nothing to compare")
    else:
        click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    freq = frequency_histograms(source)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "universality.csv", index=False)
        freq.to_csv(out / "frequency.csv", index=False)
        _plot_frequencies(freq, out / "frequency.png")
        click.echo(f"wrote {out / 'universality.csv'}, {out / 'frequency.csv'}, {out / 'frequency.png'}")


def _plot_frequencies(freq, path: Path) -> None:
    """Feature-frequency histograms, one line per SAE (log10 density of live features)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = [c for c in freq.columns if c not in ("saeId", "dead")]
    fig, ax = plt.subplots(figsize=(7, 4))
    for _, row in freq.iterrows():
        ax.step(
            [float(b) for b in bins],
            [row[b] for b in bins],
            where="post",
            label=f"{row.saeId} ({row.dead} dead)",
        )
    ax.set_xlabel("log10 firing density (fraction of tokens)")
    ax.set_ylabel("live features per 0.5-decade bin")
    ax.set_title("Feature frequency per SAE")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
