"""A source lit from one side keeps its nose: the shade on the nose's far wall is no occluder.

Side light leaves one wall of the nose in hard shade, far darker than its lit twin and finer
than the coarse light (15% of the crop) the symmetry cue takes out. Flagged as hair, it was
grown into the cheek and the eye beside it and filled from the mirror: real photos (2, wlh in
the eval) lost an eye to its mirror and came out with dark almond eyes (RESULTS.md, issue 10,
eleventh session). Made here on the astronaut: one wall of her nose darkened as a side light
would, in the aligned crop."""

from __future__ import annotations

import cv2
import numpy as np

from rswap.compose.masks import region_mask
from rswap.compose.source_texture import occluder_mask, visibility_map
from rswap.face.align import align_crop, get_template, transform_points

# One wall of the nose: the bridge's midline down to the tip, back up along that side's wing,
# cheek junction and inner eye corner (mediapipe mesh points).
NOSE_WALL = [6, 197, 195, 5, 4, 98, 64, 129, 217, 188, 245, 193]


def _side_lit(crop: np.ndarray, pts: np.ndarray, depth: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The crop with one wall of the nose at `depth` of its light (soft-edged, as a shade is),
    and that wall's mask."""
    wall = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(wall, [np.round(pts[NOSE_WALL]).astype(np.int32)], 255)
    shade = cv2.GaussianBlur(wall.astype(np.float32) / 255.0, (0, 0), 1.5)[..., None]
    out = crop.astype(np.float32) * (1.0 - (1.0 - depth) * shade)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), wall > 0


def test_the_shade_on_one_wall_of_the_nose_is_no_occluder(astronaut, astronaut_face):
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    pts = transform_points(astronaut_face.landmarks[:468], M)
    z = astronaut_face.z[:468] * np.sqrt(abs(np.linalg.det(M[:, :2])))
    visible = visibility_map(crop.shape[:2], pts, z)
    before = occluder_mask(crop, pts, visible)  # her hair at the forehead's top is found as it is
    lit, wall = _side_lit(crop, pts)
    occ = occluder_mask(lit, pts, visible)
    assert wall.sum() > 300
    assert occ[wall].mean() < 0.05
    # ... and nothing grown from it: the face keeps its own pixels everywhere else, the eyes included.
    face = region_mask(crop.shape[:2], pts, include=("face_oval",), feather=0, erode=0) > 0
    assert (occ & ~before)[face].mean() < 0.005
