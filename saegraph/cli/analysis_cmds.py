"""Analysis commands: ``communities``, ``path``, ``compare`` (thin click shells over
``saegraph.queries.analysis``). Each reads a store (``--neo4j`` / ``--store``) or, with ``--bundle``,
a bundle directly, prints readable tables and can write a report directory."""

from __future__ import annotations

import json

import click

from saegraph.cli.store_cmds import _open, store_options
from saegraph.schema.graph import RelType

REL_CHOICE = click.Choice([rel.value for rel in RelType.graph_types()], case_sensitive=False)


def _source(bundle, store_args, read_only=False):
    from saegraph.queries.analysis.sources import BundleSource, StoreSource

    if bundle:
        return BundleSource(bundle)
    return StoreSource(_open(store_args, **({"read_only": True} if read_only else {})))


def _close(source) -> None:
    store = getattr(source, "store", None)
    if store is not None:
        store.close()


def _table(frame, max_rows: int = 20) -> str:
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 60):
        return frame.head(max_rows).to_string(index=False)


def _bundle_option(func):
    return click.option(
        "--bundle",
        type=click.Path(exists=True, file_okay=False),
        default=None,
        help="Read a bundle directory instead of a store (nothing is written back).",
    )(func)


@click.command("communities")
@click.option("--sae", "sae_ids", multiple=True, help="SAE id (repeatable; default: every SAE).")
@click.option("--rel", "rel_type", type=REL_CHOICE, default="CO_ACTIVATES", show_default=True)
@click.option("--algorithm", type=click.Choice(["leiden", "louvain"]), default="leiden", show_default=True)
@click.option(
    "--objective",
    type=click.Choice(["modularity", "cpm"]),
    default="modularity",
    show_default=True,
    help="Leiden objective (explicit: igraph's own default would be CPM).",
)
@click.option("--resolution", type=float, default=1.0, show_default=True)
@click.option("--seeds", "n_seeds", type=int, default=1, show_default=True, help="> 1: consensus over seeds.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--profile", default=None, help="Comma-separated resolutions for a resolution profile.")
@click.option(
    "--components", "with_components", is_flag=True, help="Also connected components and centrality."
)
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None)
@_bundle_option
@store_options
def communities(
    sae_ids,
    rel_type,
    algorithm,
    objective,
    resolution,
    n_seeds,
    seed,
    profile,
    with_components,
    report_dir,
    bundle,
    store_args,
) -> None:
    """Find communities per SAE and write community<Type> back to the store.

    \b
    Example:
      saegraph communities --sae s0 --rel CO_ACTIVATES --profile 0.5,1,2 --report out/comm
    """
    from saegraph.queries.analysis import engine
    from saegraph.queries.analysis.report import size_figure, write_report

    source = _source(bundle, store_args)
    try:
        figures, tables, info = {}, {}, {}
        resolutions = [float(x) for x in profile.split(",")] if profile else None
        for sae in sae_ids or source.sae_ids():
            res = engine.communities(
                source,
                sae,
                rel_type,
                algorithm=algorithm,
                objective=objective,
                resolution=resolution,
                n_seeds=n_seeds,
                seed=seed,
                profile=resolutions,
            )
            info[sae] = res["info"]
            click.echo(
                f"\n== {sae} {rel_type.upper()}: {res['info']['nCommunities']} communities, modularity "
                f"{res['info']['modularity']:.3f} ({res['info']['engine']})"
            )
            summary = res["summary"].assign(topTokens=lambda f: f["topTokens"].map(", ".join))
            grouped = summary[summary["size"] > 1]
            click.echo(_table(grouped.drop(columns=["members"])))
            if len(grouped) < len(summary):
                click.echo(
                    f"(+ {len(summary) - len(grouped)} single-feature communities, mostly features "
                    f"without {rel_type.upper()} edges: dead or rare ones)"
                )
            tables[f"{sae}_communities"] = res["summary"]
            tables[f"{sae}_labels"] = res["labels"]
            figures[f"{sae}_community_sizes"] = size_figure(
                f"{sae} community sizes", {sae: res["summary"]["size"]}
            )
            if "profile" in res:
                click.echo("resolution profile:\n" + _table(res["profile"]))
                tables[f"{sae}_profile"] = res["profile"]
            if with_components:
                comp = engine.components(source, sae, rel_type)
                cen = engine.centrality(source, sae, rel_type)
                click.echo(
                    f"components: {comp['info']['nComponents']}; top PageRank:\n" + _table(cen["table"], 5)
                )
                tables[f"{sae}_components"] = comp["summary"]
                tables[f"{sae}_centrality"] = cen["table"]
        if report_dir:
            write_report(report_dir, figures, tables, info)
            click.echo(f"\nreport written to {report_dir}")
    finally:
        _close(source)


