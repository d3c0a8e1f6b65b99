"""What every command-line entry point does around its work: hide native log noise, parse
the flags, and end a user's mistake or an interrupt as one line on stderr.

Each command lives in its app as a module with two functions: `add_arguments(parser)`
declares its flags, `run(args) -> int` does the work. `rswap` (cli/), `python -m training`
(torchrun's entry), `python -m realtime.live_cli` and the demo all run such modules through
`run_command`, so no app imports cli/ (which imports the apps by name) and the error
handling exists once.

Errors a user can cause are raised as `RswapError` anywhere below; they end here as one
line "rswap: error: ..." and exit code 2. Ctrl-C and SIGTERM raise `Interrupted` in the main
thread (rswap/interrupts.py), unwind through every clean-up, and end here as one line saying
what was kept, with exit code 130 or 143. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import io
import os
import sys
from typing import Callable

from rswap.errors import RswapError
from rswap.interrupts import describe, exit_code, signals_raise


def hide_native_logs() -> None:
    """mediapipe's C++ layers (TFLite, absl) write INFO/WARNING lines straight to file
    descriptor 2 whenever a graph starts; a user should see only rswap's own lines.
    So Python's stderr moves to a duplicate of fd 2 and fd 2 itself goes to /dev/null.
    RSWAP_NATIVE_LOGS=1 keeps them (for debugging the native layers)."""
    if os.environ.get("RSWAP_NATIVE_LOGS"):
        return
    try:
        sys.stderr.flush()
        python_fd = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        return
    sys.stderr = io.TextIOWrapper(io.FileIO(python_fd, "w"), encoding="utf-8", errors="replace", line_buffering=True)


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> None:
    """Keep the memory a frame's work frees mapped for the next frame (glibc only).

    A swap makes and frees a few MB of arrays a frame (masks, maps, pyramids, colour planes,
    in numpy, numba and OpenCV alike). glibc hands blocks over its mmap threshold to the kernel
    and back, and trims the heap's free top past its trim threshold, so the next frame gets
    fresh pages, each zeroed by the kernel at a page fault: ~520 faults and ~1 ms of a 256²
    swap's ~11 (benchmarks/RESULTS.md, issue 11, sixth session). With both thresholds raised
    the freed memory is reused: 0 faults. The cost is that a process keeps its peak heap."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl without mallopt)
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest default: a 1080p frame is 6 MB
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def guarded(fn: Callable[..., int], *args) -> int:
    """fn(*args), with a user's error or an interrupt as one line and its exit code."""
    try:
        with signals_raise():
            return fn(*args)
    except RswapError as e:
        print(f"rswap: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Interrupted too (SIGTERM)
        print(f"rswap: {describe(e)}", file=sys.stderr)
        return exit_code(e)


def _parse_and_run(module_name: str, prog: str, description: str, argv: list[str]) -> int:
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    return int(module.run(args) or 0)


def run_command(module_name: str, prog: str, description: str, argv: list[str] | None = None) -> int:
    """The command in `module_name` (imported only now) on `argv` (default: the process's)."""
    argv = sys.argv[1:] if argv is None else argv
    keep_freed_memory()
    return guarded(_parse_and_run, module_name, prog, description, argv)
