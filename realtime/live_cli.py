"""`rswap live` (also `rswap-live`): camera or file -> swapped faces -> virtual camera / preview / file.

    rswap-live -s me.jpg                       # camera 0 -> virtual camera (preview if none)
    rswap-live -s me.jpg -t clip.mp4 -o preview --loop
    rswap-live -s me.jpg -t /dev/video2 -o out.mp4 --duration 30 --stats-json stats.json
"""

from __future__ import annotations

import argparse
import os
import sys

from realtime.detector_options import add_detector_arguments, detector_from_args
from realtime.provenance_options import add_signing_arguments
from realtime.swap_options import add_swap_arguments, frame_swapper_from_args
from rswap.face.options import AnalysisOptions
from rswap.options import from_args

# While no face is in view the small-face detector searches at most this share of the time,
# so a slow one (SCRFD det_10g on a CPU) cannot stall the stream when nothing is there.
LIVE_SEARCH_DUTY = 0.25


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        return w, h
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_swap_arguments(parser)
    add_detector_arguments(parser, live=True)
    add_signing_arguments(parser)
    g = parser.add_argument_group("live")
    g.add_argument("-t", "--target", default="0",
                   help="camera index (0), /dev/videoN, or a video file played at its own frame rate (default 0)")
    g.add_argument("-o", "--output", default="virtualcam",
                   help="virtualcam (default; falls back to preview), preview, null, or a video file path")
    g.add_argument("--size", type=_size, default=(1280, 720), metavar="WxH", help="camera size to ask for (1280x720)")
    g.add_argument("--fps", type=float, default=30.0, help="camera frame rate to ask for (30)")
    g.add_argument("--loop", action="store_true", help="file target: start over at the end")
    g.add_argument("--cycle", action="store_true",
                   help="each --source photo is its own identity; the 'n' key cycles through them")
    g.add_argument("--stats-json", metavar="PATH", help="write per-stage p50/p95/p99, latency, fps and drops here")
    g.add_argument("--label", action="store_true",
                   help="draw a small visible 'AI-generated' badge on the output (preview hotkey l toggles it)")
    g.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this long")


def build_frame_swapper(args: argparse.Namespace, detector=None):
    """The one place live turns flags into a FrameSwapper (rswap.swap.loader does the work)."""
    return frame_swapper_from_args(args, one_identity_per_photo=args.cycle, detector=detector)


def make_source(args: argparse.Namespace):
    from realtime.sources import CameraSource, FileSource, is_camera

    if is_camera(args.target):
        return CameraSource(args.target, size=args.size, fps=args.fps)
    return FileSource(args.target, loop=args.loop, paced=True)


def make_sink(args: argparse.Namespace, source, controls, n_sources: int):
    from realtime import sinks

    out = args.output
    if out == "null":
        return sinks.NullSink()
    if out == "preview":
        return sinks.PreviewSink(controls, n_sources)
    if out == "virtualcam":
        cam = sinks.VirtualCameraSink()
        try:
            cam.open(source.size, source.fps)
            return cam
        except sinks.VirtualCameraUnavailable as e:
            print(f"rswap live: no virtual camera: {e}; showing the preview instead", file=sys.stderr, flush=True)
            return sinks.PreviewSink(controls, n_sources)
    from realtime.provenance_options import credentials_from_args
    from realtime.sources import is_camera

    credentials = credentials_from_args(args, out, None if is_camera(args.target) else args.target, "rswap live")
    return sinks.FileSink(out, before_publish=credentials.sign_in_place if credentials else None)


def check_arguments(args: argparse.Namespace) -> None:
    """Everything a user can get wrong in the flags, before a camera or model is opened."""
    from rswap.errors import RswapError
    from rswap.media.paths import is_same_file, is_video_path, require_output_path, require_video_output

    if args.max_faces is not None and args.max_faces < 1:
        raise RswapError("--max-faces must be at least 1")
    if args.detect_every < 0:
        raise RswapError("--detect-every must be 0 or more")
    if args.fps <= 0 or (args.duration is not None and args.duration <= 0):
        raise RswapError("--fps and --duration must be positive")
    if args.output not in ("null", "preview", "virtualcam"):
        if not is_video_path(args.output):
            raise RswapError(f"-o takes virtualcam, preview, null or a video file (.mp4, .mkv, .mov), not {args.output!r}")
        require_video_output(args.output)
        if is_same_file(args.target, args.output):
            raise RswapError(f"output {args.output} is the target file itself; choose another output path")
    if args.stats_json:
        require_output_path(args.stats_json)


def run(args: argparse.Namespace) -> int:
    from realtime.pipeline import Pipeline
    from realtime.controls import Controls
    from realtime.sinks import FileSink
    from realtime.sources import is_camera
    from realtime.swap_stages import swap_conveyor
    from realtime.threads import opencv_threads
    from rswap.interrupts import note_kept

    check_arguments(args)
    if not is_camera(args.target):
        from rswap.media.video import probe

        probe(args.target, "target")  # a corrupt or cut file fails here, not after it has played
    detector = detector_from_args(args)
    fs = build_frame_swapper(args, detector)
    controls = Controls(label=args.label)
    source = make_source(args)
    source.open()
    try:
        sink = make_sink(args, source, controls, len(fs.sources))
    except BaseException:
        source.close()
        raise
    analysis = from_args(AnalysisOptions, args, search_duty=LIVE_SEARCH_DUTY)
    try:  # the swap's child process may fail to start: the camera is released all the same
        stages, closers = swap_conveyor(fs, args.face_select, analysis, controls, args.swap_workers,
                                        detector, swap_in=args.swap_in)
    except BaseException:
        source.close()
        raise
    pipeline = Pipeline(source, stages, sink, live=True, duration=args.duration)
    interrupted = None
    try:
        with opencv_threads(len(os.sched_getaffinity(0))):  # few cores: the stages already fill them
            pipeline.run()
    except KeyboardInterrupt as e:  # Ctrl-C / SIGTERM: the usual end of a live run; report, then exit 130/143
        interrupted = e
    finally:
        for c in closers:
            c.close()
    _report(args, pipeline.stats)
    if interrupted is not None:
        if isinstance(sink, FileSink):
            note_kept(interrupted, f"kept the {sink.kept} frames recorded in {args.output}" if sink.kept
                      else f"nothing recorded; no file written at {args.output}")
        else:
            note_kept(interrupted, "live output stopped")
        raise interrupted
    return 0


def _report(args: argparse.Namespace, stats) -> None:
    summary = stats.summary()
    if args.stats_json:
        stats.write_json(args.stats_json, {"mode": "live", "target": args.target, "output": args.output})
    e2e = summary["e2e_latency_ms"]
    fps = summary["delivered_fps"]
    print(
        f"rswap live: {summary['delivered_frames']} frames delivered"
        + (f" at {fps:.1f} fps" if fps else "")
        + (f", latency p50 {e2e['p50']:.0f} ms / p95 {e2e['p95']:.0f} ms" if e2e["n"] else "")
        + f", {summary['dropped_frames']} stale frames dropped",
        file=sys.stderr,
    )


def main(argv=None) -> int:  # python -m realtime.live_cli
    from rswap.entry import run_command

    return run_command("realtime.live_cli", "rswap live", "swap faces live", argv)


if __name__ == "__main__":
    sys.exit(main())
