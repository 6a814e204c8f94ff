"""``saegraph show FEATURE_ID``: one feature's card, vertical (saegraph.queries.analysis.cards)."""

from __future__ import annotations

import json

import click

from saegraph.cli.store_cmds import _open, store_options


@click.command("show")
@click.argument("feature_id")
@click.option("-k", "k", type=int, default=3, show_default=True, help="Neighbours shown per edge type.")
@click.option("--width", type=int, default=100, show_default=True, help="Wrap lines at this many characters.")
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON instead.")
@store_options
def show(feature_id: str, k: int, width: int, as_json: bool, store_args: dict) -> None:
    """Print a feature card: density, activations, top tokens, promoted logits, examples,
    community and the strongest neighbours per edge type with their statistic and sign.

    \b
    Examples:
      saegraph show demo-a:12 --store saegraph-demo/saegraph.db
      saegraph show s0:12 --neo4j bolt://localhost:7687 --json
    """
    from saegraph.queries.analysis.cards import feature_card, format_card

    store = _open(store_args, read_only=True) if not store_args["neo4j_uri"] else _open(store_args)
    try:
        card = feature_card(store, feature_id, k=k)
    finally:
        store.close()
    click.echo(json.dumps(card, default=str, indent=2) if as_json else format_card(card, width=width))
