"""`rswap convert -s SOURCE -t TARGET -o OUTPUT`: swap faces in a video or an image file.

Offline and lossless: every frame is processed and written in order with its original
timestamp, every audio, subtitle and data stream is copied packet for packet, the output is tagged as
synthetic and appears only when complete. Frames without a face pass through unchanged.
"""

from __future__ import annotations

import argparse
import sys

from rswap.errors import RswapError
from rswap.face.options import AnalysisOptions
from rswap.interrupts import note_kept
from rswap.media.h264 import DEFAULT_CRF, DEFAULT_PRESET, X264_PRESETS
from rswap.media.paths import (
    is_image_path, is_same_file, is_video_path, require_input_file, require_output_path, require_video_output,
)
from rswap.options import from_args

from convert.batch.options import add_batch_arguments, is_batch
from realtime.detector_options import add_detector_arguments, detector_from_args
from realtime.provenance_options import add_signing_arguments, credentials_from_args
from realtime.swap_options import add_swap_arguments, frame_swapper_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_swap_arguments(parser, source_required=False)  # a jobs file may give each job's sources
    add_detector_arguments(parser)
    add_signing_arguments(parser)
    parser.add_argument("-t", "--target", nargs="+", metavar="TARGET",
                        help="video or image to put the source face into; several files, folders or globs make a batch")
    parser.add_argument("-o", "--output",
                        help="output file (.mp4/.mkv/.mov for video, .png/.jpg for images); the output folder for a batch")
    q = parser.add_argument_group("video output")
    q.add_argument("--crf", type=int, default=DEFAULT_CRF,
                   help=f"H.264 quality: lower is better and larger (0-51, default {DEFAULT_CRF})")
    q.add_argument("--preset", default=DEFAULT_PRESET, choices=X264_PRESETS,
                   help=f"x264 speed preset; a slower one compresses better at the same CRF (default {DEFAULT_PRESET})")
    parser.add_argument("--allow-truncated", action="store_true",
                        help="convert the readable part of a cut or damaged target video instead of refusing it")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_batch_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if is_batch(args):
        from convert.batch.run import run_batch

        return run_batch(args)
    missing = [flag for flag, value in (("-s/--source", args.source), ("-t/--target", args.target),
                                        ("-o/--output", args.output)) if not value]
    if missing:
        raise RswapError(f"the following arguments are required: {', '.join(missing)}")
    target, output, target_is_video = check_job(args, args.target[0], args.output)
    written: list[bool] = []  # set once the output is in place: an interrupt after that kept it whole
    try:
        detector = detector_from_args(args)
        swapper = frame_swapper_from_args(args, detector=detector)
        stats = convert_job(args, target, output, target_is_video, swapper, detector, progress=not args.no_progress)
        written.append(True)
    except KeyboardInterrupt as e:  # Ctrl-C / SIGTERM: before `written`, the writer discarded its temporary file
        note_kept(e, f"{output} was already complete" if written else f"nothing written to {output}")
        raise
    if stats is None:
        print(f"wrote {output}", file=sys.stderr)
    else:
        cut = f" (the target is truncated: {stats.truncated.describe()} were readable)" if stats.truncated else ""
        print(f"wrote {output}: {stats.frames} frames ({stats.with_face} with a face){cut}, {stats.describe_copied()}",
              file=sys.stderr)
    return 0


def check_job(args: argparse.Namespace, target, output):
    """Everything about one conversion that can be refused before any model loads: paths,
    same-file outputs, output formats, a corrupt or cut target, streams the output cannot
    hold. (target, output, whether the target is a video). The single-file command and
    every batch job run exactly these checks."""
    target = require_input_file(target, "target")
    output = require_output_path(output)
    if is_same_file(target, output):
        raise RswapError(f"output {output} is the target file itself (same path, link or hard link); choose another output path")
    for photo in [*(args.source or []), *(args.reference or [])]:
        if is_same_file(photo, output):
            raise RswapError(f"output {output} is the photo {photo} itself; choose another output path")
    if not 0 <= args.crf <= 51:
        raise RswapError("--crf must be between 0 and 51")
    target_is_video = is_video_path(target) or not is_image_path(target)
    if target_is_video and not is_video_path(output):
        raise RswapError(f"target is a video, so the output must be a video file (.mp4, .mkv, .mov): {output}")
    if target_is_video:
        require_video_output(output)
    if not target_is_video and not is_image_path(output):
        raise RswapError(f"target is an image, so the output must be an image file (.png, .jpg): {output}")
    if target_is_video:
        from rswap.media.video import check_streams, probe

        probe(target, "target", args.allow_truncated)
        check_streams(target, output)
    return target, output, target_is_video


def convert_job(args: argparse.Namespace, target, output, target_is_video: bool, swapper, detector,
                progress: bool = True, on_frame=None):
    """Convert one checked job with a loaded swapper, signed (C2PA) like every output.
    The video's ConvertStats, or None for an image."""
    credentials = credentials_from_args(args, output, target, "rswap convert")
    sign = credentials.sign_in_place if credentials else None
    hands = from_args(AnalysisOptions, args).keeps_hands(live_frames=False)
    if target_is_video:
        from convert.conversion import convert_video

        return convert_video(
            swapper, target, output, args.face_select, crf=args.crf, preset=args.preset, progress=progress,
            detector=detector, allow_truncated=args.allow_truncated, before_publish=sign, on_frame=on_frame,
            swap_workers=args.swap_workers, swap_in=args.swap_in, hands=hands,
        )
    from convert.conversion import convert_image

    convert_image(swapper, target, output, detector, before_publish=sign, hands=hands)
    if on_frame is not None:
        on_frame()
    return None
