"""Paste an aligned crop back into its frame.

Only the face's region of the frame is touched: the crop and its mask are warped
straight into a sub-image around the mask's footprint (plus the margin a
multi-band blend needs), blended there, and written back. Everything outside that
region is bit-identical to the input frame.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

from rswap.compose.blend import blend_delta, blend_margin, max_levels
from rswap.compose.kernels import mix, mix_detail
from rswap.face.align import enlargement, invert_affine, transform_points

# The frame's fine detail put back under a swapped face is held within this many grey levels:
# skin grain and pores pass (a few levels), while the rare strong fine edge of the target's own (a
# moustache's hairs, a deep fold's rim) stays faint under the source's face (chosen by eye on
# 015270, simswap_Iron_man and 015309 of the eval set; RESULTS.md, issue 10, twelfth session).
DETAIL_CLIP = 12.0
# It comes back from a frame face DETAIL_FROM times its crop's size, in full from DETAIL_FULL (a
# linear ramp between). Below, the crop lost little: the eval's targets at 1.1-1.55x (the hard set's)
# gained no clean pair from it, and their identity moved toward the target (hard set top-1 136 ->
# 131-133 of 160); those at 2.6-4.6x (015270, Iron_man, 015309, 015316) are where the blur showed.
DETAIL_FROM = 1.25
DETAIL_FULL = 2.0
# From this many times its crop's size a face's crop is enlarged with a cubic before the bilinear warp
# (`into_frame`). On the eval's targets at 2.6-4.6x it fixed 19 defective pairs and made none; at
# 1.3-1.9x (000002, 000126, 015384, multi_people) it fixed none and made 5 (its crisper source wrinkles
# read as structure), and live's 720p face (1.3x) paid 0.3-0.4 ms a frame for it (RESULTS.md, issue 10,
# twenty-seventh session).
CUBIC_FROM = 2.0

# Mask values below this cannot change a uint8 pixel (|fg - bg| <= 255, rounding at 0.5).
_NO_EFFECT = 0.5 / 255


def paste_region(
    frame_hw: tuple[int, int], crop_mask: np.ndarray, M: np.ndarray, levels: int = 0
) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the frame region paste_back works in, or None if the mask is empty
    or falls outside the frame."""
    rows, first, last = _row_extents(np.ascontiguousarray(crop_mask, np.float32), np.float32(_NO_EFFECT))
    if rows.size == 0:
        return None
    # The support's outline: first and last pixel of each row (tighter than its bounding
    # box once rotated); each pixel's footprint reaches half a pixel past its centre.
    outline = np.concatenate([np.stack([first - 0.5, rows], 1), np.stack([last + 0.5, rows], 1)])
    outline = np.concatenate([outline + (0, -0.5), outline + (0, 0.5)]).astype(np.float32)
    in_frame = transform_points(outline, invert_affine(M))
    pad = blend_margin(levels)
    h, w = frame_hw
    x0, y0 = np.floor(in_frame.min(0)).astype(int) - pad
    x1, y1 = np.ceil(in_frame.max(0)).astype(int) + pad + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)


@numba.njit(nogil=True, cache=True)
def _row_extents(mask, threshold):  # pragma: no cover - compiled
    """The rows where `mask` exceeds `threshold`, and each one's first and last such column.
    (numpy's compare, any and two argmax passes over fancy-indexed copies took ~0.5 ms of a
    256² mask, holding the GIL; this stops at each row's first hit from either end.)"""
    h, w = mask.shape
    rows = np.empty(h, np.int64)
    first = np.empty(h, np.int64)
    last = np.empty(h, np.int64)
    n = 0
    for y in range(h):
        a = 0
        while a < w and not mask[y, a] > threshold:
            a += 1
        if a == w:
            continue
        b = w - 1
        while not mask[y, b] > threshold:
            b -= 1
        rows[n], first[n], last[n] = y, a, b
        n += 1
    return rows[:n], first[:n], last[:n]


def lost_detail_share(M: np.ndarray) -> float:
    """How much of the frame's fine detail paste_back gives back under a swapped face cut with M
    (frame -> crop): 0 up to a frame face DETAIL_FROM times the crop's, 1 from DETAIL_FULL times."""
    return float(np.clip((enlargement(M) - DETAIL_FROM) / (DETAIL_FULL - DETAIL_FROM), 0.0, 1.0))


def into_frame(crop: np.ndarray, M_sub: np.ndarray, size: tuple[int, int], cubic: int = 1) -> np.ndarray:
    """A crop warped into the frame's sub-image of `size` (M_sub: sub-image -> crop), its edge
    replicated; `cubic` > 1: first enlarged that many times by cv2.resize's cubic, then warped
    bilinearly (paste_back's faces much larger than their crops).

    A face CUBIC_FROM times its crop or more came back through a bilinear enlargement of 2-4.6x:
    soft features with its grid showing as faint diamonds along the lids and wrinkles. A cubic warp
    is crisper, but OpenCV's warpAffine took 5.8 ms for it at 640² against 1.2 bilinear (2 cores,
    one thread); the cubic resize by the whole factor above, then the bilinear warp, 1.4 ms, and the
    eval's six large targets counted as many pairs defective as with the cubic warp
    (RESULTS.md, issue 10, twenty-seventh session)."""
    inverse = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    if cubic > 1:
        crop = cv2.resize(crop, (crop.shape[1] * cubic, crop.shape[0] * cubic), interpolation=cv2.INTER_CUBIC)
        # crop pixel x lands on (x + 0.5) k - 0.5 of the enlarged one
        M_sub = np.asarray(M_sub, np.float64) * cubic
        M_sub[:, 2] += 0.5 * (cubic - 1)
    return cv2.warpAffine(crop, M_sub, size, flags=inverse, borderMode=cv2.BORDER_REPLICATE)


