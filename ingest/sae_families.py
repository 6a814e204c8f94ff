"""``[[sae_families]]``: one config table names a family of SAEs, expanded into ``[[saes]]``.

Algorithm (``expand_families``, run on the parsed mapping before any dataclass is built, so
everything downstream sees plain ``[[saes]]`` tables):

1. Each ``[[sae_families]]`` table is type-checked as a :class:`SAEFamilyConfig` (unknown keys
   and wrong types refused in one line, as for every other section), then checked
   (``_check_family``: a pattern only with ``source = "pretrained"``, a valid regex, layers).
2. Its members' placeholder values are listed:

   a. without ``sae_id_pattern``: the Cartesian product layers x widths x seeds, in the order
      given (each list optional; ``layers`` may be a range string ``"0-5"``, inclusive);
   b. with ``sae_id_pattern`` (``source = "pretrained"`` only): the SAE ids of the release, read
      offline from the directory SAELens ships (``pretrained_saes.yaml``), that the regex
      matches in full; its named groups ``layer`` / ``width`` / ``seed`` give the values, the
      lists given filter them, and members are sorted by (layer, width, seed, sae id).

3. The placeholders are checked against the templates: one used without a list (or group)
   to give it, one that is not ``{layer}`` / ``{width}`` / ``{seed}``, or a list whose
   placeholder the ``id`` template does not use is a one-line :class:`ConfigError` naming
   the family and the fix.
4. Each member is the family's own SAE keys with ``{layer}`` ``{width}`` ``{seed}`` filled in
   every text field (id, release, sae_id, path, hook; ``{{`` and ``}}`` are literal braces);
   ``seeds`` also sets ``seed``, ``widths`` sets ``width`` for ``source = "synthetic"``, and the
   pattern sets ``sae_id``.
5. The members follow the explicit ``[[saes]]`` in family order; a member id already taken
   names the family. The declarations are kept under ``declared_sae_families`` (a record,
   never expanded again, so a manifest's resolved config reads back unchanged).
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from saegraph.ingest.config_checks import ConfigError
from saegraph.ingest.config_checks import check as _check
from saegraph.ingest.config_coerce import from_dict

RECORD_KEY = "declared_sae_families"
"""Key of the resolved config that keeps the family declarations (a record only)."""
AXES = ("layer", "width", "seed")
"""Placeholders, each given by the list ``{axis}s`` or a named group of ``sae_id_pattern``."""
TEMPLATE_FIELDS = ("id", "release", "sae_id", "path", "hook")
"""Text fields of ``SAEConfig`` in which the placeholders are filled."""
SAE_FIELDS = ("source", "synthetic_mode", "train_tokens", "width", "seed", *TEMPLATE_FIELDS)
"""Keys copied from the family table to every member (``SAEConfig``'s fields)."""
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)\}")
_RANGE_ITEM = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")
_DIRECTORY_FILE = "pretrained_saes.yaml"


@dataclass(frozen=True)
class SAEFamilyConfig:
    """One ``[[sae_families]]`` table: ``SAEConfig``'s fields as templates, plus the lists."""

    id: str
    """Template of the members' saeIds, e.g. ``"l{layer}-s{seed}"``."""
    source: Literal["pretrained", "local", "neelnanda", "synthetic"] = "pretrained"
    """As ``saes.source``."""
    release: str = ""
    """As ``saes.release`` (a template); the release ``sae_id_pattern`` searches."""
    sae_id: str = ""
    """As ``saes.sae_id`` (a template); not with ``sae_id_pattern``."""
    sae_id_pattern: str = ""
    """Regex matched in full against the release's SAE ids (``source = "pretrained"`` only);
    named groups ``layer`` / ``width`` / ``seed`` fill the placeholders."""
    path: str = ""
    """As ``saes.path`` (a template)."""
    hook: str = ""
    """As ``saes.hook`` (a template)."""
    layers: tuple[int, ...] | str = ()
    """Values of ``{layer}``: a list, or a range string such as ``"0-5"`` or ``"0-3,8"``
    (inclusive); with ``sae_id_pattern`` they filter the matches."""
    widths: tuple[int | str, ...] = ()
    """Values of ``{width}``; also ``saes.width`` for ``source = "synthetic"``."""
    seeds: tuple[int, ...] = ()
    """Values of ``{seed}``; also ``saes.seed``."""
    seed: int = -1
    """As ``saes.seed`` (without ``seeds``)."""
    synthetic_mode: Literal["truth", "train"] = "train"
    """As ``saes.synthetic_mode``."""
    train_tokens: int = 200_000
    """As ``saes.train_tokens``."""
    width: int = 0
    """As ``saes.width`` (without ``widths``)."""


