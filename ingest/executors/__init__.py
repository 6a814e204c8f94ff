"""Executors: where the write path's independent tasks run (in-process, or on a Ray cluster).

1. :class:`Executor` is the protocol: ``map(fn, tasks)`` returns ``[fn(t) for t in tasks]`` in
   task order; ``name`` names it; ``in_process`` says whether ``fn`` runs in this process
   (so it may hold open objects) or must be picklable (a bundle path, never an open bundle).
2. :class:`LocalExecutor` (``base``) runs the tasks one after the other here: the default.
3. :class:`RayExecutor` (``ray_executor``) runs each task as a Ray task on a local cluster or
   at a cluster address; Ray is optional and imported on first use.
4. :func:`make_executor` builds one from the CLI's ``--executor local|ray``, ``--ray-address``
   and ``--workers``; an unknown name, or ``ray`` without Ray installed, is a one-line error.
"""

from saegraph.ingest.executors.base import (
    EXECUTORS,
    Executor,
    ExecutorError,
    LocalExecutor,
    local_executor,
    make_executor,
)

__all__ = ["EXECUTORS", "Executor", "ExecutorError", "LocalExecutor", "local_executor", "make_executor"]
