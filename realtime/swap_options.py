"""Command-line flags that choose what is swapped and how; shared by `live` and `convert`."""

from __future__ import annotations

import argparse
import sys

from rswap.errors import RswapError
from realtime.backends import NAMES as BACKEND_NAMES
from rswap.face.select import MODES
from rswap.swap.classical import COLOR_METHODS
from rswap.swap.compositor import COMPOSE_ON
from rswap.swap.factory import SwapperOptions
from rswap.swap.frame import FrameSwapper


def add_swap_arguments(parser: argparse.ArgumentParser, source_required: bool = True) -> None:
    g = parser.add_argument_group("swap")
    g.add_argument("-s", "--source", nargs="+", required=source_required, metavar="IMAGE",
                   help="photo(s) of the person to swap in (several photos of one person give a steadier identity)")
    g.add_argument("--model", default="classical", metavar="SPEC",
                   help="'classical' (embedded, default), a built model directory, or an inswapper .onnx file")
    g.add_argument("--face-select", choices=MODES, default="largest",
                   help="which target faces to swap: largest, center, all, or reference (match --reference photos)")
    g.add_argument("--reference", nargs="+", metavar="IMAGE",
                   help="with --face-select reference: one photo per --source of the person to replace")
    g.add_argument("--keep-mouth", action="store_true", help="keep the target's mouth interior (teeth, tongue)")
    g.add_argument("--keep-eyes", action="store_true", help="keep the target's eyes (gaze, blinks)")
    g.add_argument("--reshape", type=float, default=0.6, metavar="0..1",
                   help="classical swapper: move the target's face contour toward the source's shape (default 0.6)")
    g.add_argument("--color", choices=COLOR_METHODS, default="reinhard",
                   help="classical swapper: colour transfer to the target's skin tone")
    g.add_argument("--backend", default="auto", choices=BACKEND_NAMES,
                   help="learned models: inference backend (default auto: the fastest available)")
    g.add_argument("--precision", choices=("fp32", "fp16", "bf16"),
                   help="learned models on --backend torch: cast the generator (default: the precision it was built with)")
    g.add_argument("--cuda-graphs", choices=("auto", "on", "off"), default="auto",
                   help="torch/tensorrt: replay each batch size's GPU work as one CUDA graph (auto: on when on a GPU)")
    g.add_argument("--torch-compile", action="store_true",
                   help="torch backend: torch.compile the generator (slow first frames, faster after)")
    g.add_argument("--arcface", metavar="PATH",
                   help="inswapper models: ArcFace w600k .onnx, or the insightface models folder (default ~/.insightface/models)")
    g.add_argument("--blend-levels", type=int, default=0, choices=range(0, 9), metavar="0..8",
                   help="paste back with an N-level Laplacian blend instead of a feathered mask (0)")
    g.add_argument("--compose-on", choices=COMPOSE_ON, default="auto",
                   help="learned models: crop and paste faces on the host (OpenCV) or on the inference device, "
                        "one upload and one download per frame (auto: device when the backend runs on a GPU)")
    g.add_argument("--swap-workers", type=int, default=1, metavar="N",
                   help="threads running the swap stage side by side on successive frames; convert keeps "
                        "every frame in order (1)")
    g.add_argument("--no-watermark", action="store_true",
                   help="leave out the invisible 'synthetic by rswap' mark that every swapped frame otherwise carries")


def frame_swapper_from_args(args: argparse.Namespace, one_identity_per_photo: bool = False, detector=None) -> FrameSwapper:
    from rswap.swap.loader import load_frame_swapper

    from realtime.backends import open_backend, open_onnx

    if args.swap_workers < 1:
        raise RswapError("--swap-workers must be at least 1")

    options = SwapperOptions(
        keep_mouth=args.keep_mouth, keep_eyes=args.keep_eyes, reshape=args.reshape, color=args.color, backend=args.backend,
        insightface_root=args.arcface,
        backend_options={"precision": args.precision, "compile": args.torch_compile,
                         "cuda_graphs": {"auto": None, "on": True, "off": False}[args.cuda_graphs]},
        open_backend=open_backend,  # learned models run on the app's backends (TensorRT, torch, onnxruntime)
        open_onnx=open_onnx,  # and bring-your-own .onnx files on its onnxruntime (GPU providers, device tensors)
    )
    fs = load_frame_swapper(
        args.source, args.model, args.face_select, args.reference, options, blend_levels=args.blend_levels,
        compose_on=args.compose_on, one_identity_per_photo=one_identity_per_photo, detector=detector,
        watermark=not args.no_watermark,
    )
    if fs.compositor.where != "host":  # a status line like the backend's, on stderr
        print(f"face crop and paste-back: on {fs.compositor.where} (one upload, one download per frame)", file=sys.stderr)
    return fs
