"""A three-quarter-view source: its far cheek comes out as skin, not hair or background, and
with no edge inside it (issue 10). On the astronaut turned by 40 degrees (her own 3D mesh
rotated, the photo warped onto it, hair and background inpainted beyond the far cheek) and
swapped back onto her own frontal photo, so the frontal photo says what that cheek looks like."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from evaluation.defects import edge_step
from rswap.compose.masks import region_mask
from rswap.face.align import align_crop, transform_points
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
