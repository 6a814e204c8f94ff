"""Shared pieces of the run config: the error type and the one-line value checks.

Every config dataclass validates itself in ``__post_init__`` with these helpers, so a
message always names the key and the allowed values.
"""

from __future__ import annotations

import re

from saegraph.errors import SaegraphError

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]+$")


class ConfigError(SaegraphError, ValueError):
    """The run config is invalid; the message names the key and the fix."""


def check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    check(value in choices, f"{name} = {value!r} is not one of {', '.join(map(repr, choices))}")


def check_prob(name: str, value: float) -> None:
    check(0.0 < value < 1.0, f"{name} = {value} must lie strictly between 0 and 1")
