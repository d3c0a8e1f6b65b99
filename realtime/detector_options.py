"""Command-line flags that choose the face detector; shared by `live` and `convert`.

mediapipe (embedded) is the default. `--detector scrfd` uses the SCRFD detector of a user's
insightface pack for the faces mediapipe's mesh misses on its own (small faces): it finds
smaller faces than mediapipe's full-range detector. The mesh still gives the landmarks.
"""

from __future__ import annotations

import argparse

from rswap.face.box_detectors import BOX_DETECTORS, open_box_detector


def add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("face detection")
    g.add_argument("--detector", choices=tuple(BOX_DETECTORS), default="mediapipe",
                   help="box detector for faces too small for mediapipe's mesh to find: mediapipe (embedded, default) "
                        "or scrfd (an insightface pack's det_10g.onnx / det_500m.onnx, never downloaded)")
    g.add_argument("--detector-model", metavar="PATH",
                   help="--detector scrfd: the SCRFD .onnx, or the insightface models folder holding the pack "
                        "(default ~/.insightface/models: buffalo_l/det_10g.onnx, buffalo_s/det_500m.onnx, ...)")


def detector_from_args(args: argparse.Namespace):
    """The chosen box detector, loaded and checked now (before any camera or file opens), or
    None for the analyser's own mediapipe detector. One SCRFD detector serves every analyser."""
    return open_box_detector(args.detector, args.detector_model)
