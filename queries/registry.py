"""The named-query registry: ``queries/cypher/<area>/<verb_noun>.cypher`` files loaded by name.

Algorithm:
1. Every sub-directory of the ``queries`` package whose name is an identifier not starting
   with ``_`` is an *area*; each ``<stem>.cypher`` in it is the named query ``area.stem``
   (Neo4j text). A file ``<stem>.embedded.cypher`` beside it is the embedded-store override.
   Private areas (``_store``, ``_health``) hold the statements the stores themselves use;
   the write path registers its own tree (``ingest/stores/cypher/_load``) with
   :func:`register_statements`.
2. The header comment declares the query: the first ``//`` line is its description,
   ``// @param NAME TYPE [= DEFAULT]  doc`` lines its parameters (TYPE: str, int, float,
   bool, list[str], or an Enum allowlist name from :data:`saegraph.schema.graph.TEMPLATE_ENUMS`,
   optionally restricted, e.g. ``RelType(CO_ACTIVATES|LASSO|COSINE)``), and
   ``// @returns a, b, c`` its columns.
3. :func:`bind` rejects unknown and missing parameters with a one-line error that names
   the known ones, coerces values (CLI strings included) to their declared types, turns
   Enum parameters into template tokens (``{{relType}}``, ``{{relWeight}}``,
   ``{{relSuffix}}``, or ``{{NAME}}``), and keeps the rest as ``$params``.
4. :func:`render` fills the ``{{token}}`` slots (allowlisted values only) and the store runs
   the text with the ``$params`` it references.
5. A store's text may carry ``// @current-run FEATURE_PARAM``: where it cannot resolve a null
   ``runId`` to the SAE's current run inside the statement (LadybugDB's recursive-pattern
   predicates see only parameters), :func:`run` first asks ``lookup.current_run`` for the
   feature in FEATURE_PARAM and passes that run as ``$runId``.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from importlib import resources
from typing import Any

from saegraph.errors import SaegraphError
from saegraph.schema.graph import TEMPLATE_ENUMS, RelType

EMBEDDED_SUFFIX = ".embedded.cypher"
_TOKEN = re.compile(r"\{\{(\w+)\}\}")
_PARAM_REF = re.compile(r"\$(\w+)")
_CURRENT_RUN = re.compile(r"^//\s*@current-run\s+(\w+)\s*$", re.MULTILINE)
_PARAM_LINE = re.compile(r"^@param\s+(\w+)\s+([\w\[\]]+(?:\([\w|]+\))?)\s*(?:=\s*(\S+))?\s*(.*)$")
_SCALAR_TYPES = ("str", "int", "float", "bool", "list[str]", "rows")  # rows: a batch, passed as is
NON_QUERY_DIRS = frozenset({"browser"})  # Neo4j Browser favourites (linted only)


class QueryError(SaegraphError, ValueError):
    """An unknown query name, or an unknown / missing / ill-typed parameter."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # a scalar type or an Enum name
    default: Any = None
    required: bool = True
    doc: str = ""
    allowed: tuple[str, ...] = ()  # for Enum parameters: the allowed member values

    @property
    def enum(self) -> builtins.type[Enum] | None:  # `type` is the field above
        return TEMPLATE_ENUMS.get(self.type)

    def choices(self) -> list[Enum]:
        """The Enum members this parameter accepts (empty for scalars)."""
        if self.enum is None:
            return []
        return [m for m in self.enum if not self.allowed or m.value in self.allowed]

    def coerce(self, value: Any) -> Any:
        if value is None:
            return None
        if self.enum is not None:
            try:
                member = RelType.parse(value) if self.enum is RelType else self.enum(value)
            except ValueError as exc:
                allowed = [m.value for m in self.choices()]
                what = "relationship type" if self.enum is RelType else self.type
                raise QueryError(
                    f"parameter {self.name}: unknown {what} {value!r}: use one of {allowed}"
                ) from exc
            if self.allowed and member.value not in self.allowed:
                raise QueryError(
                    f"parameter {self.name}={member.value!r} not allowed here: use one of {list(self.allowed)}"
                )
            return member
        if self.type == "rows":
            return value
        try:
            if self.type == "int":
                return int(value)
            if self.type == "float":
                return float(value)
            if self.type == "bool":
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(value)
                    return value.lower() in ("true", "1", "yes")
                return bool(value)
            if self.type == "list[str]":
                if isinstance(value, str):
                    return [v for v in value.split(",") if v]
                return [str(v) for v in value]
            return str(value)
        except (TypeError, ValueError) as exc:
            raise QueryError(f"parameter {self.name}={value!r} is not a valid {self.type}") from exc


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    text: str  # Neo4j text
    embedded_text: str | None
    params: tuple[Param, ...] = field(default_factory=tuple)
    returns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def area(self) -> str:
        return self.name.split(".")[0]

    def text_for(self, kind: str) -> str:
        if kind == "embedded" and self.embedded_text is not None:
            return self.embedded_text
        return self.text

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def usage(self) -> str:
        parts = []
        for p in self.params:
            kind = p.type + (f"({'|'.join(p.allowed)})" if p.allowed else "")
            parts.append(f"{p.name}:{kind}" + ("" if p.required else f"={p.default}"))
        return f"{self.name}({', '.join(parts)}) -> {', '.join(self.returns)}"


