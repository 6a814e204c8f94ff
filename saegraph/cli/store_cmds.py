"""Store commands: ``schema apply``, ``load``, ``query``, ``export-admin``.

Store selection everywhere: ``--neo4j URI`` (or ``NEO4J_URI``) else the embedded
``--store PATH`` (an embedded database file, default ``./saegraph.db``); an explicit
``--store`` wins over ``NEO4J_URI`` in the environment, ``--neo4j`` with ``--store`` is
refused. Neo4j credentials come from ``NEO4J_USER`` / ``NEO4J_PASSWORD`` in the environment
or ``--env-file``; they are never printed.
"""

from __future__ import annotations

import functools

import click


def store_options(func):
    """--neo4j / --store / --env-file, passed as ``store_args`` (a dict) to the command."""

    @click.option(
        "--neo4j",
        "neo4j_uri",
        envvar="NEO4J_URI",
        default=None,
        metavar="URI",
        help="Neo4j bolt URI (env NEO4J_URI); omit for the embedded store.",
    )
    @click.option(
        "--store",
        "store_dir",
        default=None,
        metavar="PATH",
        help="Embedded store file (default ./saegraph.db).",
    )
    @click.option(
        "--env-file",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="File with NEO4J_USER / NEO4J_PASSWORD / NEO4J_DATABASE lines.",
    )
    @functools.wraps(func)
    def wrapper(*args, neo4j_uri, store_dir, env_file, **kwargs):
        if neo4j_uri and store_dir:
            source = click.get_current_context().get_parameter_source("neo4j_uri")
            if source is click.core.ParameterSource.ENVIRONMENT:
                neo4j_uri = None  # an explicit --store wins over NEO4J_URI in the environment
            else:
                raise click.UsageError("give either --neo4j URI or --store PATH, not both")
        store_args = {"neo4j_uri": neo4j_uri, "store_dir": store_dir, "env_file": env_file}
        return func(*args, store_args=store_args, **kwargs)

    return wrapper


def _open(store_args: dict, **extra):
    from saegraph.queries.stores import DEFAULT_STORE_DIR, StoreError, open_store

    args = dict(store_args)
    if not args["neo4j_uri"] and not args["store_dir"]:
        args["store_dir"] = DEFAULT_STORE_DIR
    try:
        return open_store(**args, **extra)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("schema")
def schema() -> None:
    """Graph schema (constraints, indexes, embedded tables).

    \b
    Example:
      saegraph schema apply --neo4j bolt://localhost:7687
    """


@schema.command("apply")
@store_options
def schema_apply(store_args: dict) -> None:
    """Create constraints and indexes (Neo4j) or node/rel tables (embedded); idempotent.

    \b
    Example:
      saegraph schema apply --store saegraph.db
    """
    store = _open(store_args)
    try:
        n = store.apply_schema()
    finally:
        store.close()
    click.echo(f"schema applied to {store.kind} store: {n} statements")


@click.command("load")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@store_options
@click.option("--batch-size", default=10_000, show_default=True, help="Rows per UNWIND batch (Neo4j).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option(
    "--no-resume",
    is_flag=True,
    help="Neo4j: ignore the resume record of an interrupted load and send every batch again.",
)
@click.option(
    "--threads",
    type=int,
    default=0,
    show_default=True,
    help="Embedded: relationship types COPYed at once; 0 = every usable core.",
)
def load(
    bundle: str, store_args: dict, batch_size: int, no_progress: bool, no_resume: bool, threads: int
) -> None:
    """Load a graph bundle into a store; re-loading the same run is idempotent.

    An interrupted Neo4j load gives up with the last committed batch named; running the
    same command again continues after it.

    \b
    Examples:
      saegraph load bundle/                         # embedded ./saegraph.db
      saegraph load bundle/ --store g.db --threads 1  # one relationship COPY at a time
      saegraph load bundle/ --neo4j bolt://localhost:7687 --env-file .env
    """

    store = _open(store_args)
    try:
        if store.kind == "neo4j":
            from saegraph.ingest.stores.neo4j import StoreRunner, load_bundle_neo4j

            report = load_bundle_neo4j(
                bundle,
                StoreRunner(store),
                batch_size=batch_size,
                apply_schema=store.apply_schema,
                progress=not no_progress,
                resume=not no_resume,
            )
        else:
            from saegraph.ingest.stores.embedded import load_bundle_embedded

            report = load_bundle_embedded(bundle, store, progress=not no_progress, max_workers=threads)
    finally:
        store.close()
    click.echo(report.summary())


def _parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: write key=value", param_hint="-p")
        params[key.strip()] = value
    return params


@click.command("query")
@click.argument("name", required=False)
@click.option(
    "-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="Query parameter (repeatable)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "vertical", "csv", "json"]),
    default="table",
    show_default=True,
    help="vertical: one 'column : value' line per field, for wide rows (feature cards).",
)
@click.option("--list", "list_names", is_flag=True, help="List the named queries and their parameters.")
@store_options
def query(name: str | None, params: tuple[str, ...], fmt: str, list_names: bool, store_args: dict) -> None:
    """Run a named query from the library against either store.

    \b
    Examples:
      saegraph query --list
      saegraph query neighbors.top_k -p featureId=s0:12 -p relType=CO_ACTIVATES -p k=5
      saegraph query universality.match_stats --format csv
      saegraph query lookup.feature_card -p featureId=demo-a:12 --format vertical
    """
    from saegraph.queries.registry import get_query, list_queries, run

    if list_names or not name:
        for n in list_queries():
            q = get_query(n)
            click.echo(f"{q.usage()}\n    {q.description}")
        return
    get_query(name)  # an unknown name fails here, before a store is opened
    store = _open(store_args, read_only=True) if not store_args["neo4j_uri"] else _open(store_args)
    try:
        frame = run(store, name, **_parse_params(params))
    finally:
        store.close()
    if fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(frame.to_json(orient="records", default_handler=str))
    elif fmt == "vertical":
        from saegraph.queries.analysis.cards import vertical

        click.echo(vertical(frame))
    else:
        click.echo(frame.to_string(index=False) if len(frame) else "(no rows)")


@click.command("export-admin")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--database", default="neo4j", show_default=True, help="Target database name.")
def export_admin(bundle: str, out_dir: str, database: str) -> None:
    """Write CSV node/relationship files + headers for `neo4j-admin database import full`.

    \b
    Example:
      saegraph export-admin bundle/ import/ && cat import/import-command.txt
    """
    from saegraph.ingest.stores.export_admin import export_admin as do_export

    args = do_export(bundle, out_dir, database=database)
    click.echo(
        f"wrote {len(args['nodes'])} node and {len(args['relationships'])} relationship file pairs to "
        f"{out_dir}; command in {out_dir}/import-command.txt"
    )
