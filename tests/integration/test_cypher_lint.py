"""Every Neo4j .cypher file passes Neo4j's own front end (npm @neo4j-cypher/language-support).

The test installs the pinned package into tests/lint/node_modules (npm ci, gitignored; the
npm registry must be reachable the first time) and fails loudly when node/npm are missing.
Each statement is linted with a DbSchema holding our labels, relationship types,
properties, the statement's declared $params, and the real signatures (taken from the
package's recorded Neo4j 5 + GDS catalogue) of only the functions and procedures we allow,
so an unknown procedure/function or a wrong argument count is an error. Templates are
rendered for every allowed Enum value. Errors (severity 1) fail; so do warnings that name
something absent from our schema (a misspelt label, type or property).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from saegraph.queries.registry import EMBEDDED_SUFFIX, get_query, list_queries, render
from saegraph.schema.ddl import ddl_statements, split_statements
from saegraph.schema.graph import Label, RelType

pytestmark = pytest.mark.slow  # runs the Node Cypher linter over every file (~1 min)

REPO = Path(__file__).resolve().parents[2]
LINT_DIR = REPO / "tests" / "lint"

# Built-in functions and procedures our Neo4j texts may call (signatures come from the package).
FUNCTIONS = [
    "abs",
    "avg",
    "coalesce",
    "collect",
    "count",
    "floor",
    "length",
    "max",
    "min",
    "nodes",
    "sum",
    "size",
    "properties",
    "id",
    "elementId",
    "labels",
    "type",
    "toString",
    "toInteger",
    "toFloat",
    "gds.util.asNode",
    "gds.util.asNodes",
    "gds.similarity.cosine",
    "gds.graph.project",
    "gds.version",
    "gds.isLicensed",
    "gds.graph.exists",
    "gds.util.isFinite",
    "gds.util.NaN",
    "gds.util.infinity",
    "percentileCont",
    "stdev",
    "round",
    "sqrt",
    "log",
    "exp",
    "keys",
    "range",
    "head",
    "last",
    "startNode",
    "endNode",
    "relationships",
    "tail",
    "reverse",
    "split",
    "replace",
    "toLower",
    "toUpper",
    "trim",
    "exists",
    "datetime",
    "timestamp",
]
PROCEDURES = [
    "gds.graph.project",
    "gds.graph.project.cypher",
    "gds.graph.drop",
    "gds.graph.exists",
    "gds.graph.list",
    "gds.louvain.write",
    "gds.louvain.stream",
    "gds.leiden.write",
    "gds.leiden.stream",
    "gds.wcc.write",
    "gds.wcc.stream",
    "gds.pageRank.write",
    "gds.pageRank.stream",
    "gds.degree.write",
    "gds.degree.stream",
    "gds.shortestPath.dijkstra.stream",
    "gds.shortestPath.yens.stream",
    "gds.nodeSimilarity.stream",
    "gds.version",
    "db.labels",
    "db.relationshipTypes",
    "db.propertyKeys",
    "db.schema.visualization",
    "dbms.components",
]
# Map keys read from $rows maps in the loader statements (not graph properties).
ROW_KEYS = ["source", "target", "props", "value", "complete"]


def _example(ptype: str):
    return {"int": 1, "float": 1.0, "bool": True, "list[str]": ["a"], "rows": [], "str": "x"}.get(ptype, "x")


def _property_keys() -> list[str]:
    keys: set[str] = set(ROW_KEYS)
    for stmt in ddl_statements("embedded"):
        body = stmt[stmt.index("(") + 1 : stmt.rindex(")")]
        for col in body.split(","):
            name = col.strip().split()[0].strip("`")
            if name not in ("FROM", "PRIMARY"):
                keys.add(name)
    return sorted(keys)


def neo4j_statements() -> list[tuple[str, str, dict]]:
    """(id, text, params) for every Neo4j statement: named queries (all renderings), DDL, browser files."""
    out: list[tuple[str, str, dict]] = []
    for name in list_queries(include_private=True):
        q = get_query(name)
        params = {p.name: _example(p.type) for p in q.params if p.enum is None}
        choices = [p.choices() for p in q.params if p.enum is not None]
        for combo in itertools.product(*choices) if choices else [()]:
            tokens: dict[str, str] = {}
            for member in combo:
                tokens.update(member.tokens() if hasattr(member, "tokens") else {})
            for p, member in zip([p for p in q.params if p.enum is not None], combo):
                if not hasattr(member, "tokens"):
                    tokens[p.name] = member.value
            suffix = "/".join(m.value for m in combo)
            out.append((f"{name}[{suffix}]" if suffix else name, render(q.text, tokens), params))
    for fname in ("constraints.cypher", "indexes.cypher"):
        for i, stmt in enumerate(split_statements((REPO / "schema" / fname).read_text(encoding="utf-8"))):
            out.append((f"schema/{fname}#{i}", stmt, {}))
    for path in sorted((REPO / "queries").rglob("*.cypher")):
        rel = path.relative_to(REPO / "queries")
        if path.name.endswith(EMBEDDED_SUFFIX) or rel.parts[0] in ("_ddl",) or len(rel.parts) != 2:
            continue
        if rel.parts[0] == "browser" or not rel.parts[0].lstrip("_").isidentifier():
            text = path.read_text(encoding="utf-8")
            params = {m: "x" for m in re.findall(r"\$(\w+)", text)}
            for i, stmt in enumerate(split_statements(text)):
                out.append((f"{rel}#{i}", stmt, params))
    return out


@pytest.fixture(scope="module")
def linter():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail(
            "node and npm are required for the Cypher lint (Node >= 18): install Node.js", pytrace=False
        )
    pkg = LINT_DIR / "node_modules" / "@neo4j-cypher" / "language-support" / "package.json"
    wanted = json.loads((LINT_DIR / "package.json").read_text())["dependencies"][
        "@neo4j-cypher/language-support"
    ]
    if not pkg.exists() or json.loads(pkg.read_text())["version"] != wanted:
        cmd = [
            "npm",
            "ci" if (LINT_DIR / "package-lock.json").exists() else "install",
            "--no-audit",
            "--no-fund",
        ]
        proc = subprocess.run(cmd, cwd=LINT_DIR, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"`{' '.join(cmd)}` in tests/lint failed:\n{proc.stderr[-2000:]}", pytrace=False)

    def lint(statements: list[tuple[str, str, dict]]) -> dict[str, list[dict]]:
        base = {
            "labels": [lb.value for lb in Label],
            "relationshipTypes": [t.value for t in RelType] + ["IN_SAE", "OF_MODEL", "PRODUCED", "USED"],
            "propertyKeys": _property_keys(),
        }
        payload = {
            "base": base,
            "functions": FUNCTIONS,
            "procedures": PROCEDURES,
            "queries": [{"name": n, "text": t, "parameters": p} for n, t, p in statements],
        }
        proc = subprocess.run(
            [node, str(LINT_DIR / "lint_cypher.mjs")],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=LINT_DIR,
        )
        assert proc.returncode == 0, f"lint script failed:\n{proc.stderr[-3000:]}"
        return {r["name"]: r["diagnostics"] for r in json.loads(proc.stdout)}

    return lint


def _problems(diagnostics: list[dict]) -> list[str]:
    return [
        f"line {d['line']}: {d['message']}"
        for d in diagnostics
        if d["severity"] == 1 or "not present in the database" in d["message"]
    ]


def test_every_neo4j_cypher_file_lints_clean(linter):
    statements = neo4j_statements()
    assert len(statements) > 60  # all renderings of >= 20 queries + private statements + DDL
    results = linter(statements)
    bad = {name: _problems(diags) for name, diags in results.items() if _problems(diags)}
    assert not bad, "Cypher lint errors:\n" + "\n".join(f"{k}: {v}" for k, v in bad.items())


def test_lint_catches_broken_queries(linter):
    results = linter(
        [
            ("syntax", "MATCH (f:Feature RETURN f", {}),
            (
                "unknown_procedure",
                "CALL gds.louvian.write('g', {}) YIELD communityCount RETURN communityCount",
                {},
            ),
            ("wrong_arity", "CALL gds.graph.drop() YIELD graphName RETURN graphName", {}),
            ("unknown_function", "MATCH (f:Feature) RETURN frobnicate(f.density) AS x", {}),
            ("undeclared_param", "MATCH (f:Feature {featureId: $nope}) RETURN f.featureId", {}),
            ("misspelt_label", "MATCH (f:Featur) RETURN f.featureId", {}),
            ("embedded_dialect", "MATCH p = (a:Feature)-[:COSINE* SHORTEST 1..3]-(b:Feature) RETURN p", {}),
        ]
    )
    for name, diags in results.items():
        assert _problems(diags), f"the lint accepted the broken query {name!r}"
