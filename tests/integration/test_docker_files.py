"""Docker and Browser files: parsed and checked offline (Docker itself cannot run here)."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


def test_neo4j_image_pinned_to_526_community(compose):
    image = compose["services"]["neo4j"]["image"]
    default = re.search(r":-([^}]+)\}", image).group(1)
    assert re.fullmatch(r"neo4j:5\.26\.\d+-community", default), default
    env_default = re.search(r"^NEO4J_IMAGE=(.+)$", (DOCKER / ".env.example").read_text(), re.MULTILINE).group(
        1
    )
    assert env_default == default


def test_every_image_has_an_explicit_tag(compose):
    for name, svc in compose["services"].items():
        image = svc["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"
        for arg, value in (svc.get("build", {}).get("args") or {}).items():
            if arg == "BASE_IMAGE":
                assert re.search(r":\d", value), f"{name}: unpinned base image {value}"


def test_healthcheck_proves_gds_loaded(compose):
    hc = compose["services"]["neo4j"]["healthcheck"]
    cmd = " ".join(hc["test"])
    assert "cypher-shell" in cmd and "gds.version()" in cmd
    assert "$${" in cmd  # escaped for compose interpolation: read inside the container
    assert hc["retries"] >= 10 and "start_period" in hc


def test_gds_unrestricted_memory_and_auth_from_env_file(compose):
    env = compose["services"]["neo4j"]["environment"]
    assert env["NEO4J_dbms_security_procedures_unrestricted"] == "gds.*"
    assert "NEO4J_server_memory_heap_max__size" in env and "NEO4J_server_memory_pagecache_size" in env
    assert "NEO4J_PASSWORD:?" in env["NEO4J_AUTH"]  # refuses to start without a password in docker/.env
    # The Neo4j image turns NEO4J_* variables into settings; the env file must not reach it.
    assert "env_file" not in compose["services"]["neo4j"]
    example = (DOCKER / ".env.example").read_text()
    for key in ("NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_HEAP", "NEO4J_PAGECACHE"):
        assert re.search(rf"^{key}=", example, re.MULTILINE), key


def test_volumes_for_data_import_and_plugins(compose):
    mounts = {v.split(":")[-1]: v for v in compose["services"]["neo4j"]["volumes"]}
    assert {"/data", "/import", "/plugins"} <= set(mounts)
    assert mounts["/plugins"].startswith("./plugins")
    assert "neo4j-data" in compose["volumes"]
    assert (DOCKER / "plugins" / ".gitkeep").exists()


def test_plugins_fallback_is_opt_in(compose):
    env = compose["services"]["neo4j"]["environment"]
    assert env["NEO4J_PLUGINS"] == "${GDS_PLUGIN_FALLBACK:-}"
    assert re.search(r"^# GDS_PLUGIN_FALLBACK=", (DOCKER / ".env.example").read_text(), re.MULTILINE)


def test_pipeline_services_build_the_dockerfile(compose):
    for name in ("pipeline", "pipeline-gpu"):
        svc = compose["services"][name]
        assert svc["build"]["dockerfile"] == "docker/Dockerfile" and svc["profiles"]
        assert svc["depends_on"]["neo4j"]["condition"] == "service_healthy"
    gpu = compose["services"]["pipeline-gpu"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    assert "cpu" not in compose["services"]["pipeline-gpu"]["build"]["args"]["EXTRAS"].split(",")


def test_dockerfile_sanity():
    text = (DOCKER / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert lines[0].startswith("ARG BASE_IMAGE=python:3.11")
    assert any(ln.startswith("FROM ${BASE_IMAGE}") for ln in lines)
    for src in re.findall(r"^COPY (\S+)", text, re.MULTILINE):
        assert (ROOT / src).exists(), f"COPY {src}: no such path in the repository"
    assert re.search(r"pip install \"\.\[\$\{EXTRAS\}\]\"", text)
    assert re.search(r"^USER (?!root)", text, re.MULTILINE)
    assert 'CMD ["saegraph", "doctor"]' in text


def test_fetch_gds_script_is_valid_bash_and_pinned():
    script = ROOT / "scripts" / "fetch_gds.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert re.search(r'GDS_VERSION="\$\{GDS_VERSION:-2\.13\.\d+\}"', text)
    assert "SHA256SUMS" in text and "--record" in text


def test_fetch_gds_refuses_without_a_recorded_checksum(tmp_path):
    """No network needed: with no checksum for the version it stops before downloading."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "fetch_gds.sh")],
        env={"PATH": "/usr/bin:/bin", "PLUGINS_DIR": str(tmp_path), "GDS_VERSION": "2.13.0-test"},
        capture_output=True,
        check=False,
        text=True,
    )
    if "curl is required" in out.stderr:
        pytest.skip("curl is not installed")
    assert out.returncode != 0 and "--record" in out.stderr
    assert not list(tmp_path.glob("*.jar"))


