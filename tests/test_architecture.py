"""The dependency rules of docs/architecture.md, checked on the source (no imports run).

1. Map every ``.py`` file of the installed namespace to its module name (setup.py's folders).
2. Read each file's module-level imports with ``ast`` (imports inside functions are the
   lazy ones the CLI relies on and are allowed to point anywhere the layers allow).
3. Check the layers: schema <- queries <- ingest <- demo <- cli, each importing only
   layers below it (any import, lazy or not), and no import cycle among modules.
ruff's banned-api rule (pyproject.toml) enforces the read-path half of the same rules
while editing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {
    "saegraph": "saegraph",
    "saegraph.ingest": "ingest",
    "saegraph.queries": "queries",
    "saegraph.schema": "schema",
}
LAYERS = ["saegraph.schema", "saegraph.queries", "saegraph.ingest", "saegraph.demo", "saegraph.cli"]


def _modules() -> dict[str, Path]:
    out = {}
    for prefix, folder in FOLDERS.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([prefix, *parts])
            if prefix == "saegraph" and parts[:1] and parts[0] in ("ingest", "queries", "schema"):
                continue
            out[name] = path
    return out


def _imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                pkg = module.split(".")[: -node.level] if path.name != "__init__.py" else module.split(".")
                base = ".".join([*pkg[: len(pkg) - node.level + 1], node.module])
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {name for name in found if name.startswith("saegraph")}


def _layer(module: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            return i
    return None


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_layer_imports_only_layers_below_it(module):
    own = _layer(module)
    if own is None:
        return
    for target in _imports(MODULES[module], module, top_level_only=False):
        theirs = _layer(target)
        assert theirs is None or theirs <= own, (
            f"{module} imports {target}: {LAYERS[own]} may not import {LAYERS[theirs]}"
        )


def test_no_module_level_import_cycles():
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        for target in _imports(path, module, top_level_only=True):
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != module:
                graph.add_edge(module, target)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"module-level import cycles: {cycles[:5]}"


def test_every_package_init_states_its_purpose():
    for path in MODULES.values():
        if path.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            assert doc and doc.strip(), f"{path.relative_to(REPO)} has no one-line purpose docstring"
