"""`rswap bench latency`: the live pipeline on generated streams, threaded vs sequential.

For each size (720p, 1080p) a synthetic camera shows the astronaut's face moving
across the frame; with `--talking-head`, a clip framed like a video call (one portrait,
face at a given fraction of the frame height, gentle head motion: talking_head.py) is
also played at its own frame rate. The real stages (mediapipe tracking, classical swap,
paste-back) run into the null sink. Two runs per stream, same stages, same source:
- threaded: the conveyor of realtime.pipeline as live runs it (`--swap-in auto`): for the classical
  swapper on 2 cores or more, two child processes each tracking, swapping and pasting whole frames
  (realtime.swap_process); `--swap-in thread` one thread per stage (newest-frame links), and
  `--swap-in thread process` runs both, each against the same sequential run;
- sequential: capture -> track -> swap -> paste -> output in one loop, what simple tools do
  (it reads the newest frame each time round: its best case).
With a 30 fps source both loops are capped at 30 fps, so the fps ratio only shows
capacity with a faster source (`--fps 90`); latency at the camera's rate is what
the default run shows.
Then an overload run: the source far faster than the pipeline for a set time; the
latency of the first and the last part of the run shows whether it grows.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time

import numpy as np

from realtime.packet import Packet
from realtime.pipeline import Pipeline, run_in_order
from realtime.sinks import NullSink
from realtime.swap_process import choose_swap_in
from realtime.swap_stages import LIVE_SWAP_WORKERS
from realtime.testing import SyntheticSource
from realtime.stats import StatsRecorder, percentiles_ms
from realtime.threads import opencv_threads
from rswap.atomic import atomic_path
from rswap.face.options import AnalysisOptions
from rswap.swap.options import SWAP_IN

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
LABELS = {"thread": "threaded", "process": "process"}  # --swap-in -> the run's name in the report


def _frame_swapper(swapper: str):
    from skimage import data

    from rswap.media.images import write_image
    from rswap.swap.loader import load_frame_swapper

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "source.png")
        write_image(path, np.ascontiguousarray(data.astronaut()[:, ::-1]))  # mirrored: a "different" face to swap in
        return load_frame_swapper([path], swapper)


def make_stages(fs, swap_workers: int = 1, swap_in: str = "thread"):
    from realtime.swap_stages import swap_conveyor

    stages, closers = swap_conveyor(fs, "largest", AnalysisOptions(detect_every=30, smooth=True), swap_workers=swap_workers,
                                    swap_in=swap_in)
    return stages, closers


WARMUP_FRAMES = 10  # first frames pay for mediapipe's graph start and first-touch allocations


def run_threaded(fs, make_source, seconds, swap_workers: int = 1, swap_in: str = "thread") -> StatsRecorder:
    stages, closers = make_stages(fs, swap_workers, swap_in)
    try:
        pipeline = Pipeline(make_source(), stages, NullSink(), duration=seconds, warmup_frames=WARMUP_FRAMES)
        return pipeline.run()
    finally:
        for c in closers:
            c.close()


def run_sequential(fs, make_source, seconds) -> StatsRecorder:
    stages, closers = make_stages(fs)
    source, sink, stats, stop = make_source(), NullSink(), StatsRecorder(WARMUP_FRAMES), threading.Event()
    source.open()
    end = time.perf_counter() + seconds
    index = 0
    try:
        while time.perf_counter() < end:
            image, pts = source.read(stop)
            packet = run_in_order(stages, Packet(index, image, time.perf_counter(), pts))
            t0 = time.perf_counter()
            sink.write(packet)
            now = time.perf_counter()
            packet.timings["sink"] = now - t0
            stats.record(packet, now)
            index += 1
        stats.captured = index
    finally:
        for c in closers:
            c.close()
    return stats


def _talking_head_streams(args, folder: str, report: dict) -> list:
    """(name, size, fps, source factory) of each talking-head clip, rendered into `folder`
    once (as long as a run, played in a loop at the clip's own frame rate)."""
    if not args.talking_head:
        return []
    from benchmarks.talking_head import default_photo, render_talking_head
    from realtime.sources import FileSource

    photo, photo_name = default_photo(args.photo)
    report["talking_head_photo"] = photo_name
    size = SIZES[args.talking_size]
    streams = []
    for fraction in args.talking_head:
        for fps in args.talking_fps:
            name = f"talking-head {fraction:.0%} @{fps:g}"
            path = os.path.join(folder, f"talking_{fraction:g}_{fps:g}.mp4")
            render_talking_head(path, photo, size, fps, args.seconds + 2.0, fraction)
            streams.append((name, size, fps, lambda path=path: FileSource(path, loop=True, paced=True)))
    return streams


def overload_report(stats: StatsRecorder, part: float) -> dict:
    t = np.array(stats.delivered_at)
    lat = np.array(stats.latencies)
    span = t[-1] - t[0]
    first, last = t <= t[0] + part * span, t >= t[-1] - part * span
    return {
        "first_ms": percentiles_ms(list(lat[first])),
        "last_ms": percentiles_ms(list(lat[last])),
        "dropped": sum(stats.dropped.values()),
        "captured": stats.captured,
        "delivered": stats.delivered,
    }


def _row(label: str, s: dict) -> str:
    stages = "  ".join(f"{k} {v['p50']:.1f}/{v['p95']:.1f}/{v['p99']:.1f}" for k, v in s["stages_ms"].items())
    e = s["e2e_latency_ms"]
    return (f"  {label:<11} {s['delivered_fps'] or 0:6.1f} fps  e2e p50/p95/p99 {e['p50']:.1f}/{e['p95']:.1f}/{e['p99']:.1f} ms"
            f"  dropped {s['dropped_frames']}\n              stages p50/p95/p99 ms: {stages}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES), help="stream sizes to run (all)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each threaded/sequential run (20)")
    parser.add_argument("--fps", type=float, default=30.0, help="source frame rate of the comparison runs (30)")
    parser.add_argument("--overload-seconds", type=float, default=180.0,
                        help="length of the overload run (180; 0 skips it)")
    parser.add_argument("--overload-fps", type=float, default=120.0, help="source rate of the overload run (120)")
    parser.add_argument("--swapper", default="classical", help="'classical' or a model path, as --model (classical)")
    parser.add_argument("--swap-workers", type=int, help="swap threads, or child processes, of the threaded runs (live's: "
                                                            "1 thread, 2 processes)")
    parser.add_argument("--swap-in", nargs="+", choices=SWAP_IN, default=["auto"],
                        help="threaded runs with the stages in threads, in child processes, or one run of each against "
                             "the same sequential run (auto: as live runs it, processes where the swapper can move)")
    parser.add_argument("--talking-head", nargs="+", type=float, default=[], metavar="FRACTION",
                        help="also play a talking-head clip with the face at these fractions of the frame height "
                             "(e.g. 0.15 0.4), at each --talking-fps")
    parser.add_argument("--talking-fps", nargs="+", type=float, default=[24.0, 30.0], help="talking-head frame rates (24 30)")
    parser.add_argument("--talking-size", choices=list(SIZES), default="720p", help="talking-head frame size (720p)")
    parser.add_argument("--photo", help="portrait for the talking-head clip (default: the astronaut)")
    parser.add_argument("--json", metavar="PATH", help="also write all numbers here")


def run(args) -> int:
    fs = _frame_swapper(args.swapper)
    places = list(dict.fromkeys(choose_swap_in(place, fs) for place in args.swap_in))  # "auto" as live resolves it
    workers = {place: args.swap_workers or LIVE_SWAP_WORKERS[place] for place in places}
    report = {"swapper": args.swapper, "swap_workers": workers, "swap_in": places,
              "source_fps": args.fps, "seconds": args.seconds,
              "cpus": os.cpu_count(), "load_before": os.getloadavg(), "sizes": {}}
    streams = [(name, SIZES[name], args.fps, lambda size=SIZES[name]: SyntheticSource(size, fps=args.fps))
               for name in args.sizes]
    with tempfile.TemporaryDirectory() as clips:
        streams += _talking_head_streams(args, clips, report)
        for name, size, fps, make_source in streams:
            # Both loops under live's library settings (realtime.threads): the ratio is the conveyor's alone.
            # The swap-in variants against one sequential run (its swap in its own loop, in this process).
            with opencv_threads(len(os.sched_getaffinity(0))):
                threaded = {place: run_threaded(fs, make_source, args.seconds, workers[place], place).summary()
                            for place in places}
                sequential = run_sequential(fs, make_source, args.seconds).summary()
            ratios = {place: (t["delivered_fps"] or 0) / max(sequential["delivered_fps"] or 1e-9, 1e-9)
                      for place, t in threaded.items()}
            first = places[0]
            report["sizes"][name] = {"threaded": threaded[first], "sequential": sequential, "fps_ratio": round(ratios[first], 3),
                                     "by_swap_in": {p: {"threaded": threaded[p], "fps_ratio": round(ratios[p], 3)}
                                                    for p in places}}
            print(f"{name} ({size[0]}x{size[1]}), source {fps:g} fps, {args.seconds:g} s per run, {args.swapper} swapper:")
            for place, t in threaded.items():
                print(_row(LABELS[place] + (f" x{workers[place]}" if workers[place] > 1 else ""), t))
            print(_row("sequential", sequential))
            for place, ratio in ratios.items():
                print(f"  {LABELS[place]} / sequential fps: {ratio:.2f}")
    if args.overload_seconds > 0:
        size = SIZES[args.sizes[0]]
        with opencv_threads(len(os.sched_getaffinity(0))):
            stats = run_threaded(fs, lambda: SyntheticSource(size, fps=args.overload_fps), args.overload_seconds,
                                 workers[places[0]], places[0])
        part = min(0.25, 60.0 / args.overload_seconds) if args.overload_seconds >= 120 else 0.25
        o = overload_report(stats, part)
        report["overload"] = {"size": args.sizes[0], "source_fps": args.overload_fps, "seconds": args.overload_seconds,
                              "part": part, **o, "summary": stats.summary()}
        print(f"overload: {args.sizes[0]}, source {args.overload_fps:g} fps for {args.overload_seconds:g} s: "
              f"captured {o['captured']}, delivered {o['delivered']}, dropped {o['dropped']}")
        print(f"  e2e latency first {part:.0%}: p50 {o['first_ms']['p50']:.1f} p95 {o['first_ms']['p95']:.1f} ms;"
              f" last {part:.0%}: p50 {o['last_ms']['p50']:.1f} p95 {o['last_ms']['p95']:.1f} ms")
    report["load_after"] = os.getloadavg()
    print(f"load average (1/5/15 min) before {report['load_before'][0]:.1f}, after {report['load_after'][0]:.1f} "
          f"on {os.cpu_count()} cores: other processes share these cores, numbers vary with it")
    if args.json:
        with atomic_path(args.json, make_parents=True) as tmp:
            tmp.write_text(json.dumps(report, indent=2))
    return 0
