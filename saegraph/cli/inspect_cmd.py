"""``saegraph inspect BUNDLE``: counts, statistics and provenance of a bundle."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
@click.option("--no-verify", is_flag=True, help="Skip checksum verification (faster on huge bundles).")
def inspect(bundle: str, as_json: bool, no_verify: bool) -> None:
    """Show what a bundle holds: run, dataset, tables with row counts, stage statistics.

    \b
    Example:
      saegraph inspect bundle/
      saegraph inspect bundle/ --json | jq .stats.coactivation
    """
    from saegraph.ingest.bundle import open_bundle

    b = open_bundle(bundle, verify=not no_verify)
    if as_json:
        click.echo(json.dumps(b.manifest, indent=2, sort_keys=True))
        return
    m = b.manifest
    click.echo(f"bundle    {b.path}  (format {m['formatVersion']}, {m.get('codeVersion', '?')})")
    click.echo(f"run       {b.run_id}  created {m.get('createdAt', '?')}")
    ds = m.get("dataset", {})
    click.echo(
        f"dataset   {ds.get('name', '?')}: {ds.get('nTokens', 0):,} tokens in {ds.get('nSequences', 0):,} sequences"
    )
    click.echo("tables")
    for name, entry in sorted(b.tables.items()):
        click.echo(f"  {name:<14} {entry['rows']:>12,} rows")
    saes = b.frame("saes")
    click.echo("saes")
    for row in saes.itertuples():
        click.echo(f"  {row.saeId:<14} {row.hookName}  d_in={row.dIn} d_sae={row.dSae} L0={row.l0:.1f}")
    for stage, stats in sorted(b.stats.items()):
        click.echo(f"stats.{stage}")
        for key, value in stats.items():
            text = json.dumps(value, default=str)
            click.echo(f"  {key}: {text if len(text) < 100 else text[:97] + '...'}")
