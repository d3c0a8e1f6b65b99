"""Things in front of the target's upper face that the swap must leave in place.

A cap's brim, a fringe or a hat's edge often reaches below the top of mediapipe's face
oval: the mesh runs on under them. The classical swap pastes the source's forehead there
and the brim's lower edge comes out smeared in a band of skin and cap colour (the
eval's worst target, 015259: 16 of 24 sources defective, RESULTS.md issue 10). A colour
test on the target's own forehead finds them: pixels between the top of the oval and the
eyes whose colour is far from the target's own cheek skin are kept, like a hand in front.
It runs per frame on the aligned crop, at half size (0.4-0.6 ms at 256² on the dev box): no model.
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


def _lab(rgb: np.ndarray) -> np.ndarray:
    """Float CIELAB (L 0..100, a and b centred) from OpenCV's 8-bit conversion (per frame: fast)."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab -= np.array([0.0, 128.0, 128.0], np.float32)
    lab[..., 0] *= 100.0 / 255.0
    return lab


def forehead_occluders(crop: np.ndarray, points: np.ndarray, feather: float = 2.0) -> np.ndarray:
    """float32 (H, W) in [0, 1]: the target's pixels above the eyes, inside its face oval, that
    are not its skin (a cap's brim, a hat, a fringe), softened by `feather` pixels.

    crop: the aligned target crop, RGB uint8 (upright face); points: its 468 mesh points.
    Reference skin: the cheeks between the eyes and the nose tip (no hair, no brim there)."""
    hw = crop.shape[:2]
    pts = np.asarray(points, np.float32)
    out = np.zeros(hw, np.float32)
    eyes = float(pts[[33, 263, 133, 362], 1].min())
    pad = int(np.ceil(3 * feather)) + 1
    top = int(max(0, np.floor(pts[FACE_OVAL, 1].min()) - pad))
    nose = float(pts[1, 1])
    if eyes - top < 4 or nose <= eyes:
        return out
    x0 = int(max(0, np.floor(pts[FACE_OVAL, 0].min()) - pad))
    x1 = int(min(hw[1], np.ceil(pts[FACE_OVAL, 0].max()) + 1 + pad))
    y1 = int(min(hw[0], np.ceil(nose) + 1))
    box = (slice(top, y1), slice(x0, x1))
    bh, bw = y1 - top, x1 - x0
    # At half size (it runs per frame; the mask is soft anyway): points and box scaled by 1/2.
    hb, wb = max(1, bh // 2), max(1, bw // 2)
    local = (pts - np.array([x0, top], np.float32)) * np.array([wb / bw, hb / bh], np.float32)
    oval = np.zeros((hb, wb), np.uint8)
    cv2.fillPoly(oval, [np.round(local[FACE_OVAL]).astype(np.int32)], 1)
    oval = oval > 0
    lab = _lab(cv2.resize(np.ascontiguousarray(crop[box]), (wb, hb), interpolation=cv2.INTER_AREA))
    rows = np.arange(hb)[:, None]
    cols = np.arange(wb)[None, :]
    # Cheek skin: below the eyes, above the nose tip, between the outer eye corners.
    xl, xr = sorted((float(local[33, 0]), float(local[263, 0])))
    cheeks = oval & (rows > local[[33, 263, 133, 362], 1].max() + 1) & (rows < local[1, 1]) & (cols > xl) & (cols < xr)
    ref = lab[cheeks]
    if len(ref) < 30:
        return out
    med = np.median(ref, axis=0)
    scale = np.maximum(1.4826 * np.median(np.abs(ref - med), axis=0), SCALE_FLOOR)
    # Above the brows' top only: the brows, the eyes' shadows below them are the face's own.
    strip = int(np.clip(np.ceil(local[LEFT_BROW + RIGHT_BROW, 1].min()), 0, hb))
    z = (lab[:strip] - med) / scale
    far = (z[..., 1] ** 2 + z[..., 2] ** 2 > CHROMA_FAR**2) | (z[..., 0] < -DARK_FAR)
    occ = np.zeros((hb, wb), np.uint8)
    occ[:strip] = far & oval[:strip]
    _, labels, stats, _ = cv2.connectedComponentsWithStats(occ, connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= MIN_AREA * hw[0] * hw[1] * (hb * wb) / (bh * bw)
    big[0] = False  # the background label
    if not big.any():
        return out
    soft = cv2.resize(big[labels].astype(np.float32), (bw, bh), interpolation=cv2.INTER_LINEAR)
    out[box] = cv2.GaussianBlur(soft, (0, 0), feather) if feather > 0 else soft
    return out
