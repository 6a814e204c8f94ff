"""TOML values onto typed dataclasses: the parsing half of ``saegraph.ingest.config``.

Algorithm:
1. ``from_dict(cls, data)`` refuses keys ``cls`` does not declare (one line naming the allowed
   ones) and requires every field without a default.
2. Each value is coerced to its field's annotation (``_coerce``): a nested dataclass from a
   table, ``Literal`` choices, tuples from lists, unions tried in order, numbers, integers,
   booleans and strings checked strictly (``true`` is not 1), with a one-line
   :class:`ConfigError` naming the key.
3. The dataclass's own ``__post_init__`` then checks the values (``saegraph.ingest.config``).
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Literal, get_args, get_origin

from saegraph.ingest.config_checks import ConfigError
from saegraph.ingest.config_checks import check as _check


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if isinstance(tp, type) and is_dataclass(tp):
        _check(isinstance(value, dict), f"{where} must be a table, got {type(value).__name__}")
        return from_dict(tp, value, where)
    if origin is Literal:
        _check(
            value in get_args(tp), f"{where} = {value!r} is not one of {', '.join(map(repr, get_args(tp)))}"
        )
        return value
    if origin is tuple:
        _check(isinstance(value, list | tuple), f"{where} must be a list, got {type(value).__name__}")
        (inner, *_rest) = get_args(tp)
        return tuple(_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        for arg in get_args(tp):
            try:
                return _coerce(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} has the wrong type {type(value).__name__}")
    if tp is float:
        _check(
            isinstance(value, int | float) and not isinstance(value, bool),
            f"{where} must be a number, got {value!r}",
        )
        return float(value)
    if tp is int:
        _check(
            isinstance(value, int) and not isinstance(value, bool),
            f"{where} must be an integer, got {value!r}",
        )
        return value
    if tp is bool:
        _check(isinstance(value, bool), f"{where} must be true or false, got {value!r}")
        return value
    if tp is str:
        _check(isinstance(value, str), f"{where} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {_type_name(tp)}")


def from_dict(cls: type, data: dict[str, Any], where: str = "config") -> Any:
    """Build dataclass ``cls`` from a nested dict, with one-line errors naming the key."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    _check(not unknown, f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    kwargs = {}
    for name, f in known.items():
        key = f"{where}.{name}" if where != "config" else name
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], key)
        else:
            _check(f.default is not MISSING or f.default_factory is not MISSING, f"{key} is required")
    return cls(**kwargs)
