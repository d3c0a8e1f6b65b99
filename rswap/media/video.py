"""Video files through PyAV: decode RGB frames with their timestamps, encode H.264,
copy every other stream (audio, subtitles, data) packet for packet (no re-encode), tag the
output as synthetic.

The writer produces its file atomically (temporary file, renamed on close), keeps
each frame's original pts and the input's time base, and interleaves the copied
audio with the video as it goes, so memory stays bounded on long files.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import cv2
import numpy as np

from rswap import __version__
from rswap.atomic import finish, make_temp_file
from rswap.errors import RswapError
from rswap.media.h264 import DEFAULT_CRF, DEFAULT_PRESET
from rswap.media.paths import describe_os_error, require_input_file, require_video_output

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


@dataclass(frozen=True)
class Truncation:
    """How much of a cut or damaged video could be read."""

    decoded: int  # frames decoded
    expected_frames: int  # as the container states (0 when it does not)
    decoded_s: float  # seconds of video decoded
    expected_s: float  # seconds of video the container states

    def describe(self) -> str:
        if self.expected_frames:
            return f"{self.decoded} of {self.expected_frames} frames"
        return f"{self.decoded_s:.1f} of {self.expected_s:.1f} s"


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


# FFmpeg demuxers whose files state their video's frame count or duration in a header written
# after the media (so a cut file still states the whole): ISO/QuickTime and Matroska/WebM.
_STATES_LENGTH = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm")


def _stated_duration(container, vs) -> float:
    """Seconds of video the container promises: the stream's own duration (mp4), else the
    DURATION tag FFmpeg's Matroska muxer writes per stream, else the container's duration
    when the video is its only stream (with audio it may be the audio's, which can be longer)."""
    if vs.duration and vs.time_base:
        return float(vs.duration * vs.time_base)
    tag = vs.metadata.get("DURATION", "")
    try:
        h, m, sec = tag.split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        pass
    if len(container.streams) == 1 and container.duration:
        return container.duration / 1e6
    return 0.0


def _display_rotation(path: Path) -> int:
    """The display-matrix rotation of a file's first video frame, in degrees counter-clockwise
    (phone videos: -90 for portrait), rounded to a quarter turn; 0 when there is none. Read from
    a decoded frame (PyAV exposes the matrix there), on a container of its own so the reader's
    stays at its start; costs one keyframe decode."""
    try:
        with av.open(str(path), mode="r") as c:
            for packet in c.demux(c.streams.video[0]):
                try:
                    frames = packet.decode()
                except av.FFmpegError:  # a packet before the first keyframe: try the next
                    continue
                for frame in frames:
                    return int(round((frame.rotation or 0) / 90)) * 90 % 360
    except (av.FFmpegError, IndexError):
        return 0  # the reader itself reports what is wrong with the file
    return 0


class VideoReader:
    """Iterate the frames of a video file as RGB arrays with their original timestamps.

    Rotation is applied to the pixels: a phone video whose display matrix says "turn -90°"
    is read as upright frames (width and height swapped in `info`), so faces are found and
    swapped upright, and the output, written without a matrix, plays upright everywhere.
    (Mirroring in a display matrix, and angles other than quarter turns, are not read.)

    A cut or damaged file is an error, not a shorter video: packets the decoder refuses are
    counted (decoding goes on at the next packet, as a player's would), and at the end the
    frames decoded are held against the frame count or duration the container states
    (packets before the first keyframe do not count: nobody can decode them). With
    `allow_truncated` the read yields everything decodable and `truncated` says how much.
    Only mp4/mov and Matroska files state what to hold them against; others are checked
    by their decoder errors alone.

    Decoding is slice-threaded, not frame-threaded ("AUTO"): with frame threads FFmpeg drops
    a frame that fails to decode without a word (a file cut mid-stream decoded 29 frames and
    no error; slice threads raise InvalidDataError there). Measured (benchmarks/decode_threads.py,
    RESULTS.md): slice threads cost ~1 ms more per 720p frame and ~2 ms per 1080p frame than
    "AUTO" (5.9 vs 4.8, 10.2 vs 8.2 ms), in the source thread, beside a swap of 16+ ms.
    """

    # A video this much shorter than stated is truncated (edit lists may trim a frame or two).
    MISSING_FRAMES = 2
    MISSING_SHARE = 0.01

    def __init__(self, path: str | os.PathLike, what: str = "video", allow_truncated: bool = False, threads: int = 0):
        """`threads`: the decoder's slice threads, 0 for FFmpeg's choice (one per core and one
        more); 1 decodes in the calling thread (for a caller whose other threads already fill
        the cores: convert on 2 cores, where the three slice threads cost ~0.2 ms of CPU a
        640x368 frame more than one; benchmarks/RESULTS.md, issue 11, eighth session)."""
        self.path = Path(path)
        self.what = what
        self.allow_truncated = allow_truncated
        self.truncated: Truncation | None = None
        self._container = _open_input(path, what)
        if not self._container.streams.video:
            self._container.close()
            raise RswapError(f"{what} has no video stream: {self.path}")
        vs = self._container.streams.video[0]
        vs.thread_type = "SLICE"  # keeps decoder errors visible (see above)
        vs.codec_context.thread_count = int(threads)
        self.rotation = _display_rotation(self.path)  # degrees counter-clockwise, a multiple of 90
        turned = self.rotation in (90, 270)
        fps = vs.average_rate or vs.guessed_rate or Fraction(30)
        duration = _stated_duration(self._container, vs)
        self._start = float(vs.start_time * vs.time_base) if vs.start_time is not None and vs.time_base else 0.0
        self.info = VideoInfo(
            width=vs.codec_context.height if turned else vs.codec_context.width,
            height=vs.codec_context.width if turned else vs.codec_context.height,
            fps=Fraction(fps),
            time_base=Fraction(vs.time_base) if vs.time_base else Fraction(1, 1000),
            frames=int(vs.frames or 0),
            duration=duration,
            has_audio=bool(self._container.streams.audio),
        )
        self._stream = vs
        # What to hold the read against: only containers whose header states it reliably.
        # (Our own .avi stated 240 frames for 10; .wmv/.flv durations ran ~0.1 s long.)
        trusted = self._container.format.name in _STATES_LENGTH
        self._expect = (self.info.frames, self.info.duration) if trusted else (0, 0.0)

    def __iter__(self) -> Iterator[VideoFrame]:
        tb = self.info.time_base
        frame_ticks = max(1, round(1 / (self.info.fps * tb)))
        index, end = 0, 0.0
        for frame in self._decoded():
            pts = frame.pts if frame.pts is not None else index * frame_ticks
            image = frame.to_ndarray(format="rgb24")
            if self.rotation:  # np.rot90 turns counter-clockwise, as the display matrix angle counts
                image = np.ascontiguousarray(np.rot90(image, self.rotation // 90))
            yield VideoFrame(image, int(pts), tb, index)
            index += 1
            end = max(end, float(pts * tb) + 1 / float(self.info.fps))
        if index == 0:
            raise RswapError(f"{self.what} contains no decodable frames: {self.path}")
        # packets before the first keyframe (a stream-copied cut that starts between keyframes)
        # cannot be decoded by anyone; the decoder drops them, sometimes with an error: not a loss
        cut = self._missing(index + self._before_key, end - self._start)
        if self._refused or cut is not None:
            found = cut or Truncation(index, self._expect[0], end - self._start, self._expect[1])
            damaged = f"{self._refused} packets could not be decoded, " if self._refused else ""
            if not self.allow_truncated:
                raise RswapError(f"{self.what} is truncated or damaged ({damaged}{found.describe()} readable): "
                                 f"{self.path}; --allow-truncated converts the readable part")
            self.truncated = found

    def _decoded(self) -> Iterator[av.VideoFrame]:
        """Frames decoded packet by packet, so that one packet the decoder refuses is counted
        and the read goes on at the next one, as a player would, instead of ending there."""
        self._before_key = self._refused = 0
        keyed = False
        packets = self._container.demux(self._stream)
        while True:
            try:
                packet = next(packets, None)
            except av.FFmpegError:  # the demuxer itself failed: nothing more can be read
                self._refused += 1
                return
            if packet is None:
                return
            keyed = keyed or packet.is_keyframe
            if not keyed and packet.size:
                self._before_key += 1
            try:
                frames = packet.decode()  # the last, empty packet flushes the decoder
            except av.FFmpegError:
                self._refused += keyed
                continue
            yield from frames

    def check_packets(self) -> None:
        """Raise if the file holds fewer video packets (or seconds) than its container states.
        Reads the packets to the end: iterate a fresh reader afterwards."""
        count, end = 0, 0.0
        try:
            for packet in self._container.demux(self._stream):
                if packet.size and packet.pts is not None:
                    count += 1
                    end = max(end, float((packet.pts + (packet.duration or 0)) * self.info.time_base))
        except av.FFmpegError as e:
            raise RswapError(f"{self.what} is corrupt or truncated (reading failed after {count} frames): {self.path}") from e
        cut = self._missing(count, end - self._start)
        if cut is not None:
            raise RswapError(f"{self.what} is truncated: only {cut.describe()} are in the file: {self.path}; "
                             "--allow-truncated converts the readable part")

    def _missing(self, decoded: int, seconds: float) -> Truncation | None:
        """The shortfall against what the container states, if it is more than edit lists explain."""
        frames, duration = self._expect
        short_frames = frames and frames - decoded > max(self.MISSING_FRAMES, self.MISSING_SHARE * frames)
        slack = max(self.MISSING_FRAMES / float(self.info.fps), self.MISSING_SHARE * duration)
        short_time = not frames and duration and duration - seconds > slack
        return Truncation(decoded, frames, seconds, duration) if short_frames or short_time else None

    def close(self) -> None:
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def probe(path: str | os.PathLike, what: str = "video", allow_truncated: bool = False) -> VideoInfo:
    """The video's properties, after reading its packets (no decoding: ~I/O speed) to catch
    a cut file before any work is spent on it. Damage inside packets shows only when decoding."""
    with VideoReader(path, what, allow_truncated) as r:
        if not allow_truncated:
            r.check_packets()
        return r.info


def _describe(src) -> str:
    lang = src.metadata.get("language", "")
    codec = (src.codec_context.name if src.codec_context is not None
             else src.metadata.get("filename") or src.metadata.get("handler_name", "data"))
    return f"{src.type} stream #{src.index} ({codec}{', ' + lang if lang and lang != 'und' else ''})"


def _holds(fmt: str, streams) -> bool:
    """Whether FFmpeg's `fmt` muxer accepts these streams for copying beside our H.264 video:
    tried on a throwaway in-memory file up to its header (some refusals, e.g. data streams in
    Matroska, only come when the header is written; a timecode track needs the video)."""
    probe_out = av.open(io.BytesIO(), mode="w", format=fmt)
    try:
        vs = probe_out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 64, "yuv420p"
        for src in streams:
            probe_out.add_stream_from_template(src)
        probe_out.start_encoding()
        return True
    except (av.FFmpegError, ValueError):
        return False
    finally:
        with contextlib.suppress(av.FFmpegError, ValueError):  # an empty file's trailer may fail: irrelevant
            probe_out.close()


# Containers suggested when one cannot hold a stream, with their suffixes, most capable first.
_SUGGEST = (("matroska", ".mkv"), ("mov", ".mov"), ("mp4", ".mp4"))


class _StreamCopier:
    """Copies every other stream of the input (all audio, subtitles, data such as timecodes,
    Matroska attachments such as subtitle fonts) into the output packet for packet, with its language, title and disposition, in step
    with the video. A stream the output container cannot hold is a one-line error naming it
    and a container that holds all of them. Further video streams are refused: they would
    carry the original, unswapped faces."""

    def __init__(self, source: Path, out: av.container.OutputContainer, dest: Path):
        self._in = av.open(str(source), mode="r")
        try:
            self._open(out, dest)
        except BaseException:
            self._in.close()
            raise

    def _open(self, out, dest: Path) -> None:
        first_video = self._in.streams.video[0]
        others = [s for s in self._in.streams if s is not first_video]
        extra_video = [s for s in others if s.type == "video"]
        if extra_video:
            raise RswapError(f"the target has {len(extra_video) + 1} video streams; rswap swaps the first and will not "
                             f"copy {_describe(extra_video[0])} with the original faces: keep one video stream")
        # A timecode track (tmcd) is not copied as packets (the mov muxer cannot finish such a
        # copy: EINVAL at the trailer); its start time goes on our video stream, from which
        # the mp4/mov muxers write a fresh timecode track and Matroska a TIMECODE tag.
        timecodes = [s for s in others if s.type == "data" and "timecode" in s.metadata]
        self.timecode = timecodes[0].metadata["timecode"] if timecodes else None
        others = [s for s in others if s not in timecodes]
        fmt = out.format.name
        for src in others:
            if not _holds(fmt, [src]):
                fits = next((suffix for name, suffix in _SUGGEST if _holds(name, others)), None)
                hint = f"; write a {fits} file instead" if fits else "; no container rswap writes holds all of its streams"
                raise RswapError(f"a {dest.suffix} file cannot hold the target's {_describe(src)}{hint}")
        self._map = {}
        for src in others:
            dst = out.add_stream_from_template(src)  # codec parameters
            # language, title, handler...; not the input's DURATION: the muxer writes its own
            dst.metadata.update({k: v for k, v in src.metadata.items() if k.upper() != "DURATION"})
            dst.disposition = src.disposition  # default / forced / hearing impaired / ...
            self._map[src.index] = dst
        self._tb = {s.index: s.time_base for s in others}
        self._packets = (p for p in self._in.demux(*others) if p.dts is not None or p.pts is not None) if others else iter(())
        self._pending = None
        self.copied = {kind: sum(s.type == kind for s in others) for kind in ("audio", "subtitle", "data", "attachment")}
        self.copied["timecode"] = len(timecodes)

    def copy_until(self, t: float | None, out: av.container.OutputContainer) -> None:
        """Mux packets that start before time t (seconds); all remaining when t is None."""
        while True:
            if self._pending is None:
                self._pending = next(self._packets, None)
                if self._pending is None:
                    return
            p = self._pending
            start = p.dts if p.dts is not None else p.pts
            if t is not None and float(start * self._tb[p.stream.index]) > t:
                return
            p.stream = self._map[p.stream.index]
            out.mux(p)
            self._pending = None

    def close(self) -> None:
        self._in.close()


# FFmpeg muxer per output suffix (named, because the temporary file's suffix is .part...).
_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


def check_streams(source: str | os.PathLike, output: str | os.PathLike) -> None:
    """Raise the error VideoWriter(copy_from=source) would raise for `output`'s container
    (a stream it cannot hold, a second video stream), now: before any model is loaded."""
    out = av.open(io.BytesIO(), mode="w", format=_FORMATS[Path(output).suffix.lower()])
    try:
        _StreamCopier(Path(source), out, Path(output)).close()
    finally:
        with contextlib.suppress(av.FFmpegError, ValueError):
            out.close()


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
        crf: int = DEFAULT_CRF,
        preset: str = DEFAULT_PRESET,
        copy_from: str | os.PathLike | None = None,
        metadata: dict[str, str] | None = None,
        before_publish: Callable[[Path, Path], None] | None = None,
        threads: int = 0,
    ):
        """`before_publish(tmp, dest)` runs on the finished file before it is renamed into
        place (rswap.provenance signs it there). `threads`: libx264's threads, 0 for its own
        choice (1.5 per core, frame-threaded); 1 encodes in the calling thread (for a caller
        whose other threads already fill the cores: see convert.conversion)."""
        self.path = require_video_output(path)
        self._before_publish = before_publish
        fps = Fraction(fps).limit_denominator(100000)
        self.time_base = Fraction(time_base) if time_base else 1 / fps
        width, height = size
        # yuv420p needs even dimensions; we encode the even-sized top-left part.
        self.width, self.height = width - width % 2, height - height % 2
        self._frames = 0
        self._tmp = self._out = self._copier = None  # set below; _discard closes and removes what was made
        try:
            # The temporary file keeps the suffix: a user who finds one knows what it is. Made
            # inside the try, so an interrupt the moment it exists still removes it.
            self._tmp = make_temp_file(self.path, suffix=f".part{self.path.suffix}")
            fmt = _FORMATS[self.path.suffix.lower()]
            self._out = av.open(str(self._tmp), mode="w", format=fmt)
            self._out.metadata.update({"comment": SYNTHETIC_TAG, "description": SYNTHETIC_TAG, **(metadata or {})})
            vs = self._out.add_stream("libx264", rate=fps)
            vs.width, vs.height = self.width, self.height
            vs.pix_fmt = "yuv420p"
            vs.time_base = self.time_base
            vs.codec_context.time_base = self.time_base
            vs.options = {"crf": str(int(crf)), "preset": preset}
            vs.codec_context.thread_count = int(threads)
            vs.metadata["comment"] = SYNTHETIC_TAG
            self._video = vs
            self._copier = _StreamCopier(Path(copy_from), self._out, self.path) if copy_from else None
            if self._copier is not None and self._copier.timecode:
                vs.metadata["timecode"] = self._copier.timecode
        except OSError as e:
            self._discard()
            raise RswapError(describe_os_error(e, self.path)) from e
        except (av.FFmpegError, ValueError) as e:  # e.g. a container format FFmpeg cannot write
            self._discard()
            raise RswapError(f"cannot write a video to {self.path}: {e}") from e
        except BaseException:  # RswapError from the stream copier, an interrupt: nothing left behind
            self._discard()
            raise

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        # x264 takes yuv420p. Converted here by OpenCV, not by PyAV's swscale on an rgb24 frame:
        # the same BT.601 limited-range matrix (Y off by one on ~1% of pixels, chroma the 2x2
        # mean in both) for 0.12 ms of a 640x368 frame against ~0.9 (benchmarks/RESULTS.md,
        # "issue 11, eighth session"). Measured on the 20 s talking-head clip at CRF 16: the
        # same PSNR against the frames fed in (43.4 dB), a file ~7% larger.
        yuv = cv2.cvtColor(np.ascontiguousarray(image[: self.height, : self.width]), cv2.COLOR_RGB2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self._frames if pts is None else int(pts)
        frame.time_base = self.time_base
        self._frames += 1
        if self._copier is not None:
            self._copier.copy_until(float(frame.pts * self.time_base) + self.AUDIO_LEAD_S, self._out)
        self._mux(self._video.encode(frame))

    def _mux(self, packets) -> None:
        try:
            self._out.mux(packets)
        except OSError as e:
            raise RswapError(describe_os_error(e, self.path)) from e
        except av.FFmpegError as e:  # a muxer refusing what it was given, e.g. at its header
            raise RswapError(f"cannot write a video to {self.path}: {e}") from e

    @property
    def frames_written(self) -> int:
        return self._frames

    @property
    def copied(self) -> dict[str, int]:
        """Streams copied from `copy_from`, by kind (audio, subtitle, data)."""
        return self._copier.copied if self._copier is not None else {}

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio, and move the file into place."""
        try:
            self._mux(self._video.encode(None))
            if self._copier is not None:
                self._copier.copy_until(None, self._out)
                self._copier.close()
            self._out.close()
            if self._before_publish is not None:
                self._before_publish(self._tmp, self.path)
            finish(self._tmp, self.path)
        except OSError as e:
            self._discard()
            raise RswapError(describe_os_error(e, self.path)) from e
        except av.FFmpegError as e:  # the muxer refusing to finish (trailer)
            self._discard()
            raise RswapError(f"cannot finish writing {self.path}: {e}") from e
        except BaseException:
            self._discard()
            raise

    def abort(self) -> None:
        self._discard()

    def _discard(self) -> None:
        for closer in (self._copier, self._out):
            with contextlib.suppress(Exception):
                if closer is not None:
                    closer.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()

