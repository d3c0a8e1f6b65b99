"""`rswap build --checkpoint CKPT -o DIR`: a generator checkpoint -> a model directory
(ONNX graphs + manifest, and TensorRT plans with --engine) that `rswap live --model DIR` runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine_build.build import BuildOptions, build_model_dir
from rswap.interrupts import keeps_on_interrupt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="CKPT", help="generator .safetensors file (from rswap train)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="model directory to write")
    parser.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                        help="fp16: half-precision graph with fp32 inputs/outputs and fp32 normalisations")
    parser.add_argument("--max-batch", type=int, default=8, help="largest batch (faces per call) the graph/engine accepts")
    parser.add_argument("--no-encoder", action="store_true", help="skip exporting the identity encoder")
    parser.add_argument("--identity-weights", default="", metavar="PATH",
                        help="the encoder weights file training used (ArcFace backbones); checked by sha256")
    parser.add_argument("--fixer", default="", metavar="PATH",
                        help="FixerNet file, only for generator files that do not carry their FixerNet")
    parser.add_argument("--engine", action="store_true", help="also build a TensorRT plan (needs tensorrt and a GPU)")
    parser.add_argument("--opt-level", type=int, default=3, choices=range(6), help="TensorRT builder optimisation level")
    parser.add_argument("--workspace-gib", type=float, default=4.0, help="TensorRT builder workspace limit")


def run(args: argparse.Namespace) -> int:
    options = BuildOptions(
        precision=args.precision,
        max_batch=args.max_batch,
        encoder=not args.no_encoder,
        identity_weights=args.identity_weights,
        fixer=args.fixer,
        engine=args.engine,
        opt_level=args.opt_level,
        workspace_gib=args.workspace_gib,
    )
    with keeps_on_interrupt(f"{args.output} left as it was"):  # build_model_dir removed its .building folder
        build_model_dir(Path(args.checkpoint), Path(args.output), options)
    return 0
