"""saegraph: a graph-database-backed knowledge store for sparse-autoencoder features.

One installed namespace over the repository's folders: ``saegraph.schema`` (``schema/``,
the graph schema), ``saegraph.queries`` (``queries/``, the read path), ``saegraph.ingest``
(``ingest/``, the write path), and here ``saegraph.cli`` and ``saegraph.demo`` (the
application layer). Importing this package imports none of them.
"""

from importlib.metadata import PackageNotFoundError, version

from saegraph.errors import SaegraphError

try:
    __version__ = version("saegraph")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["SaegraphError", "__version__"]
