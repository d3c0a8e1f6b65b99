"""The face-detection flags shared by `live` and `convert` (rswap.face.options owns them).

mediapipe (embedded) is the default. `--detector scrfd` uses the SCRFD detector of a user's
insightface pack for the faces mediapipe's mesh misses on its own (small faces): it finds
smaller faces than mediapipe's full-range detector. The mesh still gives the landmarks.
"""

from __future__ import annotations

import argparse

from rswap.face.box_detectors import open_box_detector
from rswap.face.options import LIVE_ONLY, AnalysisOptions
from rswap.options import add_options


def add_detector_arguments(parser: argparse.ArgumentParser, live: bool = False) -> None:
    """The face-detection group; `live` adds what only a live stream tunes (tracking, smoothing)."""
    add_options(parser, AnalysisOptions, "face detection", skip=() if live else LIVE_ONLY)


def detector_from_args(args: argparse.Namespace):
    """The chosen box detector, loaded and checked now (before any camera or file opens), or
    None for the analyser's own mediapipe detector. One SCRFD detector serves every analyser."""
    return open_box_detector(args.detector, args.detector_model)
