"""Lips for a source whose mouth is open: the target's own lips in the source's lip colour.

An open source mouth has no closed lips to paste. Its lips are two thin bands around the
opening, and mediapipe's inner lip contour on a wide-open mouth runs along the tongue or the
teeth's edge rather than the lip's (mouth_open.jpg in the eval: its lower teeth lie inside the
"lower lip" band). The mesh warp stretches those bands over the target's lips, so a closed
target mouth came out with teeth, tongue and a dark rim smeared over its lower lip and chin
(82% of that source's pairs defective, RESULTS.md issue 10, fifth session). Whatever the
target's mouth does, its own lips have the right shape, the right lip line and the right
opening; what the source gives them is their colour. So, for such a source only:
- once per source (`source_lips`): the lips' colour relative to the skin just around them
  (CIELAB medians), from the lip band's own pixels, teeth and the dark opening left out; and
  (`fill_open_mouth`) the mouth and the mesh's folds over it painted over with skin, so that
  what the warp samples there on the target's chin is skin (9.6 ms per source);
- per frame (`recolour_lips`): the target's lips, moved by the difference between that offset
  and the target's own, are put over the swap on the lips' box (0.6-0.9 ms a frame on the dev box,
  for such sources only).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rswap.compose.blend import alpha_blend
from rswap.compose.color import lab8
from rswap.face.landmarks import LIPS, LIPS_INNER, LIPS_OUTER

RING = 0.04  # width of the skin ring around the lips whose colour the lips are measured against, fraction of the crop
LIGHTNESS = 0.5  # share of the source's lip-to-skin lightness step that is carried (the target's light shapes its own lips)
MAX_SHIFT = np.array([15.0, 12.0, 12.0], np.float32)  # Lab: most the target's lips are moved
FEATHER = 0.008  # softness of the lips' edge, fraction of the crop
FILL_MARGIN = 0.015  # how far around the source's lips its texture is painted over with skin, fraction of the crop


@dataclass(frozen=True)
class SourceLips:
    offset: np.ndarray  # (3,) float32 Lab: the source lips' median minus the median of the skin around them


def _regions(hw: tuple[int, int], pts: np.ndarray, ring: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lips band, opening, ring) bool masks: between the outer and inner lip contours, inside
    the inner one, and the skin ring around the outer one."""
    outer = np.zeros(hw, np.uint8)
    cv2.fillPoly(outer, [np.rint(pts[LIPS_OUTER]).astype(np.int32)], 1)
    inner = np.zeros(hw, np.uint8)
    cv2.fillPoly(inner, [np.rint(pts[LIPS_INNER]).astype(np.int32)], 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1, 2 * ring + 1))
    around = cv2.dilate(outer, kernel) > 0
    return (outer > 0) & (inner == 0), inner > 0, around & (outer == 0)


def source_lips(texture: np.ndarray, points: np.ndarray) -> SourceLips | None:
    """The source's lip colour against its skin, from its texture (RGB uint8, aligned crop) and
    468 mesh points; None when too few lip pixels are left.

    Teeth and the dark opening inside the lip band (where the mesh's inner contour runs off
    the lip) are left out: pixels whose lightness is more than 2.5 robust spreads from the
    band's median, or brighter than the skin around with less colour (teeth)."""
    hw = texture.shape[:2]
    pts = np.asarray(points, np.float32)
    band, _, ring = _regions(hw, pts, max(2, int(round(RING * hw[0]))))
    lab = lab8(texture)
    lips, skin = lab[band], lab[ring]
    if len(lips) < 20 or len(skin) < 20:
        return None
    skin_med = np.median(skin, axis=0)
    med = np.median(lips, axis=0)
    spread = max(1.4826 * float(np.median(np.abs(lips[:, 0] - med[0]))), 3.0)
    chroma = np.hypot(lips[:, 1], lips[:, 2])
    teeth = (lips[:, 0] > skin_med[0]) & (chroma < np.hypot(skin_med[1], skin_med[2]))
    own = (np.abs(lips[:, 0] - med[0]) < 2.5 * spread) & ~teeth
    if own.sum() < 20:
        return None
    return SourceLips((np.median(lips[own], axis=0) - skin_med).astype(np.float32))


