"""Shared pieces of the executor tests: a module's local Ray cluster, statistics without bookkeeping."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from saegraph.ingest.edges.runner import json_safe


def module_ray_cluster(module_name: str) -> Iterator:
    """A local Ray cluster of two worker CPUs for one test module (use with ``yield from`` in a
    module-scoped fixture); the module's functions are pickled by value, because the workers
    cannot import the test files."""
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[module_name])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def strip_bookkeeping(value, prefixes: tuple[str, ...]):
    """Statistics as plain JSON (``json_safe``: NaN as None) without keys starting with ``prefixes``
    (timings, how the work was split), so two runs' statistics compare equal."""
    value = json_safe(value)
    if isinstance(value, dict):
        return {k: strip_bookkeeping(v, prefixes) for k, v in value.items() if not k.startswith(prefixes)}
    if isinstance(value, list):
        return [strip_bookkeeping(v, prefixes) for v in value]
    return value
