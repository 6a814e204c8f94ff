"""``saegraph ingest CONFIG -o BUNDLE``."""

from __future__ import annotations

import click

from saegraph.cli.executor_options import executor_from, executor_options


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "-o", "--out", "out", required=True, type=click.Path(file_okay=False), help="Bundle directory to create."
)
@click.option(
    "--restart", is_flag=True, help="Discard an unfinished run in OUT.partial instead of resuming it."
)
@click.option(
    "--no-edges",
    is_flag=True,
    help="Stop after activations and features (build edges later with `saegraph edges`).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--threads",
    type=int,
    default=0,
    show_default=True,
    help="CPU threads for torch and numba; 0 = the cores the load average leaves free.",
)
@executor_options
def ingest(
    config: str,
    out: str,
    restart: bool,
    no_edges: bool,
    quiet: bool,
    threads: int,
    executor_name: str,
    ray_address: str | None,
    workers: int | None,
) -> None:
    """Run a model and its SAEs over a dataset and write a graph bundle.

    Computes sparse activations (chunked on disk, resumable), per-feature metadata and the
    edge types enabled in CONFIG, and writes them to the bundle directory OUT.

    \b
    Example:
      saegraph ingest examples/synthetic.toml -o bundle/
      saegraph inspect bundle/
    """
    from saegraph.ingest.config import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise click.ClickException(f"{config}: {exc}") from None
    from saegraph.ingest.pipeline import run_ingest
    from saegraph.ingest.threads import apply_threads, choose_threads

    apply_threads(choose_threads(threads))

    executor = executor_from(executor_name, ray_address, workers)
    try:
        path = run_ingest(
            cfg, out, progress=not quiet, restart=restart, edges=not no_edges, executor=executor
        )
    finally:
        executor.close()
    click.echo(f"bundle written: {path}")
    click.echo(f"next: saegraph inspect {path}   |   saegraph load {path}")
