"""A talking-head clip for the live benchmarks: one portrait, framed like a video call.

The generated 720p/1080p streams of `rswap bench latency` slide a small photo across a
gradient; a real call looks different: one face, roughly centred, filling ~15% (a
laptop camera at arm's length) to ~40% (close up) of the frame height, moving gently
(breathing, small nods and turns of a few degrees). This renders such a clip from a
portrait photo: the whole photo is scaled so the face's box has the asked height,
placed with the face a little above the centre, and moved by a slow sum of sines.
Beyond the photo's edges lies a blurred backdrop made of the photo's own side strips:
a background, not a hard frame (mirrored borders made a kaleidoscope of extra faces).

The clip is written to a temporary folder: made from `../shared/data` photos it must
never be committed. Without a photo the astronaut (public domain) is used.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction

import cv2
import numpy as np

from rswap.errors import RswapError


def face_box_height(photo: np.ndarray) -> tuple[float, np.ndarray]:
    """(height of the face's box in pixels, its centre) of the largest face in `photo`."""
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

    with MediapipeFaceAnalyser(max_faces=1, video=False) as analyser:
        faces = analyser.analyse(photo)
    if not faces:
        raise RswapError("talking-head clip: no face found in the photo")
    x0, y0, x1, y1 = faces[0].bbox
    return float(y1 - y0), np.array([(x0 + x1) / 2, (y0 + y1) / 2])


def _backdrop(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A plausible room behind the person: the photo's outer left and right strips (its
    background, mostly), stretched over the frame and blurred. The face is not in them,
    so the detector has no second, blurred face to find."""
    w, h = size
    band = max(1, photo.shape[1] // 8)
    strips = np.concatenate([photo[:, :band], photo[:, -band:]], axis=1)
    small = cv2.resize(strips, (32, 18), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), 1.5), (w, h), interpolation=cv2.INTER_CUBIC)


def talking_head_frames(photo: np.ndarray, size: tuple[int, int], n: int, fps: float, face_fraction: float):
    """Yield n RGB frames (w, h) = size of the photo's face at `face_fraction` of the frame
    height, moving gently: ±2% sway, ±1.5% bob, ±3° roll, ±3% scale (breathing)."""
    w, h = size
    box_h, centre = face_box_height(photo)
    base = face_fraction * h / box_h
    backdrop = _backdrop(photo, size).astype(np.float32)
    # The photo's own edge fades into the backdrop over 4% of its size instead of a hard frame.
    ph, pw = photo.shape[:2]
    edge = max(2, int(0.04 * min(ph, pw)))
    alpha = np.zeros((ph, pw), np.float32)
    alpha[edge:-edge, edge:-edge] = 1.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), edge / 2)
    for i in range(n):
        t = i / fps
        # Incommensurate periods (4.1 s, 2.7 s, 5.3 s, 3.4 s): the motion never repeats exactly.
        sway = 0.02 * w * math.sin(2 * math.pi * t / 4.1)
        bob = 0.015 * h * math.sin(2 * math.pi * t / 2.7)
        roll = 3.0 * math.sin(2 * math.pi * t / 5.3)
        scale = base * (1.0 + 0.03 * math.sin(2 * math.pi * t / 3.4))
        M = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, scale)
        M[:, 2] += (w / 2 + sway - centre[0], 0.45 * h + bob - centre[1])
        person = cv2.warpAffine(photo, M, (w, h), flags=cv2.INTER_LINEAR).astype(np.float32)
        a = cv2.warpAffine(alpha, M, (w, h), flags=cv2.INTER_LINEAR)[..., None]
        yield np.clip(person * a + backdrop * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)


def render_talking_head(path: str | os.PathLike, photo: np.ndarray, size=(1280, 720), fps: float = 24.0,
                        seconds: float = 10.0, face_fraction: float = 0.15) -> None:
    """Write the clip to `path` (H.264, no audio)."""
    from rswap.testing.render import write_clip

    n = max(1, int(round(fps * seconds)))
    rate = Fraction(fps).limit_denominator(1001)  # PyAV wants a rational rate (24, 30000/1001, ...)
    write_clip(path, talking_head_frames(np.ascontiguousarray(photo), size, n, fps, face_fraction), fps=rate)


def default_photo(path: str | None) -> tuple[np.ndarray, str]:
    """The photo to render from, and its name for the report: `path`, else the astronaut."""
    if path:
        from rswap.media.images import read_image

        return read_image(path, "talking-head photo"), os.path.basename(path)
    from skimage import data

    return np.ascontiguousarray(data.astronaut()), "astronaut (skimage)"
