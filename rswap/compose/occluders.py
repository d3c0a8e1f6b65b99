"""Things in front of the target's upper face that the swap must leave in place.

A cap's brim, a fringe or a hat's edge often reaches below the top of mediapipe's face
oval: the mesh runs on under them. The classical swap pastes the source's forehead there
and the brim's lower edge comes out smeared in a band of skin and cap colour (the
eval's worst target, 015259: 16 of 24 sources defective, RESULTS.md issue 10). A colour
test on the target's own forehead finds them: pixels between the top of the oval and the
eyes whose colour is far from the target's own cheek skin are kept, like a hand in front.
It runs per frame on the aligned crop, at half size: no model. Its per-pixel tests and statistics
are compiled kernels (rswap.compose.kernels), which let go of the GIL: as chains of numpy calls
they held it for 62% of the search's time, the swap's largest share of GIL-held time (py-spy
--gil: 24% of it), which the conveyor's other threads waited on. 0.47 -> 0.32 ms at 256², 0.33 ->
0.20 ms at 144², the same masks to the bit (benchmarks/RESULTS.md, twenty-fourth session).
The same test by hue finds clothes below the mouth where the mesh's jaw runs on over a collar
(`_clothes_below`), and a test of darkness finds hair that falls over the sides of the face,
below the brows (`side_hair_box`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from rswap.compose.color import lab8
from rswap.compose.kernels import (BRIDGE_COVER, SRGB_LINEAR, bridge_pieces, cheek_median, cloth_pixels, pieces_at,
                                  side_dark_above, side_hair_pieces, skin_outliers)
from rswap.face.landmarks import (BROWS, EYE_CORNERS, FACE_OVAL, LEFT_BROW, LEFT_EYE_LOOP, LIPS_OUTER, RIGHT_BROW,
                                  RIGHT_EYE_LOOP)

# Robust distances (MAD units of the cheek skin, with floors) beyond which a forehead pixel is
# not skin: a cap, a hat, hair. Colour (a, b) separates a coloured cap from skin; lightness
# only when far darker (hair), since a forehead in the shade of a brim is skin, only darker.
CHROMA_FAR = 6.0
DARK_FAR = 6.0
SCALE_FLOOR = np.array([6.0, 2.5, 2.5], np.float32)
MIN_AREA = 2e-3  # fraction of the crop under which a found blob is noise
# Glasses frames: darker than this share of the cheeks' lightness, and by at least GLASSES_STEP
# L units (dark skin in dim light: a brow is about half as light as the skin, frames near black).
GLASSES_DARK, GLASSES_STEP = 0.45, 20.0
GLASSES_LOOSE, GLASSES_LOOSE_STEP = 0.55, 15.0  # the looser line a frame's piece may extend over
# Margin around each eye (in eye widths) that is never a frame: the lashes, the lid's crease and the
# inner corner's shadow are as dark as frames and join them. At 0.1 they were kept as the target's
# (simswap_specific2's own eyes, inside its frames: closer to source 0 of 12 sources); at 0.22,
# 6 of 12, the frames still whole by eye and defective pairs unchanged (0.16: 1, 0.3: 6; RESULTS.md
# issue 10, seventh session: identity).
GLASSES_EYE_MARGIN = 0.22
# Clothes below the mouth (`_clothes_below`): CIELAB chroma above which a pixel has a hue, the skin's
# least chroma for its hue to count, and how far below the lower lip's bottom (17) a piece of clothes
# must reach (a share of the crop: the lower lip's shadow and the chin's crease stay the face's).
# From there a piece may rise along the cheek up to the lower lids (145, 374), outside the lips
# grown by CLOTH_LIP_MARGIN of the crop: a collar rises along the jaw, and a search that began at
# that first line cut the piece there, a straight edge of swapped chin across the jacket
# (simswap_multi_people).
CLOTH_CHROMA, SKIN_HUE, CLOTH_BELOW_LIP, CLOTH_LIP_MARGIN = 6.0, 10.0, 0.02, 0.02
LOWER_LIP_BOTTOM, LOWER_LIDS = 17, [145, 374]
# Hair over the sides of the face (`side_hair_box`): darker than SIDE_DARK of the cheeks' lightness and
# than SIDE_HAIR_L outright; the features grown by SIDE_FEATURE_MARGIN of the box's width are never hair.
SIDE_DARK, SIDE_HAIR_L, SIDE_FEATURE_MARGIN = 0.5, 35.0, 0.04
_LUMINANCE = np.array([[0.2126, 0.7152, 0.0722]], np.float32)  # linear sRGB -> relative luminance (Y)
Found = tuple[tuple[slice, slice], np.ndarray]  # what stays in front: (box, float32 soft mask on that box)


def forehead_occluders(crop: np.ndarray, points: np.ndarray, feather: float = 2.0) -> np.ndarray:
    """float32 (H, W) in [0, 1]: the target's pixels above the eyes, inside its face oval, that
    are not its skin (a cap's brim, a hat, a fringe), softened by `feather` pixels.

    crop: the aligned target crop, RGB uint8 (upright face); points: its 468 mesh points.
    Reference skin: the cheeks between the eyes and the nose tip (no hair, no brim there)."""
    return front_occluders(crop, points, feather, glasses=False, clothes=False)


def front_occluders(crop: np.ndarray, points: np.ndarray, feather: float = 2.0, glasses: bool = True,
                    clothes: bool = True) -> np.ndarray:
    """float32 (H, W) in [0, 1]: what stays in front of the swapped face, softened by `feather`
    pixels: above the brows, pixels that are not the target's skin (`forehead_occluders`); with
    `glasses`, the frames of the target's glasses (`_glasses`), found in the same half-size box and
    colour statistics (one pass per frame); with `clothes`, clothes the mesh's jaw runs over below
    the mouth (`_clothes_below`). The whole-crop form of `front_occluder_box`."""
    out = np.zeros(crop.shape[:2], np.float32)
    found = front_occluder_box(crop, points, feather, glasses, clothes)
    if found is not None:
        out[found[0]] = found[1]
    return out


def front_occluder_box(crop: np.ndarray, points: np.ndarray, feather: float = 2.0,
                       glasses: bool = True, clothes: bool = True) -> Found | None:
    """`front_occluders` on the box it searches (the face oval's top down to the nose tip, and with
    `clothes` down to the oval's bottom where clothes are found below the mouth): (box, float32 mask
    on it), None where nothing stays in front. The swap blends the box only; the whole-crop mask,
    and finding its box again, cost ~0.1 ms a frame at 256²."""
    hw = crop.shape[:2]
    pts = np.asarray(points, np.float32)
    eyes = float(pts[EYE_CORNERS, 1].min())
    pad = _pad(feather)
    outline = pts[FACE_OVAL]
    top = int(max(0, np.floor(outline[:, 1].min()) - pad))
    nose = float(pts[1, 1])
    if eyes - top < 4 or nose <= eyes:
        return None
    x0, x1 = _oval_columns(outline, feather, hw)
    y1 = int(min(hw[0], np.ceil(nose) + 1))
    box = _even_box(top, y1, x0, x1, hw)
    lab, local, oval = _at_half_size(crop, pts, box)
    # Above the brows' top only: the brows, the eyes' shadows below them are the face's own.
    strip = min(max(math.ceil(local[BROWS, 1].min()), 0), oval.shape[0])
    occ, med, count = skin_outliers(lab, oval, *_cheek_bounds(local), strip, CHROMA_FAR, DARK_FAR, SCALE_FLOOR)
    if count < 30:
        return None
    if occ.any():
        labels, big = _big_pieces(occ, hw, box)
        found = big[labels]
    else:  # a bare forehead: no pieces to label
        found = np.zeros(occ.shape, bool)
    if glasses:
        # Grown by a half-size pixel: a frame is a few pixels wide, and the soft edge below
        # would otherwise leave its core part swapped (grey, see-through frames).
        frames = _glasses(lab[..., 0], local, float(med[0])).astype(np.uint8)
        found |= cv2.dilate(frames, np.ones((3, 3), np.uint8)) > 0
    upper = _soft(found, box, feather) if found.any() else None
    return _union(upper, _clothes_below(crop, pts, med, (x0, x1), feather) if clothes else None)


def side_hair_box(crop: np.ndarray, points: np.ndarray, feather: float = 2.0) -> Found | None:
    """(box, float32 soft mask on it) of the target's hair falling over the sides of its face, from
    the brows down, softened by `feather` pixels; None where there is none.

    The mesh's oval runs on under hair that falls over the temples and cheeks (2.jpg, 015384,
    simswap_specific1), and the swap pasted the source's cheek over it: a hazy grey or lavender band
    where the strands had been, most of the eval's colour flags. Hair is told from skin by being dark
    outright (under SIDE_HAIR_L, and under SIDE_DARK of the cheeks' lightness: a spread-based line
    fell below zero on 2.jpg's wide-lit cheeks) in a piece that reaches above the lids, lies beside
    the outer eye corners and joins dark pixels just outside the oval: hair falls in from beside the
    face at the temples; a beard, a jaw's shade or a shadowed cheek starts lower down or does not
    leave the face. The eyes, brows and lips (grown) are never hair. Kept in front, these pieces
    took the crops -> faces set's colour flags from 66 to 33 (RESULTS.md, issue 10, twentieth
    session; the strand fragments `color.side_hair` finds, kept so, had stood hard against the
    pasted skin). At half size like the other searches, on lightness alone, its pieces in one
    compiled pass (`kernels.side_hair_pieces`): 0.35-0.54 ms at 256²."""
    pts = np.asarray(points, np.float32)
    hw = crop.shape[:2]
    outline = pts[FACE_OVAL]
    top = max(0, math.floor(pts[BROWS, 1].min()))
    y1 = int(min(hw[0], np.ceil(outline[:, 1].max()) + 1))
    x0, x1 = _oval_columns(outline, feather, hw)
    if y1 - top < 8 or x1 - x0 < 8:
        return None
    box = _even_box(top, y1, x0, x1, hw)
    light, local, oval = _at_half_size(crop, pts, box, _lightness)
    hb, wb = oval.shape
    below, above, xl, xr = _cheek_bounds(local)  # xl, xr: the outer eye corners' columns
    lids = float(local[[159, 386], 1].min())
    skin, count = cheek_median(light, oval, below, above, xl, xr)
    if count < 30:
        return None
    thr = min(SIDE_DARK * float(skin), SIDE_HAIR_L)
    # Most faces stop here: no dark pixel inside the oval beside the eyes and above the lids.
    if not side_dark_above(light, oval, thr, lids, xl, xr):
        return None
    features = np.zeros((hb, wb), np.uint8)
    for idx in (LEFT_EYE_LOOP, RIGHT_EYE_LOOP, LEFT_BROW, RIGHT_BROW, LIPS_OUTER):
        cv2.fillPoly(features, [np.rint(cv2.convexHull(local[idx])[:, 0]).astype(np.int32)], 1)
    r = max(1, int(round(SIDE_FEATURE_MARGIN * wb)))
    features = cv2.dilate(features, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    found = side_hair_pieces(light, oval, features, thr, lids, xl, xr, MIN_AREA * hw[0] * hw[1] / 4)
    if not found.any():
        return None
    # The strands' gaps closed (a half-size pixel), within the oval.
    found = (cv2.morphologyEx(found, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0) & (oval > 0)
    return _soft(found, box, feather)


def _clothes_below(crop: np.ndarray, pts: np.ndarray, skin: np.ndarray, cols: tuple[int, int],
                   feather: float) -> Found | None:
    """(box, soft mask) of clothes inside the face oval below the mouth, None where there are none.

    On a face leaning over its own collar, mediapipe's mesh can run the jaw on over the clothes
    (simswap_multi_people: the lower right of the oval lies on his jacket) and the swap painted
    the source's chin over them. Clothes there are told from the face by their hue: beside the
    skin's (`skin`, the cheeks' median CIELAB) a beard, a shadow or lips are darker or redder but
    of the same hue, a jacket is bluish, greenish or grey-violet. So a pixel counts when its
    chroma is above CLOTH_CHROMA and it lies opposite the skin's hue or more across it than along
    it, in a piece of MIN_AREA that reaches the oval's rim (clothes come in from outside) and
    below the lower lip's shadow (CLOTH_BELOW_LIP). Skin of too little chroma to have a hue (under
    SKIN_HUE, a blue-lit face) is not searched. The search starts at that line; only where clothes
    reach it does it look again from the lower lids, the lips left out (most frames have no
    clothes there, and the taller box costs ~0.2 ms)."""
    hue = float(np.hypot(skin[1], skin[2]))
    if hue < SKIN_HUE:
        return None
    low = pts[LOWER_LIP_BOTTOM, 1] + CLOTH_BELOW_LIP * crop.shape[0]
    y1 = int(min(crop.shape[0], np.ceil(pts[FACE_OVAL, 1].max()) + 1))
    if y1 - low < 8:
        return None
    box, found, rises = _cloth_pieces(crop, pts, skin, hue, int(np.ceil(low)), low, y1, cols)
    if rises:  # clothes on the search's first row: they may rise beside the mouth
        lids = min(np.ceil(pts[LOWER_LIDS, 1].max()), np.ceil(low))  # (never below the first search's top)
        box, found, _ = _cloth_pieces(crop, pts, skin, hue, int(lids), low, y1, cols)
    return _soft(found, box, feather) if found.any() else None


def _cloth_pieces(crop: np.ndarray, pts: np.ndarray, skin: np.ndarray, hue: float, top: int, low: float, y1: int,
                  cols: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray, bool]:
    """`_clothes_below`'s search on rows top:y1 (`hue`: the skin's chroma): (box, bool mask at half
    size of the pieces of clothes that reach the oval's rim and row `low`, whether any clothes lie
    on the first row)."""
    hw = crop.shape[:2]
    box = _even_box(top, y1, *cols, hw)
    lab, local, oval = _at_half_size(crop, pts, box)
    scale = oval.shape[0] / (box[0].stop - box[0].start)  # half-size pixels a crop pixel
    lips = np.zeros_like(oval)
    cv2.fillPoly(lips, [np.rint(local[LIPS_OUTER]).astype(np.int32)], 1)
    grow = 2 * int(round(CLOTH_LIP_MARGIN * hw[0] * scale)) + 1
    lips = cv2.dilate(lips, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    cloth = cloth_pixels(lab, oval, lips, float(skin[1]), float(skin[2]), hue, CLOTH_CHROMA)
    if not cloth.any():  # most frames: no pieces to label
        return box, np.zeros(cloth.shape, bool), False
    labels, keep = _big_pieces(cloth, hw, box)
    inner = cv2.erode(oval, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    keep &= pieces_at(labels, cloth, oval, inner, float((low - box[0].start) * scale))
    return box, keep[labels], bool(cloth[0].any())


def _pad(feather: float) -> int:
    """Pixels a search's box reaches beyond the face oval: room for its mask's feathered edge."""
    return int(np.ceil(3 * feather)) + 1


def _oval_columns(outline: np.ndarray, feather: float, hw: tuple[int, int]) -> tuple[int, int]:
    """The columns x0:x1 the searches take: the face oval's (`outline`, its points) and `_pad` more
    on each side, within the crop of size `hw`."""
    pad = _pad(feather)
    xs = outline[:, 0]
    return max(0, math.floor(xs.min()) - pad), min(hw[1], math.ceil(xs.max()) + 1 + pad)


def _even_box(y0: int, y1: int, x0: int, x1: int, hw: tuple[int, int]) -> tuple[slice, slice]:
    """The box rows y0:y1, columns x0:x1 of a crop of size `hw`, with an odd side made even by one
    more row or column (past its end, or before its start at the crop's edge), so that
    `_at_half_size` halves it exactly: OpenCV's area resize by a factor of 2 took 0.012 ms on a face's
    box at 256², by an odd factor 0.11 ms (three searches a frame)."""

    def even(start: int, stop: int, size: int) -> slice:
        if (stop - start) % 2 == 0:
            return slice(start, stop)
        if stop < size:
            return slice(start, stop + 1)
        return slice(start - 1, stop) if start > 0 else slice(start, stop - 1)

    return even(y0, y1, hw[0]), even(x0, x1, hw[1])


def _cheek_bounds(local: np.ndarray) -> tuple[float, float, float, float]:
    """The cheek skin of a half-size search (mesh points `local`), as the rows and columns strictly
    between which it lies inside the face oval (`kernels.skin_outliers`, `kernels.cheek_median`):
    below the eyes, above the nose tip, between the outer eye corners. No hair, brim or frame lies
    there."""
    xl, xr = sorted((float(local[33, 0]), float(local[263, 0])))
    return float(local[EYE_CORNERS, 1].max() + 1), float(local[1, 1]), xl, xr


def _at_half_size(crop: np.ndarray, pts: np.ndarray, box: tuple[slice, slice],
                  convert=lab8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The crop's `box` as the per-frame searches see it, at half size (they run every frame, and
    their masks are soft anyway): its colour (`convert` of the RGB pixels: CIELAB by `lab8`), the
    mesh points in it, and the face oval (uint8 0/1)."""
    bh, bw = box[0].stop - box[0].start, box[1].stop - box[1].start
    hb, wb = max(1, bh // 2), max(1, bw // 2)
    local = (pts - np.array([box[1].start, box[0].start], np.float32)) * np.array([wb / bw, hb / bh], np.float32)
    oval = np.zeros((hb, wb), np.uint8)
    cv2.fillPoly(oval, [np.rint(local[FACE_OVAL]).astype(np.int32)], 1)
    return convert(cv2.resize(np.ascontiguousarray(crop[box]), (wb, hb), interpolation=cv2.INTER_AREA)), local, oval


def _lightness(rgb: np.ndarray) -> np.ndarray:
    """float32 (H, W): CIELAB's L of uint8 RGB pixels, from their luminance alone, in a quarter of
    `lab8`'s time: within 0.6 L of it above L 8, and darker below (black reads -16; the cube root's
    linear toe is left out), which only dark thresholds read."""
    luminance = cv2.transform(cv2.LUT(rgb, SRGB_LINEAR), _LUMINANCE)
    return cv2.pow(luminance, 1.0 / 3.0) * np.float32(116.0) - np.float32(16.0)


def _big_pieces(mask: np.ndarray, hw: tuple[int, int], box: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, bool per label): the 8-connected pieces of a half-size search's bool `mask` over
    `box`, and which of them cover at least MIN_AREA of the crop (of size `hw`); the background
    label is never one."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    bh, bw = box[0].stop - box[0].start, box[1].stop - box[1].start
    big = stats[:, cv2.CC_STAT_AREA] >= MIN_AREA * hw[0] * hw[1] * mask.size / (bh * bw)
    big[0] = False
    return labels, big


def _soft(found: np.ndarray, box: tuple[slice, slice], feather: float) -> Found:
    """A half-size search's bool `found` as the (box, soft mask) the swap blends: back at the box's
    size, softened by `feather` pixels."""
    bh, bw = box[0].stop - box[0].start, box[1].stop - box[1].start
    soft = cv2.resize(found.astype(np.float32), (bw, bh), interpolation=cv2.INTER_LINEAR)
    return box, cv2.GaussianBlur(soft, (0, 0), feather) if feather > 0 else soft


def _union(a: Found | None, b: Found | None) -> Found | None:
    """One (box, soft mask) holding two (either may be None): the box spanning both, the masks' maximum."""
    if a is None or b is None:
        return a if b is None else b
    (ya, xa), sa = a
    (yb, xb), sb = b
    ys = slice(min(ya.start, yb.start), max(ya.stop, yb.stop))
    xs = slice(min(xa.start, xb.start), max(xa.stop, xb.stop))
    soft = np.zeros((ys.stop - ys.start, xs.stop - xs.start), np.float32)
    for (y, x), m in ((ya, xa), sa), ((yb, xb), sb):
        part = soft[y.start - ys.start:y.stop - ys.start, x.start - xs.start:x.stop - xs.start]
        np.maximum(part, m, out=part)
    return (ys, xs), soft


def _glasses(light: np.ndarray, pts: np.ndarray, skin: float) -> np.ndarray:
    """bool (h, w): the frames of glasses in the (half-size) box above the nose tip whose
    lightness is `light` and mesh points `pts`; `skin`: the cheeks' median lightness.

    Frames are much darker than the skin (under GLASSES_DARK of its lightness, and at least
    GLASSES_STEP below it), and they are one connected piece that crosses the nose bridge
    between the inner eye corners and reaches both of them (the rims). Nothing of a
    face does that: brows, lashes and the eyes' shadows stop short of the bridge, and the
    eyes themselves (pupils, lashes) are left out. Swapped over, the frames came out as black
    fragments on the source's skin (simswap_specific2, RESULTS.md issue 10, fifth session)."""
    h, w = light.shape
    dark = light < min(GLASSES_DARK * skin, skin - GLASSES_STEP)
    # Most faces stop here: no piece can bar the bridge when the strict pixels, all pieces at once,
    # cover no more than BRIDGE_COVER of its columns (`bridge_pieces`' test): the pieces, their
    # labels and the test cost ~0.05 ms a frame at 144² (twenty-ninth session).
    zone = bridge_zone(pts, (h, w))
    if zone is None:
        return np.zeros((h, w), bool)
    y0, y1, x0, x1, _, _ = zone
    if not np.count_nonzero(dark[y0:y1, x0:x1].any(0)) / (x1 - x0) > BRIDGE_COVER:
        return np.zeros((h, w), bool)
    # Pieces are found with the eyes in (a rim that passes close to an eye corner stays joined
    # to the bridge through the lashes), and the eyes are taken out of what is kept. A piece
    # is a hysteresis region: pixels darker than the looser line joined to ones past the strict
    # one (a lit rim below a lens is lighter than the bridge).
    loose = light < min(GLASSES_LOOSE * skin, skin - GLASSES_LOOSE_STEP)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(loose.astype(np.uint8), connectivity=8)
    keep = bridge_pieces(dark, labels, stats, *zone)  # `pieces_across_bridge` on the zone found above
    if not keep.any():
        return np.zeros((h, w), bool)
    # The eyes (GLASSES_EYE_MARGIN around them) and the brows stay the swap's: a piece joined to the
    # frame through them is the target's face, and kept it cost identity (simswap_specific2:
    # closer to source 7 -> 1 of 8 sources with the brows and the hair beside the temples kept).
    own = np.zeros((h, w), np.uint8)
    for loop in (LEFT_EYE_LOOP, RIGHT_EYE_LOOP):
        cv2.fillPoly(own, [np.rint(pts[loop]).astype(np.int32)], 1)
    r = max(1, int(round(GLASSES_EYE_MARGIN * float(np.linalg.norm(pts[33] - pts[133])))))
    own = cv2.dilate(own, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    brows = np.zeros((h, w), np.uint8)
    for brow in (LEFT_BROW, RIGHT_BROW):
        cv2.fillPoly(brows, [np.rint(cv2.convexHull(pts[brow])[:, 0]).astype(np.int32)], 1)
    # A frame's top bar across the brows stays: there the strictly dark pixels are the frame's.
    own |= brows & ~dark
    rows = np.arange(h)[:, None]
    above = rows < float(pts[BROWS, 1].min())  # hair beside the temples, above the brows
    return keep[labels] & (own == 0) & ~above


def pieces_across_bridge(strict: np.ndarray, labels: np.ndarray, stats: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """bool per label of `labels` (cv2.connectedComponentsWithStats' labels and stats of candidate
    pixels, mesh points `pts` in the same frame): the pieces that are a pair of glasses' frame.

    Such a piece bars the nose bridge (between the inner eye corners, from half way up to the
    brows down to the corners): its `strict` pixels there cover nearly every column (an eye
    corner's shadow reaches the zone's edge only), and it reaches past both inner eye corners
    (the rims). Brows, lashes and the eyes' shadows stop short of the bridge."""
    zone = bridge_zone(pts, labels.shape)
    if zone is None:
        return np.zeros(len(stats), bool)
    return bridge_pieces(strict, labels, stats, *zone)


def bridge_zone(pts: np.ndarray, hw: tuple[int, int]) -> tuple[int, int, int, int, float, float] | None:
    """(y0, y1, x0, x1, xa, xb): the nose bridge's zone in an image of size `hw` with mesh points
    `pts` (rows y0:y1 from half way up to the brows down to the inner eye corners, columns x0:x1
    the middle 60% between them) and the inner corners' columns xa < xb; None where it is empty."""
    h, w = hw
    (xa, ya), (xb, yb) = sorted((tuple(pts[133]), tuple(pts[362])))
    brow = float(pts[BROWS, 1].mean())
    corner = max(ya, yb)
    mid = 0.5 * (xa + xb)
    half = 0.3 * (xb - xa)
    y0, y1 = int(max(0, np.floor(0.5 * (brow + min(ya, yb))))), int(min(h, np.ceil(corner) + 1))
    xs0, xs1 = int(max(0, np.floor(mid - half))), int(min(w, np.ceil(mid + half) + 1))
    if y1 <= y0 or xs1 <= xs0:
        return None
    return y0, y1, xs0, xs1, float(xa), float(xb)
