"""`rswap triplets -d DATASET -o TRIPLETS`: synthesize cycle triplets with the classical swapper."""

from __future__ import annotations

import argparse
from pathlib import Path

from rswap.atomic import output_folder
from rswap.interrupts import keeps_on_interrupt
from rswap.options import add_options, from_args
from training.triplets import TripletOptions, default_workers, make_triplets


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-d", "--dataset", required=True, type=Path, help="face dataset written by `rswap prepare`")
    parser.add_argument("-o", "--output", required=True, type=Path, help="triplet dataset folder (re-runs resume)")
    parser.add_argument("-j", "--workers", type=int, default=default_workers(), help="worker processes")
    add_options(parser, TripletOptions, "triplets")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    opts = from_args(TripletOptions, args)
    kept = f"chunks finished so far are kept in {args.output}; the same command resumes"
    with keeps_on_interrupt(kept), output_folder(args.output):  # a failed first run leaves no empty folder
        index = make_triplets(args.dataset, args.output, opts, workers=args.workers, progress=not args.quiet)
    print(f"{index['count']} of {index['tried']} triplets kept -> {args.output}")
    return 0
