"""Where live frames go: a virtual camera, a preview window, a file, or nowhere.

Every sink has `open(size, fps)`, `write(packet) -> bool` (False: the user asked to
quit), `close()` (the stream ended as asked: finish the output) and `abort(error)` (the
run was interrupted or failed: release the device, and keep a file only if it is whole
and playable). `open` is idempotent so the CLI can open a sink early (to fall back when a
virtual camera is missing) and hand it to the pipeline.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.controls import HOTKEYS, Controls, apply_key
from rswap.errors import RswapError


class NullSink:
    """Drops frames: the benchmarks measure the pipeline, not an output device."""

    def __init__(self):
        self.frames = 0

    def open(self, size, fps) -> None:
        pass

    def write(self, packet) -> bool:
        self.frames += 1
        return True

    def close(self) -> None:
        pass

    def abort(self, error: BaseException) -> None:
        self.close()


class FileSink:
    """An H.264 file through rswap.media.VideoWriter; finalized (renamed into place) on close.

    Frames keep their source pts when they have them, otherwise their capture time,
    so a live recording plays back at the pace it was captured.

    Ctrl-C or SIGTERM is how a live recording without --duration ends, so an interrupt
    keeps what was recorded: the encoder is flushed and the file finalized like at the
    end of a stream, which makes it whole and playable (`kept` says how many frames). A
    failure (a stage or the disk) discards it: a recording cut by a bug is not kept.
    """

    def __init__(self, path: str, time_base: float = 1 / 1000, before_publish=None):
        """`before_publish(tmp, dest)`: e.g. Content Credentials signing, on the finished file."""
        self.path = path
        self.time_base = time_base
        self.before_publish = before_publish
        self._writer = None
        self._t0 = None
        self._last_pts = -1
        self.kept = 0  # frames in the finished file after an interrupt

    def open(self, size, fps) -> None:
        if self._writer is not None:
            return
        from fractions import Fraction

        from rswap.media.video import VideoWriter

        self._writer = VideoWriter(self.path, fps or 30, size, time_base=Fraction(self.time_base).limit_denominator(),
                                   before_publish=self.before_publish)

    def write(self, packet) -> bool:
        t = packet.pts
        if t is None:
            self._t0 = packet.capture_ts if self._t0 is None else self._t0
            t = packet.capture_ts - self._t0
        pts = max(int(round(t / self.time_base)), self._last_pts + 1)  # strictly increasing for the muxer
        self._last_pts = pts
        self._writer.write(packet.image, pts)
        return True

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()

    def abort(self, error: BaseException) -> None:
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        if isinstance(error, KeyboardInterrupt) and writer.frames_written:
            writer.close()
            self.kept = writer.frames_written
        else:
            writer.abort()


def virtual_camera_problem() -> str | None:
    """Why a virtual camera cannot work here, as one line with the fix; None if it might."""
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        return "pyvirtualcam is not installed: pip install pyvirtualcam"
    if sys.platform.startswith("linux"):
        if not os.path.isdir("/sys/module/v4l2loopback"):
            return "v4l2loopback module not loaded: sudo modprobe v4l2loopback exclusive_caps=1"
        if not any(os.path.exists(f"/dev/video{i}") for i in range(64)):
            return "v4l2loopback is loaded but no /dev/video device exists: sudo modprobe -r v4l2loopback && sudo modprobe v4l2loopback exclusive_caps=1"
    return None


class VirtualCameraUnavailable(RswapError):
    pass


class VirtualCameraSink:
    """pyvirtualcam (v4l2loopback on Linux, OBS / Unity Capture elsewhere); frames go out as RGB."""

    def __init__(self, device: str | None = None, log=None):
        self.device = device
        self.size = None
        self._cam = None
        self._log = log or (lambda m: print(f"rswap live: {m}", file=sys.stderr, flush=True))

    def open(self, size, fps) -> None:
        if self._cam is not None:
            return
        try:
            import pyvirtualcam
        except ImportError:
            raise VirtualCameraUnavailable("pyvirtualcam is not installed: pip install pyvirtualcam") from None
        self.size = (int(size[0]), int(size[1]))
        try:
            self._cam = pyvirtualcam.Camera(self.size[0], self.size[1], float(fps or 30), fmt=pyvirtualcam.PixelFormat.RGB,
                                            device=self.device)
        except Exception as e:  # pyvirtualcam raises RuntimeError with a backend-specific text
            problem = virtual_camera_problem() or f"virtual camera could not start: {str(e).splitlines()[0] if str(e) else e!r}"
            raise VirtualCameraUnavailable(problem) from e
        self._log(f"virtual camera: {self._cam.device} ({self.size[0]}x{self.size[1]})")

    def write(self, packet) -> bool:
        image = packet.image
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._cam.send(np.ascontiguousarray(image, dtype=np.uint8))
        return True

    def close(self) -> None:
        if self._cam is not None:
            cam, self._cam = self._cam, None
            cam.close()

    def abort(self, error: BaseException) -> None:
        self.close()


def draw_stats(image_bgr: np.ndarray, lines: list[str]) -> None:
    y = 24
    for line in lines:
        cv2.putText(image_bgr, line, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image_bgr, line, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        y += 22


class PreviewSink:
    """An OpenCV window with hotkeys (see HOTKEYS) and a stats overlay; closing the window quits.

    The overlay and the mirror are for the viewer only: a virtual camera or file sink
    next to it (`tee`) gets the unmirrored frame without text.
    """

    def __init__(self, controls: Controls | None = None, n_sources: int = 1, title: str = "rswap live", tee=None):
        self.controls = controls or Controls()
        self.n_sources = n_sources
        self.title = title
        self.tee = tee
        self._opened = False
        self._fps = 0.0
        self._last = None

    def open(self, size, fps) -> None:
        if self.tee is not None:
            self.tee.open(size, fps)
        if self._opened:
            return
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            # Checked up front: OpenCV's GUI backend aborts the process without a display.
            raise RswapError("cannot open a preview window: no display (DISPLAY is not set); use -o FILE or -o null")
        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
            cv2.resizeWindow(self.title, int(size[0]), int(size[1]))
        except cv2.error as e:
            raise RswapError("cannot open a preview window (no display?); use -o FILE, -o null or -o virtualcam") from e
        self._opened = True
        keys = ", ".join(f"{k}: {v}" for k, v in HOTKEYS.items())
        print(f"rswap live: preview keys - {keys}", file=sys.stderr, flush=True)

    def write(self, packet) -> bool:
        if self.tee is not None:
            self.tee.write(packet)
        now = time.perf_counter()
        if self._last is not None:
            self._fps = 0.9 * self._fps + 0.1 / max(now - self._last, 1e-6)
        self._last = now
        image = cv2.cvtColor(packet.image, cv2.COLOR_RGB2BGR)
        if self.controls.mirror:
            image = cv2.flip(image, 1)
        if self.controls.show_stats:
            latency = (now - packet.capture_ts) * 1000
            stages = "  ".join(f"{k} {v * 1000:.0f}" for k, v in packet.timings.items())
            swap = "on" if self.controls.swap else "off"
            draw_stats(image, [f"{self._fps:5.1f} fps  latency {latency:4.0f} ms  swap {swap}", f"ms: {stages}"])
        cv2.imshow(self.title, image)
        apply_key(self.controls, cv2.waitKey(1), self.n_sources)
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.controls.quit = True
        return not self.controls.quit

    def close(self) -> None:
        if self.tee is not None:
            self.tee.close()
        self._close_window()

    def abort(self, error: BaseException) -> None:
        if self.tee is not None:
            self.tee.abort(error)
        self._close_window()

    def _close_window(self) -> None:
        if self._opened:
            self._opened = False
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
