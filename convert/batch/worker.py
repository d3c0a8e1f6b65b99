"""One job, run inside a worker process (a pebble pool process or a Ray worker).

A worker process keeps the swappers it built (source identities, models, mediapipe graphs:
~1-2 s to build) and reuses them for the next job with the same swap options, so a batch
of one person onto 300 clips builds each worker's swapper once. That cache is the one
piece of process-wide state here: a worker process is its scope.

A job's expected failures (missing, corrupt or face-less target, a source photo without a
face, a full disk) come back as `{"ok": False, "error": one line}`; a worker that dies is
the runner's business (retried once). Outputs are written by convert's atomic writers, so a
job that fails or is killed leaves at most a hidden temporary file, which the runner removes.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import traceback
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from rswap.errors import RswapError

# Options that do not shape the swapper (output files, encoder settings): jobs that differ
# only in these share a worker's swapper.
NOT_SWAPPER_OPTIONS = ("target", "output", "no_progress", "crf", "preset", "allow_truncated", "sign_cert", "sign_key",
                       "swap_workers", "swap_in")
REPORT_EVERY_S = 0.25  # frames are reported to the progress view at most this often


class SwapperCache:
    """The last few (detector, swapper) pairs this process built, by their options. A load
    that failed (e.g. no face in the source photo) is remembered too, so each job with
    those options fails at once with the same line instead of loading again."""

    def __init__(self, size: int = 2):
        self.size = size
        self._items: OrderedDict[str, object] = OrderedDict()

    def get(self, ns: argparse.Namespace):
        """(detector, swapper, whether this call built them)."""
        from realtime.detector_options import detector_from_args
        from realtime.swap_options import frame_swapper_from_args

        key = json.dumps({k: v for k, v in sorted(vars(ns).items()) if k not in NOT_SWAPPER_OPTIONS}, default=str)
        built = key not in self._items
        if built:
            try:
                detector = detector_from_args(ns)
                self._items[key] = (detector, frame_swapper_from_args(ns, detector=detector))
            except RswapError as e:
                self._items[key] = e
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        self._items.move_to_end(key)
        item = self._items[key]
        if isinstance(item, RswapError):
            raise item
        return (*item, built)


SWAPPERS = SwapperCache()  # this worker process's swappers (see the module docstring)


def _convert(ns: argparse.Namespace, on_frame: Callable[[], None]) -> dict:
    """The single-file convert's own checks and work (convert_cli), for one job."""
    from convert.cli import check_job, convert_job

    Path(ns.output).parent.mkdir(parents=True, exist_ok=True)
    target, output, target_is_video = check_job(ns, ns.target, ns.output)  # before any swapper is built
    detector, swapper, built = SWAPPERS.get(ns)
    stats = convert_job(ns, target, output, target_is_video, swapper, detector, progress=False, on_frame=on_frame)
    swapper_note = {"swapper": "built" if built else "reused"}
    if stats is None:
        return {"frames": 1, "with_face": 1, "audio": False, **swapper_note}
    return {"frames": stats.frames, "with_face": stats.with_face, "audio": stats.audio_copied,
            "truncated": stats.truncated.describe() if stats.truncated else None, **swapper_note}


def run_job(options: dict, report: Callable[[int], None] | None = None) -> dict:
    """Convert one job; `report(n)` is told of frames written, in batches (progress)."""
    start = time.monotonic()
    pending, last = 0, start

    def on_frame():
        nonlocal pending, last
        pending += 1
        now = time.monotonic()
        if report is not None and now - last >= REPORT_EVERY_S:
            report(pending)
            pending, last = 0, now

    result: dict = {"pid": os.getpid()}
    try:
        result |= {"ok": True, **_convert(argparse.Namespace(**options), on_frame)}
    except RswapError as e:
        result |= {"ok": False, "error": str(e)}
    except OSError as e:
        result |= {"ok": False, "error": f"{e.strerror or e}: {e.filename or options.get('target')}"}
    except Exception as e:  # a bug: this job fails, the batch goes on, the report keeps the traceback
        result |= {"ok": False, "error": f"internal error ({type(e).__name__}: {e})", "traceback": traceback.format_exc()}
    if report is not None and pending:
        report(pending)
    result["seconds"] = time.monotonic() - start
    return result


# -- the pebble pool's side (local.py) ---------------------------------------------------------
_progress_queue = None  # set once per pool process by init_pool_worker


def init_pool_worker(progress_queue) -> None:
    global _progress_queue
    _progress_queue = progress_queue


def run_pool_job(index: int, options: dict) -> dict:
    queue = _progress_queue
    return run_job(options, None if queue is None else lambda n: queue.put((index, n)))
