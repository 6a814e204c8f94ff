"""``saegraph edges BUNDLE``: (re)build edge tables of a finished bundle."""

from __future__ import annotations

import click

from saegraph.cli.executor_options import executor_from, executor_options
from saegraph.schema.graph import RelType

STAGE_NAMES = tuple(dict.fromkeys(rel.stage for rel in RelType))


def _summary(stage: str, stats: dict) -> str:
    """One line per stage for the terminal."""
    secs = stats.get("seconds")
    head = f"{stage:<13} {stats.get('rows', stats.get('edges', 0)):>10,} rows"
    tail = f"  ({secs:.1f} s)" if isinstance(secs, int | float) else ""
    if stage == "coactivation":
        per = stats.get("perSae", {})
        tested = sum(s.get("pairsTested", 0) for s in per.values())
        bh = sum(s.get("passedBH", 0) for s in per.values())
        return (
            f"{head}; {tested:,} pairs tested, {bh:,} pass BH at q={stats.get('fdrLevel')}, "
            f"null (circular shift) lets {stats.get('nullEdges', 0):,} through{tail}"
        )
    if stage == "cosine":
        per = stats.get("perSae", {})
        chance = ", ".join(f"{k} {v.get('chanceMaxCosine') or float('nan'):.3f}" for k, v in per.items())
        return f"{head}; floor {stats.get('minSimilarity')}, chance max cosine: {chance}{tail}"
    if stage == "matches":
        bits = []
        for pair, s in stats.get("pairs", {}).items():
            shared = s.get("sharedAtThreshold", {}).get("fractionOfA")
            shared_s = f"{shared:.2f}" if isinstance(shared, int | float) else "n/a"
            bits.append(
                f"{pair} MCS {s.get('mcsAB', float('nan')):.3f} (baseline {s.get('mcsBaselineAB') or 0:.3f}), "
                f"shared@{s.get('threshold')} {shared_s}"
            )
        return f"{head}; " + ("; ".join(bits) if bits else "no SAE pairs with equal dIn") + tail
    if stage == "flow":
        bits = [
            f"{pair} continuing {s.get('continuing', 0):.2f}, born {s.get('born', 0):.2f}, "
            f"best cosine {s.get('meanBestCosineForward') or 0:.3f} (baseline {s.get('baselineForward') or 0:.3f})"
            for pair, s in stats.get("pairs", {}).items()
        ]
        return f"{head}; " + ("; ".join(bits) if bits else "no SAEs at successive layers") + tail
    return head + tail


@click.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(STAGE_NAMES),
    help="Run just this stage (repeatable); default: every stage enabled in the config.",
)
@click.option(
    "--sae",
    "sae_ids",
    multiple=True,
    metavar="ID",
    help="Rebuild only this SAE (repeatable; pair stages: the pairs that involve it) and keep the "
    "other SAEs' committed rows.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Take the [edges] settings from this run TOML instead of the bundle's own config.",
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.option(
    "--threads",
    type=int,
    default=0,
    show_default=True,
    help="CPU threads for numba and torch; 0 = the cores the load average leaves free.",
)
@executor_options
def edges(
    bundle: str,
    only: tuple[str, ...],
    sae_ids: tuple[str, ...],
    config_path: str | None,
    no_progress: bool,
    threads: int,
    executor_name: str,
    ray_address: str | None,
    workers: int | None,
) -> None:
    """(Re)build CO_ACTIVATES, LASSO, COSINE, MATCHES and FLOWS_TO tables of a finished bundle.

    Activations are read from the bundle, never recomputed; each stage is committed to the
    bundle as soon as it finishes, and each SAE (or SAE pair) inside a stage is checkpointed in
    BUNDLE/.work/, so an interrupted run resumes where it stopped. --sae rebuilds the named
    SAEs only and keeps the committed rows of the others. --executor ray runs each SAE (SAE
    pair) as a Ray task, on a local cluster or at --ray-address; the tables are the same.

    \b
    Examples:
      saegraph edges bundle/                          # every enabled stage
      saegraph edges bundle/ --only coactivation      # re-run one stage
      saegraph edges bundle/ --only cosine --only matches --config run.toml
      saegraph edges bundle/ --sae layer_7            # one SAE added or changed
      saegraph edges bundle/ --executor ray --workers 8
    """
    from saegraph.ingest.config import load_config
    from saegraph.ingest.edges.runner import run_edges
    from saegraph.ingest.threads import apply_threads, choose_threads

    apply_threads(choose_threads(threads))

    executor = executor_from(executor_name, ray_address, workers)
    try:
        cfg = load_config(config_path).edges if config_path else None
        results = run_edges(
            bundle,
            cfg,
            list(only) or None,
            progress=not no_progress,
            sae_ids=list(sae_ids) or None,
            executor=executor,
        )
    except MemoryError:
        raise click.ClickException(
            "out of memory: lower [edges.coactivation] block_memory_mb or block_rows, or "
            "token_memory_mb (stream the tokens from disk), in the config"
        ) from None
    finally:
        executor.close()
    if not results:
        click.echo("no edge stage is enabled: pass --only STAGE or enable one in the config")
    for stage, stats in results.items():
        click.echo(_summary(stage, stats))
