"""Video files through PyAV: decode RGB frames with their timestamps, encode H.264,
copy the audio stream packet for packet (no re-encode), tag the output as synthetic.

The writer produces its file atomically (temporary file, renamed on close), keeps
each frame's original pts and the input's time base, and interleaves the copied
audio with the video as it goes, so memory stays bounded on long files.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np

from rswap import __version__
from rswap.atomic import finish
from rswap.errors import RswapError
from rswap.media.paths import describe_os_error, require_input_file, require_output_path

SYNTHETIC_TAG = f"synthetic media: faces swapped by rswap {__version__}"


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction  # average frame rate
    time_base: Fraction
    frames: int  # as the container states it (0 when unknown)
    duration: float  # seconds, 0 when unknown
    has_audio: bool


@dataclass
class VideoFrame:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    pts: int  # in `time_base` units
    time_base: Fraction
    index: int

    @property
    def time(self) -> float:
        return float(self.pts * self.time_base)


def _open_input(path: str | os.PathLike, what: str) -> av.container.InputContainer:
    p = require_input_file(path, what)
    try:
        return av.open(str(p), mode="r")
    except av.FFmpegError as e:
        raise RswapError(f"{what} is not a readable video (corrupt, truncated or unsupported): {p}") from e


class VideoReader:
    """Iterate the frames of a video file as RGB arrays with their original timestamps."""

    def __init__(self, path: str | os.PathLike, what: str = "video"):
        self.path = Path(path)
        self.what = what
        self._container = _open_input(path, what)
        if not self._container.streams.video:
            self._container.close()
            raise RswapError(f"{what} has no video stream: {self.path}")
        vs = self._container.streams.video[0]
        vs.thread_type = "AUTO"  # frame-threaded decoding: free speed on multi-core machines
        fps = vs.average_rate or vs.guessed_rate or Fraction(30)
        duration = float(vs.duration * vs.time_base) if vs.duration else (self._container.duration or 0) / 1e6
        self.info = VideoInfo(
            width=vs.codec_context.width,
            height=vs.codec_context.height,
            fps=Fraction(fps),
            time_base=Fraction(vs.time_base) if vs.time_base else Fraction(1, 1000),
            frames=int(vs.frames or 0),
            duration=duration,
            has_audio=bool(self._container.streams.audio),
        )
        self._stream = vs

    def __iter__(self) -> Iterator[VideoFrame]:
        tb = self.info.time_base
        frame_ticks = max(1, round(1 / (self.info.fps * tb)))
        index = 0
        try:
            for frame in self._container.decode(self._stream):
                pts = frame.pts if frame.pts is not None else index * frame_ticks
                yield VideoFrame(frame.to_ndarray(format="rgb24"), int(pts), tb, index)
                index += 1
        except av.FFmpegError as e:
            raise RswapError(f"{self.what} is corrupt or truncated (decoding failed after {index} frames): {self.path}") from e
        if index == 0:
            raise RswapError(f"{self.what} contains no decodable frames: {self.path}")

    def close(self) -> None:
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def probe(path: str | os.PathLike, what: str = "video") -> VideoInfo:
    with VideoReader(path, what) as r:
        return r.info


class _AudioCopier:
    """Copies the audio packets of one file into an output container, in step with the video."""

    def __init__(self, source: Path, out: av.container.OutputContainer):
        self._in = av.open(str(source), mode="r")
        src = self._in.streams.audio[0]
        try:
            self._stream = out.add_stream_from_template(src)
        except (av.FFmpegError, ValueError) as e:
            self._in.close()
            raise RswapError(f"cannot copy the {src.codec_context.name} audio into {out.format.name}; try an .mkv output") from e
        self._tb = src.time_base
        self._packets = (p for p in self._in.demux(src) if p.dts is not None)
        self._pending = None
        self.copied = 0

    def copy_until(self, t: float | None, out: av.container.OutputContainer) -> None:
        """Mux audio packets that start before time t (seconds); all remaining when t is None."""
        while True:
            if self._pending is None:
                self._pending = next(self._packets, None)
                if self._pending is None:
                    return
            if t is not None and float(self._pending.dts * self._tb) > t:
                return
            self._pending.stream = self._stream
            out.mux(self._pending)
            self._pending = None
            self.copied += 1

    def close(self) -> None:
        self._in.close()


class VideoWriter:
    """H.264 file writer. Frames keep the pts they are given (in `time_base` units).

    The output appears at `path` only when `close()` succeeds; `abort()` (or an
    exception inside a `with` block) removes the temporary file.
    """

    AUDIO_LEAD_S = 0.5  # mux audio this far ahead of the video, as players expect

    def __init__(
        self,
        path: str | os.PathLike,
        fps: Fraction | float,
        size: tuple[int, int],
        time_base: Fraction | None = None,
        crf: int = 18,
        preset: str = "medium",
        audio_from: str | os.PathLike | None = None,
        metadata: dict[str, str] | None = None,
        before_publish: Callable[[Path, Path], None] | None = None,
    ):
        """`before_publish(tmp, dest)` runs on the finished file before it is renamed into
        place (rswap.provenance signs it there)."""
        self.path = require_output_path(path)
        self._before_publish = before_publish
        fps = Fraction(fps).limit_denominator(100000)
        self.time_base = Fraction(time_base) if time_base else 1 / fps
        width, height = size
        # yuv420p needs even dimensions; we encode the even-sized top-left part.
        self.width, self.height = width - width % 2, height - height % 2
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".part{self.path.suffix}", dir=self.path.parent)
        except OSError as e:
            raise RswapError(describe_os_error(e, self.path)) from e
        os.close(fd)
        self._tmp = Path(tmp)
        self._frames = 0
        try:
            fmt = "mp4" if self.path.suffix.lower() in (".mp4", ".m4v", ".mov") else None
            self._out = av.open(str(self._tmp), mode="w", format=fmt)
            self._out.metadata.update({"comment": SYNTHETIC_TAG, "description": SYNTHETIC_TAG, **(metadata or {})})
            vs = self._out.add_stream("libx264", rate=fps)
            vs.width, vs.height = self.width, self.height
            vs.pix_fmt = "yuv420p"
            vs.time_base = self.time_base
            vs.codec_context.time_base = self.time_base
            vs.options = {"crf": str(int(crf)), "preset": preset}
            vs.metadata["comment"] = SYNTHETIC_TAG
            self._video = vs
            self._audio = _AudioCopier(Path(audio_from), self._out) if audio_from and _has_audio(audio_from) else None
        except OSError as e:
            self._discard()
            raise RswapError(describe_os_error(e, self.path)) from e
        except (av.FFmpegError, ValueError) as e:  # e.g. a container format FFmpeg cannot write
            self._discard()
            raise RswapError(f"cannot write a video to {self.path}: {e}") from e
        except BaseException:
            self._discard()
            raise

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[: self.height, : self.width]), format="rgb24")
        frame.pts = self._frames if pts is None else int(pts)
        frame.time_base = self.time_base
        self._frames += 1
        if self._audio is not None:
            self._audio.copy_until(float(frame.pts * self.time_base) + self.AUDIO_LEAD_S, self._out)
        self._mux(self._video.encode(frame))

    def _mux(self, packets) -> None:
        try:
            self._out.mux(packets)
        except OSError as e:
            raise RswapError(describe_os_error(e, self.path)) from e

    @property
    def frames_written(self) -> int:
        return self._frames

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio, and move the file into place."""
        try:
            self._mux(self._video.encode(None))
            if self._audio is not None:
                self._audio.copy_until(None, self._out)
                self._audio.close()
            self._out.close()
            if self._before_publish is not None:
                self._before_publish(self._tmp, self.path)
            finish(self._tmp, self.path)
        except OSError as e:
            self._discard()
            raise RswapError(describe_os_error(e, self.path)) from e
        except BaseException:
            self._discard()
            raise

    def abort(self) -> None:
        self._discard()

    def _discard(self) -> None:
        for closer in (getattr(self, "_audio", None), getattr(self, "_out", None)):
            with contextlib.suppress(Exception):
                if closer is not None:
                    closer.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _has_audio(path: str | os.PathLike) -> bool:
    with av.open(str(path), mode="r") as c:
        return bool(c.streams.audio)