def _parse_default(raw: str | None, type_: str) -> Any:
    if raw is None or raw == "null":
        return None
    return Param("default", type_).coerce(raw.strip("'\""))


def parse_header(name: str, text: str) -> tuple[str, tuple[Param, ...], tuple[str, ...]]:
    """Description, parameters and returned columns from a file's ``//`` header."""
    description, params, returns = "", [], []
    for line in text.splitlines():
        s = line.strip()
        if not s.startswith("//"):
            if s:
                break
            continue
        body = s[2:].strip()
        if body.startswith("@param"):
            m = _PARAM_LINE.match(body)
            if not m:
                raise QueryError(
                    f"query {name}: cannot parse header line {line!r} (want '// @param NAME TYPE [= DEFAULT] doc')"
                )
            pname, ptype, raw_default, doc = m.groups()
            allowed: tuple[str, ...] = ()
            if "(" in ptype:
                ptype, rest = ptype.split("(", 1)
                allowed = tuple(rest.rstrip(")").split("|"))
            if ptype not in _SCALAR_TYPES and ptype not in TEMPLATE_ENUMS:
                raise QueryError(f"query {name}: parameter {pname} has unknown type {ptype!r}")
            params.append(
                Param(pname, ptype, _parse_default(raw_default, ptype), raw_default is None, doc, allowed)
            )
        elif body.startswith("@returns"):
            returns = [c.strip() for c in body[len("@returns") :].split(",") if c.strip()]
        elif not description and body:
            description = body.split(":", 1)[1].strip() if body.startswith(name + ":") else body
    return description, tuple(params), tuple(returns)


_ROOTS: list[tuple[str, str]] = [("saegraph.queries", "cypher")]


def register_statements(package: str, subdir: str = "cypher") -> None:
    """Add another tree of ``<area>/<stem>.cypher`` files to the catalog.

    The write path registers its load statements (``saegraph.ingest.stores``, area
    ``_load``) this way, so they live beside the loader and never in the read library.
    """
    if (package, subdir) not in _ROOTS:
        _ROOTS.append((package, subdir))
        _catalog.cache_clear()


def _area_dirs(include_private: bool):
    for package, subdir in _ROOTS:
        root = resources.files(package).joinpath(subdir)
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            if not entry.is_dir() or not entry.name.lstrip("_").isidentifier() or entry.name.startswith("__"):
                continue
            if entry.name in NON_QUERY_DIRS or (entry.name.startswith("_") and not include_private):
                continue
            yield entry