def expand_families(mapping: dict[str, Any]) -> dict[str, Any]:
    """A new mapping: ``saes`` = the explicit ``[[saes]]`` then each family's members, in order;
    ``sae_families`` removed and recorded under ``declared_sae_families``."""
    out = dict(mapping)
    tables = out.pop("sae_families", None)
    if tables is None:
        return out
    _check(
        isinstance(tables, list) and all(isinstance(t, dict) for t in tables),
        "sae_families must be a list of tables: write each one as [[sae_families]]",
    )
    saes = out.get("saes", [])
    _check(isinstance(saes, list), "saes must be a list of tables: write each one as [[saes]]")
    saes = list(saes)
    taken = {s["id"]: "an explicit [[saes]] table" for s in saes if isinstance(s, dict) and "id" in s}
    record = list(out.get(RECORD_KEY, []))
    for i, table in enumerate(tables):
        family = from_dict(SAEFamilyConfig, table, f"sae_families[{i}]")
        name = _family_name(i, family.id)
        _check_family(family, name)
        for member in _members(family, set(table), name):
            sid = member["id"]
            if sid in taken:
                clash = "twice" if taken[sid] == name else f"already used by {taken[sid]}"
                raise ConfigError(
                    f"{name} makes saes id {sid!r} {clash}: make the id template tell the members "
                    "apart (add {layer}, {width} or {seed})"
                )
            taken[sid] = name
            saes.append(member)
        record.append(dict(table))
    out["saes"] = saes
    out[RECORD_KEY] = record
    return out


def parse_layers(value: tuple[int, ...] | list[int] | str, name: str) -> list[int]:
    """Layer numbers from a list or a range string (``"0-5"``, ``"0-3,8"``; inclusive)."""
    if not isinstance(value, str):
        layers = list(value)
        _check(all(v >= 0 for v in layers), f"{name}: layers must be >= 0, got {layers}")
        return layers
    out: list[int] = []
    for item in value.split(","):
        m = _RANGE_ITEM.fullmatch(item)
        _check(
            m is not None,
            f'{name}: layers = {value!r} is not a list or a range string such as "0-5" or "0-3,8"',
        )
        assert m is not None
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        _check(lo <= hi, f'{name}: layers range "{item.strip()}" runs backwards (write "{hi}-{lo}")')
        out.extend(range(lo, hi + 1))
    return out


def release_sae_ids(release: str) -> tuple[str, ...] | None:
    """The SAE ids of a SAELens pretrained release, read offline; None if the release is unknown."""
    text = _directory_text()
    if text is None:
        directory = _sae_lens_directory()
        return tuple(str(k) for k in directory[release].saes_map) if release in directory else None
    return _ids_from_text(release)


def release_names() -> tuple[str, ...]:
    """Every SAELens pretrained release name, in the directory's order."""
    text = _directory_text()
    if text is None:
        return tuple(_sae_lens_directory())
    return tuple(re.findall(r"^([^\s#][^:\n]*):[ \t]*(?:#.*)?$", text, re.M))


def _family_name(index: int, template: str) -> str:
    return f"sae_families[{index}] (id = {template!r})"


