"""`rswap prepare -i FOLDER [-i FOLDER ...] -o DATASET`: photos/videos -> aligned face shards."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rswap.atomic import output_folder
from rswap.interrupts import keeps_on_interrupt
from rswap.options import add_options, from_args
from training.prepare import PrepareOptions, prepare


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--input", action="append", required=True, type=Path,
                        help="folder of identity sub-folders (root/<person>/*.jpg|*.mp4); repeatable")
    parser.add_argument("-o", "--output", required=True, type=Path, help="dataset folder (created; re-runs resume)")
    parser.add_argument("-j", "--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    add_options(parser, PrepareOptions, "faces kept")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    opts = from_args(PrepareOptions, args)
    kept = f"files finished so far are kept in {args.output}; the same command resumes"
    with keeps_on_interrupt(kept), output_folder(args.output):  # a failed first run leaves no empty folder
        index = prepare(args.input, args.output, opts, workers=args.workers, progress=not args.quiet)
    stats = index.get("stats", {})
    print(f"{index['count']} faces of {len(index['identities'])} identities in {len(index['shards'])} shards "
          f"-> {args.output} (dropped: " + ", ".join(f"{k} {stats.get(k, 0)}" for k in ("small", "blurry", "pose", "duplicate", "unreadable")) + ")")
    if len(index["identities"]) < 2:
        print("note: one identity only; `rswap triplets` and training need at least two")
    return 0
