"""Credentials come only from the environment / env files and never leak.

A planted password (in ``NEO4J_PASSWORD`` and in an ``--env-file``) must not appear in:
stdout/stderr of the CLI commands that read Neo4j settings (``doctor``, ``load``,
``query``, ``schema apply`` against an unreachable server, at -vv debug logging), the
Python log records (caplog at DEBUG, the neo4j driver's own debug log included, with a fake
Bolt server that accepts the handshake so the driver really sends its HELLO), and every file
of a bundle ingested while the password is set.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
import time

import pytest
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.queries.stores import StoreError, neo4j_credentials, open_store
from tests.helpers.reliability import cli_env, saegraph_cmd
from tests.helpers.store_fixtures import make_graph_bundle

ENV_PASSWORD = "planted-ENV-pw-5c1e7a"
FILE_PASSWORD = "planted-FILE-pw-93b2d4"
DEAD_URI = "bolt://127.0.0.1:1"  # nothing listens on port 1: refused at once

SMALL_RUN = """
[run]
name = "cred-check"
[model]
source = "synthetic"
[synthetic]
num_features = 48
hidden_dim = 24
n_correlated_pairs = 2
hierarchy_branching = 2
[dataset]
source = "synthetic"
n_tokens = 1500
context_size = 32
[[saes]]
id = "a"
source = "synthetic"
synthetic_mode = "truth"
[edges.lasso]
replicates = 2
min_firings = 5
"""


def assert_absent(text: str | bytes, where: str) -> None:
    for pw in (ENV_PASSWORD, FILE_PASSWORD):
        needle = pw.encode() if isinstance(text, bytes) else pw
        assert needle not in text, f"planted password found in {where}"


@pytest.fixture
def env_file(tmp_path):
    p = tmp_path / "neo4j.env"
    p.write_text(f"# test credentials\nexport NEO4J_USER=neo4j\nNEO4J_PASSWORD='{FILE_PASSWORD}'\n")
    return p


def test_credentials_read_from_env_and_env_file(monkeypatch, env_file):
    monkeypatch.setenv("NEO4J_PASSWORD", ENV_PASSWORD)
    assert neo4j_credentials()["password"] == ENV_PASSWORD
    assert neo4j_credentials(env_file)["password"] == FILE_PASSWORD  # the file overrides the env


@pytest.fixture(scope="module")
def graph_bundle(tmp_path_factory):
    return make_graph_bundle(tmp_path_factory.mktemp("cred") / "b", n_saes=2, n_features=40, seed=3)


COMMANDS = [  # (argv, credentials from): every command that reads the Neo4j settings
    (["-vv", "doctor", "--neo4j", DEAD_URI], "env"),
    (["-vv", "doctor", "--neo4j", DEAD_URI], "env-file"),
    (["-vv", "load", "{bundle}", "--neo4j", DEAD_URI, "--no-progress"], "env-file"),
    (["-vv", "load", "{bundle}", "--neo4j", DEAD_URI, "--no-progress"], "env"),
    (["-vv", "query", "lookup.runs", "--neo4j", DEAD_URI], "env-file"),
    (["-vv", "schema", "apply", "--neo4j", DEAD_URI], "env"),
]


@pytest.mark.slow  # several CLI subprocesses (~15 s)
def test_cli_never_prints_the_password(graph_bundle, env_file):
    """All commands run side by side (they spend their time importing); each fails fast and clean."""
    procs = []
    t0 = time.monotonic()
    for argv, source in COMMANDS:
        args = [a.replace("{bundle}", str(graph_bundle)) for a in argv]
        if source == "env-file":
            args += ["--env-file", str(env_file)]
        procs.append(
            (
                args,
                subprocess.Popen(
                    saegraph_cmd(*args),
                    env=cli_env(NEO4J_PASSWORD=ENV_PASSWORD),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    for args, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode != 0, (args, out)
        assert "Traceback" not in err, (args, err[-2000:])
        assert "cannot reach Neo4j" in out + err, (args, out, err)
        assert_absent(out, f"stdout of {args}")
        assert_absent(err, f"stderr of {args}")
    assert time.monotonic() - t0 < 90


class FakeBolt:
    """Accepts one Bolt handshake (agrees to 5.0), reads what the client sends, then hangs up."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(20)
        try:
            while True:
                conn, _ = self.sock.accept()
                with conn:
                    conn.settimeout(2)
                    conn.recv(20)  # magic + 4 proposals
                    conn.sendall(b"\x00\x00\x00\x05")  # Bolt 5.0
                    try:
                        while chunk := conn.recv(65536):
                            self.received += chunk
                            if len(self.received) > 16 and b"\x00\x00" in self.received:
                                break
                    except OSError:
                        pass
        except OSError:
            return

    def close(self):
        self.sock.close()


