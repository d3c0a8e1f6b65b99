"""A source texture whose rim is skin (computed once per source).

The classical swap's mask ramps in from the face oval. Where it starts decides how much of
the source's outer band (cheeks and jaw near the outline) shows: a ramp starting half a
feather inside the oval instead of a whole one gave the eval's largest identity gain of
issue 10 (closer to source +13, top-1 +19 of 528 pairs), and also printed the source
texture's rim where the target's cheek used to be: hair falling down the cheeks, the shade
under the jaw, the dark edge left by the cleaning (+54 defective pairs, dark streaks along
cheek and jaw by eye; RESULTS.md, issue 10 eighth session).

`trusted_rim` makes that band trustworthy before it is shown: in the band within RIM_DEPTH of
the oval, a pixel whose coarse lightness lies well below (or far above) the skin just inside
the band is moved to that skin's local colour, keeping its own fine detail (clipped, so a
strand's edge does not come back as a line). The skin reference is the trusted skin deeper
in the face (eyes, brows, lips and nostrils out), carried outward by a normalised blur, so a
lit and a shaded cheek each keep their own light. A band pixel like its inner skin is left
as it is: the outline's true colour carries identity (the same gain), only what no skin
there has goes.

Beyond the oval (and on its outermost pixel) the texture becomes that skin colour too. The
swap never shows those pixels, but the mesh warp reads them: on a turned target the far
cheek's outline triangles are slivers or folded, and the warp's outline pixels there
(extrapolated from a sliver's affine) read past the triangle, into the photo's hair and
background. That, not the rim, drew the ladder of dark bars down the far cheek that the inward
mask made visible (2 -> 000037, 2 -> 000006: the warped source itself shows them; gone once the
outside is skin). The oval's outermost ring (EDGE_DEPTH) counts as outside: the cleaned
texture's dark edge lies there (median 10-20 L below the skin 1-3 px deep on 2, cage, hzxc) and
drew dotted lines along a turned target's cheek.
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.compose.color import masked_blur
from rswap.compose.masks import region_mask
from rswap.face.landmarks import LEFT_BROW, LEFT_EYE_LOOP, LIPS, RIGHT_BROW, RIGHT_EYE_LOOP

RIM_DEPTH = 0.08  # the band re-judged, fraction of the crop from the oval inward (the swap's ramp reaches 1/16)
REFERENCE_DEPTH = 0.12  # the skin the band is compared with: this deep and deeper (features out)
REFERENCE_SIGMA = 0.06  # reach of that skin's local colour outward into the band, fraction of the crop
COARSE_SIGMA = 0.008  # what "a pixel's lightness" means here: a blur wider than pores, narrower than a strand's run
DARKER = (5.0, 12.0)  # L units below the inner skin where a band pixel starts / ends being replaced
LIGHTER = (10.0, 20.0)  # ... and above it (background light beyond a cheek)
DETAIL_CLIP = 3.0  # L units of the band's own fine detail kept where it is replaced
EDGE_DEPTH = 0.014  # the oval's outermost ring taken as outside, fraction of the crop (the cleaned texture's dark edge lies 1-3 px deep at 256²)
_FEATURES = (LEFT_EYE_LOOP, RIGHT_EYE_LOOP, LEFT_BROW, RIGHT_BROW, LIPS)
_NOSTRILS = [1, 98, 2, 327]


def _smooth01(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _mix(a: np.ndarray, b: np.ndarray, support: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """a where `support` (the blurred share of reference pixels) is above hi, b below lo."""
    t = _smooth01(support, lo, hi)[..., None]
    return t * a + (1.0 - t) * b


def _features(hw: tuple[int, int], pts: np.ndarray, grow: float) -> np.ndarray:
    mask = np.zeros(hw, np.uint8)
    for idx in (*_FEATURES, _NOSTRILS):
        cv2.fillPoly(mask, [np.round(cv2.convexHull(pts[idx])[:, 0]).astype(np.int32)], 1)
    r = max(1, int(round(grow)))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


def rim_replacement(texture: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(weight (H, W) float32 in [0, 1], reference (H, W, 3) float32 Lab): how much of each pixel
    `trusted_rim` replaces, and by what coarse colour (the texture's Lab is OpenCV's float one)."""
    hw = texture.shape[:2]
    size = float(hw[0])
    pts = np.asarray(points, np.float32)
    oval = region_mask(hw, pts, include=("face_oval",), feather=0, erode=0) > 0
    depth = cv2.distanceTransform(oval.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    lab = cv2.cvtColor(texture.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    features = _features(hw, pts, 0.02 * size)
    inner = ((depth >= REFERENCE_DEPTH * size) & ~features).astype(np.float32)
    if inner.sum() < 50:
        return np.zeros(hw, np.float32), lab
    # The inner skin's local colour carried outward, blended (not switched) into a wider reach
    # and the skin's median where the near one has little skin to go by (the chin, below the
    # lips: a normalised blur far from its weights fades toward black).
    near = masked_blur(lab, inner, REFERENCE_SIGMA * size)
    wide = masked_blur(lab, inner, 2.5 * REFERENCE_SIGMA * size)
    median = np.median(lab[inner > 0], axis=0)
    wide = _mix(wide, median, cv2.GaussianBlur(inner, (0, 0), 2.5 * REFERENCE_SIGMA * size), 0.02, 0.08)
    reference = _mix(near, wide, cv2.GaussianBlur(inner, (0, 0), REFERENCE_SIGMA * size), 0.05, 0.2)
    coarse = cv2.GaussianBlur(lab[..., 0], (0, 0), max(0.5, COARSE_SIGMA * size))
    gap = reference[..., 0] - coarse
    off = np.maximum(_smooth01(gap, *DARKER), _smooth01(-gap, *LIGHTER))
    band = _smooth01(RIM_DEPTH * size - depth, 0.0, 0.25 * RIM_DEPTH * size) * oval * ~features
    weight = cv2.GaussianBlur((off * band).astype(np.float32), (0, 0), max(0.5, COARSE_SIGMA * size)) * oval
    # Outside the oval (and its outermost ring: the cleaned texture's dark edge, and what bilinear sampling mixes with the outside)
    # the texture becomes the skin's colour: the swap never shows it, but the mesh warp reads it
    # on a turned target's far cheek, whose folded outline triangles sample far beyond their edge.
    edge = depth < EDGE_DEPTH * size
    return np.where(edge, 1.0, weight).astype(np.float32), reference.astype(np.float32)


def trusted_rim(texture: np.ndarray, points: np.ndarray) -> np.ndarray:
    """RGB uint8: `texture` (a source face texture on its `points`, 468 mesh points) with the
    band along its face oval that is unlike the skin inside it replaced by that skin's colour
    (module doc), and beyond the oval the skin's colour. Deeper than RIM_DEPTH nothing changes."""
    weight, reference = rim_replacement(texture, points)
    if not weight.any():
        return texture
    size = float(texture.shape[0])
    lab = cv2.cvtColor(texture.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    detail = lab[..., 0] - cv2.GaussianBlur(lab[..., 0], (0, 0), max(0.5, COARSE_SIGMA * size))
    skin = reference.copy()
    skin[..., 0] += np.where(weight < 1.0, np.clip(detail, -DETAIL_CLIP, DETAIL_CLIP), 0.0)
    out = lab + weight[..., None] * (skin - lab)
    rgb = np.clip(np.rint(cv2.cvtColor(out, cv2.COLOR_LAB2RGB) * 255.0), 0, 255).astype(np.uint8)
    changed = weight > 0
    result = texture.copy()
    result[changed] = rgb[changed]
    return result
