"""Sources and sinks at their boundaries: a camera that disappears, files, pyvirtualcam, hotkeys."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from realtime.packet import Packet
from realtime.pipeline import Pipeline, Stage
from realtime.controls import Controls, apply_key
from realtime.sinks import FileSink, NullSink, VirtualCameraSink, VirtualCameraUnavailable
from realtime.sources import CameraSource, FileSource, is_camera
from realtime.testing import SyntheticSource


class FakeDevice:
    """A webcam that can be unplugged: frames are BGR, numbered in their first pixel."""

    def __init__(self, size=(160, 120)):
        self.size = size
        self.plugged = True
        self.frames = 0
        self.props = {}

    def open(self, device):
        return FakeCapture(self)


class FakeCapture:
    def __init__(self, dev: FakeDevice):
        self.dev = dev
        self.opened = dev.plugged

    def isOpened(self):
        return self.opened

    def set(self, prop, value):
        self.dev.props[prop] = value
        return True

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        if not (self.opened and self.dev.plugged):
            return False, None
        time.sleep(1 / 100)
        self.dev.frames += 1
        frame = np.zeros((self.dev.size[1], self.dev.size[0], 3), np.uint8)
        frame[..., 0] = 255  # blue in BGR
        return True, frame

    def release(self):
        self.opened = False


class Recording(NullSink):
    def __init__(self):
        super().__init__()
        self.packets = []

    def write(self, packet):
        self.packets.append(packet)
        return True


def test_camera_unplugged_mid_run_comes_back():
    dev = FakeDevice()
    messages = []
    source = CameraSource(0, size=(160, 120), fps=30, open_capture=dev.open, log=messages.append, backoff=(0.02, 0.08))
    sink = Recording()

    def unplug_and_replug():
        time.sleep(0.3)
        dev.plugged = False
        time.sleep(0.4)
        dev.plugged = True

    threading.Thread(target=unplug_and_replug, daemon=True).start()
    Pipeline(source, [Stage("noop", lambda p: p)], sink, duration=1.3).run()
    times = np.array([p.capture_ts for p in sink.packets])
    gaps = np.diff(times)
    assert gaps.max() > 0.3  # the outage is visible...
    big = int(np.argmax(gaps))
    assert big > 5 and len(times) - big > 5  # ...with frames before and after it
    assert source.reconnects == 1
    assert any("unavailable; retrying" in m for m in messages) and any("is back" in m for m in messages)
    assert dev.props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"MJPG")
    assert dev.props[cv2.CAP_PROP_FRAME_WIDTH] == 160 and dev.props[cv2.CAP_PROP_FPS] == 30
    first = sink.packets[0].image
    assert first.dtype == np.uint8 and tuple(first[0, 0]) == (0, 0, 255)  # BGR camera -> RGB frames
    assert source._cap is None  # released on shutdown


def test_camera_fps_is_measured_not_believed():
    dev = FakeDevice()
    messages = []
    source = CameraSource(0, fps=30, open_capture=dev.open, log=messages.append)
    source.open()
    stop = threading.Event()
    for _ in range(CameraSource.MEASURE_FRAMES):
        source.read(stop)
    source.close()
    assert 50 < source.measured_fps < 110  # the fake delivers ~100 fps whatever was asked
    assert any("fps measured (asked 30)" in m for m in messages)


def test_missing_camera_is_one_clear_error():
    from rswap.errors import RswapError

    dev = FakeDevice()
    dev.plugged = False
    with pytest.raises(RswapError, match="cannot open camera 3"):
        CameraSource(3, open_capture=dev.open, log=lambda m: None).open()


def test_is_camera():
    assert is_camera("0") and is_camera("/dev/video2") and not is_camera("clip.mp4")


def test_file_source_plays_at_file_rate_and_loops(clip_no_audio):
    source = FileSource(clip_no_audio, loop=True)  # 10 frames at 10 fps
    source.open()
    stop = threading.Event()
    t0 = time.perf_counter()
    pts = [source.read(stop)[1] for _ in range(15)]
    elapsed = time.perf_counter() - t0
    source.close()
    assert 1.2 < elapsed < 2.5  # 14 frame periods of 0.1 s
    assert all(b > a for a, b in zip(pts, pts[1:]))  # pts keep rising across the loop
    assert pts[10] == pytest.approx(1.0, abs=0.05)


def test_file_sink_writes_every_delivered_frame(tmp_path):
    from rswap.media.video import VideoReader

    out = tmp_path / "live.mp4"
    stats = Pipeline(SyntheticSource((160, 120), fps=None, frames=12), [], FileSink(str(out)), live=False).run()
    with VideoReader(out) as r:
        frames = list(r)
    assert len(frames) == stats.delivered == 12
    assert frames[0].image.shape == (120, 160, 3)
    assert not list(tmp_path.glob(".*part*"))  # the temporary file was renamed into place


def test_virtual_camera_gets_rgb_uint8_contiguous_frames_of_its_size(monkeypatch):
    import pyvirtualcam

    handed = []

    class FakeCamera:
        def __init__(self, width, height, fps, fmt=None, device=None, **kw):
            self.width, self.height, self.fps, self.fmt = width, height, fps, fmt
            self.device = "/dev/video9"
            self.closed = False

        def send(self, frame):
            handed.append((frame, frame.flags["C_CONTIGUOUS"]))

        def close(self):
            self.closed = True

    monkeypatch.setattr(pyvirtualcam, "Camera", FakeCamera)
    sink = VirtualCameraSink(log=lambda m: None)
    sink.open((320, 240), 30)
    cam = sink._cam
    assert cam.fmt == pyvirtualcam.PixelFormat.RGB and (cam.width, cam.height, cam.fps) == (320, 240, 30.0)
    rgb = np.zeros((240, 320, 3), np.uint8)
    rgb[..., 0] = 200
    sink.write(Packet(0, rgb[:, ::-1], 0.0))  # a mirrored view: not contiguous
    sink.write(Packet(1, np.zeros((480, 640, 3), np.uint8), 0.0))  # wrong size: resized
    sink.close()
    assert cam.closed
    for frame, contiguous in handed:
        assert contiguous and frame.dtype == np.uint8 and frame.shape == (240, 320, 3)
    assert tuple(handed[0][0][0, 0]) == (200, 0, 0)  # channels untouched: pyvirtualcam was asked for RGB


def test_virtual_camera_missing_says_what_to_do(monkeypatch):
    import pyvirtualcam

    def no_device(*a, **kw):
        raise RuntimeError("'v4l2loopback' backend: no device found")

    monkeypatch.setattr(pyvirtualcam, "Camera", no_device)
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setattr("os.path.isdir", lambda p: False if p == "/sys/module/v4l2loopback" else True)
    with pytest.raises(VirtualCameraUnavailable, match="sudo modprobe v4l2loopback exclusive_caps=1"):
        VirtualCameraSink(log=lambda m: None).open((320, 240), 30)


def test_preview_hotkeys():
    c = Controls()
    for key in map(ord, "snim"):
        apply_key(c, key, n_sources=3)
    assert (c.swap, c.source_index, c.show_stats, c.mirror, c.quit) == (False, 1, False, True, False)
    apply_key(c, -1, 3)
    apply_key(c, 27, 3)
    assert c.quit


def test_preview_without_a_display_is_one_clear_error(monkeypatch):
    import sys as _sys

    import pytest as _pytest

    from realtime.sinks import PreviewSink
    from rswap.errors import RswapError

    if not _sys.platform.startswith("linux"):
        _pytest.skip("display detection is Linux-specific")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with _pytest.raises(RswapError, match="no display"):
        PreviewSink().open((640, 360), 30)
