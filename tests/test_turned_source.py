"""A three-quarter-view source: its far cheek comes out as skin, not hair or background, and
with no edge inside it, and hair down its near cheek leaves the texture too (issue 10). On the astronaut turned by 40 degrees (her own 3D mesh
rotated, the photo warped onto it, hair and background inpainted beyond the far cheek) and
swapped back onto her own frontal photo, so the frontal photo says what that cheek looks like."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.hard_cases import HAIR_RGB, three_quarter
from evaluation.defects import edge_step
from rswap.compose.color import to_lab
from rswap.compose.masks import region_mask
from rswap.face.align import align_crop, transform_points
from rswap.face.landmarks import FACE_OVAL
from rswap.swap.classical import ClassicalSwapper
from rswap.testing.render import turned_face


def _lab(img):
    return cv2.cvtColor(cv2.GaussianBlur(img, (0, 0), 2).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def far_cheek_faults(astronaut, astronaut_face, analyse, yaw: float, clean: bool) -> tuple[float, float]:
    """(hair-like share, new-edge share) of the far side of the swapped face, inside the
    oval (kept 5% off the outline, where the target's own hair begins) and outside eyes,
    brows and lips. Hair-like: nearer in colour to the hair just outside her face than to
    her skin, where her own photo has skin. New edge: a CIELAB step (`edge_step`) of 8 or
    more, and twice her own photo's strongest within 3 px (pasted strands, wedges)."""
    sw = ClassicalSwapper(clean_source=clean, color="none")  # colour off: the pixels are the texture's
    source = turned_face(astronaut, astronaut_face, yaw)
    identity = sw.encode_source([source], [analyse(source)])
    crop, M = align_crop(astronaut, astronaut_face.kps5, sw.template)
    lm = transform_points(astronaut_face.landmarks[:468], M)
    out = sw.swap(crop, lm, identity).crop
    hw = crop.shape[:2]
    face = region_mask(hw, lm, include=("face_oval",), feather=0, erode=0.05 * hw[0]) > 0
    features = region_mask(hw, lm, include=("left_eye", "right_eye", "left_brow", "right_brow", "lips"),
                           feather=0, erode=-4) > 0
    cols, rows = np.arange(hw[1])[None, :], np.arange(hw[0])[:, None]
    # Turned to image-left (negative yaw) she shows her image-right side least.
    side = cols > lm[362, 0] if yaw < 0 else cols < lm[133, 0]
    far = face & side & ~features & (rows > lm[[105, 334], 1].min())
    ref, res = _lab(crop), _lab(out)
    oval = region_mask(hw, lm, include=("face_oval",), feather=0, erode=0) > 0
    ring = (cv2.dilate(oval.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0) & ~oval & (rows < lm[1, 1])
    hair, skin = np.median(ref[ring], axis=0), np.median(ref[face & ~features], axis=0)
    own_skin = np.linalg.norm(ref - skin, axis=2) < np.linalg.norm(ref - hair, axis=2)
    hair_like = (np.linalg.norm(res - hair, axis=2) < np.linalg.norm(res - skin, axis=2))[far & own_skin].mean()
    step, own_step = edge_step(out, 2.0), edge_step(crop, 2.0)
    new_edge = (step > np.maximum(2 * cv2.dilate(own_step, np.ones((7, 7), np.uint8)), 8.0))[far].mean()
    return float(hair_like), float(new_edge)


@pytest.mark.parametrize("yaw", [-40.0, 40.0])
def test_a_turned_sources_far_cheek_comes_out_as_skin_without_edges(astronaut, astronaut_face, analyse, yaw):
    hair_like, new_edge = far_cheek_faults(astronaut, astronaut_face, analyse, yaw, clean=True)
    # Measured 0.002 / 0.005 (-40), 0.001 / 0.001 (+40); main before this change (the far side
    # sampling its mirror triangle by triangle, in the near side's light): 0.001 / 0.010 and
    # 0.005 / 0.035, the wedges.
    assert hair_like < 0.03 and new_edge < 0.01
    # The test can fail: the photo's own texture brings the hair and background beyond the
    # far cheek and their edges (measured 0.044 / 0.025 and 0.0 / 0.030).
    raw_hair, raw_edge = far_cheek_faults(astronaut, astronaut_face, analyse, yaw, clean=False)
    assert raw_hair > 0.03 or raw_edge > 0.01


def _hair_framed(image: np.ndarray, face) -> np.ndarray:
    """turned_2's case (RESULTS.md, issue 10, seventh session) on the astronaut: cut to
    three-quarter view (`three_quarter`, yaw +40: her image-left cheek turned away), the cut
    filled with dark hair, as beside a long-haired woman's far cheek, and the same hair down
    her near temple and cheek from just beyond the near eye's outer corner: narrower than the
    cut, so the cut is unlike its mirror and found, while the near hair's mirror is the cut
    (both dark: no asymmetry to find it by)."""
    cut = np.any(three_quarter(image, face, 40.0) != image, axis=2).astype(np.uint8)
    cut = cv2.morphologyEx(cut, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    pts = face.landmarks
    iod = float(np.linalg.norm(pts[33] - pts[263]))
    oval = np.zeros_like(cut)
    cv2.fillPoly(oval, [np.round(pts[FACE_OVAL]).astype(np.int32)], 1)
    cols, rows = np.arange(image.shape[1])[None, :], np.arange(image.shape[0])[:, None]
    band = oval * (cols > pts[263, 0] + 0.01 * iod) * (rows < pts[1, 1] + 0.1 * iod)  # temple to beside the nose tip
    alpha = cv2.GaussianBlur(np.maximum(cut, band).astype(np.float32), (0, 0), max(1.0, 0.02 * iod))[..., None]
    shade = cv2.GaussianBlur(np.random.default_rng(0).normal(1.0, 0.15, image.shape[:2]).astype(np.float32), (0, 0), 1.0)
    hair = np.clip(np.array(HAIR_RGB, np.float32) * shade[..., None], 0, 255)
    return np.clip(np.rint(image * (1 - alpha) + hair * alpha), 0, 255).astype(np.uint8)


def test_hair_down_the_near_cheek_of_a_turned_source_appears_nowhere_in_the_swapped_face(astronaut, astronaut_face, analyse):
    """Swapped back onto her own frontal photo: the share of the face (outside eyes and brows)
    more than 15 L darker than the swap of her unedited photo. The swap's shadow limit lifts a
    pasted band toward grey, so its darkness, not its exact colour, is what shows."""
    source = _hair_framed(astronaut, astronaut_face)
    crop, M = align_crop(astronaut, astronaut_face.kps5, ClassicalSwapper().template)
    lm = transform_points(astronaut_face.landmarks[:468], M)
    face = region_mask(crop.shape[:2], lm, include=("face_oval",), exclude=("left_eye", "right_eye", "left_brow", "right_brow"),
                       feather=0, erode=4) > 0

    def swapped(image, clean: bool = True):
        sw = ClassicalSwapper(clean_source=clean)
        return to_lab(sw.swap(crop, lm, sw.encode_source([image], [analyse(image)])).crop)[..., 0]

    own = swapped(astronaut)
    darker = lambda out: float((own - out > 15)[face].mean())
    # Measured 0.0015; main before this change 0.048: both bands in the texture, printed as
    # grey-brown stripes down both cheeks.
    assert darker(swapped(source)) < 0.01
    # The test can fail: the photo's own texture carries the hair (measured 0.075).
    assert darker(swapped(source, clean=False)) > 0.03