def _check_family(family: SAEFamilyConfig, name: str) -> None:
    _check(bool(family.id.strip()), f"{name}: id must not be empty (a template such as 'l{{layer}}')")
    if isinstance(family.layers, str):
        parse_layers(family.layers, name)
    if family.sae_id_pattern:
        _check(
            family.source == "pretrained",
            f'{name}: sae_id_pattern needs source = "pretrained" (it searches a SAELens release)',
        )
        _check(bool(family.release), f"{name}: sae_id_pattern needs release (the SAELens release)")
        try:
            re.compile(family.sae_id_pattern)
        except re.error as exc:
            raise ConfigError(f"{name}: sae_id_pattern is not a valid regex: {exc}") from exc


def _members(family: SAEFamilyConfig, given: set[str], name: str) -> list[dict[str, Any]]:
    lists: dict[str, list[Any]] = {}
    if "layers" in given:
        lists["layer"] = parse_layers(family.layers, name)
    if "widths" in given:
        lists["width"] = list(family.widths)
    if "seeds" in given:
        lists["seed"] = list(family.seeds)
    _check(
        not ("seed" in lists and "seed" in given), f"{name}: give seeds (one per member) or seed, not both"
    )
    if family.source == "synthetic" and "width" in lists:
        _check("width" not in given, f"{name}: give widths (one per member) or width, not both")
        _check(
            all(isinstance(w, int) and w > 0 for w in lists["width"]),
            f'{name}: widths of a source = "synthetic" family are latent counts (integers > 0)',
        )
    pattern = re.compile(family.sae_id_pattern) if family.sae_id_pattern else None
    groups = set(pattern.groupindex) & set(AXES) if pattern else set()
    templates = {f: getattr(family, f) for f in TEMPLATE_FIELDS if f in given}
    _check_placeholders(templates, set(lists), groups, pattern is not None, name)
    combos: list[tuple[dict[str, Any], str | None]]
    if pattern is not None:
        _check("sae_id" not in given, f"{name}: give sae_id_pattern or sae_id, not both")
        combos = _pattern_combos(family, pattern, groups, lists, name)
    else:
        axes = [a for a in AXES if a in lists]
        combos = [(dict(zip(axes, vs)), None) for vs in itertools.product(*(lists[a] for a in axes))]
    _check(bool(combos), f"{name} makes no SAEs: a list it gives (layers, widths or seeds) is empty")
    members = []
    for values, sae_id in combos:
        member = {f: getattr(family, f) for f in SAE_FIELDS if f in given}
        for f, template in templates.items():
            member[f] = _fill(template, values, f, name)
        if sae_id is not None:
            member["sae_id"] = sae_id
        seed = values.get("seed")
        if isinstance(seed, int):
            _check(
                "seed" not in given or seed == family.seed,
                f"{name}: seed = {family.seed} disagrees with {sae_id!r}'s seed group ({seed}): drop seed",
            )
            member["seed"] = seed
        if family.source == "synthetic" and "width" in lists:
            member["width"] = values["width"]
        members.append(member)
    return members


def _pattern_combos(
    family: SAEFamilyConfig,
    pattern: re.Pattern[str],
    groups: set[str],
    lists: dict[str, list[Any]],
    name: str,
) -> list[tuple[dict[str, Any], str | None]]:
    for axis in lists:
        _check(
            axis in groups,
            f"{name}: {axis}s filters the matches of sae_id_pattern by its (?P<{axis}>...) group, "
            "which the pattern lacks: add the group or drop the list",
        )
    ids = release_sae_ids(family.release)
    if ids is None:
        close = difflib.get_close_matches(family.release, release_names(), n=5, cutoff=0.5)
        hint = f"close names: {', '.join(close)}" if close else "see sae_lens' pretrained_saes.yaml"
        raise ConfigError(f"{name}: release {family.release!r} is not a SAELens pretrained release; {hint}")
    matched = [(sid, m) for sid in ids if (m := pattern.fullmatch(sid))]
    if not matched:
        raise ConfigError(
            f"{name}: sae_id_pattern {family.sae_id_pattern!r} matches none of the {len(ids)} SAE ids "
            f"of {family.release!r} in full (e.g. {', '.join(ids[:3])})"
        )
    combos: list[tuple[dict[str, Any], str | None]] = []
    for sid, m in matched:
        values: dict[str, Any] = {}
        for g in groups:
            v = m.group(g)
            if v is not None:
                values[g] = int(v) if g in ("layer", "seed") and v.isdigit() else v
        if all(_keeps(values.get(axis), allowed) for axis, allowed in lists.items()):
            combos.append((values, sid))
    if not combos:
        wanted = "; ".join(f"{axis}s = {allowed}" for axis, allowed in lists.items())
        raise ConfigError(
            f"{name}: sae_id_pattern matches {len(matched)} SAE ids of {family.release!r}, "
            f"but none with {wanted}"
        )
    combos.sort(key=lambda c: _sort_key(c[0], c[1] or ""))
    return combos


