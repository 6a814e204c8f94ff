"""The one base class of every error a user can fix; the CLI catches it once.

Each subclass carries a one-line message that names the fix; ``saegraph.cli`` prints it
as ``error: <message>`` and exits with status 1, so no traceback reaches the user.
"""


class SaegraphError(Exception):
    """A failure the user can fix: bad input, a missing file, an unreachable store."""
