"""The flags that only a batch has (how many jobs at once, where, naming, report).

Per-job options (source photos, face selection, model, keep-mouth, crf, ...) are convert's own
flags; a jobs-file row sets them through the same parser (plan.py). These batch flags are
kept apart so that a row cannot set them and so that they are left out of a job's digest.
"""

from __future__ import annotations

import argparse
import glob
import os

DEFAULT_NAME = "{stem}{ext}"


def add_batch_arguments(parser: argparse.ArgumentParser) -> list[str]:
    """Add the batch flags; return their dests (the options that are not per job)."""
    g = parser.add_argument_group(
        "batch (several targets, a folder, a glob or --jobs; -o is then the output folder)")
    actions = [
        g.add_argument("--jobs", metavar="FILE",
                       help="a .csv or .jsonl file, one job per row: target, output and any convert option "
                            "(source, face_select, reference, model, keep_mouth, ...) as columns / keys"),
        g.add_argument("-j", "--parallel", type=int, metavar="N",
                       help="jobs at once, each in its own worker process (default: one per core; "
                            "see benchmarks/RESULTS.md, 'batch')"),
        g.add_argument("--name", default=DEFAULT_NAME, metavar="TEMPLATE",
                       help="output file name from the target's {stem}, {ext} and {name}; the target's "
                            "folder below the folder given is kept (default '{stem}{ext}')"),
        g.add_argument("--report", metavar="FILE", help="write a JSON report of every job"),
        g.add_argument("--cluster", choices=("local", "ray"), default="local",
                       help="local: worker processes on this machine (default); ray: Ray tasks on a cluster")
        ,
        g.add_argument("--ray-address", metavar="ADDR",
                       help="--cluster ray: the cluster's address (default $RAY_ADDRESS, else a local Ray)"),
        g.add_argument("--cpus-per-job", type=float, default=1.0, metavar="N",
                       help="--cluster ray: CPUs Ray reserves for each job (default 1)"),
    ]
    return [a.dest for a in actions]


def has_glob(text: str) -> bool:
    return glob.has_magic(text)


def is_batch(args: argparse.Namespace) -> bool:
    """A jobs file, several targets, a folder, a glob pattern, or Ray. One target file keeps
    the single-file path (and its exact behaviour and output)."""
    targets = args.target or []
    if args.jobs:
        return True
    if not targets:  # the single-file path says what is missing
        return False
    if args.cluster != "local" or len(targets) > 1:
        return True
    t = targets[0]
    return os.path.isdir(t) or (has_glob(t) and not os.path.exists(t))


def default_parallel(cores: int | None = None) -> int:
    """Jobs at once by default: one per core. One job's conveyor (reader, tracker, swap, paste,
    x264's threads) cannot fill two cores alone (its swap stage holds the GIL), a second worker
    costs only its start-up (~3-4 CPU s; CPU per frame measured equal at -j 1 and 2), and a third
    on 2 cores was slower (benchmarks/RESULTS.md, 'batch')."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores)
