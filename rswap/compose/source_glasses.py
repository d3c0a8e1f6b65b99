"""The frames of glasses on a source photo (once per source): not the source's face.

A source who wears glasses had them pasted onto every target: the frames came out as grey,
half see-through rims (the colour match lightens them, the blend softens them), the pasted
face reading as broken (simswap_specific2 as a source, RESULTS.md issue 10, fifteenth
session). The source's cleaning (`source_texture.clean_texture`) judges occluders by their
colour against the skin and against their mirror; a frame is dark like hair but symmetric
(its mirror is the other rim) and runs along the eyes, whose rims the cleaning leaves alone.
So frames are found by their shape here, and filled from the skin around them before the
cleaning runs (`without_glasses`).

A frame is a thin dark line: darker than the skin (the cheeks' median) and darker than what
lies around it within LINE_WIDTH (a morphological black-hat, which a broad shade does not
pass). It must be one piece that bars the nose bridge and reaches past both inner eye
corners, as the target's glasses are found (`occluders.pieces_across_bridge`); the eyes
(their lid loops) and the brows are never frames, nor the nose's side shade below the eyes.
And it must be about as symmetric as glasses are. Of the 24 source crops, the 22 target photos
and the 20 made hair-band and three-quarter sources of the eval it finds frames on the one face
that wears glasses and nothing on the others; of glasses drawn on each of the 24 crops
(benchmarks.hard_cases.glasses) it finds 87-100% of the frame outside the eyes (RESULTS.md,
issue 10, fifteenth session). On a dim face whose eye sockets lie in shade the rims and the bridge
merge with the shade into a band wider than a line: where the search finds nothing, it runs once
more for lines twice as wide (the frames drawn on the dim ljm3 and lcw crops, missed before; still
nothing on the 93 without glasses: 24 crops, 21 target photos, 48 made sources; thirty-first session).
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.compose.color import lab8
from rswap.compose.masks import hard_polygon
from rswap.compose.occluders import pieces_across_bridge
from rswap.face.landmarks import FACE_OVAL, LEFT_BROW, LEFT_EYE_LOOP, NOSE, RIGHT_BROW, RIGHT_EYE_LOOP

LINE_WIDTH = 0.035  # the widest frame counted as a line (the black-hat's radius), fraction of the crop
WIDE_LINE = 2 * LINE_WIDTH  # the second search's: a rim or bridge merged with the shade round a dim face's eyes
# How much darker than what lies around it a frame pixel is, in L units (0-100) or, on a dim face where
# every contrast is smaller, a share of the skin's lightness; and how much darker than the skin (or under
# a share of it): strictly (the bridge test), and loosely for the rest of the piece (a lit rim below a
# lens is lighter). Made frames on the dim mars2 (skin L 25) bar its bridge at L 9, 12-21 below their
# surroundings.
STRICT_LINE, STRICT_LINE_SHARE, STRICT_SKIN, STRICT_SHARE = 15.0, 0.4, 20.0, 0.5
LOOSE_LINE, LOOSE_LINE_SHARE, LOOSE_SKIN, LOOSE_SHARE = 8.0, 0.25, 12.0, 0.65
GROW = 0.016  # the found frames widened by this (their soft edges and glints: 0.008 left pale rims), fraction of the crop
INPAINT = 0.02  # the inpainting's reach over a frame, fraction of the crop
SYMMETRY = 0.6  # share of the frames' mirror image that must lie on them (within 2 pixels)
MIDLINE = [168, 6, 197, 195, 5, 4, 1]  # mesh points on the nose's ridge: the face's midline


def _cheeks(hw: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    """bool (H, W): the cheeks below the eyes, above the nose tip, between the outer eye corners (no frame there)."""
    rows, cols = np.arange(hw[0])[:, None], np.arange(hw[1])[None, :]
    xl, xr = sorted((float(pts[33, 0]), float(pts[263, 0])))
    return (hard_polygon(hw, pts, FACE_OVAL) & (rows > pts[[33, 263, 133, 362], 1].max() + 0.01 * hw[0]) & (rows < pts[1, 1])
            & (cols > xl) & (cols < xr))


def glasses_frames(texture: np.ndarray, points: np.ndarray) -> np.ndarray:
    """bool (H, W): the frames of the glasses on the face in `texture` (an aligned source crop,
    RGB uint8, upright face) with mesh `points` (468, 2); all False for a face without glasses.

    Searched for as lines of LINE_WIDTH first, then, where none is found, once more as lines of
    WIDE_LINE: on a dim photo whose eye sockets lie in shade, a rim and the bridge merge with the
    shade into one dark band wider than LINE_WIDTH, which the narrow search does not see as a line
    (made glasses on the dim ljm3 and lcw crops were pasted onto every target). The bridge and
    symmetry tests decide at either width (RESULTS.md, thirty-first session)."""
    hw = texture.shape[:2]
    size = float(hw[0])
    pts = np.asarray(points, np.float32)
    light = lab8(texture)[..., 0]
    rows = np.arange(hw[0])[:, None]
    oval = hard_polygon(hw, pts, FACE_OVAL)
    cheeks = _cheeks(hw, pts)
    if cheeks.sum() < 30:
        return np.zeros(hw, bool)
    skin = float(np.median(light[cheeks]))
    # Where frames go: from just above the brows down to the nose tip, on the face (and a little past its edge).
    band = (rows > pts[LEFT_BROW + RIGHT_BROW, 1].min() - 0.03 * size) & (rows < pts[1, 1])
    band = band & (cv2.dilate(oval.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)
    for width in (LINE_WIDTH, WIDE_LINE):
        frames = _frames_of_width(light, skin, band, pts, width)
        if frames.any():
            return frames
    return frames


def _frames_of_width(light: np.ndarray, skin: float, band: np.ndarray, pts: np.ndarray, width: float) -> np.ndarray:
    """`glasses_frames`' search for lines up to `width` (fraction of the crop) wide: `light` the
    crop's L, `skin` the cheeks' median L, `band` where frames may lie."""
    hw = light.shape
    size = float(hw[0])
    rows = np.arange(hw[0])[:, None]
    r = max(2, int(round(width * size)))
    line = cv2.morphologyEx(light, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    strict = band & (line > min(STRICT_LINE, STRICT_LINE_SHARE * skin)) & (light < max(skin - STRICT_SKIN, STRICT_SHARE * skin))
    loose = band & (line > min(LOOSE_LINE, LOOSE_LINE_SHARE * skin)) & (light < max(skin - LOOSE_SKIN, LOOSE_SHARE * skin))
    if not strict.any():
        return np.zeros(hw, bool)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(loose.astype(np.uint8), connectivity=8)
    keep = pieces_across_bridge(strict, labels, stats, pts)
    if not keep.any():
        return np.zeros(hw, bool)
    eyes = hard_polygon(hw, pts, LEFT_EYE_LOOP) | hard_polygon(hw, pts, RIGHT_EYE_LOOP)
    # The brows stay, a frame's top bar across them too (it reads as brow; filled, it took the brow).
    own = eyes | hard_polygon(hw, pts, LEFT_BROW, hull=True) | hard_polygon(hw, pts, RIGHT_BROW, hull=True)
    # The nose below the eyes' inner corners: its side shade joins the bridge (loosely dark), a rim that
    # passes there is strictly dark.
    own |= hard_polygon(hw, pts, NOSE, hull=True) & (rows > pts[[133, 362], 1].max() + 0.02 * size) & ~strict
    frames = keep[labels] & ~own
    # Glasses are symmetric about the nose (the texture is the face seen from straight ahead): most of
    # the piece's mirror image lies on it (0.73-1.0 of it on the glasses of the eval). A band of hair across the
    # bridge is not (hair_cage: 0.39-0.44).
    mid = float(np.mean(pts[MIDLINE, 0]))
    mirrored = frames[:, np.clip(np.round(2 * mid - np.arange(hw[1])).astype(int), 0, hw[1] - 1)]
    near = cv2.dilate(frames.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if (mirrored & near).sum() < SYMMETRY * mirrored.sum():
        return np.zeros(hw, bool)
    grown = cv2.dilate(frames.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * max(1, round(GROW * size)) + 1,) * 2))
    return (grown > 0) & ~eyes


def without_glasses(texture: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(`texture` with the frames of its glasses filled from the skin around them, the frames'
    bool mask); the texture itself when it shows no glasses.

    Thin lines are filled from their own edges (OpenCV's inpainting), as a razor filter takes
    hairs out of a skin photo. The eyes, which the frames run beside, are kept out of what feeds
    the fill (given the cheeks' colour for it): fed by them, the fill spread their dark round the
    sockets. Handed to the source's cleaning as untrusted instead, the frames took its smooth skin
    fill, lighter than the shaded skin round the eyes: pale rims where the frames had been."""
    frames = glasses_frames(texture, points)
    if not frames.any():
        return texture, frames
    hw = texture.shape[:2]
    pts = np.asarray(points, np.float32)
    feed = texture.copy()
    eyes = hard_polygon(hw, pts, LEFT_EYE_LOOP) | hard_polygon(hw, pts, RIGHT_EYE_LOOP)
    eyes = cv2.dilate(eyes.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    feed[eyes] = np.median(texture[_cheeks(hw, pts)], axis=0).astype(np.uint8)
    filled = cv2.inpaint(feed, frames.astype(np.uint8), INPAINT * hw[0], cv2.INPAINT_TELEA)
    out = texture.copy()
    out[frames] = filled[frames]
    return out, frames
