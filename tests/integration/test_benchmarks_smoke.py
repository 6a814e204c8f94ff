"""Smoke test of the benchmark entry points, so ``tests/benchmarks/run.py`` and ``bench_scale.py`` cannot rot.

Runs ``python tests/benchmarks/run.py --quick --only coactivation-sparse --only matching --no-write``
in a subprocess and checks each printed line against the documented format (case | sizes |
baseline ...: s, peak | ours ...: s, peak | speed-up, memory) with positive numbers; and
``python tests/benchmarks/bench_scale.py --quick`` (every stage at 4,096 features), whose JSON
must show non-zero edges of every type and planted recall > 0.
"""

from __future__ import annotations

import json
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


def test_scale_quick_finds_the_planted_structure(tmp_path):
    """``bench_scale.py --quick``: every stage runs in its child, every edge type keeps edges, and
    co-activation, cosine and matching recover planted pairs (table and JSON written)."""
    script = ROOT / "tests" / "benchmarks" / "bench_scale.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    res = json.loads((tmp_path / "scale.json").read_text())
    stages = ["write", "coactivation", "lasso", "cosine", "matches", "load"]
    assert [r["stage"] for r in res["rows"]] == stages
    assert all(r["seconds"] > 0 and r["peakGiB"] > 0 for r in res["rows"])
    edges = {e["type"]: e for r in res["rows"] for e in r["edgeRows"]}
    assert set(edges) == {"CO_ACTIVATES", "EXCLUDES", "LASSO", "COSINE", "MATCHES"}
    assert all(e["edges"] > 0 for e in edges.values()), edges
    for kind in ("CO_ACTIVATES", "COSINE", "MATCHES"):
        assert edges[kind]["recall"] > 0, (kind, edges[kind])
    table = (tmp_path / "scale.md").read_text()
    assert table.startswith("| tokens | stage | edge type |") and "Edge pipeline" in table


def test_scale_report_extrapolates_by_the_affine_cost_model():
    """The 10M extrapolation evaluates fixed + per-token x N (a power law through points whose fixed
    part dominates would understate it); token-free stages stay flat; a falling series is flat."""
    sys.path.insert(0, str(ROOT))
    from tests.benchmarks.scale_report import affine_fit, extrapolate

    pts = [(n, 100.0 + 2e-4 * n, 1.0 + 1e-6 * n, 0.0) for n in (250_000, 500_000, 1_000_000)]
    a, b = affine_fit([p[0] for p in pts], [p[1] for p in pts])
    assert a == pytest.approx(100.0) and b == pytest.approx(2e-4)
    secs, peak = extrapolate("coactivation", pts, 10_000_000)
    assert secs == pytest.approx(2100.0) and peak == pytest.approx(11.0)
    assert extrapolate("cosine", pts, 10_000_000) == (pts[-1][1], pts[-1][2])
    assert affine_fit([1, 2, 3], [5.0, 4.0, 3.0]) == (5.0, 0.0)
