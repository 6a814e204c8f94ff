"""CPU thread count for torch and numba.

On a shared machine, asking torch for every core when other processes already use them is
much slower than asking for fewer (docs/benchmarks.md, Measured design choices).
``choose_threads`` therefore takes the cores the 1-minute load average leaves free (at least
one) unless a count is given.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def choose_threads(requested: int = 0) -> int:
    """``requested`` if > 0, else the cores not taken by the 1-minute load average (>= 1)."""
    if requested > 0:
        return requested
    cores = usable_cores()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, round(cores - load)))


def apply_threads(n: int) -> None:
    """Use ``n`` threads in torch and numba from now on."""
    import torch

    torch.set_num_threads(n)
    try:
        import numba

        # numba.config sets its attributes at import time, so its types do not list them
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    except ImportError:  # numba is a dependency; stay usable without it
        pass