def paste_back(
    frame: np.ndarray,
    crop: np.ndarray,
    crop_mask: np.ndarray,
    M: np.ndarray,
    levels: int = 0,
    out: np.ndarray | None = None,
    under: np.ndarray | None = None,
    detail: np.ndarray | None = None,
) -> np.ndarray:
    """Blend `crop` (S, S, 3) back into `frame` where `crop_mask` (S, S) float in [0, 1] says.

    M is the 2x3 frame -> crop matrix from align_crop. levels <= 1: alpha blend with
    the mask; levels > 1: Laplacian blend with that many pyramid levels. Returns a new
    frame; pass `out` (frame itself for in-place) to write there instead.

    `under` (the crop the swap was given: the frame's own face, cut with M) and `detail` (S, S)
    in [0, 1] (the target's skin, rswap.compose.masks.skin_detail_mask): where `detail` says, the
    frame keeps the fine detail its crop could not hold (the frame minus `under` warped back,
    within +-DETAIL_CLIP grey levels), in the share `lost_detail_share(M)`. A face much larger
    than its crop (a 500 px face through a 256² crop) otherwise comes back as the crop's upscaled
    blur, without the skin grain and pores all around it. Where the swap changed nothing, the
    frame comes back as it was.
    """
    if crop_mask.shape != crop.shape[:2]:
        raise ValueError(f"paste_back: mask {crop_mask.shape} does not match crop {crop.shape}")
    result = out if out is not None else frame.copy()
    if out is not None and out is not frame:
        np.copyto(result, frame)
    region = paste_region(frame.shape[:2], crop_mask, M, levels)
    if region is None:
        return result
    x0, y0, x1, y1 = region
    size = (x1 - x0, y1 - y0)
    # Sub-image pixel (x, y) is frame pixel (x + x0, y + y0): fold the offset into M.
    M_sub = np.asarray(M, np.float64).copy()
    M_sub[:, 2] += M_sub[:, :2] @ (x0, y0)
    inverse = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    # A face much larger than its crop is enlarged with a cubic first (`into_frame`).
    big = enlargement(M)
    cubic = int(np.ceil(big)) if big >= CUBIC_FROM else 1
    # Replicate the crop's edge: in a multi-band blend, black beyond the crop would leak in.
    fg = into_frame(crop, M_sub, size, cubic)
    mask = cv2.warpAffine(np.asarray(crop_mask, np.float32), M_sub, size, flags=inverse, borderMode=cv2.BORDER_CONSTANT)
    lost = lost_detail_share(M) if under is not None and detail is not None and fg.ndim == 3 else 0.0
    if lost > 0.0:  # the frame's own detail the crop could not hold: frame - under, where `detail` says
        low = into_frame(under, M_sub, size, cubic)  # as fg: where the swap changed nothing, the frame comes back
        weight = cv2.warpAffine(np.asarray(detail, np.float32) * np.float32(lost), M_sub, size, flags=inverse,
                                borderMode=cv2.BORDER_CONSTANT)
    if levels > 1 and max_levels(*mask.shape) > 1:
        bg = frame[y0:y1, x0:x1].astype(np.float32)
        out_f = bg + blend_delta(fg.astype(np.float32) - bg, mask, levels)
        if lost > 0.0:
            out_f += np.clip(bg - low, -DETAIL_CLIP, DETAIL_CLIP) * np.minimum(weight, mask)[..., None]
        result[y0:y1, x0:x1] = np.clip(np.rint(out_f), 0, 255).astype(np.uint8)
    elif fg.ndim == 3 and frame.dtype == np.uint8:
        # The alpha paste in one compiled pass (bg + mask (fg - bg), rounded, in float32 as
        # numpy's six passes computed it, outside the GIL); with the frame's detail, `mix_detail`.
        bg = np.ascontiguousarray(frame[y0:y1, x0:x1])
        result[y0:y1, x0:x1] = (mix_detail(fg, low, bg, mask, weight, np.float32(DETAIL_CLIP)) if lost > 0.0
                                else mix(fg, bg, mask))
    else:
        bg = frame[y0:y1, x0:x1].astype(np.float32)
        bg += (fg.astype(np.float32) - bg) * (mask[..., None] if fg.ndim == 3 else mask)
        result[y0:y1, x0:x1] = np.clip(np.rint(bg), 0, 255).astype(np.uint8)
    return result
