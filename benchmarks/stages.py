"""`rswap bench stages`: per-stage time of the classical path at 720p on this machine.

A generated 1280x720 clip (the astronaut photo moving across a gradient, as the demo
and the tests use) goes through the real code, frame by frame:
  detect      mediapipe FaceDetection alone (short-range model 0, full-range model 1)
  mesh        MediapipeFaceAnalyser in video mode (tracking) and image mode (cold:
              detection + mesh on every frame)
  align       FrameSwapper.plan: face selection + aligned crop (ffhq256, at the face's fitted size)
  swap        ClassicalSwapper.swap, split into its parts (below)
  paste-back  FrameSwapper.paste into the 720p frame
  encode      VideoWriter.write (libx264, yuv420p) of the finished frame
The swap's parts are timed by wrapping, for the duration of the run only, the
compose functions that rswap.swap.classical calls (warp = reshape + mesh warp,
masks, colour, blend); "swap: rest" is what swap() spends outside them. Wrapping
the real calls keeps this benchmark true to the swapper without copying its code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from rswap.media.h264 import DEFAULT_PRESET

# Functions that rswap.swap.classical imports, and the stage each one belongs to.
# (Issue 11, fourth part: the reshape is one call, `reshape_crop`, and the masks are one,
# `swap_masks`, which also draws the forehead fade and the detail and skin masks that
# "masks" did not count before, when it was the `region_mask` calls alone.)
SWAP_PARTS = {
    "reshape_crop": "swap: warp (reshape)",
    "mesh_warp": "swap: warp (mesh reenactment)",
    "swap_masks": "swap: masks",
    "match_face_colour": "swap: colour",
    "laplacian_blend": "swap: blend",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=60, help="frames of the generated clip to time (60)")
    parser.add_argument("--warmup", type=int, default=3, help="frames run first and not counted (3)")
    parser.add_argument("--size", default="1280x720", help="frame size WxH (1280x720)")
    parser.add_argument("--preset", default=DEFAULT_PRESET, help=f"libx264 preset for the encode stage ({DEFAULT_PRESET}, as convert)")
    parser.add_argument("--threads", type=int, default=0, help="OpenCV threads (0: OpenCV's default)")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")


class StageTimer:
    def __init__(self):
        self.times: dict[str, list[float]] = defaultdict(list)
        self._frame: dict[str, float] = defaultdict(float)  # per-frame sums (a stage may run several times a frame)
        self.counting = True
        self.flush_ms = 0.0  # encoder flush at close, set by measure()

    @contextlib.contextmanager
    def time(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self._frame[stage] += (time.perf_counter() - start) * 1e3

    def end_frame(self) -> None:
        if self.counting:
            for stage, ms in self._frame.items():
                self.times[stage].append(ms)
        self._frame.clear()

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            stage: {"median_ms": float(np.median(v)), "p95_ms": float(np.percentile(v, 95)), "n": len(v)}
            for stage, v in self.times.items()
        }


@contextlib.contextmanager
def timed_swap_parts(timer: StageTimer):
    """Route the compose calls of rswap.swap.classical through `timer` while the block runs."""
    from rswap.swap import classical

    originals = {name: getattr(classical, name) for name in SWAP_PARTS}

    def wrap(name, fn):
        def timed(*a, **kw):
            with timer.time(SWAP_PARTS[name]):
                return fn(*a, **kw)

        return timed

    try:
        for name, fn in originals.items():
            setattr(classical, name, wrap(name, fn))
        yield
    finally:
        for name, fn in originals.items():
            setattr(classical, name, fn)


def measure(frames: list[np.ndarray], warmup: int, preset: str) -> StageTimer:
    from skimage import data

    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
    from rswap.face.mediapipe_modules import face_detection
    from rswap.media.video import VideoWriter
    from rswap.swap.classical import ClassicalSwapper
    from rswap.swap.frame import FrameSwapper

    astronaut = np.ascontiguousarray(data.astronaut())
    swapper = ClassicalSwapper()
    with MediapipeFaceAnalyser(max_faces=1) as a:
        source_image = np.ascontiguousarray(astronaut[:, ::-1])  # the mirrored photo: a different texture
        source = swapper.encode_source([source_image], a.analyse(source_image)[:1])
    frame_swapper = FrameSwapper(swapper, [source])

    timer = StageTimer()
    h, w = frames[0].shape[:2]
    detectors = {k: face_detection.FaceDetection(model_selection=k, min_detection_confidence=0.5) for k in (0, 1)}
    tracking = MediapipeFaceAnalyser(max_faces=1, video=True)
    cold = MediapipeFaceAnalyser(max_faces=1, video=False)
    with tempfile.TemporaryDirectory() as tmp, timed_swap_parts(timer):
        writer = VideoWriter(Path(tmp) / "stages.mp4", fps=25, size=(w, h), preset=preset)
        try:
            for i, frame in enumerate(frames):
                timer.counting = i >= warmup
                for k, det in detectors.items():
                    with timer.time(f"detect ({'full' if k else 'short'}-range model)"):
                        det.process(frame)
                with timer.time("mesh, image mode (cold)"):
                    cold.analyse(frame)
                with timer.time("mesh, video mode (tracking)"):
                    faces = tracking.analyse(frame)
                out = frame
                if faces:
                    with timer.time("align (plan)"):
                        jobs = frame_swapper.plan(frame, faces)
                    with timer.time("swap (total)"):
                        frame_swapper.swap(jobs)
                    with timer.time("paste-back"):
                        out = frame_swapper.paste(frame, jobs)
                with timer.time("encode (libx264 write)"):
                    writer.write(out)
                timer.end_frame()
            start = time.perf_counter()
            writer.close()
            flush_ms = (time.perf_counter() - start) * 1e3
        except BaseException:
            writer.abort()
            raise
    for det in detectors.values():
        det.close()
    tracking.close()
    cold.close()
    timer.flush_ms = flush_ms
    return timer


def markdown(summary: dict[str, dict[str, float]], flush_ms: float) -> str:
    parts = sum(v["median_ms"] for k, v in summary.items() if k.startswith("swap: "))
    rows = ["| stage | median ms | p95 ms | frames |", "|---|---|---|---|"]
    order = ["detect (short-range model)", "detect (full-range model)", "mesh, image mode (cold)",
             "mesh, video mode (tracking)", "align (plan)", "swap (total)", *sorted(set(SWAP_PARTS.values())),
             "paste-back", "encode (libx264 write)"]
    for stage in order:
        if stage in summary:
            s = summary[stage]
            rows.append(f"| {stage} | {s['median_ms']:.1f} | {s['p95_ms']:.1f} | {s['n']} |")
    if "swap (total)" in summary:
        rest = summary["swap (total)"]["median_ms"] - parts
        rows.append(f"| swap: rest (similarity fits, paste mask) | {rest:.1f} (median difference) | | |")
    live = ["mesh, video mode (tracking)", "align (plan)", "swap (total)", "paste-back"]
    if all(k in summary for k in live):
        total = sum(summary[k]["median_ms"] for k in live)
        rows.append(f"| **per frame, sequential (mesh tracking + align + swap + paste)** | **{total:.1f}** | | |")
    rows.append(f"\nencoder flush at close: {flush_ms:.0f} ms")
    return "\n".join(rows) + "\n"


def run(args: argparse.Namespace) -> int:
    import cv2

    from rswap.errors import RswapError
    from rswap.testing.render import moving_face_frames

    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise RswapError(f"--size must look like 1280x720, got {args.size!r}") from None
    if args.frames < 1 or args.warmup < 0:
        raise RswapError("--frames must be at least 1 and --warmup at least 0")
    if args.threads:
        cv2.setNumThreads(args.threads)
    from skimage import data

    frames = list(moving_face_frames(np.ascontiguousarray(data.astronaut()), (w, h), args.frames + args.warmup))
    timer = measure(frames, args.warmup, args.preset)
    summary = timer.summary()
    print(f"classical path, {w}x{h}, {args.frames} frames (+{args.warmup} warm-up), "
          f"{os.cpu_count()} CPUs, OpenCV threads {cv2.getNumThreads()}, x264 preset {args.preset}", file=sys.stderr)
    print(markdown(summary, timer.flush_ms))
    if args.json:
        from rswap.media.paths import atomic_output

        with atomic_output(args.json) as tmp:
            Path(tmp).write_text(json.dumps({"size": [w, h], "frames": args.frames, "preset": args.preset,
                                             "stages": summary, "encoder_flush_ms": timer.flush_ms}, indent=1))
    return 0
