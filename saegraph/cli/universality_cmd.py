"""``saegraph universality BUNDLE``: the family report -- pairs, splitting trees, layers, frequencies."""

from __future__ import annotations

from pathlib import Path

import click

_FLOAT = {"float_format": lambda v: f"{v:.3f}"}


@click.command()
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write universality.csv, splitting.csv, chains.csv, layers.csv, frequency.csv and "
    "mcs.png, layers.png, frequency.png here.",
)
@click.option(
    "--activations/--no-activations",
    default=True,
    show_default=True,
    help="Compute the max-activation-correlation null from the bundle's activations (one more "
    "correlation pass per pair).",
)
@click.option("--null-seed", type=int, default=None, help="Random nonzero sequence shift (default S // 2).")
def universality(bundle: str, out_dir: str | None, activations: bool, null_seed: int | None) -> None:
    """Universality across the bundle's SAEs (docs/methods.md, "Universality across a family").

    Pairs (one row per pair with the same d_in; `relation` = seed, width or layer): mean max
    decoder cosine both ways beside the best of M random directions (baseline), the share of
    A's features matched one-to-one at cosine >= 0.5 / 0.7 / 0.9, the mean activation
    correlation of those matches, and the max activation correlation both ways beside its null
    (B's tokens shifted by whole sequences). Splitting trees across widths of one layer;
    per-SAE CO_ACTIVATES degree, Leiden communities and FLOWS_TO born fraction.

    \b
    Examples:
      saegraph universality bundle/
      saegraph universality bundle/ --out report/
    """
    from saegraph.queries.analysis.family import (
        family_table,
        frequency_histograms,
        layer_structure,
        splitting_trees,
    )
    from saegraph.queries.analysis.sources import BundleSource

    source = BundleSource(bundle)
    hook = None
    if activations:
        from saegraph.ingest.edges.matches.actcorr_null import FamilyActivationCorrelation

        hook = FamilyActivationCorrelation(bundle, seed=null_seed)
    table = family_table(source, activation_correlation=hook)
    if table.empty:
        click.echo("no two SAEs with the same d_in: nothing to compare")
    else:
        click.echo(table.drop(columns=["actCorrInfo"]).to_string(index=False, **_FLOAT))
        infos = sorted(set(table["actCorrInfo"]))
        click.echo("activation correlation: " + " | ".join(infos))
    trees = splitting_trees(source)
    if len(trees["summary"]):
        click.echo("\nsplitting across widths (per width pair):")
        click.echo(trees["summary"].to_string(index=False, **_FLOAT))
        click.echo(f"chains across >= 3 widths: {len(trees['chains'])}")
    layers = layer_structure(source)
    click.echo("\nper SAE (layer, width):")
    click.echo(layers.drop(columns=["info"]).to_string(index=False, **_FLOAT))
    for note in sorted({i for i in layers["info"] if i}):
        click.echo(f"  {note}")
    freq = frequency_histograms(source)
    if out_dir is not None:
        _write_report(Path(out_dir), source, table, trees, layers, freq)


def _write_report(out: Path, source, table, trees, layers, freq) -> None:
    from saegraph.queries.analysis import family_plots as plots

    out.mkdir(parents=True, exist_ok=True)
    saes = source.bundle.frame("saes")
    labels = {
        str(s): f"{s} (L{int(layer)}, w{int(w)})" for s, layer, w in zip(saes.saeId, saes.layer, saes.dSae)
    }
    files = {
        "universality.csv": table,
        "splitting.csv": trees["trees"],
        "splitting_summary.csv": trees["summary"],
        "chains.csv": trees["chains"],
        "layers.csv": layers,
        "frequency.csv": freq,
    }
    for name, frame in files.items():
        frame.to_csv(out / name, index=False)
    plots.plot_frequencies(freq, out / "frequency.png", labels)
    plots.plot_mcs(table, source.sae_ids(), out / "mcs.png", labels)
    plots.plot_layers(layers, out / "layers.png")
    names = [*files, "frequency.png", "mcs.png", "layers.png"]
    click.echo(f"wrote {', '.join(str(out / n) for n in names)}")