def _keeps(value: Any, allowed: list[Any]) -> bool:
    return value is not None and str(value) in {str(a) for a in allowed}


def _sort_key(values: dict[str, Any], sae_id: str) -> tuple[Any, ...]:
    def num(v: Any) -> tuple[int, float, str]:
        if v is None:
            return (0, 0.0, "")
        if isinstance(v, int):
            return (1, float(v), "")
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", v)
        if m:
            scale = {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
            return (1, float(m.group(1)) * scale, v)
        return (2, 0.0, v)

    return (num(values.get("layer")), num(values.get("width")), num(values.get("seed")), sae_id)


def _check_placeholders(
    templates: dict[str, str], lists: set[str], groups: set[str], has_pattern: bool, name: str
) -> None:
    used_in_id: set[str] = set()
    for field, template in templates.items():
        for m in _PLACEHOLDER.finditer(template):
            axis = m.group(1)
            if axis is None:
                continue
            _check(
                axis in AXES,
                f"{name}: {field} uses an unknown placeholder {{{axis}}}; use {{layer}}, {{width}} or {{seed}}"
                " (write {{ and }} for literal braces)",
            )
            _check(
                axis in lists or axis in groups,
                f"{name}: {field} uses {{{axis}}} but the family gives no {axis}s: add {axis}s = [...]"
                + (f" or a (?P<{axis}>...) group to sae_id_pattern" if has_pattern else ""),
            )
            if field == "id":
                used_in_id.add(axis)
    for axis in sorted(lists - used_in_id, key=AXES.index):
        raise ConfigError(
            f"{name}: {axis}s is given but the id template has no {{{axis}}}: add {{{axis}}} to id"
            " so every member gets its own saes id"
        )


def _fill(template: str, values: dict[str, Any], field: str, name: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        value = values.get(m.group(1))
        _check(
            value is not None,
            f"{name}: {field} uses {{{m.group(1)}}} but a matched SAE id has no {m.group(1)} group value",
        )
        return str(value)

    return _PLACEHOLDER.sub(sub, template)


@functools.cache
def _directory_text() -> str | None:
    """SAELens' release directory as text, found without importing sae_lens (that imports torch)."""
    spec = importlib.util.find_spec("sae_lens")
    locations = (spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / _DIRECTORY_FILE
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


@functools.cache
def _ids_from_text(release: str) -> tuple[str, ...] | None:
    """Parse only ``release``'s top-level block of the YAML (the whole file takes seconds)."""
    yaml = importlib.import_module("yaml")  # a SAELens dependency; imported by name: no stubs needed
    text = _directory_text()
    assert text is not None
    start = re.search(rf"^{re.escape(release)}:[ \t]*(?:#.*)?$", text, re.M)
    if start is None:
        return None
    end = re.compile(r"^[^\s#]", re.M).search(text, start.end())
    block = text[start.start() : end.start() if end else len(text)]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    entry = yaml.load(block, Loader=loader)[release]
    return tuple(str(sae["id"]) for sae in entry["saes"])


@functools.cache
def _sae_lens_directory() -> dict[str, Any]:
    """SAELens' own reader (slower: imports sae_lens), where the YAML file is not found."""
    try:
        from sae_lens.loading.pretrained_saes_directory import get_pretrained_saes_directory
    except ImportError as exc:
        raise ConfigError(
            "sae_id_pattern needs SAELens' release directory: pip install 'sae_lens>=6'"
        ) from exc
    return dict(get_pretrained_saes_directory())
