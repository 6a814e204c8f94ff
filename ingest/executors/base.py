"""The executor protocol, the in-process executor and the factory behind ``--executor``.

1. ``Executor.map(fn, tasks)`` runs ``fn`` once per task and returns the results in task order.
   A task that raises makes ``map`` raise; the tasks that finished keep whatever they wrote
   (the edge stages' unit checkpoints), so a re-run redoes only the missing ones.
2. ``LocalExecutor`` calls ``fn`` on each task in turn, in this process (today's behaviour):
   the first error stops the loop.
3. ``make_executor(name, address=, workers=)`` returns a ``LocalExecutor`` for ``"local"``, a
   ``RayExecutor`` for ``"ray"`` (``ray_executor``; Ray imported lazily, a missing Ray is a
   one-line error naming ``pip install 'saegraph[ray]'``); any other name is a one-line error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar, runtime_checkable

from saegraph.errors import SaegraphError

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray")
RAY_HINT = "pip install 'saegraph[ray]'"


class ExecutorError(SaegraphError, RuntimeError):
    """An executor cannot be built or a task failed for good (one-line message)."""


@runtime_checkable
class Executor(Protocol):
    """Runs independent tasks; results come back in task order (step 1)."""

    name: str
    in_process: bool
    """True when ``fn`` runs in this process; False when it is pickled to other processes."""

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> list[R]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """In-process and sequential: the default (step 2)."""

    name = "local"
    in_process = True

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> list[R]:
        return [fn(task) for task in tasks]

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def local_executor(executor: Executor | None) -> Executor:
    """``executor``, or a ``LocalExecutor`` when None."""
    return executor if executor is not None else LocalExecutor()


def make_executor(name: str, *, address: str | None = None, workers: int | None = None) -> Executor:
    """The executor called ``name`` (step 3); ``address`` and ``workers`` only apply to Ray."""
    if name == "local":
        if address is not None:
            raise ExecutorError("--ray-address needs --executor ray")
        return LocalExecutor()
    if name == "ray":
        from saegraph.ingest.executors.ray_executor import RayExecutor

        return RayExecutor(address=address, num_workers=workers)
    raise ExecutorError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")
