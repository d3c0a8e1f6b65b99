"""The Ray runner: the same jobs as Ray tasks, on a cluster (or a Ray started here).

Each job is one task needing `--cpus-per-job` CPUs, and one GPU when it runs a learned model
and the cluster has GPUs (the classical swapper never uses one). Ray reuses its worker
processes, so worker.py's swapper cache works as in the local pool. A task whose worker
dies is retried once by Ray itself (max_retries=1); a job's own failure (corrupt target,
no face) comes back as a result and is not retried. Frames reach the progress view through
a ray.util.queue.Queue (a tiny actor holding no CPU).

Every node reads the targets and source photos and writes the outputs at the same paths, so
they must live on storage every node sees (NFS, a shared mount); paths are made absolute
before they travel. Only this module imports ray, and only when `--cluster ray` is chosen.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Callable

from rswap.errors import RswapError

from realtime.batch.partial import remove_partial
from realtime.batch.plan import Job
from realtime.batch.view import BatchView
from realtime.batch.worker import run_job


def _ray_job(index: int, options: dict, progress) -> dict:
    """Runs on a Ray worker."""
    import ray

    progress.put_nowait((index, None))  # "started": a second start of a job is Ray's retry
    result = run_job(options, lambda n: progress.put_nowait((index, n)))
    result["node"] = ray.get_runtime_context().get_node_id()
    return result


def _absolute(options: dict) -> dict:
    """Option values naming files, made absolute (a Ray worker's current folder is its own)."""
    def fix(v):
        return os.path.abspath(v) if isinstance(v, str) and v and os.path.exists(v) else v

    out = {k: [fix(x) for x in v] if isinstance(v, list) else fix(v) for k, v in options.items()}
    out["output"] = os.path.abspath(options["output"])
    return out


def run_ray(jobs: list[Job], view: BatchView, on_done: Callable[[Job, dict], None], address: str | None,
            cpus_per_job: float, stop: threading.Event) -> None:
    """Run `jobs` as Ray tasks; return when all are done, or raise KeyboardInterrupt once `stop` is set."""
    try:
        import ray
        from ray.util.queue import Empty, Queue
    except ImportError:
        raise RswapError("--cluster ray needs Ray: pip install 'rswap[cluster]'") from None

    started_here = not ray.is_initialized()
    if started_here:
        # No address and no $RAY_ADDRESS: a new Ray for this batch ("local"; a bare ray.init() would
        # join whatever cluster `ray start` last recorded on this machine, even a stopped one).
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise RswapError(f"cannot reach the Ray cluster at {address}: "
                             f"{str(e).splitlines()[0] if str(e) else type(e).__name__} (a cluster with token "
                             f"authentication also needs RAY_AUTH_MODE=token and its ~/.ray/auth_token here)") from None
    running: dict = {}
    starts = {j.index: 0 for j in jobs}
    by_index = {j.index: j for j in jobs}
    try:
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        progress = Queue(actor_options={"num_cpus": 0})
        task = ray.remote(max_retries=1)(_ray_job)
        for job in jobs:
            gpus = 1 if has_gpus and job.options.get("model") != "classical" else 0
            ref = task.options(num_cpus=cpus_per_job, num_gpus=gpus).remote(job.index, _absolute(job.options), progress)
            running[ref] = job
        while running and not stop.is_set():
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
            _drain(progress, view, Empty, starts, by_index)
            for ref in ready:
                job = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as e:  # the worker died twice, or Ray lost the node
                    first = (str(e).strip().splitlines() or [""])[0]
                    result = {"ok": False, "error": f"Ray task failed ({type(e).__name__}): {first}"[:300]}
                result["attempts"] = max(1, starts[job.index])
                remove_partial(job.output)  # a killed attempt's temporary file (the job has no attempt running now)
                on_done(job, result)
        if running:
            raise KeyboardInterrupt
        _drain(progress, view, Empty, starts, by_index)
    except BaseException:  # Ctrl-C: cancel what runs, keep only finished outputs
        finished, _ = ray.wait(list(running), num_returns=len(running), timeout=0.5) if running else ([], [])
        for ref in finished:  # finished while Ctrl-C came: output in place, so it goes in the ledger
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError:
                continue
            job = running.pop(ref)
            if result["ok"]:
                on_done(job, {**result, "attempts": max(1, starts[job.index])})
            remove_partial(job.output)
        for ref in running:
            ray.cancel(ref, force=True)
        if running:
            ray.wait(list(running), num_returns=len(running), timeout=30)
        for job in running.values():
            remove_partial(job.output)
        raise
    finally:
        if started_here:
            ray.shutdown()


def _drain(progress, view: BatchView, empty, starts: dict, by_index: dict) -> None:
    n = progress.qsize()
    if not n:
        return
    try:
        messages = progress.get_nowait_batch(n)
    except empty:
        return
    for index, frames in messages:
        if frames is not None:
            view.frames(index, frames)
            continue
        starts[index] += 1
        if starts[index] > 1:
            view.retrying(by_index[index], "its Ray worker died")
