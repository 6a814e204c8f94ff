"""Errors of the source layer, and the close-match helper their messages use."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from saegraph.errors import SaegraphError


class SourceError(SaegraphError, ValueError):
    """A model, SAE or dataset cannot be used as configured; the message names the fix."""


def close_matches(name: str, candidates: Iterable[str], n: int = 5) -> str:
    """A short ``did you mean`` clause listing the candidates closest to ``name`` (or '')."""
    found = difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.5)
    return f"; did you mean {', '.join(found)}?" if found else ""
