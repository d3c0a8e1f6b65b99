"""Things in front of the target's upper face that the swap must leave in place.

A cap's brim, a fringe or a hat's edge often reaches below the top of mediapipe's face
oval: the mesh runs on under them. The classical swap pastes the source's forehead there
and the brim's lower edge comes out smeared in a band of skin and cap colour (the
eval's worst target, 015259: 16 of 24 sources defective, RESULTS.md issue 10). A colour
test on the target's own forehead finds them: pixels between the top of the oval and the
eyes whose colour is far from the target's own cheek skin are kept, like a hand in front.
It runs per frame on the aligned crop (a few hundred microseconds at 256²): no model.
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.face.landmarks import FACE_OVAL, LEFT_BROW, RIGHT_BROW

# Robust distances (MAD units of the cheek skin, with floors) beyond which a forehead pixel is
# not skin: a cap, a hat, hair. Colour (a, b) separates a coloured cap from skin; lightness
# only when far darker (hair), since a forehead in the shade of a brim is skin, only darker.
CHROMA_FAR = 6.0
DARK_FAR = 6.0
SCALE_FLOOR = np.array([6.0, 2.5, 2.5], np.float32)
MIN_AREA = 2e-3  # fraction of the crop under which a found blob is noise


def forehead_occluders(crop: np.ndarray, points: np.ndarray, feather: float = 2.0) -> np.ndarray:
    """float32 (H, W) in [0, 1]: the target's pixels above the eyes, inside its face oval, that
    are not its skin (a cap's brim, a hat, a fringe), softened by `feather` pixels.

    crop: the aligned target crop, RGB uint8 (upright face); points: its 468 mesh points.
    Reference skin: the cheeks between the eyes and the nose tip (no hair, no brim there)."""
    hw = crop.shape[:2]
    pts = np.asarray(points, np.float32)
    out = np.zeros(hw, np.float32)
    eyes = float(pts[[33, 263, 133, 362], 1].min())
    top = int(max(0, np.floor(pts[FACE_OVAL, 1].min())))
    nose = float(pts[1, 1])
    if eyes - top < 4 or nose <= eyes:
        return out
    x0 = int(max(0, np.floor(pts[FACE_OVAL, 0].min())))
    x1 = int(min(hw[1], np.ceil(pts[FACE_OVAL, 0].max()) + 1))
    y1 = int(min(hw[0], np.ceil(nose) + 1))
    box = (slice(top, y1), slice(x0, x1))
    oval = np.zeros(hw, np.uint8)
    cv2.fillPoly(oval, [np.round(pts[FACE_OVAL]).astype(np.int32)], 1)
    oval = oval[box] > 0
    lab = cv2.cvtColor(cv2.GaussianBlur(crop[box], (0, 0), 1.0).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    rows = np.arange(top, y1)[:, None]
    # Cheek skin: below the eyes, above the nose tip, between the outer eye corners' x.
    cols = np.arange(x0, x1)[None, :]
    xl, xr = sorted((float(pts[33, 0]), float(pts[263, 0])))
    cheeks = oval & (rows > pts[[33, 263, 133, 362], 1].max() + 2) & (rows < nose) & (cols > xl) & (cols < xr)
    ref = lab[cheeks]
    if len(ref) < 50:
        return out
    med = np.median(ref, axis=0)
    scale = np.maximum(1.4826 * np.median(np.abs(ref - med), axis=0), SCALE_FLOOR)
    z = (lab - med) / scale
    chroma = np.hypot(z[..., 1], z[..., 2])
    far = (chroma > CHROMA_FAR) | (z[..., 0] < -DARK_FAR)
    # Above the brows' top only: the brows, the eyes' shadows below them are the face's own.
    brows = float(pts[LEFT_BROW + RIGHT_BROW, 1].min())
    occ = (far & oval & (rows < brows)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(occ, connectivity=8)
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < MIN_AREA * hw[0] * hw[1])
    occ[np.isin(labels, small[small > 0])] = 0
    if not occ.any():
        return out
    out[box] = occ.astype(np.float32)
    if feather > 0:
        out = cv2.GaussianBlur(out, (0, 0), feather)
    return out
