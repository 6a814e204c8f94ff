"""``--executor local|ray``, ``--ray-address`` and ``--workers``: shared by ``edges`` and ``ingest``.

1. ``executor_options`` adds the three options to a command; the executor name is checked by
   ``saegraph.ingest.executors.make_executor`` (not by click), so an unknown name, or ``ray``
   without Ray installed, is the one-line error every ``SaegraphError`` becomes.
2. ``executor_from`` builds the executor; ``--ray-address`` and ``--workers`` need
   ``--executor ray``. The command closes it when done (a local Ray cluster it started shuts
   down; a cluster it joined keeps running).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def executor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--executor``, ``--ray-address`` and ``--workers`` to ``command`` (step 1)."""
    command = click.option(
        "--workers",
        type=int,
        default=None,
        help="Ray: tasks run at once; without --ray-address, the CPUs of the local cluster "
        "(default: every CPU).",
    )(command)
    command = click.option(
        "--ray-address",
        "ray_address",
        metavar="ADDR",
        default=None,
        help="Ray: join this cluster ('auto', 'ray://host:10001'); default: start a local one.",
    )(command)
    return click.option(
        "--executor",
        "executor_name",
        metavar="local|ray",
        default="local",
        show_default=True,
        help="Where each SAE (SAE pair) of an edge stage runs: in this process, or as a Ray task "
        "(pip install 'saegraph[ray]'), retried alone when its worker dies.",
    )(command)


def executor_from(name: str, address: str | None, workers: int | None):
    """The executor the options name (step 2)."""
    from saegraph.ingest.executors import ExecutorError, make_executor

    if name != "ray" and (address is not None or workers is not None):
        flag = "--ray-address" if address is not None else "--workers"
        raise ExecutorError(f"{flag} needs --executor ray")
    return make_executor(name, address=address, workers=workers)
