"""All-or-nothing file writes: write to a temporary file beside the destination, then
rename it over the destination. Readers see the old file or the new one, never half,
and a failed write leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from pathlib import Path

from rswap.errors import RswapError


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
    """Give `tmp` the permissions a plainly created file would have (make_temp_file makes it 0600),
    then move it over `dest`."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, dest)


def temp_prefix(dest: Path) -> str:
    """Temporary files and folders for `dest` are named `.{dest.name}.{pid}.*`: hidden, next to
    their destination (so the final rename stays on one file system), and stamped with the
    process that writes them, so a later run can tell a dead run's leftovers from a live one's."""
    return f".{dest.name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temps(dest: str | os.PathLike) -> int:
    """Remove the temporary files/folders for `dest` left by runs that were killed (SIGKILL,
    a power cut: no clean-up could run). Only those whose writer process is gone; returns
    how many were removed. Called by every writer before it makes its own."""
    dest = Path(dest)
    # exactly what temp_prefix + make_temp_file's 8 hex digits / a build's uuid8 make, so that "a"
    # never claims the files of "a.5"
    ours = re.compile(rf"\.{re.escape(dest.name)}\.(\d+)\.[A-Za-z0-9_]{{8}}\.(part.*|building|old)")
    removed = 0
    try:
        candidates = [(p, ours.fullmatch(p.name)) for p in dest.parent.iterdir()]
    except OSError:
        return 0
    for p, match in candidates:
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            removed += 1
    return removed


def make_temp_file(dest: Path, suffix: str = ".part") -> Path:
    """An empty temporary file for `dest` in its folder (after clearing a dead run's leftovers),
    readable by its owner only until `finish` (0600, as mkstemp makes its files).

    Interrupted while it makes the file (a Ctrl-C or SIGTERM raised between the file's creation
    and the return), it removes the file again. A caller calls it inside the `try` that removes
    the file on failure, so no moment is left where the file exists and nobody removes it: a
    SIGTERM the moment rswap build's staging folder appeared once left that folder behind."""
    remove_stale_temps(dest)
    prefix = temp_prefix(dest)
    while True:
        tmp = dest.parent / f"{prefix}{secrets.token_hex(4)}{suffix}"  # the pid in the prefix: no other process's name
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:  # one of this process's own names (8 hex digits): draw again
            continue
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, make_parents: bool = False):
    """Yield a temporary path in `path`'s directory; it replaces `path` if the block succeeds."""
    dest = Path(path)
    if make_parents:
        dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        tmp = make_temp_file(dest)
        yield tmp
        finish(tmp, dest)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


@contextlib.contextmanager
def output_folder(path: str | os.PathLike):
    """Create the folder `path` (and missing parents) for a command's outputs. If the block
    fails or is interrupted, the folders it created are removed again where they are still
    empty, so a failed run leaves no empty output folder behind. Files in them (a resumable
    run's finished work) are kept, and so is every folder that existed before."""
    path = Path(path)
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RswapError(f"cannot create output folder {path}: {e.strerror or e}") from e
    try:
        yield path
    except BaseException:
        if created:  # created[-1] is the outermost folder this made; everything below it is new
            for root, _, _ in sorted(os.walk(created[-1]), key=lambda w: -len(w[0])):  # deepest first
                with contextlib.suppress(OSError):
                    os.rmdir(root)  # only succeeds on an empty folder
        raise
