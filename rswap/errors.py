"""The one exception type a user can cause.

Everything a user can get wrong (missing file, no face, bad model file, full disk)
raises `RswapError` with a message that fits on one line. The CLI prints that line
and exits non-zero; any other exception is a bug and keeps its traceback.
"""


class RswapError(Exception):
    """A user-facing error: one clear line, non-zero exit."""


class NoFaceError(RswapError):
    """An image that had to contain a face did not."""
