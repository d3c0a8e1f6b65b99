"""Offline conversion of one file: every frame, in order, original timestamps, every other
stream (audio, subtitles, data) copied.

Video runs on the live conveyor's own stages (track -> swap -> paste) with ordered,
lossless links: nothing is dropped, the source waits for the slowest stage, and the
stages still overlap. The source remembers each frame's exact pts (integer, in the
input's time base) so the sink can write it back unchanged.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field

from tqdm import tqdm

from rswap.errors import NoFaceError
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.face.options import AnalysisOptions
from rswap.media.images import read_image, write_image
from rswap.media.h264 import DEFAULT_CRF, DEFAULT_PRESET
from rswap.media.video import Truncation, VideoReader, VideoWriter
from rswap.swap.frame import FrameSwapper

from realtime.threads import FEW_CORES, opencv_threads, switch_interval


@dataclass
class ConvertStats:
    frames: int
    with_face: int
    audio_copied: bool
    truncated: Truncation | None = None  # the target was cut or damaged; only its readable part was converted
    copied: dict[str, int] = field(default_factory=dict)  # streams copied by kind: audio, subtitle, data, ...

    def describe_copied(self) -> str:
        parts = [f"{n} {kind} stream{'s' if n > 1 else ''}" for kind, n in self.copied.items() if n]
        return ", ".join(parts) + " copied" if parts else "no audio"


class _ReaderSource:
    """A video file read as fast as the pipeline takes frames, keeping each frame's pts."""

    def __init__(self, path, allow_truncated: bool = False, threads: int = 0):
        self.path = path
        self.allow_truncated = allow_truncated
        self.threads = threads  # the decoder's (rswap.media.video.VideoReader)
        self.pts: dict[int, int] = {}  # packet index -> original pts
        self.reader = None
        self.dropped: dict[str, int] = {}  # none: conversion takes every frame
        self._lock = threading.Lock()

    def open(self) -> None:
        if self.reader is not None:  # opened before the pipeline starts, to size the writer
            return
        self.reader = VideoReader(self.path, "target", self.allow_truncated, self.threads)
        self.info = self.reader.info
        self.size, self.fps = (self.info.width, self.info.height), float(self.info.fps)
        self._frames = iter(self.reader)

    def read(self, stop):
        frame = next(self._frames, None)
        if frame is None:
            return None
        with self._lock:
            self.pts[frame.index] = frame.pts
        return frame.image, frame.time

    def pop_pts(self, index: int) -> int:
        with self._lock:
            return self.pts.pop(index)

    def close(self) -> None:
        self.reader.close()


class _WriterSink:
    def __init__(self, source: _ReaderSource, writer: VideoWriter, bar: tqdm, on_frame=None):
        self.source, self.writer, self.bar, self.on_frame = source, writer, bar, on_frame
        self.with_face = 0

    def open(self, size, fps) -> None:
        pass

    def write(self, packet) -> bool:
        self.writer.write(packet.image, self.source.pop_pts(packet.index))
        self.with_face += bool(packet.faces)
        self.bar.update()
        if self.on_frame is not None:
            self.on_frame()
        return True

    def close(self) -> None:
        self.bar.close()

    def abort(self, error: BaseException) -> None:
        self.bar.close()  # the VideoWriter's `with` block in convert_video discards the file


# Offline, two swap threads by default: on 2 cores (with the switch interval below) they
# converted the 20 s talking-head clip 4-12% faster than one in five fixed-order rounds and
# about as fast in three alternated ones on a loaded box, for ~10% more CPU (benchmarks/RESULTS.md,
# issue 11, fourth and fifth sessions; one worker was slower in three alternated rounds of four in
# the eighth, for ~2% less CPU); frames still leave in order, the same pictures as with one.
CONVERT_SWAP_WORKERS = 2
# The interpreter's thread switch interval while a conversion runs (Python's default: 5 ms).
# Each return from a call that released the GIL waits until the thread holding it gives it
# up, at the latest after this interval; with two swap workers and four other busy threads,
# 1 ms converted the 20 s clip 2-13% faster than 5 ms in seven of eight rounds on a loaded
# box (one 27% slower, the box busier then), 0.5 ms was not clearly better (benchmarks/RESULTS.md,
# issue 11, fifth session).
CONVERT_SWITCH_INTERVAL_S = 0.001


