"""Render the named-query library as Neo4j Browser favourites (see the package docstring)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from saegraph.queries import registry

# Placeholders for required parameters without a default: obviously fake, easy to spot.
_PLACEHOLDER = {
    "str": "<edit me>",
    "int": 0,
    "float": 0.0,
    "bool": False,
    "list[str]": [],
    "rows": [],
}


def _param_literal(value: Any) -> str:
    """A Cypher literal for a ``:param`` line (JSON strings are valid Cypher strings)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _header(query: registry.NamedQuery, variant: str, text: str) -> str:
    title = f"// {query.name}" + (f" ({variant})" if variant else "") + f": {query.description}"
    lines = [title]
    if query.returns:
        lines.append(f"// returns: {', '.join(query.returns)}")
    used = registry.referenced_params(text, {p.name: p for p in query.params if p.enum is None})
    for name, p in used.items():
        value = p.default if not p.required else _PLACEHOLDER.get(p.type, "<edit me>")
        doc = f"  // {p.doc}" if p.doc else ""
        lines.append(f":param {name} => {_param_literal(value)};{doc}")
    return "\n".join(lines)


def favorite_files(include_gds: bool = True) -> dict[str, str]:
    """``{"<area>/<name>[.<TYPE>].cypher": text}`` for every public named query.

    Each text is a Browser script: a title comment, ``:param`` lines, and the statement with
    its template slots filled. ``include_gds=False`` leaves out the ``gds`` area (Neo4j+GDS only).
    """
    files: dict[str, str] = {}
    for name in registry.list_queries():
        query = registry.get_query(name)
        if query.area == "gds" and not include_gds:
            continue
        enum_params = [p for p in query.params if p.enum is not None]
        if len(enum_params) > 1:
            raise registry.QueryError(
                f"query {name}: favourites support one Enum parameter, found {len(enum_params)}"
            )
        variants: list[tuple[str, dict[str, str]]] = [("", {})]
        if enum_params:
            p = enum_params[0]
            variants = [
                (m.value, m.tokens() if hasattr(m, "tokens") else {p.name: m.value}) for m in p.choices()
            ]
        body_src = registry.strip_comments(query.text).strip()
        for variant, tokens in variants:
            body = registry.render(body_src, tokens)
            stem = name.split(".", 1)[1] + (f".{variant}" if variant else "")
            files[f"{query.area}/{stem}.cypher"] = f"{_header(query, variant, body)}\n{body}\n"
    return files


def write_favorites_zip(path: str | Path, include_gds: bool = True) -> Path:
    """Write the favourites zip for Neo4j Browser's Favorites drawer; returns its path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).parent
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, text in sorted(favorite_files(include_gds).items()):
            zf.writestr(f"saegraph/{arcname}", text)
        for extra in ("display_labels.cql", "clear_display_labels.cql"):
            zf.writestr(
                f"saegraph/browser/{extra.replace('.cql', '.cypher')}", (here / extra).read_text("utf-8")
            )
    return out
