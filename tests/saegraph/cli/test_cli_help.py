"""Every command has help text with an example, and `saegraph --help` stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from saegraph.cli import COMMANDS, cli


def _all_commands():
    import click

    out = []
    for name in sorted(COMMANDS):
        cmd = cli.get_command(None, name)
        out.append((name, cmd))
        if isinstance(cmd, click.Group):
            out.extend((f"{name} {sub}", c) for sub, c in cmd.commands.items())
    return out


@pytest.mark.parametrize("name, cmd", _all_commands(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_has_help_with_example(name, cmd):
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert (cmd.help or "").strip(), f"{name} has no help text"
    assert "saegraph" in result.output
    if not hasattr(cmd, "commands"):
        assert "Example" in (cmd.help or ""), f"`saegraph {name} --help` shows no example"


def test_top_level_help_imports_no_heavy_modules():
    code = (
        "import sys; from click.testing import CliRunner; from saegraph.cli import cli; "
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output; "
        "heavy = [m for m in ('torch', 'sae_lens', 'transformer_lens', 'ladybug', 'neo4j', 'igraph') "
        "if m in sys.modules]; "
        "print(heavy); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_explicit_store_wins_over_neo4j_uri_in_the_environment(tmp_path):
    """CI exports NEO4J_URI for the neo4j tests; an explicit --store still means the embedded store."""
    store = str(tmp_path / "s.db")
    env = {"NEO4J_URI": "bolt://127.0.0.1:1"}  # nothing listens there
    result = CliRunner().invoke(cli, ["schema", "apply", "--store", store], env=env)
    assert result.exit_code == 0, result.output
    both = CliRunner().invoke(cli, ["schema", "apply", "--store", store, "--neo4j", "bolt://x:1"], env=env)
    assert both.exit_code != 0 and "not both" in both.output
