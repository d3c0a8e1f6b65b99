"""How many threads OpenCV may start beside the conveyor's own, and Python's switch interval,
for the length of a run (both are the process's: set by the app around its run, then put back;
never by the core, rswap/).

On a box with few cores the conveyor's threads (source, track, swap, paste, and the sink) and
mediapipe's already fill every core, and OpenCV's pool only adds hand-offs and busy waits (its
workers spin before they sleep). Measured on 2 cores: a 20 s 640x368 conversion spent 17.3 CPU s
with OpenCV on one thread against 18.4 s with its pool (benchmarks/RESULTS.md, "convert on two
cores"); live at 720p and capacity, the pool's threads took 2.4-2.8 ms of CPU a frame while the
stages' own threads cost the same without it, and the sequential loop spent 2-5 ms less a frame on
one thread (issue 11, seventh session). On more cores the pool has room to help.
"""

from __future__ import annotations

import contextlib
import sys

import cv2

FEW_CORES = 2  # at most this many: OpenCV (and libx264, convert) run in their callers' threads


@contextlib.contextmanager
def opencv_threads(cores: int):
    """OpenCV single-threaded while the block runs on at most FEW_CORES cores (yields True
    then), its own choice on more (yields False); its setting is put back after."""
    if cores > FEW_CORES:
        yield False
        return
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield True
    finally:
        cv2.setNumThreads(before)


@contextlib.contextmanager
def switch_interval(seconds: float):
    """Python's thread switch interval set for the block's length, then put back."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
