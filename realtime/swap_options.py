"""The swap flags shared by `live` and `convert` (and convert's jobs files): the inputs here,
every option from the core's tables (rswap.swap.options)."""

from __future__ import annotations

import argparse
import sys

from rswap.errors import RswapError
from rswap.face.options import AnalysisOptions
from rswap.options import add_options, from_args
from rswap.swap.frame import FrameSwapper
from rswap.swap.options import FrameOptions, SwapperOptions


def add_swap_arguments(parser: argparse.ArgumentParser, source_required: bool = True) -> None:
    g = parser.add_argument_group("swap")
    g.add_argument("-s", "--source", nargs="+", required=source_required, metavar="IMAGE",
                   help="photo(s) of the person to swap in (several photos of one person give a steadier identity)")
    g.add_argument("--reference", nargs="+", metavar="IMAGE",
                   help="with --face-select reference: one photo per --source of the person to replace")
    add_options(g, FrameOptions)
    add_options(g, SwapperOptions)


def frame_swapper_from_args(args: argparse.Namespace, one_identity_per_photo: bool = False, detector=None) -> FrameSwapper:
    from rswap.swap.loader import load_frame_swapper

    from realtime.backends import open_backend, open_onnx

    frame = from_args(FrameOptions, args)
    if frame.swap_workers is not None and frame.swap_workers < 1:
        raise RswapError("--swap-workers must be at least 1")
    options = from_args(
        SwapperOptions, args,
        open_backend=open_backend,  # learned models run on the app's backends (TensorRT, torch, onnxruntime)
        open_onnx=open_onnx,  # and bring-your-own .onnx files on its onnxruntime (GPU providers, device tensors)
    )
    fs = load_frame_swapper(
        args.source, frame.model, frame.face_select, args.reference, options, blend_levels=frame.blend_levels,
        compose_on=frame.compose_on, one_identity_per_photo=one_identity_per_photo, detector=detector,
        watermark=not frame.no_watermark, hands=from_args(AnalysisOptions, args).keeps_hands(live_frames=False),
    )
    if fs.compositor.where != "host":  # a status line like the backend's, on stderr
        print(f"face crop and paste-back: on {fs.compositor.where} (one upload, one download per frame)", file=sys.stderr)
    return fs
