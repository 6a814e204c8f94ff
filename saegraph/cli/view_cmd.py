"""``saegraph view``: an interactive, self-contained HTML picture of a community, an ego
network or a path (saegraph.queries.analysis.view; renderer: neo4j-viz, the `viz` extra)."""

from __future__ import annotations

import click

from saegraph.cli.store_cmds import store_options


@click.command("view")
@click.option("--community", type=int, default=None, help="Draw this community (of --sae).")
@click.option("--sae", "sae_id", default=None, help="SAE of --community (default: the first SAE).")
@click.option(
    "--ego", default=None, metavar="FEATURE", help="Draw this feature and its strongest neighbours."
)
@click.option(
    "--path", "path_ends", nargs=2, default=None, metavar="A B", help="Draw the shortest path A..B."
)
@click.option(
    "--rel",
    "rels",
    multiple=True,
    default=("CO_ACTIVATES", "LASSO"),
    show_default=True,
    help="Edge types drawn (repeatable); the first one picks the nodes.",
)
@click.option("--max-nodes", type=int, default=60, show_default=True)
@click.option("-o", "--out", "out", default="graph.html", show_default=True, type=click.Path(dir_okay=False))
@click.option(
    "--bundle",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Read a bundle directory instead of a store.",
)
@store_options
def view(community, sae_id, ego, path_ends, rels, max_nodes, out, bundle, store_args) -> None:
    """Write an interactive graph as one offline HTML file: nodes coloured by community,
    sized by density, labelled by top tokens; edge type, weight and sign on hover; the
    feature card on click.

    \b
    Examples:
      saegraph view --community 3 --sae demo-a --store saegraph-demo/saegraph.db -o comm.html
      saegraph view --ego demo-a:12 --store saegraph-demo/saegraph.db -o ego.html
      saegraph view --path demo-a:12 demo-a:40 --rel CO_ACTIVATES -o path.html
    """
    from saegraph.cli.analysis_cmds import _close, _source
    from saegraph.queries.analysis.view import subgraph, write_html

    source = _source(bundle, store_args, read_only=True)
    try:
        sub = subgraph(
            source,
            community=community,
            sae_id=sae_id,
            ego=ego,
            path=tuple(path_ends) if path_ends else None,
            rels=tuple(r.upper() for r in rels),
            max_nodes=max_nodes,
        )
    finally:
        _close(source)
    written = write_html(sub, out)
    click.echo(f"{sub.title}: {len(sub.nodes)} nodes, {len(sub.edges)} edges -> {written}")
