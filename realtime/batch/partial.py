"""Temporary files a killed job leaves behind.

convert's writers write to a hidden temporary file beside the output and rename it when
complete; a worker killed mid-job (SIGKILL, out of memory, Ctrl-C's stop) cannot remove
its own. The coordinating process removes them once the job has no attempt running, so a
folder holds only finished outputs. The names are mkstemp's (8 characters of [a-z0-9_]):
VideoWriter's `.STEM.XXXXXXXX.partSUFFIX` and rswap.atomic's `.NAME.XXXXXXXX.part`.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path


def partial_files(output: str | Path) -> list[Path]:
    out = Path(output)
    pattern = re.compile(
        rf"^\.(?:{re.escape(out.stem)}\.[a-z0-9_]{{8}}\.part{re.escape(out.suffix)}|{re.escape(out.name)}\.[a-z0-9_]{{8}}\.part)$")
    try:
        return [p for p in out.parent.iterdir() if pattern.match(p.name)]
    except OSError:
        return []


def remove_partial(output: str | Path) -> None:
    for p in partial_files(output):
        with contextlib.suppress(OSError):
            p.unlink()
