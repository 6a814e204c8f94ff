"""The ``saegraph`` command line: a thin click layer over the library.

Commands are registered by name in ``COMMANDS`` as ``"module:attribute"`` and imported only
when invoked (or when their help is shown), so ``saegraph --help`` stays instant: no torch,
sae_lens or transformer_lens import happens until a command needs it.
"""

from __future__ import annotations

import importlib
import logging

import click

from saegraph.errors import SaegraphError

# name -> "module:attribute" of a click.Command. Keep one line per command.
COMMANDS: dict[str, str] = {
    "doctor": "saegraph.cli.doctor_cmd:doctor",
    "demo": "saegraph.cli.demo_cmd:demo",
    "ingest": "saegraph.cli.ingest_cmd:ingest",
    "inspect": "saegraph.cli.inspect_cmd:inspect",
    "edges": "saegraph.cli.edges_cmd:edges",
    "schema": "saegraph.cli.store_cmds:schema",
    "load": "saegraph.cli.store_cmds:load",
    "query": "saegraph.cli.store_cmds:query",
    "export-admin": "saegraph.cli.store_cmds:export_admin",
    "communities": "saegraph.cli.analysis_cmds:communities",
    "path": "saegraph.cli.analysis_cmds:path",
    "compare": "saegraph.cli.analysis_cmds:compare",
    "universality": "saegraph.cli.universality_cmd:universality",
    "show": "saegraph.cli.show_cmd:show",
    "view": "saegraph.cli.view_cmd:view",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def invoke(self, ctx: click.Context):
        """Run the command; a :class:`SaegraphError` becomes its one-line message and exit 1.

        This is the one place that catches the library's user-facing errors: commands let
        them propagate, and nothing already written is removed on the way out.
        """
        try:
            return super().invoke(ctx)
        except SaegraphError as exc:
            raise click.ClickException(str(exc)) from None

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="saegraph")
def cli(verbose: int) -> None:
    """saegraph: a graph-database-backed knowledge store for SAE features.

    \b
    Typical session:
      saegraph ingest run.toml -o bundle/        # model + SAEs + text -> graph bundle
      saegraph load bundle/                      # into the embedded store ./saegraph.db
      saegraph query neighbors.top_k -p featureId=s0:12
      saegraph demo --quick                      # the whole pipeline offline
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    cli(prog_name="saegraph")
