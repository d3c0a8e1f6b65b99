"""Soft masks from named regions of the face mesh.

A mask is float32 (H, W) in [0, 1]. Regions are filled as polygons, excluded
regions cut out, then the edge is softened by a ramp over the signed distance to
the polygon edge, so the mask is exactly 0 beyond the ramp and exactly 1 inside it.
"""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from rswap.errors import RswapError
from rswap.face.landmarks import REGIONS

# Regions whose index lists are not an ordered loop (brows are two open polylines in
# mediapipe's tables, lips two loops): they are filled as their convex hull.
_HULL_REGIONS = {"left_brow", "right_brow", "lips"}
_SUBPIXEL_BITS = 4


def mask_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """(rows, columns) of the box holding every true pixel of a bool (H, W) `mask`; None when none is.
    OpenCV's boundingRect, which lets go of the GIL: 3 µs at 256², against 12 µs for numpy's
    any / flatnonzero per axis, which held it (~7 calls a swap)."""
    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(mask, bool).view(np.uint8))
    return None if w == 0 else (slice(y, y + h), slice(x, x + w))


def region_polygon(landmarks: np.ndarray, name: str) -> np.ndarray:
    """(K, 2) float32 outline of one named mesh region."""
    try:
        idx = REGIONS[name]
    except KeyError:
        raise RswapError(f"unknown face region {name!r}; choose from {', '.join(REGIONS)}") from None
    pts = np.asarray(landmarks, np.float32)[idx]
    return cv2.convexHull(pts)[:, 0] if name in _HULL_REGIONS else pts


def hard_polygon(hw: tuple[int, int], points: np.ndarray, idx, hull: bool = False) -> np.ndarray:
    """bool (H, W): the polygon of `points[idx]` (or its convex hull) filled on whole pixels (its
    corners rounded), no edge ramp: the masks a source's statistics are taken on, once per source."""
    poly = np.asarray(points, np.float32)[idx]
    if hull:
        poly = cv2.convexHull(poly)[:, 0]
    mask = np.zeros(hw, np.uint8)
    cv2.fillPoly(mask, [np.rint(poly).astype(np.int32)], 1)
    return mask > 0


def _fill(mask: np.ndarray, polygon: np.ndarray, value: int) -> None:
    scaled = np.rint(polygon * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    cv2.fillPoly(mask, [scaled], value, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)


def region_mask(
    hw: tuple[int, int],
    landmarks: np.ndarray,
    include: Iterable[str] = ("face_oval",),
    exclude: Iterable[str] = (),
    feather: float | None = None,
    erode: float | None = None,
) -> np.ndarray:
    """Soft mask of the union of `include` regions minus the `exclude` regions.

    feather: width in pixels of the 0->1 ramp (smoothstep of the signed distance to the
        edge); None = 8% of the included area's size (sqrt of its pixel count); 0 = hard.
    erode: pixels the edge moves inward before feathering (negative grows); None = half
        the feather, so the mask is exactly 0 outside the polygons (nothing of a swapped
        face outside its oval ever shows).
    Excluded regions (e.g. "mouth_inner", "left_eye") keep the target's pixels there.
    """
    h, w = hw
    hard = np.zeros((h, w), np.uint8)
    for name in include:
        _fill(hard, region_polygon(landmarks, name), 255)
    for name in exclude:
        _fill(hard, region_polygon(landmarks, name), 0)
    area = int(np.count_nonzero(hard))
    if area == 0:
        return np.zeros((h, w), np.float32)
    if feather is None:
        feather = 0.08 * np.sqrt(area)
    if erode is None:
        erode = feather / 2
    if feather <= 0 and erode == 0:
        return (hard > 0).astype(np.float32)
    # Only a window around the polygons can be non-zero: the ramp reaches at most
    # feather/2 - erode pixels outside them. Small regions (an eye, the mouth) then cost a
    # fraction of the crop; the distances inside the window are exact, as a ring of zeros
    # (or the image's own border) surrounds the polygons there.
    x, y, bw, bh = cv2.boundingRect(hard)
    pad = int(np.ceil(max(feather / 2 - erode, 0.0))) + 2
    x0, y0, x1, y1 = max(x - pad, 0), max(y - pad, 0), min(x + bw + pad, w), min(y + bh + pad, h)
    out = np.zeros((h, w), np.float32)
    out[y0:y1, x0:x1] = _soft_edge(hard[y0:y1, x0:x1], feather, erode)
    return out


def _soft_edge(hard: np.ndarray, feather: float, erode: float) -> np.ndarray:
    """The smoothstep ramp over the signed distance to the edge of the 0/255 mask `hard`."""
    # Signed distance to the edge, positive inside: +0.5 px on the first inside pixel.
    inside = cv2.distanceTransform(hard, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    if erode >= max(feather, 0) / 2 - 0.5:
        # The ramp lies wholly inside the polygons: every outside pixel (distance >= 1 to the
        # inside) ends at 0 whatever its distance, so the second transform (~0.8 ms at 256²)
        # is not needed. The default erode (half the feather) is this case.
        outside = (hard == 0).astype(np.float32)
    else:
        outside = cv2.distanceTransform(255 - hard, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    signed = inside - outside - 0.5 * np.sign(inside - outside) - erode
    if feather <= 0:
        return (signed > 0).astype(np.float32)
    t = np.clip(signed / feather + 0.5, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


# How far inside the target's own outline its fine detail may show through a swapped face (share
# of the crop): a swap may move the outline (the classical reshape, up to 5% of the crop) and
# the frame's detail there (its jaw line, a strand of hair at the temple) would be drawn on the
# skin the swap put in its place (seen: a thin dark line down a cheek, a strand across it).
SKIN_DETAIL_MARGIN = 0.04


def skin_detail_mask(hw: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """float32 (H, W) in [0, 1]: where a paste may give the frame's own fine detail back under a
    swapped face (rswap.compose.paste.paste_back's `detail`): the target's skin, inside its
    outline shrunk by SKIN_DETAIL_MARGIN, without eyes, brows and lips (the source's features
    are there, and the target's finest lines of its own would ghost on them)."""
    mask = np.zeros(hw, np.uint8)
    oval = region_polygon(landmarks, "face_oval")
    _fill(mask, oval, 255)
    # The margin as a thick line along the outline: the polygon eroded by a disk, without the
    # cost of an elliptic erosion of the whole crop.
    width = 2 * max(1, int(round(SKIN_DETAIL_MARGIN * hw[0]))) + 1
    cv2.polylines(mask, [np.rint(oval).astype(np.int32)], True, 0, width, lineType=cv2.LINE_8)
    for name in ("left_eye", "right_eye", "left_brow", "right_brow", "lips"):
        _fill(mask, region_polygon(landmarks, name), 0)
    return cv2.blur(mask, (5, 5)).astype(np.float32) * np.float32(1 / 255)