@click.command("path")
@click.argument("feature_a")
@click.argument("feature_b")
@click.option("--rel", "rel_type", type=REL_CHOICE, default="CO_ACTIVATES", show_default=True)
@click.option("--weighted", is_flag=True, help="Minimise the stated cost instead of the number of hops.")
@click.option("-k", "k", type=int, default=1, show_default=True, help="k shortest paths (Yen) when > 1.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_bundle_option
@store_options
def path(feature_a, feature_b, rel_type, weighted, k, as_json, bundle, store_args) -> None:
    """Shortest path(s) between two features of one SAE.

    \b
    Example:
      saegraph path s0:12 s0:40 --rel COSINE --weighted -k 3
    """
    from saegraph.queries.analysis import engine

    source = _source(bundle, store_args, read_only=True)
    try:
        try:
            res = engine.path(source, feature_a, feature_b, rel_type, k=k, weighted=weighted)
        except (KeyError, ValueError) as exc:
            raise click.ClickException(str(exc).strip("'\"")) from exc
        table = res["paths"]
        if as_json:
            click.echo(
                json.dumps({"info": res["info"], "paths": table.to_dict(orient="records")}, default=str)
            )
            return
        click.echo(f"over {rel_type.upper()}; cost: {res['info']['cost']} ({res['info']['engine']})")
        if table.empty:
            click.echo(f"no path between {feature_a} and {feature_b} over {rel_type.upper()}")
            return
        shown = table.assign(nodes=table["nodes"].map(" - ".join)).drop(columns=["costs"])
        click.echo(_table(shown))
    finally:
        _close(source)


@click.command("compare")
@click.argument("sae_a")
@click.argument("sae_b")
@click.option("--rel", "rel_type", type=REL_CHOICE, default="CO_ACTIVATES", show_default=True)
@click.option(
    "--draws", "n_draws", type=int, default=20, show_default=True, help="Null graphs per null kind (>= 20)."
)
@click.option(
    "--perms", "n_perm", type=int, default=1000, show_default=True, help="Matching permutations (>= 1000)."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write PNG plots, a JSON per figure and CSV tables here.",
)
@_bundle_option
@store_options
def compare(sae_a, sae_b, rel_type, n_draws, n_perm, seed, report_dir, bundle, store_args) -> None:
    """Compare the graphs of two SAEs: distributions vs nulls, agreement, universality.

    \b
    Example:
      saegraph compare s0 s1 --bundle bundle/ --report out/compare
    """
    from saegraph.queries.analysis.compare import compare as run_compare
    from saegraph.queries.analysis.report import compare_figures, compare_tables, write_report

    source = _source(bundle, store_args, read_only=True)
    try:
        try:
            res = run_compare(source, sae_a, sae_b, rel_type, n_draws=n_draws, n_perm=n_perm, seed=seed)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{sae_a} vs {sae_b} over {rel_type.upper()}; {res['info']['jsd']}")
        for key, title in (
            ("graphs", "graphs"),
            ("jsd", "degree/strength JSD (bits) vs nulls"),
            ("scalars", "z-scores vs nulls"),
            ("agreement", "agreement through MATCHES"),
            ("signatures", "node-signature matching"),
            ("universality_mcs", "MCS"),
            ("universality_shared", "shared features"),
            ("universality_actCorr", "activation corr"),
            ("universality_splittingCounts", "splitting"),
        ):
            if key in res:
                click.echo(f"\n-- {title}\n" + _table(res[key], 40))
        if "signatures" in res:
            sig = res["signatures"].set_index("method")
            ratio = float(sig.loc["signature", "hits@1xChance"])
            click.echo(
                f"\nnode signatures find the matched feature first {ratio:.1f}x as often as chance"
                + (": the local graph structure does not identify matches" if ratio < 1 else "")
            )
        if "universality_actCorr" in res:
            click.echo(
                "activation corr: nUndefined = matched pairs where a feature never fired on the shared tokens"
            )
        if "matching" in res["info"]:
            click.echo(f"\n{res['info']['matching']}")
        if report_dir:
            write_report(report_dir, compare_figures(res), compare_tables(res), res["info"])
            click.echo(f"\nreport written to {report_dir}")
    finally:
        _close(source)
