"""`saegraph doctor`: every check reports a status, failures carry a fix, no Neo4j is 'not configured'."""

from __future__ import annotations

import socket

from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.cli.doctor_cmd import FAIL, INFO, OK, Check, check_neo4j, format_checks, run_checks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_without_neo4j_embedded_ok_and_neo4j_not_configured(monkeypatch):
    monkeypatch.delenv("NEO4J_URI", raising=False)
    checks = run_checks(None, python=False)
    by_name = {(c.section, c.name): c for c in checks}
    assert by_name[("embedded", "store")].status == OK
    neo = by_name[("neo4j", "connection")]
    assert neo.status == INFO and "not configured" in neo.detail and "docker compose" in neo.fix


def test_unreachable_neo4j_fails_with_a_fix(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "irrelevant")
    checks = check_neo4j(f"bolt://127.0.0.1:{_free_port()}")
    assert len(checks) == 1 and checks[0].status == FAIL
    assert "cannot reach Neo4j" in checks[0].detail and checks[0].fix


def test_cli_exit_codes(monkeypatch):
    monkeypatch.delenv("NEO4J_URI", raising=False)
    ok = CliRunner().invoke(cli, ["doctor"])
    assert ok.exit_code == 0, ok.output
    for text in (
        "torch",
        "sae-lens",
        "transformer-lens",
        "ladybug",
        "neo4j",
        "devices",
        "embedded",
        "not configured",
    ):
        assert text in ok.output
    bad = CliRunner().invoke(
        cli, ["doctor", "--neo4j", f"bolt://127.0.0.1:{_free_port()}"], env={"NEO4J_PASSWORD": "x"}
    )
    assert bad.exit_code == 1 and "fix:" in bad.output and "check(s) failed" in bad.output


def test_format_shows_fix_only_for_problems():
    text = format_checks(
        [
            Check("python", "torch", OK, "2.0", "never shown"),
            Check("neo4j", "gds", FAIL, "GDS not available", "run scripts/fetch_gds.sh"),
        ]
    )
    assert "never shown" not in text and "fix: run scripts/fetch_gds.sh" in text
    assert text.splitlines()[0] == "python:" and "[FAIL] gds" in text
