"""A camera without a camera, for tests and benchmarks: the astronaut face sliding across a
frame at a steady rate. Product code never imports this module; it needs scikit-image (the
dev extra) and rswap.testing's renderer."""

from __future__ import annotations

import threading

import numpy as np

from realtime.sinks import NullSink
from realtime.sources import _Pacer


class SyntheticSource:
    """The astronaut face sliding across a frame, generated at `fps` (None: as fast as asked).

    For tests and benchmarks: a camera without a camera. `frames` limits the stream
    (None: endless); `noise` adds Gaussian pixel noise (sensor-like), `still` keeps the
    face in place (the jitter measurement).
    """

    def __init__(self, size=(1280, 720), fps: float | None = 30.0, frames: int | None = None,
                 still: bool = False, noise: float = 0.0, cycle: int = 120, seed: int = 0, photo=None):
        self.size = tuple(size)
        self.fps = fps
        self.frames = frames
        self.still = still
        self.noise = noise
        self.cycle = cycle
        self.dropped: dict[str, int] = {}
        self._photo = photo
        self._rng = np.random.default_rng(seed)
        self._pacer = _Pacer(fps)
        self._cache: list[np.ndarray] = []
        self._i = 0

    def open(self) -> None:
        if self._cache:
            return
        from rswap.testing.render import moving_face_frames

        photo = self._photo
        if photo is None:
            from skimage import data

            photo = data.astronaut()[20:240, 110:340]  # head and shoulders: big enough for the short-range detector
        # One cycle of motion, rendered once: reading then costs a copy, like a camera's buffer.
        n = 1 if self.still else self.cycle
        self._cache = list(moving_face_frames(np.ascontiguousarray(photo), self.size, n, scale=0.6, amplitude=0.3))

    def read(self, stop: threading.Event):
        if self.frames is not None and self._i >= self.frames:
            return None
        self._pacer.wait(stop)
        if stop.is_set():
            return None
        image = self._cache[self._i % len(self._cache)].copy()
        if self.noise:
            noisy = image.astype(np.float32) + self._rng.normal(0, self.noise, image.shape).astype(np.float32)
            image = np.clip(noisy, 0, 255).astype(np.uint8)
        pts = self._i / (self.fps or 30.0)  # unpaced streams still get a nominal 30 fps timeline
        self._i += 1
        return image, pts

    def close(self) -> None:
        pass


class FrameListSource:
    """Hands out copies of given frames at `fps` (the paste stage pastes into its frame), then
    ends: for tests whose face must stay in every frame (the synthetic camera's is too small and
    moves too far)."""

    def __init__(self, frames: list[np.ndarray], fps: float = 25.0):
        self.frames, self.size, self.fps, self.dropped, self._i = frames, frames[0].shape[1::-1], fps, {}, 0

    def open(self) -> None:
        pass

    def read(self, stop: threading.Event):
        if self._i == len(self.frames):
            return None
        self._i += 1
        return self.frames[self._i - 1].copy(), (self._i - 1) / self.fps

    def close(self) -> None:
        pass


class RecordingSink(NullSink):
    """Keeps every packet it is given, in the order it was given them (tests look at both)."""

    def __init__(self):
        super().__init__()
        self.packets = []

    def write(self, packet) -> bool:
        self.packets.append(packet)
        return True