@contextlib.contextmanager
def _library_threads(cores: int):
    """How many threads libx264 and OpenCV may start beside the conveyor's own, for the
    conversion's length (yields libx264's thread count; OpenCV's is put back after).

    The conveyor already runs five busy threads (decode, track, swap, paste, encode). On a
    box with few cores, libx264's frame threads (1.5 per core) and OpenCV's pool only add
    hand-offs and busy waits: measured on 2 cores, a 20 s 640x368 clip, CPU seconds over all
    threads 19.7 with both libraries' defaults, 18.4 with libx264 on one thread, 17.3 with
    OpenCV on one thread as well (benchmarks/RESULTS.md, "convert on two cores"). On more
    cores they have room to help (realtime.threads)."""
    with opencv_threads(cores) as few:
        yield 1 if few else 0  # 0: libx264's own choice


def convert_image(swapper: FrameSwapper, target, output, detector=None, before_publish=None,
                  hands: bool = True) -> None:
    """`before_publish(tmp, dest)`: e.g. Content Credentials signing, on the finished file.
    `hands`: hands in front of a face stay in front (AnalysisOptions.keeps_hands)."""
    image = read_image(target, "target")
    with MediapipeFaceAnalyser(max_faces=8, video=False, detector=detector, hands=hands) as analyser:
        faces = analyser.analyse(image)
    if not faces:
        raise NoFaceError(f"no face found in target image {target}")
    write_image(output, swapper.process(image, faces), before_publish=before_publish)


def convert_video(
    swapper: FrameSwapper, target, output, face_select: str = "largest", crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET,
    progress: bool = True, detector=None, allow_truncated: bool = False, before_publish=None, on_frame=None,
    swap_workers: int | None = None, hands: bool = True, swap_in: str = "thread",
) -> ConvertStats:
    """Swap faces in every frame of `target` into `output` (written atomically).
    User errors raise RswapError; Ctrl-C/SIGTERM (KeyboardInterrupt) propagate after the
    temporary file is removed. A cut or damaged target is an error unless `allow_truncated`,
    which converts the readable part (ConvertStats.truncated says how much).
    `on_frame()` is called after each frame is written (a batch worker's progress report).
    `swap_workers` swap frames side by side (None: CONVERT_SWAP_WORKERS); they still leave in order.
    `swap_in`: those workers in threads or child processes (realtime.swap_process). "auto" is the thread
    here: each child would track every other frame (16% more landmark jitter), and offline the picture
    matters more than the rate, which the threads already keep at 2x real time or more (RESULTS.md).
    `hands`: hands in front of a face stay in front (AnalysisOptions.keeps_hands)."""
    from realtime.pipeline import Pipeline
    from realtime.swap_stages import swap_conveyor

    cores = len(os.sched_getaffinity(0))
    # The decoder runs in the source's thread on few cores, as the encoder in the sink's (_library_threads).
    source = _ReaderSource(target, allow_truncated, threads=1 if cores <= FEW_CORES else 0)
    source.open()
    info = source.info
    try:
        with switch_interval(CONVERT_SWITCH_INTERVAL_S), _library_threads(cores) as encoder_threads, VideoWriter(
            output, info.fps, (info.width, info.height), info.time_base, crf=crf, preset=preset,
            copy_from=target, before_publish=before_publish, threads=encoder_threads,
        ) as writer:
            # A look for faces joining a tracked one every 10 frames (live: 30): offline, finding them
            # soon matters more than the look (~2 ms, the mesh re-detects only when it finds one).
            stages, closers = swap_conveyor(swapper, face_select, AnalysisOptions(detect_every=10, keep_hands=hands),
                                            detector=detector,
                                            swap_workers=swap_workers or CONVERT_SWAP_WORKERS,
                                            swap_in="thread" if swap_in == "auto" else swap_in)
            sink = _WriterSink(source, writer, tqdm(total=info.frames or None, unit="frame", disable=not progress, desc="convert"),
                               on_frame)
            try:
                Pipeline(source, stages, sink, live=False).run()
            finally:
                sink.bar.close()  # also when the pipeline never started: not redrawn after the last line
                for c in closers:
                    c.close()
    finally:
        source.close()
    return ConvertStats(writer.frames_written, sink.with_face, info.has_audio, source.reader.truncated, writer.copied)
