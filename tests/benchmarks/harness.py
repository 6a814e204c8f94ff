"""Benchmark harness for ``run.py``: child processes with a measured peak, machine facts, report lines.

1. Every measured call runs in a fresh child process (``python run.py --worker CASE SIDE``),
   so the two sides of a comparison never share memory, caches or imported state.
2. The child loads its input (generated once per case and cached on disk, so both sides see
   the same bytes), warms up (numba compile, imports), resets the kernel's resident high-water
   mark (``echo 5 > /proc/self/clear_refs``), then times the call with ``perf_counter``.
3. Peak memory = the child's ``VmHWM`` after the call: the resident peak during the timed call,
   which includes the interpreter and the input; ``delta`` = peak minus RSS just before the call.
   Where ``clear_refs`` cannot be written, ``ru_maxrss`` of the child is reported instead.
4. The child prints one ``RESULT {json}`` line; the parent formats one line per benchmark.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULT_TAG = "RESULT "


def _status_kib(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return float("nan")


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure(fn, *args, **kwargs) -> dict:
    """Time ``fn`` in this (child) process and report its resident peak in MiB."""
    exact = reset_peak()
    before = _status_kib("VmRSS") / 1024
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    seconds = time.perf_counter() - t0
    if exact:
        peak = _status_kib("VmHWM") / 1024
    else:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "peakMiB": peak,
        "deltaMiB": max(peak - before, 0.0),
        "exactPeak": exact,
        "out": out,
    }


def emit(result: dict) -> None:
    print(RESULT_TAG + json.dumps(result, default=float), flush=True)


def run_child(case: str, side: str, params: dict, cache_dir: Path, timeout: float) -> dict:
    """Run ``run.py --worker case side`` and return its RESULT dict (raises with its stderr tail)."""
    cmd = [
        sys.executable,
        str(HERE / "run.py"),
        "--worker",
        case,
        side,
        "--params",
        json.dumps(params),
        "--cache",
        str(cache_dir),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
    raise RuntimeError(f"benchmark child {case}/{side} failed (exit {proc.returncode}):\n{tail}")


def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram_gib = float("nan")
    try:
        with open("/proc/meminfo") as fh:
            ram_gib = int(fh.readline().split()[1]) / 2**20
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for mod in ("numpy", "scipy", "torch", "networkx", "igraph", "sklearn", "numba", "ladybug"):
        try:
            versions[mod] = getattr(__import__(mod), "__version__", "?")
        except Exception:
            versions[mod] = "absent"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ramGiB": round(ram_gib, 1),
        "load": os.getloadavg(),
        "platform": platform.platform(),
        "versions": versions,
        "threads": {k: os.environ.get(k, "default") for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS")},
    }


def fmt_line(
    name: str, sizes: str, base_label: str, base: dict, ours_label: str, ours: dict, note: str = ""
) -> str:
    """One benchmark line (the format ``tests/integration/test_benchmarks_smoke.py`` checks)."""
    speed = base["seconds"] / max(ours["seconds"], 1e-9)
    mem = ours["peakMiB"] / max(base["peakMiB"], 1e-9)
    line = (
        f"{name} | {sizes} | baseline {base_label}: {base['seconds']:.3f} s, peak {base['peakMiB']:.0f} MiB "
        f"(+{base['deltaMiB']:.0f}) | ours {ours_label}: {ours['seconds']:.3f} s, peak {ours['peakMiB']:.0f} MiB "
        f"(+{ours['deltaMiB']:.0f}) | speed-up {speed:.2f}x, memory {mem:.2f}x"
    )
    return line + (f" | {note}" if note else "")
