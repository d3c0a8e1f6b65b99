"""Checks and atomic writes shared by every reader and writer.

Outputs are written to a hidden temporary file in the destination directory and
renamed over the destination only when complete, so a failed or interrupted run
never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from rswap.atomic import atomic_path
from rswap.errors import RswapError

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


# What rswap writes video to: containers measured to keep every frame's pts exact and to hold
# the synthetic-media tag. Of the others (all fine as inputs), .avi/.wmv/.flv shifted or
# stretched the timeline, .ts started 80 ms late and .ts/.mpg hold no tag (MPEG streams carry
# no free-text metadata), .webm cannot hold H.264.
VIDEO_OUTPUT_SUFFIXES = (".mp4", ".mkv", ".mov", ".m4v")


def is_video_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def require_video_output(path: str | os.PathLike) -> Path:
    """`path` as a video output (see VIDEO_OUTPUT_SUFFIXES), or one line saying why not."""
    p = Path(path)
    if p.suffix.lower() not in VIDEO_OUTPUT_SUFFIXES:
        why = "" if not is_video_path(p) else (
            f"; {p.suffix} cannot keep exact frame timestamps and the synthetic-media tag with H.264")
        raise RswapError(f"video output must be {', '.join(VIDEO_OUTPUT_SUFFIXES)}{why}: {p}")
    return require_output_path(p)


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def require_input_file(path: str | os.PathLike, what: str = "input") -> Path:
    p = Path(path)
    if not p.exists():
        raise RswapError(f"{what} file not found: {p}")
    if p.is_dir():
        raise RswapError(f"{what} is a directory, not a file: {p}")
    if p.stat().st_size == 0:
        raise RswapError(f"{what} file is empty (0 bytes): {p}")
    if not os.access(p, os.R_OK):
        raise RswapError(f"{what} file is not readable: {p}")
    return p


def require_output_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise RswapError(f"output directory does not exist: {parent}")
    if not os.access(parent, os.W_OK):
        raise RswapError(f"output directory is not writable: {parent}")
    if p.is_dir():
        raise RswapError(f"output path is a directory: {p}")
    return p


def is_same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when writing `b` would replace the file `a` reads: the same path after
    resolving symlinks and `..`, or the same inode (a hard link, a bind mount)."""
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def describe_os_error(e: OSError, path: str | os.PathLike) -> str:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full while writing {path}"
    if e.errno == errno.EFBIG:
        return f"file size limit reached while writing {path}"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied writing {path}"
    return f"could not write {path}: {e.strerror or e}"


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path beside `path`; rename it to `path` only if the block succeeds."""
    dest = require_output_path(path)
    try:
        with atomic_path(dest) as tmp:
            yield tmp
    except OSError as e:
        raise RswapError(describe_os_error(e, dest)) from e
