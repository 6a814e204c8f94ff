"""`saegraph export-admin` output imports with the fetched neo4j-admin into a fresh database,
and a server on it answers like an online load (needs NEO4J_URI, Java and Maven; slow).

The import goes into a second, temporary NEO4J_LOCAL_HOME (Community has one user database,
``neo4j``, so a fresh database means a fresh home) started on other ports (7688 / 7475), so the
main server keeps running. The bundle holds NaN and +/-Infinity inside double arrays and a
MATCHES pair linked by two methods: the importer must take both as the online load does.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

from saegraph.ingest.bundle import BundleBuilder, open_bundle
from saegraph.ingest.stores.export_admin import export_admin, import_command
from saegraph.ingest.stores.neo4j import StoreRunner, load_bundle_neo4j
from saegraph.queries import RelType, run
from saegraph.queries.stores import Neo4jStore
from tests.helpers.store_fixtures import make_graph_bundle
from tests.neo4j.conftest import delete_prefixed, ids, run_id

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "neo4j-local"
P = ids("admin")
BOLT, HTTP = int(os.environ.get("SAEGRAPH_TEST_BOLT_PORT", "7688")), 7475


def _with_special_values(src: Path, dst: Path) -> Path:
    """A copy of the bundle whose first feature's topTokenActs holds NaN, +inf and -inf."""
    b = open_bundle(src)
    builder = BundleBuilder(dst)
    builder.manifest.update(
        {k: v for k, v in b.manifest.items() if k in ("runId", "codeVersion", "config", "dataset")}
    )
    for name in b.tables:
        table = b.table(name)
        if name == "features":
            acts = table.column("topTokenActs").to_pylist()
            acts[0] = [math.nan, math.inf, -math.inf]
            idx = table.schema.get_field_index("topTokenActs")
            table = table.set_column(idx, "topTokenActs", pa.array(acts, pa.list_(pa.float64())))
        builder.write_table(name, table)
    return builder.finalize()


def _local(env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_admin_import_answers_like_an_online_load(neo4j_store, tmp_path):
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.skip("needs java and mvn for scripts/neo4j-local")
    base = make_graph_bundle(
        tmp_path / "base", n_features=60, seed=21, prefix=P, run_id=run_id("admin"), parent_matches=4
    )
    bundle = _with_special_values(base, tmp_path / "bundle")
    out = tmp_path / "admin"
    args = export_admin(bundle, out)
    env = {
        **os.environ,
        "NEO4J_LOCAL_HOME": str(tmp_path / "home"),
        "NEO4J_BOLT_PORT": str(BOLT),
        "NEO4J_HTTP_PORT": str(HTTP),
        "NEO4J_HEAP": "512m",
        "NEO4J_PAGECACHE": "128m",
    }
    command = import_command(out, args)
    assert command[0] == "neo4j-admin database import full"
    text = (out / "import-command.txt").read_text()
    assert "$'" not in text and str(out.resolve()) in text  # any shell, any working directory
    imported = _local(env, "admin", *command[0].split()[1:], *command[1:])
    assert imported.returncode == 0, imported.stdout[-3000:] + imported.stderr[-3000:]
    assert (out / "import.report").exists()  # the report lands beside the files
    load_bundle_neo4j(bundle, StoreRunner(neo4j_store), batch_size=500, progress=False)
    started = _local(env, "start")
    try:
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        fresh = Neo4jStore(f"bolt://127.0.0.1:{BOLT}", "neo4j", os.environ["NEO4J_PASSWORD"])
        try:
            fresh.apply_schema()
            count = (
                "MATCH (n) WHERE coalesce(n.saeId, n.modelId, n.datasetId, n.runId) STARTS WITH $p "
                "RETURN count(n) AS n"
            )
            rels = (
                "MATCH (a)-[r]->(b) WHERE coalesce(a.saeId, a.runId) STARTS WITH $p "
                "RETURN type(r) AS t, count(r) AS n ORDER BY t"
            )
            for stmt in (count, rels):
                a, b = fresh.run(stmt, {"p": P}), neo4j_store.run(stmt, {"p": P})
                assert a.to_dict("records") == b.to_dict("records"), stmt
            acts = fresh.run(
                "MATCH (f:Feature {featureId: $f}) RETURN f.topTokenActs AS a", {"f": f"{P}s0:0"}
            )
            first = list(acts["a"].iloc[0])
            assert math.isnan(first[0]) and first[1] == math.inf and first[2] == -math.inf
            from tests.integration import test_query_parity as ref

            for name, params in ref.CASES:
                params = {
                    k: (P + v if isinstance(v, str) and v[:2] in ("s0", "s1") else v)
                    for k, v in params.items()
                }
                if any(
                    p in name
                    for p in (
                        "communities.",
                        "components.",
                        "top_pagerank",
                        "top_strength",
                        "community_agreement",
                    )
                ):
                    continue  # write-back properties: not part of a bundle
                a = run(fresh, name, **params)
                b = run(neo4j_store, name, **params)
                for frame in (a, b):
                    own = next((c for c in ("saeId", "sourceSae", "runId") if c in frame.columns), None)
                    if own is not None:
                        frame.drop(frame.index[~frame[own].astype(str).str.startswith(P)], inplace=True)
                ref.assert_frames(a.reset_index(drop=True), b.reset_index(drop=True), name)
        finally:
            fresh.close()
    finally:
        _local(env, "stop", timeout=120)
        delete_prefixed(neo4j_store, P)
    assert RelType.MATCHES.value in {a.split("=")[0] for a in args["relationships"]}
