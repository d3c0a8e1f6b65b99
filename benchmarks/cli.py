"""`rswap bench WHAT ...`: one dispatcher for the benchmarks.

Each benchmark is a module with `add_arguments(parser)` and `run(args) -> int`,
imported only when chosen. To add one (e.g. "backends", "stages"), add a line to
BENCHMARKS; nothing else changes.
"""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {
    "latency": ("benchmarks.latency", "live pipeline on generated 720p/1080p streams: threaded vs sequential, overload"),
    "jitter": ("benchmarks.jitter", "landmark jitter on a still face and lag on a moving one, with/without smoothing"),
    "backends": ("benchmarks.backends", "generator latency per inference backend and precision at batch 1/2/4"),
    "stages": ("benchmarks.stages", "per-stage time of the classical path at 720p: detect, mesh, align, warp, colour, blend, paste, encode"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    lines = "\n".join(f"  {k:<9} {help_text}" for k, (_, help_text) in BENCHMARKS.items())
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = f"benchmarks:\n{lines}\n\n`rswap bench WHAT -h` lists the options of one."
    parser.add_argument("what", choices=list(BENCHMARKS), help="which benchmark")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of that benchmark")


def run(args: argparse.Namespace) -> int:
    module_name, help_text = BENCHMARKS[args.what]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"rswap bench {args.what}", description=help_text)
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(args.options)) or 0)