@lru_cache(maxsize=1)
def _catalog() -> dict[str, NamedQuery]:
    catalog: dict[str, NamedQuery] = {}
    for area in _area_dirs(include_private=True):
        files = {e.name: e for e in area.iterdir() if e.name.endswith(".cypher")}
        for fname, entry in sorted(files.items()):
            if fname.endswith(EMBEDDED_SUFFIX):
                continue
            stem = fname[: -len(".cypher")]
            name = f"{area.name}.{stem}"
            text = entry.read_text(encoding="utf-8")
            override = files.get(stem + EMBEDDED_SUFFIX)
            desc, params, returns = parse_header(name, text)
            catalog[name] = NamedQuery(
                name, desc, text, override.read_text(encoding="utf-8") if override else None, params, returns
            )
        orphans = [
            f
            for f in files
            if f.endswith(EMBEDDED_SUFFIX) and f[: -len(EMBEDDED_SUFFIX)] + ".cypher" not in files
        ]
        if orphans:
            raise QueryError(
                f"embedded overrides without a Neo4j query in {area.name}/: {orphans}; add the Neo4j text"
            )
    return catalog


def list_queries(include_private: bool = False) -> list[str]:
    """Names of the named queries, ``area.verb_noun``, sorted."""
    return sorted(n for n in _catalog() if include_private or not n.startswith("_"))


def get_query(name: str) -> NamedQuery:
    try:
        return _catalog()[name]
    except KeyError:
        raise QueryError(f"unknown query {name!r}: known queries are {', '.join(list_queries())}") from None


def bind(query: NamedQuery, params: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Validate ``params`` against the header; return (template tokens, ``$params``)."""
    known = {p.name for p in query.params}
    unknown = sorted(set(params) - known)
    if unknown:
        raise QueryError(
            f"query {query.name} has no parameter(s) {unknown}: its parameters are {query.usage()}"
        )
    missing = [p.name for p in query.params if p.required and params.get(p.name) is None]
    if missing:
        raise QueryError(f"query {query.name} needs parameter(s) {missing}: {query.usage()}")
    tokens: dict[str, str] = {}
    values: dict[str, Any] = {}
    for p in query.params:
        value = p.coerce(params.get(p.name, p.default))
        if p.enum is not None:
            tokens.update(value.tokens() if hasattr(value, "tokens") else {p.name: value.value})
        else:
            values[p.name] = value
    return tokens, values


def render(text: str, tokens: dict[str, str]) -> str:
    """Fill ``{{token}}`` slots; an unfilled slot is a programming error in the query file."""

    def fill(m: re.Match) -> str:
        if m.group(1) not in tokens:
            raise QueryError(f"template slot {{{{{m.group(1)}}}}} has no value (have {sorted(tokens)})")
        return tokens[m.group(1)]

    return _TOKEN.sub(fill, text)


def referenced_params(text: str, values: dict[str, Any]) -> dict[str, Any]:
    """Only the ``$params`` a statement mentions (the embedded engine rejects extra ones)."""
    used = set(_PARAM_REF.findall(strip_comments(text)))
    return {k: v for k, v in values.items() if k in used}


def strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))


def prepare(name: str, kind: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The statement text for a store kind and the ``$params`` to send with it."""
    query = get_query(name)
    tokens, values = bind(query, params)
    text = render(query.text_for(kind), tokens)
    return text, referenced_params(text, values)


def run(store, name: str, **params: Any):
    """Run the named query on ``store`` (Neo4j or embedded); a pandas DataFrame out."""
    query = get_query(name)
    resolve = _CURRENT_RUN.search(query.text_for(store.kind))
    if resolve and params.get("runId") is None and params.get(resolve.group(1)) is not None:
        current = run(store, "lookup.current_run", featureId=params[resolve.group(1)])
        params = {**params, "runId": current["runId"].iloc[0] if len(current) else None}
    text, values = prepare(name, store.kind, params)
    frame = store.run(text, values)
    if (
        query.returns
        and list(frame.columns) != list(query.returns)
        and len(frame.columns) == len(query.returns)
    ):
        frame.columns = list(query.returns)
    return frame
