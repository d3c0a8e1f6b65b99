"""Where live frames come from: a camera, a video file, or a synthetic stream.

Every source has `open()`, `read(stop) -> (rgb_image, pts_seconds) | None` (None: the
stream is over), `close()`, `size` (w, h) / `fps` once open, and `dropped` (frames it
dropped or lost, by reason, for the run's stats). `read` blocks until
the next frame is due, so the source thread runs at the source's own rate; `stop`
(a threading.Event) cuts any wait short so shutdown never hangs.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable

import cv2
import numpy as np

from rswap.errors import RswapError


def is_camera(target: str) -> bool:
    """'0', '2', '/dev/video0' name cameras; anything else is a file."""
    return target.isdigit() or target.startswith("/dev/video")


def _log(message: str) -> None:
    print(f"rswap live: {message}", file=sys.stderr, flush=True)


class _Pacer:
    """Sleeps until the next frame is due at `fps`; after a stall it resyncs instead of bursting."""

    def __init__(self, fps: float | None):
        self.period = 1.0 / fps if fps else 0.0
        self.next_t: float | None = None

    def wait(self, stop: threading.Event) -> None:
        if not self.period:
            return
        now = time.perf_counter()
        if self.next_t is None or now - self.next_t > self.period:
            self.next_t = now
        elif self.next_t > now:
            stop.wait(self.next_t - now)
        self.next_t += self.period


class FileSource:
    """A video file played at its own frame rate (live) or as fast as consumed (paced=False).

    With `loop`, the file starts over at its end; pts keep increasing across loops.
    """

    def __init__(self, path: str, loop: bool = False, paced: bool = True):
        self.path = path
        self.loop = loop
        self.paced = paced
        self.dropped: dict[str, int] = {}
        self.size = None
        self.fps = None
        self.info = None
        self._reader = None
        self._frames = None
        self._offset = 0.0
        self._last_time = 0.0

    def open(self) -> None:
        if self._reader is not None:
            return
        from rswap.media.video import VideoReader

        self._reader = VideoReader(self.path, "target")
        self.info = self._reader.info
        self.size = (self.info.width, self.info.height)
        self.fps = float(self.info.fps)
        self._frames = iter(self._reader)
        self._pacer = _Pacer(self.fps if self.paced else None)

    def read(self, stop: threading.Event):
        frame = next(self._frames, None)
        if frame is None and self.loop:
            from rswap.media.video import VideoReader

            self._offset = self._last_time + 1.0 / self.fps
            self._reader.close()
            self._reader = VideoReader(self.path, "target")
            self._frames = iter(self._reader)
            frame = next(self._frames, None)
        if frame is None:
            return None
        self._pacer.wait(stop)
        self._last_time = self._offset + frame.time
        return frame.image, self._last_time

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _open_opencv_camera(device):
    api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
    return cv2.VideoCapture(device, api)


class CameraSource:
    """A webcam through OpenCV: MJPG at the requested size and fps, real fps measured.

    If the camera disappears (unplugged, driver reset) `read` keeps retrying with a
    growing delay and resumes when it is back; the program does not restart.
    `open_capture(device)` returns a cv2.VideoCapture-like object (tests pass a fake).
    """

    MEASURE_FRAMES = 30

    def __init__(self, device: str | int, size: tuple[int, int] | None = None, fps: float | None = None,
                 open_capture: Callable = _open_opencv_camera, log: Callable[[str], None] = _log,
                 backoff: tuple[float, float] = (0.25, 4.0)):
        self.device = int(device) if isinstance(device, str) and device.isdigit() else device
        self.requested_size = size
        self.requested_fps = fps
        self.size = None
        self.fps = fps
        self.measured_fps: float | None = None
        self.reconnects = 0
        self.dropped: dict[str, int] = {}
        self._open_capture = open_capture
        self._log = log
        self._backoff = backoff
        self._cap = None
        self._first = None
        self._stamps: list[float] = []

    def _connect(self):
        cap = self._open_capture(self.device)
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            return None
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if self.requested_size:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.requested_size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.requested_size[1])
        if self.requested_fps:
            cap.set(cv2.CAP_PROP_FPS, self.requested_fps)
        return cap

    def open(self) -> None:
        if self._cap is not None:
            return
        self._cap = self._connect()
        ok, frame = (False, None) if self._cap is None else self._cap.read()
        if not ok or frame is None:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            raise RswapError(f"cannot open camera {self.device} (is it connected, and not used by another program?)")
        self.size = (frame.shape[1], frame.shape[0])
        if self.requested_size and tuple(self.requested_size) != self.size:
            _size = f"{self.requested_size[0]}x{self.requested_size[1]}"
            self._log(f"camera {self.device} gives {self.size[0]}x{self.size[1]}, not the requested {_size}")
        driver_fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = self.requested_fps or (driver_fps if driver_fps and driver_fps > 0 else 30.0)
        self._first = frame

    def _reconnect(self, stop: threading.Event) -> bool:
        delay = self._backoff[0]
        while not stop.is_set():
            self._log(f"camera {self.device} unavailable; retrying in {delay:.2g} s (Ctrl-C to quit)")
            if stop.wait(delay):
                return False
            self._cap = self._connect()
            if self._cap is not None:
                self.reconnects += 1
                self._stamps.clear()
                self._log(f"camera {self.device} is back")
                return True
            delay = min(delay * 2, self._backoff[1])
        return False

    def read(self, stop: threading.Event):
        while not stop.is_set():
            if self._first is not None:
                frame, self._first = self._first, None
            else:
                if self._cap is None and not self._reconnect(stop):
                    return None
                ok, frame = self._cap.read()
                if not ok or frame is None:
                    self._cap.release()
                    self._cap = None
                    continue
            self._measure_fps()
            return self._to_rgb(frame), None
        return None

    def _to_rgb(self, frame: np.ndarray) -> np.ndarray:
        if (frame.shape[1], frame.shape[0]) != self.size:  # a reconnected camera may come back at another size
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def _measure_fps(self) -> None:
        # Drivers often accept any fps and deliver another: believe the clock, not CAP_PROP_FPS.
        if len(self._stamps) >= self.MEASURE_FRAMES:
            return
        self._stamps.append(time.perf_counter())
        if len(self._stamps) == self.MEASURE_FRAMES:
            self.measured_fps = (len(self._stamps) - 1) / (self._stamps[-1] - self._stamps[0])
            asked = f" (asked {self.requested_fps:g})" if self.requested_fps else ""
            self._log(f"camera {self.device}: {self.size[0]}x{self.size[1]} at {self.measured_fps:.1f} fps measured{asked}")
            self.fps = self.measured_fps

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
