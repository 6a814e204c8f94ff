"""Smoke test of the benchmark entry point, so ``tests/benchmarks/run.py`` cannot rot.

Runs ``python tests/benchmarks/run.py --quick --only coactivation-sparse --only matching --no-write``
in a subprocess and checks each printed line against the documented format (case | sizes |
baseline ...: s, peak | ours ...: s, peak | speed-up, memory) with positive numbers.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs every benchmark at quick sizes (~1 min)

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(
    r"^(?P<case>[\w-]+) \| (?P<sizes>[^|]+) \| baseline (?P<base>[^|]+): (?P<bs>[\d.]+) s, peak (?P<bm>\d+) MiB "
    r"\(\+\d+\) \| ours (?P<ours>[^|]+): (?P<os>[\d.]+) s, peak (?P<om>\d+) MiB \(\+\d+\) "
    r"\| speed-up (?P<speed>[\d.]+)x, memory (?P<mem>[\d.]+)x( \| .*)?$"
)


def test_run_quick_prints_one_well_formed_line_per_case():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "benchmarks" / "run.py"),
            "--quick",
            "--only",
            "coactivation-sparse",
            "--only",
            "matching",
            "--no-write",
            "--timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("machine: ") and "load average" in lines[0]
    parsed = [LINE.match(line) for line in lines[1:]]
    assert all(parsed), f"malformed benchmark lines: {lines[1:]}"
    assert [m["case"] for m in parsed] == ["coactivation-sparse", "matching"]
    for m in parsed:
        assert float(m["bs"]) > 0 and float(m["os"]) > 0 and int(m["bm"]) > 0 and int(m["om"]) > 0
        assert abs(float(m["speed"]) - float(m["bs"]) / float(m["os"])) <= 0.05 * float(m["speed"]) + 0.05
    # the matching case reports both optima: the sparse matching must reach the dense one
    costs = re.search(r"cost dense ([\d.]+) vs sparse ([\d.]+)", lines[2])
    assert costs and abs(float(costs[1]) - float(costs[2])) < 1e-3 * max(float(costs[1]), 1.0)