def test_driver_debug_log_masks_the_password(caplog, monkeypatch, env_file):
    """The driver sends HELLO with the password to a (fake) server; no log record holds it."""
    monkeypatch.setenv("NEO4J_PASSWORD", ENV_PASSWORD)
    server = FakeBolt()
    try:
        with caplog.at_level(logging.DEBUG):
            for kwargs in ({}, {"env_file": env_file}):
                # the server hangs up mid-HELLO: a one-line StoreError naming the fix, no password
                with pytest.raises(StoreError, match="hung up while connecting") as info:
                    open_store(neo4j_uri=f"bolt://127.0.0.1:{server.port}", **kwargs)
                assert "\n" not in str(info.value)
                assert_absent(str(info.value), "the StoreError message")
    finally:
        server.close()
    assert FILE_PASSWORD.encode() in server.received or ENV_PASSWORD.encode() in server.received, (
        "the fake server never saw a HELLO: the test did not exercise the auth path"
    )
    assert "neo4j" in {r.name.split(".")[0] for r in caplog.records}, "driver debug logging was not captured"
    assert_absent(caplog.text, "log records")
    for rec in caplog.records:
        assert_absent(repr(rec.args), f"log record args of {rec.name}")


def test_ingested_bundle_and_logs_hold_no_password(tmp_path, caplog, monkeypatch, env_file):
    monkeypatch.setenv("NEO4J_PASSWORD", ENV_PASSWORD)
    monkeypatch.setenv("NEO4J_URI", DEAD_URI)
    cfg = tmp_path / "run.toml"
    cfg.write_text(SMALL_RUN)
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(cli, ["-vv", "ingest", str(cfg), "-o", str(tmp_path / "b"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert_absent(result.output, "ingest output")
    assert_absent(caplog.text, "ingest log records")
    files = [p for p in (tmp_path / "b").rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in files)
    for p in files:
        assert_absent(p.read_bytes(), str(p.relative_to(tmp_path)))


def test_every_driver_connection_failure_is_a_one_line_store_error():
    from neo4j.exceptions import AuthError, ConfigurationError, ServiceUnavailable, SessionExpired

    from saegraph.queries.stores import connection_error

    cases = [
        (AuthError(f"bad password {ENV_PASSWORD}"), "check NEO4J_USER / NEO4J_PASSWORD"),
        (ServiceUnavailable(f"refused {ENV_PASSWORD}"), "cannot reach Neo4j"),
        (SessionExpired(f"defunct {ENV_PASSWORD}"), "hung up while connecting"),
        (ConfigurationError(f"odd {ENV_PASSWORD}"), "cannot connect to Neo4j"),
    ]
    for exc, fragment in cases:
        error = connection_error("bolt://db.example:7687", exc)
        assert isinstance(error, StoreError) and fragment in str(error), (exc, error)
        assert "\n" not in str(error) and "bolt://db.example:7687" in str(error)
        assert_absent(str(error), f"the StoreError for {type(exc).__name__}")  # driver text is never echoed
    assert connection_error("bolt://x:1", KeyError("not a connection failure")) is None
