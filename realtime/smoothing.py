"""One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) for landmark arrays.

A low-pass filter whose cutoff rises with speed: a still face is smoothed hard (no
jitter), a moving face almost not at all (no lag). Speed is measured in face heights
per second, so one setting works for near and far faces and any resolution.
Defaults were tuned on the astronaut clips with benchmarks/jitter.py.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(dt: float, cutoff) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    def __init__(self, min_cutoff: float = 1.0, beta: float = 20.0, d_cutoff: float = 1.0):
        self.min_cutoff = min_cutoff  # Hz: smoothing of a still face (lower = steadier)
        self.beta = beta  # how fast the cutoff rises with speed (higher = less lag)
        self.d_cutoff = d_cutoff  # Hz: smoothing of the speed estimate itself
        self._x = None
        self._dx = None
        self._t = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filter points x (N, 2) observed at time t (s); `scale` is the face height in pixels."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._x.shape != x.shape or t <= self._t:
            self._x, self._dx, self._t = x, np.zeros_like(x), t
            return x.astype(np.float32)
        dt = t - self._t
        a_d = _alpha(dt, self.d_cutoff)
        dx = a_d * (x - self._x) / dt + (1 - a_d) * self._dx
        speed = np.linalg.norm(dx, axis=1, keepdims=True) / max(scale, 1.0)  # face heights per second
        a = _alpha(dt, self.min_cutoff + self.beta * speed)
        self._x = a * x + (1 - a) * self._x
        self._dx, self._t = dx, t
        return self._x.astype(np.float32)
