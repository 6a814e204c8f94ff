"""``RayExecutor``: each task a Ray task, on a local cluster or at a cluster address.

1. Ray is imported when the executor is built; without it the error is one line naming
   ``pip install 'saegraph[ray]'``.
2. The cluster is joined on the first ``map``: when Ray is already initialised in this process
   (a test fixture, a notebook) that session is used and left running; otherwise
   ``ray.init(address=...)`` with ``address`` None (a local cluster of ``num_workers`` CPUs),
   ``"auto"`` (the cluster this machine belongs to) or ``"ray://host:port"`` (Ray Client),
   and ``close`` shuts down what this executor started.
3. ``fn`` is put in the object store once; each task is a call of one remote function
   ``_apply(fn, task)`` declared with ``max_retries`` and ``retry_exceptions=False``: a task
   whose worker process dies (killed, out of memory, a lost node) is retried alone by Ray, up
   to ``max_retries`` times; an exception raised by ``fn`` is a real error and is not retried.
   ``fn`` and the tasks must pickle: pass paths and small values, never open bundles.
4. At most ``num_workers`` tasks are in flight (every task when None); each asks for
   ``num_cpus`` CPUs and ``num_gpus`` GPUs (a fraction shares one GPU).
5. ``map`` waits for every task, then returns the results in task order, or raises the first
   failure in task order: ``fn``'s own exception as raised in the worker, or an
   ``ExecutorError`` for a task that died more than ``max_retries`` times. Tasks that finished
   keep what they wrote, so a re-run redoes only the failed ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from saegraph.ingest.executors.base import RAY_HINT, ExecutorError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it (step 1)."""
    try:
        import ray
    except ImportError:
        raise ExecutorError(f"--executor ray needs Ray, which is not installed: {RAY_HINT}") from None
    return ray


def _apply(fn: Callable[[Any], Any], task: Any) -> Any:
    return fn(task)


class RayExecutor:
    """Tasks as Ray tasks, each retried alone when its worker dies (module docstring)."""

    name = "ray"
    in_process = False

    def __init__(
        self,
        address: str | None = None,
        num_workers: int | None = None,
        max_retries: int = 3,
        *,
        num_cpus: float = 1,
        num_gpus: float = 0,
    ):
        if num_workers is not None and num_workers < 1:
            raise ExecutorError(f"--workers must be at least 1, got {num_workers}")
        if max_retries < 0:
            raise ExecutorError(f"max_retries must be >= 0, got {max_retries}")
        self.ray = import_ray()
        self.address, self.num_workers, self.max_retries = address, num_workers, max_retries
        self.num_cpus, self.num_gpus = num_cpus, num_gpus
        self._owns = False

    def start(self) -> None:
        """Join or start the cluster (step 2); a no-op when Ray is already initialised."""
        ray = self.ray
        if ray.is_initialized():
            return
        if self.address is None:
            ray.init(num_cpus=self.num_workers, include_dashboard=False)
        else:
            ray.init(address=self.address)
        self._owns = True
        log.info("ray: %s", ray.cluster_resources())

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> list[R]:
        """``[fn(t) for t in tasks]`` on the cluster, in task order (steps 3-5)."""
        tasks = list(tasks)
        if not tasks:
            return []
        self.start()
        ray = self.ray
        remote = ray.remote(
            max_retries=self.max_retries,
            retry_exceptions=False,
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
        )(_apply)
        fn_ref = ray.put(fn)
        limit = self.num_workers or len(tasks)
        index: dict[Any, int] = {}
        outcome: dict[int, tuple[bool, Any]] = {}
        submitted = 0
        while len(outcome) < len(tasks):
            while submitted < len(tasks) and len(index) < limit:
                index[remote.remote(fn_ref, tasks[submitted])] = submitted
                submitted += 1
            done, _ = ray.wait(list(index), num_returns=1)
            for ref in done:
                i = index.pop(ref)
                try:
                    outcome[i] = (True, ray.get(ref))
                except Exception as exc:  # collected, raised after every task has finished
                    outcome[i] = (False, exc)
        for i in range(len(tasks)):
            ok, value = outcome[i]
            if not ok:
                self._raise(value, i, tasks)
        return [outcome[i][1] for i in range(len(tasks))]

    def _raise(self, exc: BaseException, i: int, tasks: list) -> None:
        errors = self.ray.exceptions
        if isinstance(exc, errors.RayTaskError) and getattr(exc, "cause", None) is not None:
            raise exc.cause from exc
        if isinstance(exc, errors.RayError):
            what = repr(tasks[i])
            what = what if len(what) <= 80 else what[:77] + "..."
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ExecutorError(
                f"ray task {i + 1} of {len(tasks)} ({what}) failed after {self.max_retries} retries: "
                f"{type(exc).__name__} {first}".rstrip()
            ) from exc
        raise exc

    def close(self) -> None:
        """Shut down the cluster this executor started (step 2)."""
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()
        self._owns = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
