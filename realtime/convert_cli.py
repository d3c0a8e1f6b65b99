"""`rswap convert -s SOURCE -t TARGET -o OUTPUT`: swap faces in a video or an image file.

Offline and lossless: every frame is processed and written in order with its original
timestamp, the audio stream is copied packet for packet, the output is tagged as
synthetic and appears only when complete. Frames without a face pass through unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys

from rswap.errors import RswapError
from rswap.media.paths import is_image_path, is_video_path, require_input_file, require_output_path

from realtime.batch.options import add_batch_arguments, is_batch
from realtime.detector_options import add_detector_arguments, detector_from_args
from realtime.swap_options import add_swap_arguments, frame_swapper_from_args

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_swap_arguments(parser, source_required=False)  # a jobs file may give each job's sources
    add_detector_arguments(parser)
    parser.add_argument("-t", "--target", nargs="+", metavar="TARGET",
                        help="video or image to put the source face into; several files, folders or globs make a batch")
    parser.add_argument("-o", "--output",
                        help="output file (.mp4/.mkv/.mov for video, .png/.jpg for images); the output folder for a batch")
    q = parser.add_argument_group("video output")
    q.add_argument("--crf", type=int, default=18, help="H.264 quality: lower is better and larger (0-51, default 18)")
    q.add_argument("--preset", default="medium", choices=X264_PRESETS, help="x264 speed preset (default medium)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_batch_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if is_batch(args):
        from realtime.batch.run import run_batch

        return run_batch(args)
    missing = [flag for flag, value in (("-s/--source", args.source), ("-t/--target", args.target),
                                        ("-o/--output", args.output)) if not value]
    if missing:
        raise RswapError(f"the following arguments are required: {', '.join(missing)}")
    target = require_input_file(args.target[0], "target")
    output = require_output_path(args.output)
    if os.path.abspath(target) == os.path.abspath(output):
        raise RswapError("output would overwrite the target; choose another output path")
    if not 0 <= args.crf <= 51:
        raise RswapError("--crf must be between 0 and 51")
    target_is_video = is_video_path(target) or not is_image_path(target)
    if target_is_video and not is_video_path(output):
        raise RswapError(f"target is a video, so the output must be a video file (.mp4, .mkv, .mov): {output}")
    if not target_is_video and not is_image_path(output):
        raise RswapError(f"target is an image, so the output must be an image file (.png, .jpg): {output}")

    if target_is_video:
        from rswap.media.video import probe

        probe(target, "target")  # fail on a corrupt target before spending time on the sources
    detector = detector_from_args(args)
    swapper = frame_swapper_from_args(args, detector=detector)
    if target_is_video:
        from realtime.convert import convert_video

        stats = convert_video(
            swapper, target, output, args.face_select, crf=args.crf, preset=args.preset, progress=not args.no_progress,
            detector=detector,
        )
        print(
            f"wrote {output}: {stats.frames} frames ({stats.with_face} with a face), "
            f"audio {'copied' if stats.audio_copied else 'none'}",
            file=sys.stderr,
        )
    else:
        from realtime.convert import convert_image

        convert_image(swapper, target, output, detector)
        print(f"wrote {output}", file=sys.stderr)
    return 0
