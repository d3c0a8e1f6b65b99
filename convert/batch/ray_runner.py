"""The Ray runner: the same jobs on Ray actors, on a cluster (or a Ray started here).

One actor per job slot (the cluster's CPUs / `--cpus-per-job`, one GPU each when the jobs run
a learned model and the cluster has GPUs; the classical swapper never uses one). An actor is
one long-lived process, so it builds the swapper once and keeps it for every job it is given,
as a local pool worker does; plain Ray tasks were measured to rebuild it in 5 of 8 jobs (Ray
started new worker processes for them). Jobs go to whichever actor is free. An actor that dies
is restarted and its job run again by Ray (max_restarts=1, max_task_retries=1); one that dies
again fails that job alone and is replaced. A job's own failure (corrupt target, no face) comes
back as a result and is not retried. Frames reach the progress view through a
ray.util.queue.Queue (a tiny actor holding no CPU). Ctrl-C kills the actors.

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

from convert.batch.partial import remove_partial
from convert.batch.plan import Job
from convert.batch.view import BatchView
from convert.batch.worker import run_job


class SwapActor:
    """Runs jobs on a Ray node; worker.py's swapper cache lives as long as the actor."""

    def run(self, index: int, options: dict, progress) -> dict:
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
    """Run `jobs` on Ray actors; return when all are done, or raise KeyboardInterrupt once `stop` is set."""
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
    running: dict = {}  # object ref -> (job, actor)
    actors: list = []
    starts = {j.index: 0 for j in jobs}
    by_index = {j.index: j for j in jobs}
    try:
        resources = ray.cluster_resources()
        gpus = 1 if resources.get("GPU", 0) > 0 and any(j.options.get("model") != "classical" for j in jobs) else 0
        slots = int(resources.get("CPU", 1) // cpus_per_job)
        if gpus:
            slots = min(slots, int(resources["GPU"]))
        if slots < 1:
            raise RswapError(f"the Ray cluster has {resources.get('CPU', 0):g} CPUs: not enough for --cpus-per-job {cpus_per_job:g}")
        actor_class = ray.remote(max_restarts=1, max_task_retries=1)(SwapActor)

        def new_actor():
            return actor_class.options(num_cpus=cpus_per_job, num_gpus=gpus).remote()

        progress = Queue(actor_options={"num_cpus": 0})
        actors = [new_actor() for _ in range(min(slots, len(jobs)))]
        free, waiting = list(actors), list(reversed(jobs))
        while (waiting or running) and not stop.is_set():
            while free and waiting:
                job, actor = waiting.pop(), free.pop()
                running[actor.run.remote(job.index, _absolute(job.options), progress)] = (job, actor)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
            _drain(progress, view, Empty, starts, by_index)
            for ref in ready:
                job, actor = running.pop(ref)
                try:
                    result = ray.get(ref)
                    free.append(actor)
                except ray.exceptions.RayError as e:  # the actor died twice, or Ray lost its node
                    first = (str(e).strip().splitlines() or [""])[0]
                    result = {"ok": False, "error": f"Ray actor failed ({type(e).__name__}): {first}"[:300]}
                    ray.kill(actor, no_restart=True)
                    actors.remove(actor)
                    actors.append(new_actor())
                    free.append(actors[-1])
                result["attempts"] = max(1, starts[job.index])
                remove_partial(job.output)  # a killed attempt's temporary file (the job has no attempt running now)
                on_done(job, result)
        if running or waiting:
            raise KeyboardInterrupt
        _drain(progress, view, Empty, starts, by_index)
    except BaseException:  # Ctrl-C: keep what finished, kill the actors, leave no partial file
        finished, _ = ray.wait(list(running), num_returns=len(running), timeout=0.5) if running else ([], [])
        for ref in finished:  # finished while Ctrl-C came: output in place, so it goes in the ledger
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError:
                continue
            job, _ = running.pop(ref)
            if result["ok"]:
                on_done(job, {**result, "attempts": max(1, starts[job.index])})
            remove_partial(job.output)
        for actor in actors:
            ray.kill(actor, no_restart=True)
        if running:
            ray.wait(list(running), num_returns=len(running), timeout=30)
        for job, _ in running.values():
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
