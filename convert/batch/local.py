"""The local runner: N worker processes on this machine (pebble's ProcessPool).

Why pebble: concurrent.futures' ProcessPoolExecutor breaks whole when one worker dies
(BrokenProcessPool fails every pending job and cannot tell which job killed it).
pebble's pool fails only the dead worker's task (ProcessExpired, with its exit code), starts
a new worker, and keeps going; so a job whose worker was killed (SIGKILL, out of memory, a
native crash) is retried once and the rest of the batch never notices.

Workers are spawned, not forked: the coordinating process runs threads (the pool's own,
tqdm's), and a fresh interpreter is the safe start for mediapipe and OpenCV. They ignore
SIGINT (pebble's workers do). Ctrl-C sets `stop` (run.py); between two looks at the
futures this process then collects the results already sent, stops the workers, removes the
temporary files of the jobs they were running and raises KeyboardInterrupt (exit 130).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import queue as queue_module
import signal
import threading
import time
from typing import Callable

from convert.batch.partial import remove_partial
from convert.batch.plan import Job
from convert.batch.view import BatchView
from convert.batch.worker import init_pool_worker, run_pool_job

ATTEMPTS = 2  # a job whose worker died is run once more


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"worker killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"worker exited with code {code}"


def _written_since(path: str, since: float) -> bool:
    try:
        return os.stat(path).st_mtime >= since
    except OSError:
        return False


def _drain(progress, view: BatchView) -> None:
    while True:
        try:
            index, n = progress.get_nowait()
        except queue_module.Empty:
            return
        view.frames(index, n)


def run_local(jobs: list[Job], view: BatchView, parallel: int, on_done: Callable[[Job, dict], None],
              stop: threading.Event) -> None:
    """Run `jobs`; return when all are done, or raise KeyboardInterrupt once `stop` is set (Ctrl-C)."""
    from pebble import ProcessExpired, ProcessPool

    started = time.time()
    ctx = multiprocessing.get_context("spawn")
    progress = ctx.Queue()
    pool = ProcessPool(max_workers=max(1, min(parallel, len(jobs))), context=ctx,
                       initializer=init_pool_worker, initargs=(progress,))
    attempts = {j.index: 1 for j in jobs}
    running = {pool.schedule(run_pool_job, args=(j.index, j.options)): j for j in jobs}
    try:
        while running and not stop.is_set():
            finished, _ = concurrent.futures.wait(running, timeout=0.2, return_when=concurrent.futures.FIRST_COMPLETED)
            _drain(progress, view)
            for future in finished:
                job = running.pop(future)
                try:
                    result = future.result()
                except ProcessExpired as e:
                    remove_partial(job.output)
                    if attempts[job.index] < ATTEMPTS:
                        attempts[job.index] += 1
                        view.retrying(job, describe_exit(e.exitcode))
                        running[pool.schedule(run_pool_job, args=(job.index, job.options))] = job
                        continue
                    result = {"ok": False, "error": f"{describe_exit(e.exitcode)}, twice"}
                except Exception as e:  # e.g. a job's options that cannot be sent to a worker
                    result = {"ok": False, "error": f"internal error ({type(e).__name__}: {e})"}
                result["attempts"] = attempts[job.index]
                remove_partial(job.output)  # the job has no attempt running now
                on_done(job, result)
        if running:  # stopped: results already on their way still count (their outputs are in place) ...
            for future in running:  # ... but no job starts after Ctrl-C (with short jobs one did, in that wait)
                if not future.running():
                    future.cancel()
            concurrent.futures.wait(running, timeout=0.5)
            raise KeyboardInterrupt
        _drain(progress, view)
        pool.close()
        pool.join()
    except BaseException:  # Ctrl-C, SIGTERM turned into KeyboardInterrupt, or a bug here
        pool.stop()
        pool.join()
        for future, job in running.items():
            if future.done() and not future.cancelled() and future.exception() is None and future.result()["ok"]:
                on_done(job, {**future.result(), "attempts": attempts[job.index]})
            elif _written_since(job.output, started):
                # the worker put its output in place (the writers' last step) and was stopped before
                # its result came back: the file is complete, so the job is finished
                on_done(job, {"ok": True, "frames": job.frames, "seconds": 0.0, "attempts": attempts[job.index],
                              "note": "finished as the batch stopped"})
            remove_partial(job.output)
        raise
    finally:
        progress.close()
