"""`rswap convert` with several targets, a folder, a glob or a jobs file: plan the jobs, skip
the finished ones (ledger), run the rest locally or on Ray, report.

Exit: 0 when every job succeeded (or all were already done), 2 when any failed (one line
with the count), 130 after Ctrl-C (finished outputs kept, no partial files, the next run
resumes).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from rswap.errors import RswapError
from rswap.media.paths import describe_os_error, is_image_path, is_video_path

from convert.batch.ledger import Ledger
from convert.batch.options import add_batch_arguments, default_parallel
from convert.batch.plan import Job, RowParser, plan_jobs


def _row_parser() -> argparse.ArgumentParser:
    from convert.cli import add_arguments

    parser = RowParser(prog="rswap convert", add_help=False)
    add_arguments(parser)
    return parser


def _expected_frames(job: Job) -> int:
    if is_image_path(job.target) and not is_video_path(job.target):
        return 1
    from rswap.media.video import probe

    try:
        return probe(job.target).frames
    except (RswapError, OSError):
        return 0  # the job will fail and say why


def run_batch(args: argparse.Namespace) -> int:
    batch_dests = add_batch_arguments(argparse.ArgumentParser())
    if args.parallel is not None and args.parallel < 1:
        raise RswapError("-j/--parallel must be at least 1")
    if args.cpus_per_job <= 0:
        raise RswapError("--cpus-per-job must be positive")
    plan = plan_jobs(args, _row_parser, batch_dests)
    ledger = Ledger(plan.out_dir)
    keys = {j.index: ledger.key(j) for j in plan.jobs}
    todo = [j for j in plan.jobs if not ledger.is_done(j, keys[j.index][0])]
    todo_ids = {j.index for j in todo}
    skipped = [j for j in plan.jobs if j.index not in todo_ids]

    parallel = args.parallel or default_parallel()
    if args.cluster == "ray":
        where = f"ray at {args.ray_address or os.environ.get('RAY_ADDRESS') or 'a Ray started here'}"
    else:
        where = f"local, {min(parallel, max(1, len(todo)))} worker process(es)"
    from convert.batch.view import BatchView

    if not todo:
        print(f"nothing new to convert: all {len(plan.jobs)} jobs are done (ledger {ledger.path})", file=sys.stderr)
        if args.report:
            BatchView([], skipped, progress=False, where=where).write_report(args.report)
        return 0
    if skipped:
        print(f"{len(skipped)} of {len(plan.jobs)} jobs already done (ledger {ledger.path}); converting {len(todo)}",
              file=sys.stderr)
    for j in todo:
        j.frames = _expected_frames(j)
    try:
        plan.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RswapError(describe_os_error(e, plan.out_dir)) from e
    view = BatchView(todo, skipped, progress=not args.no_progress, where=where)

    def on_done(job: Job, result: dict) -> None:
        if result["ok"]:
            ledger.record(job, *keys[job.index], result["frames"])
        view.finished(job, result)

    stop = threading.Event()

    def on_sigint(signum, frame):
        # Ctrl-C is taken between two looks at the jobs, never inside a ledger write; a second one
        # interrupts at once
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        if args.cluster == "ray":
            from convert.batch.ray_runner import run_ray

            run_ray(todo, view, on_done, args.ray_address, args.cpus_per_job, stop)
        else:
            from convert.batch.local import run_local

            run_local(todo, view, parallel, on_done, stop)
    except KeyboardInterrupt:
        view.close()
        left = len(todo) - len(view.results)
        print(f"stopped: {view.done} jobs finished and kept, {left} not finished (no partial files); "
              f"run the same command again to convert the rest", file=sys.stderr)
        if args.report:
            view.write_report(args.report, interrupted=True)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    view.close()
    view.summary()
    if args.report:
        view.write_report(args.report)
    if view.failed:
        finished = len(plan.jobs) - view.failed
        raise RswapError(f"{view.failed} of {len(plan.jobs)} jobs failed (see the lines above); "
                         f"{finished} {'is' if finished == 1 else 'are'} finished and will not be redone")
    return 0
