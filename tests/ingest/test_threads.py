"""Thread choice: an explicit count wins; otherwise the cores the load leaves free, at least one."""

from __future__ import annotations

import os

from saegraph.ingest.threads import choose_threads


def test_explicit_count_wins():
    assert choose_threads(3) == 3


def test_auto_uses_free_cores(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    assert choose_threads(0) == 3
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert choose_threads(0) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert choose_threads(0) == 4
