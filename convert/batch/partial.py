"""Temporary files a killed job leaves behind.

convert's writers write to a hidden temporary file beside the output and rename it when
complete; a worker killed mid-job (SIGKILL, out of memory, Ctrl-C's stop) cannot remove
its own. The coordinating process removes them once the job has no attempt running, so a
folder holds only finished outputs (no need to ask whether the writer is alive). The names
are mkstemp's (8 characters): VideoWriter's `.STEM.XXXXXXXX.partSUFFIX` and rswap.atomic's
`.NAME.XXXXXXXX.part`, and the writers' `.NAME.PID.XXXXXXXX.part*` that carry the writer's pid.
Matched exactly, so the output `a.mp4` never claims the temporary files of `a.5.mp4`.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path


def partial_files(output: str | Path) -> list[Path]:
    out = Path(output)
    pattern = re.compile(rf"\.(?:{re.escape(out.stem)}\.[A-Za-z0-9_]{{8}}\.part{re.escape(out.suffix)}"
                         rf"|{re.escape(out.name)}\.(?:\d+\.)?[A-Za-z0-9_]{{8}}\.part(?:{re.escape(out.suffix)})?)")
    try:
        return [p for p in out.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return []


def remove_partial(output: str | Path) -> None:
    for p in partial_files(output):
        with contextlib.suppress(OSError):
            p.unlink()
