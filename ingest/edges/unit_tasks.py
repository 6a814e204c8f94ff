"""One edge-stage unit as an executor task that writes its own checkpoint.

Algorithm (``StageUnits.run`` drives it; docs/scaling.md "Sharded runs on Ray"):
1. A stage's unit function is ``compute(bundle, saes) -> (frames by table, stats)``: a
   module-level function (with ``functools.partial`` settings), so it pickles by reference.
2. :class:`UnitTask` holds the bundle's path, ``compute``, the stage's tables and its
   ``UnitCheckpoints``. In this process it uses the open bundle; pickled to a worker it drops
   it and reopens the bundle from the path (``open_bundle(verify=False)``: the parent has
   verified it), so no open file or memory map is ever shipped.
3. ``task(saes)`` computes the unit and writes the unit's checkpoint itself (frames, then the
   stats JSON, the commit point), so a task that dies, or is retried, redoes only its own
   unit, and a re-run after a crash skips every unit whose checkpoint exists.
4. With ``keep_result`` (in-process executors, or no checkpoint directory) the task returns
   the frames and stats; otherwise it returns None and the parent reads the checkpoint back.
   A retried task whose earlier attempt committed the checkpoint before dying returns at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from saegraph.ingest.edges.checkpoint import Frames, UnitCheckpoints, unit_name

UnitCompute = Callable[[Any, tuple[str, ...]], tuple[Frames, dict]]


class UnitTask:
    """Computes one unit of a stage and checkpoints it (module docstring, steps 2-4)."""

    def __init__(
        self,
        bundle: Any,
        compute: UnitCompute,
        tables: tuple[str, ...],
        ckpt: UnitCheckpoints | None,
        *,
        keep_result: bool,
    ):
        self.bundle_path = str(Path(bundle.path).absolute())  # workers may run in another directory
        self.compute, self.tables, self.ckpt, self.keep_result = compute, tables, ckpt, keep_result
        self._bundle: Any = bundle

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_bundle"] = None  # reopened from the path in the worker (step 2)
        return state

    def bundle(self) -> Any:
        if self._bundle is None:
            from saegraph.ingest.bundle import open_bundle

            self._bundle = open_bundle(self.bundle_path, verify=False)
        return self._bundle

    def __call__(self, saes: tuple[str, ...]) -> tuple[Frames, dict] | None:
        name = unit_name(saes)
        if self.ckpt is not None and not self.keep_result and self.ckpt.has(name):
            return None  # an earlier attempt committed it before its worker died (step 4)
        frames, stats = self.compute(self.bundle(), saes)
        frames = {t: frames[t] for t in self.tables}
        if self.ckpt is not None:
            self.ckpt.save(name, frames, stats)
        return (frames, stats) if self.keep_result or self.ckpt is None else None
