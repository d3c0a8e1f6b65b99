"""Flicker of a swapped video: frame-to-frame change of the face beyond the target's own.

Each frame's face is cut out aligned (its 5 key points onto the ffhq template, 128 px), so
the face's motion across the frame is taken out. For consecutive frames t-1, t of the input
and of the swapped output:
    excess_t = max(0, mean |out_t - out_{t-1}| - mean |in_t - in_{t-1}|)   (grey levels)
and the clip's flicker is the mean of excess_t. A swap that follows the face adds nothing; a
texture, mask or colour decision that changes from frame to frame (a mouth kept in one frame
and not the next, a colour estimate that jumps) shows up.
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.face.align import align_crop, get_template
from rswap.face.types import Face

CROP = 128


def _aligned_grey(img: np.ndarray, face: Face) -> np.ndarray:
    crop, _ = align_crop(img, face.kps5, get_template("ffhq256", CROP))
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)


def flicker(inputs: list[np.ndarray], outputs: list[np.ndarray], faces: list[Face | None]) -> float:
    """Mean added frame-to-frame change (grey levels) of the aligned face; see the module doc.
    `faces[t]`: the face in input frame t (None when there is none; pairs with a missing face
    are skipped). 0.0 when no pair has a face in both frames."""
    if not (len(inputs) == len(outputs) == len(faces)):
        raise ValueError("flicker: inputs, outputs and faces must have one entry per frame")
    excess = []
    for t in range(1, len(inputs)):
        if faces[t - 1] is None or faces[t] is None:
            continue
        d_in = np.abs(_aligned_grey(inputs[t], faces[t]) - _aligned_grey(inputs[t - 1], faces[t - 1])).mean()
        d_out = np.abs(_aligned_grey(outputs[t], faces[t]) - _aligned_grey(outputs[t - 1], faces[t - 1])).mean()
        excess.append(max(0.0, float(d_out - d_in)))
    return float(np.mean(excess)) if excess else 0.0
