"""Render test and demo clips from a still photo: the face moves across a larger frame.

Used by the demo, the tests and the benchmarks, so that all of them run on a fresh
machine with nothing but registry packages (e.g. scikit-image's astronaut photo).
"""

from __future__ import annotations

import math
import os
from fractions import Fraction

import cv2
import numpy as np


def moving_face_frames(photo: np.ndarray, size: tuple[int, int], n: int, scale: float = 0.6, amplitude: float = 0.25):
    """Yield n RGB frames of `size` (w, h): the photo, scaled to `scale` of the frame height,
    sliding sideways and bobbing with a slight rotation, over a gradient background."""
    w, h = size
    ph = int(h * scale)
    pw = int(photo.shape[1] * ph / photo.shape[0])
    face = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:h, 0:w]
    background = np.stack([60 + 80 * xx / w, 70 + 60 * yy / h, 90 + 0 * xx], -1).astype(np.uint8)
    for i in range(n):
        phase = 2 * math.pi * i / max(n, 1)
        cx = w / 2 + amplitude * w * math.sin(phase)
        cy = h / 2 + 0.05 * h * math.sin(2 * phase)
        angle = 6.0 * math.sin(phase)
        M = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, 1.0)
        M[:, 2] += (cx - pw / 2, cy - ph / 2)
        frame = background.copy()
        cv2.warpAffine(face, M, (w, h), dst=frame, borderMode=cv2.BORDER_TRANSPARENT)
        yield frame


def write_clip(
    path: str | os.PathLike,
    frames,
    fps: int = 25,
    audio_seconds: float | None = None,
    tone_hz: float = 440.0,
    codec: str = "libx264",
    container_options: dict[str, str] | None = None,
) -> None:
    """Encode frames (and, optionally, an AAC sine tone of `audio_seconds`) to `path`.
    `container_options` go to the muxer, e.g. {"movflags": "faststart"} (index first)."""
    import av  # only writing needs PyAV: the frame renderers need OpenCV alone (the GPU image has no av)

    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    with av.open(str(path), mode="w", options=container_options or {}) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"crf": "20", "preset": "veryfast"} if codec == "libx264" else {}
        audio = None
        if audio_seconds:
            audio = out.add_stream("aac", rate=44100)
            audio.layout = "mono"
        for img in [first, *frames]:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")))
        out.mux(vs.encode(None))
        if audio is not None:
            rate, chunk = 44100, 1024
            total = int(audio_seconds * rate)
            for start in range(0, total, chunk):
                t = (np.arange(start, min(start + chunk, total)) / rate).astype(np.float32)
                samples = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)[None]
                frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                frame.sample_rate = rate
                frame.pts = start
                frame.time_base = Fraction(1, rate)
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))


def render_moving_face(path, photo, size=(640, 360), fps=25, seconds=2.0, audio=True, **kw) -> None:
    n = max(1, int(round(fps * seconds)))
    write_clip(path, moving_face_frames(photo, size, n, **kw), fps=fps, audio_seconds=seconds if audio else None)


def turned_face(image: np.ndarray, face, yaw_deg: float) -> np.ndarray:
    """`image` with its face turned by `yaw_deg` about the vertical axis through the nose tip:
    the face's own 3D mesh (mediapipe x, y, z) is rotated and the photo warped triangle by
    triangle onto the rotated mesh's view; where the face was and no longer is (beyond the
    far cheek), the photo is inpainted from around the face (hair, background), as beside
    a real turned head. Needs `face.z`. (On the astronaut the mesh still finds the face at
    40 degrees; the made sources of benchmarks/hard_cases.py cut the far cheek instead.)"""
    from rswap.compose.warp import mesh_warp
    from rswap.face.landmarks import FACE_OVAL, mesh_triangles

    pts = np.asarray(face.landmarks[:468], np.float64)
    q = np.column_stack([pts, np.asarray(face.z[:468], np.float64)])
    a = math.radians(yaw_deg)
    turn = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    moved = ((q - q[1]) @ turn.T + q[1])[:, :2].astype(np.float32)
    oval = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(pts[FACE_OVAL]).astype(np.int32)], 255)
    around = cv2.inpaint(image, cv2.dilate(oval, np.ones((15, 15), np.uint8)), 9, cv2.INPAINT_TELEA)
    warped, valid = mesh_warp(image, pts.astype(np.float32), moved, image.shape[:2], mesh_triangles())
    valid = cv2.erode(valid, np.ones((3, 3), np.uint8))[..., None]
    return np.rint(warped * valid + around * (1.0 - valid)).astype(np.uint8)
