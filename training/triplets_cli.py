"""`rswap triplets -d DATASET -o TRIPLETS`: synthesize cycle triplets with the classical swapper."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from rswap.atomic import output_folder
from rswap.interrupts import keeps_on_interrupt
from training.triplets import TripletOptions, default_workers, make_triplets


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-d", "--dataset", required=True, type=Path, help="face dataset written by `rswap prepare`")
    parser.add_argument("-o", "--output", required=True, type=Path, help="triplet dataset folder (re-runs resume)")
    parser.add_argument("-j", "--workers", type=int, default=default_workers(), help="worker processes")
    defaults = TripletOptions()
    for f in fields(TripletOptions):
        parser.add_argument(f"--{f.name}", type=type(getattr(defaults, f.name)), default=getattr(defaults, f.name),
                            help=f"(default {getattr(defaults, f.name)})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    opts = TripletOptions(**{f.name: getattr(args, f.name) for f in fields(TripletOptions)})
    kept = f"chunks finished so far are kept in {args.output}; the same command resumes"
    with keeps_on_interrupt(kept), output_folder(args.output):  # a failed first run leaves no empty folder
        index = make_triplets(args.dataset, args.output, opts, workers=args.workers, progress=not args.quiet)
    print(f"{index['count']} of {index['tried']} triplets kept -> {args.output}")
    return 0
