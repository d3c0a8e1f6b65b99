"""All-or-nothing file writes: write to a temporary file beside the destination, then
rename it over the destination. Readers see the old file or the new one, never half,
and a failed write leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    """The process umask, read without changing it (os.umask can only set it, and setting
    it even briefly would affect files other threads create meanwhile)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def finish(tmp: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Give `tmp` the permissions a plainly created file would have (mkstemp makes it 0600),
    then move it over `dest`."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, dest)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, make_parents: bool = False):
    """Yield a temporary path in `path`'s directory; it replaces `path` if the block succeeds."""
    dest = Path(path)
    if make_parents:
        dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        finish(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
