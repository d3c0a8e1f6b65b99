"""Landmark jitter and lag, with and without One-Euro smoothing (`rswap bench jitter`).

Jitter: a still astronaut face with Gaussian sensor-like noise (sigma 3 grey levels):
the std over time of each landmark, averaged over points, in pixels. Lag: the same
face moving across the frame (~0.5 frame widths per second at the widest): the mean
distance between smoothed and raw landmarks, in pixels and in milliseconds of motion.
"""

from __future__ import annotations

import argparse
import threading

import numpy as np

from realtime.testing import SyntheticSource
from realtime.tracking import FaceTracker
from rswap.face.options import AnalysisOptions


def _landmarks(source: SyntheticSource, tracker: FaceTracker, frames: int, fps: float):
    stop = threading.Event()
    source.open()
    smoothed, raw = [], []
    for i in range(frames):
        image, _ = source.read(stop)
        faces = tracker.track(image, i / fps)
        if faces:
            smoothed.append(faces[0].landmarks)
            raw.append(faces[0].raw_landmarks if faces[0].raw_landmarks is not None else faces[0].landmarks)
    tracker.close()
    return np.array(smoothed), np.array(raw)


def measure(size=(1280, 720), frames=90, fps=30.0, noise=3.0, min_cutoff=1.0, beta=20.0, warmup=10) -> dict:
    out = {}
    for smooth in (False, True):
        still = SyntheticSource(size, fps=None, still=True, noise=noise)
        s, _ = _landmarks(still, FaceTracker(AnalysisOptions(max_faces=1, detect_every=0, smooth=smooth), min_cutoff=min_cutoff, beta=beta), frames, fps)
        out["jitter_px_smoothed" if smooth else "jitter_px_raw"] = float(s[warmup:].std(0).mean())
    moving = SyntheticSource(size, fps=None, cycle=int(4 * fps))
    s, r = _landmarks(moving, FaceTracker(AnalysisOptions(max_faces=1, detect_every=0, smooth=True), min_cutoff=min_cutoff, beta=beta), frames, fps)
    lag = np.linalg.norm(s[warmup:] - r[warmup:], axis=2).mean(1)
    speed = np.linalg.norm(np.diff(r, axis=0), axis=2).mean(1) * fps  # px/s
    out["lag_px_mean"] = float(lag.mean())
    out["lag_px_max"] = float(lag.max())
    out["lag_ms_mean"] = float(np.mean(lag / np.maximum(speed[warmup - 1:], 1e-3)) * 1000)
    out["speed_px_per_s_mean"] = float(speed.mean())
    out["face_height_px"] = float(np.ptp(r[0][:, 1]))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=90, help="frames per clip (90)")
    parser.add_argument("--min-cutoff", type=float, default=1.0, help="One-Euro cutoff of a still face, Hz (1.0)")
    parser.add_argument("--beta", type=float, default=20.0, help="One-Euro speed coefficient (20.0)")
    parser.add_argument("--noise", type=float, default=3.0, help="pixel noise std added to the still clip (3.0)")


def run(args) -> int:
    r = measure(frames=args.frames, noise=args.noise, min_cutoff=args.min_cutoff, beta=args.beta)
    print(f"still face, noise sigma {args.noise:g}: jitter {r['jitter_px_raw']:.3f} px raw -> {r['jitter_px_smoothed']:.3f} px smoothed")
    print(f"moving face ({r['speed_px_per_s_mean']:.0f} px/s, face {r['face_height_px']:.0f} px): "
          f"smoothed-raw distance mean {r['lag_px_mean']:.2f} px (max {r['lag_px_max']:.2f}), ~{r['lag_ms_mean']:.0f} ms of motion")
    return 0
