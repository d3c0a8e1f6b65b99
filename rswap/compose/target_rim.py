"""Where the target's own rim is skin: the per-pixel choice of where the swap's mask starts.

The classical swap's face mask ramps in from a whole feather inside the face oval. Starting it
at the oval (`FACE_ERODE`) with a source texture whose rim is skin (source_rim.py) shows more of
the source's cheeks and jaw (eval: top-1 +14 of 528, +10 of 160 hard), and also lays the
source's lit skin where the TARGET's own rim, inside its mesh oval, is shade, hair or
background (+22 / +4 defective pairs; RESULTS.md, issue 10 ninth session). `skin_rim_weight`
says, per pixel of the target crop, how skin-like the target is there: near 1 where its coarse
colour is near its own inner skin's, near 0 where it is well darker, lighter or of another
hue. The swap takes the mask that starts at the oval where it is 1 and the one a feather inside
where it is 0. Worked on a 4x smaller copy of the crop (the band is a few pixels wide at 256²
and only a coarse colour is asked): ~0.1 ms a frame at 256².
"""

from __future__ import annotations

import cv2
import numpy as np

SCALE = 4  # the crop is judged at 1/SCALE of its size
DARKER = (3.0, 8.0)  # L units below the inner skin's median where a pixel starts / ends being not-skin
LIGHTER = (8.0, 15.0)  # ... above it
HUE = (6.0, 12.0)  # a, b distance from the inner skin's (hair, background of another colour)


def _smooth01(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def skin_rim_weight(crop: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: how much the target crop (RGB uint8) is like its own inner skin
    at each pixel. skin: (H, W) float mask of that inner skin (the swap's target skin mask,
    the oval a feather in without eyes, brows and lips). No skin to go by: zeros (the ramp
    stays a feather inside, as before)."""
    h, w = crop.shape[:2]
    size = (max(1, w // SCALE), max(1, h // SCALE))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2LAB)
    inner = cv2.resize(skin.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.9
    if inner.sum() < 20:
        return np.zeros((h, w), np.float32)
    ref = np.median(lab[inner], axis=0)
    gap = lab[..., 0] - ref[0]
    hue = np.hypot(lab[..., 1] - ref[1], lab[..., 2] - ref[2])
    like = (1.0 - _smooth01(-gap, *DARKER)) * (1.0 - _smooth01(gap, *LIGHTER)) * (1.0 - _smooth01(hue, *HUE))
    like = cv2.GaussianBlur(like.astype(np.float32), (0, 0), 0.75)
    return cv2.resize(like, (w, h), interpolation=cv2.INTER_LINEAR)


AGREE = (4.0, 10.0)  # coarse ΔE between the colour-matched source and the target where the oval's ramp stops being taken


def rim_agreement(warped: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 1 where the colour-matched warped source and the target crop
    (both RGB uint8) have nearly the same coarse colour, 0 where they differ by AGREE[1] ΔE or
    more. A skin rim the source does not match in light (its lit cheek on the target's shaded
    one) would show a seam at the oval; there the ramp stays a feather inside."""
    h, w = target.shape[:2]
    size = (max(1, w // SCALE), max(1, h // SCALE))
    labs = [cv2.cvtColor(cv2.resize(x, size, interpolation=cv2.INTER_AREA).astype(np.float32) * np.float32(1 / 255),
                         cv2.COLOR_RGB2LAB) for x in (warped, target)]
    apart = np.linalg.norm(labs[0] - labs[1], axis=2)
    agree = cv2.GaussianBlur((1.0 - _smooth01(apart, *AGREE)).astype(np.float32), (0, 0), 0.75)
    return cv2.resize(agree, (w, h), interpolation=cv2.INTER_LINEAR)
