"""`rswap build --checkpoint CKPT -o DIR`: a generator checkpoint -> a model directory
(ONNX graphs + manifest, and TensorRT plans with --engine) that `rswap live --model DIR` runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine_build.build import BuildOptions, build_model_dir
from rswap.interrupts import keeps_on_interrupt
from rswap.options import add_options, from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="CKPT", help="generator .safetensors file (from rswap train)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="model directory to write")
    add_options(parser, BuildOptions, "build")


def run(args: argparse.Namespace) -> int:
    options = from_args(BuildOptions, args)
    with keeps_on_interrupt(f"{args.output} left as it was"):  # build_model_dir removed its .building folder
        build_model_dir(Path(args.checkpoint), Path(args.output), options)
    return 0