def recolour_lips(swapped: np.ndarray, target: np.ndarray, points: np.ndarray, lips: SourceLips) -> np.ndarray:
    """`swapped` with the target's own lips (and whatever its mouth shows between them) put
    back over the lips, their colour moved so that they stand against the skin around them as
    the source's lips do against its own.

    swapped, target: aligned crops, RGB uint8, the same frame (`target` is what the swap was
    blended over); points: the target's 468 mesh points in that frame."""
    hw = target.shape[:2]
    pts = np.asarray(points, np.float32)
    size = float(hw[0])
    ring = max(2, int(round(RING * size)))
    pad = ring + int(np.ceil(3 * FEATHER * size)) + 2
    x0, y0 = np.maximum(np.floor(pts[LIPS].min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(pts[LIPS].max(0)).astype(int) + pad + 1, (hw[1], hw[0]))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return swapped
    box = (slice(y0, y1), slice(x0, x1))
    local = pts - np.array([x0, y0], np.float32)
    band, opening, around = _regions((y1 - y0, x1 - x0), local, ring)
    lab = lab8(target[box])
    if band.sum() < 20 or around.sum() < 20:
        return swapped
    own = np.median(lab[band], axis=0) - np.median(lab[around], axis=0)
    shift = lips.offset - own
    shift[0] *= LIGHTNESS
    shift = np.clip(shift, -MAX_SHIFT, MAX_SHIFT)
    # The band moves; the opening (teeth, tongue) keeps its own colour, fading between them.
    weight = cv2.GaussianBlur(band.astype(np.float32), (0, 0), max(0.5, FEATHER * size))
    moved = lab + weight[..., None] * shift
    moved[..., 0] *= 255.0 / 100.0
    moved += np.array([0.0, 128.0, 128.0], np.float32)
    recoloured = cv2.cvtColor(np.clip(np.rint(moved), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    mask = cv2.GaussianBlur((band | opening).astype(np.float32), (0, 0), max(0.5, FEATHER * size))
    out = swapped.copy()
    out[box] = alpha_blend(recoloured, swapped[box], mask)
    return out


def _signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    p = np.asarray(points, np.float64)[triangles]
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    return e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]


def fill_open_mouth(texture: np.ndarray, points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """The source texture with its open mouth, lips and any mesh triangle folded over them
    painted over with the skin around (OpenCV's Telea inpainting), once per source.

    On a wide-open mouth mediapipe pulls the ring of points under the lower lip (18, 83, 313,
    ...) up past the lip's outer contour: their triangles fold over (mouth_open.jpg: 18 of
    them), and the warp follows the fold, so the target's chin sampled the source's lower
    lip, teeth and tongue: the smear under every closed target mouth. Relaxing those points
    toward their neighbours' mean made more folds (the opening is a hole in the held rim).
    The lips themselves come from the target (`recolour_lips`), so nothing of the source's
    mouth needs to survive in its texture: what a fold samples there is then skin."""
    hw = texture.shape[:2]
    pts = np.asarray(points, np.float32)
    hole = np.zeros(hw, np.uint8)
    cv2.fillPoly(hole, [np.rint(pts[LIPS_OUTER]).astype(np.int32)], 1)
    tris = np.asarray(triangles)
    for tri in tris[_signed_areas(pts, tris) < 0]:
        if np.isin(tri, LIPS).any():
            cv2.fillConvexPoly(hole, np.rint(pts[tri]).astype(np.int32), 1)
    r = max(1, int(round(FILL_MARGIN * hw[0])))
    hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return cv2.inpaint(np.ascontiguousarray(texture), hole, max(3.0, 0.03 * hw[0]), cv2.INPAINT_TELEA)