def test_grass_style_parses_and_covers_the_schema():
    text = (ROOT / "queries" / "browser" / "saegraph.grass").read_text()
    blocks = re.findall(r"^([\w.]+) \{\n(.*?)\n\}$", text, re.MULTILINE | re.DOTALL)
    assert len(blocks) == len(re.findall(r"^\S.* \{$", text, re.MULTILINE)) > 0
    selectors = {sel for sel, _ in blocks}
    for sel in (
        "node.Feature",
        "node.SAE",
        "node.Model",
        "relationship.CO_ACTIVATES",
        "relationship.LASSO",
        "relationship.COSINE",
        "relationship.MATCHES",
    ):
        assert sel in selectors, sel
    assert {f"node.C{i}" for i in range(12)} <= selectors  # community colours
    for band in ("Rare", "Common", "Dense"):  # density sizes
        body = dict(blocks)[f"node.{band}"]
        assert re.search(r"diameter:\s*\d+px;", body)
    for _, body in blocks:
        for decl in filter(None, (d.strip() for d in body.split(";"))):
            assert re.fullmatch(r"[a-z-]+:\s*(#[0-9A-Fa-f]{6}|\d+px|\"[^\"]*\")", decl), decl


def test_display_labels_script_uses_the_write_back_names():
    text = (ROOT / "queries" / "browser" / "display_labels.cql").read_text()
    assert "communityCoActivates" in text and "SET f:$(" in text
    clear = (ROOT / "queries" / "browser" / "clear_display_labels.cql").read_text()
    for label in [f"C{i}" for i in range(12)] + ["Rare", "Common", "Dense"]:
        assert f":{label}" in clear


def test_browser_guide_has_slides_and_runnable_blocks():
    text = (ROOT / "queries" / "browser" / "guide.adoc").read_text()
    assert text.startswith("= ")
    assert len(re.findall(r"^== ", text, re.MULTILINE)) >= 5
    blocks = re.findall(r"\[source,cypher\]\n----\n(.*?)\n----", text, re.DOTALL)
    assert len(blocks) >= 8 and all(b.strip() for b in blocks)


def test_favorites_zip_holds_every_public_query(tmp_path):
    from saegraph.queries import registry
    from saegraph.queries.browser import favorite_files, write_favorites_zip

    files = favorite_files()
    names = {path.split("/")[0] + "." + path.split("/")[1].split(".")[0] for path in files}
    assert names == set(registry.list_queries())
    for path, text in files.items():
        assert text.startswith("// "), path
        assert "{{" not in text, f"{path}: unfilled template slot"
        body = "\n".join(ln for ln in text.splitlines() if not ln.startswith(("//", ":param")))
        for param in set(re.findall(r"\$(\w+)", body)):
            assert f":param {param} =>" in text, f"{path}: ${param} has no :param line"
    zpath = write_favorites_zip(tmp_path / "fav.zip")
    with zipfile.ZipFile(zpath) as zf:
        members = zf.namelist()
    assert len(members) == len(files) + 2 and all(m.startswith("saegraph/") for m in members)
