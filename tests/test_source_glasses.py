"""A source who wears glasses: the frames are found, filled from the skin, and never pasted.

Glasses are drawn on the astronaut (benchmarks.hard_cases.glasses); the target is the
astronaut widened and darkened, as in test_source_texture.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.hard_cases import FRAME_RGB, glasses
from rswap.compose.color import to_lab
from rswap.compose.masks import region_mask
from rswap.compose.source_glasses import glasses_frames, without_glasses
from rswap.face.align import align_crop, transform_points
from rswap.face.landmarks import LEFT_EYE_LOOP, MESH_POINTS, RIGHT_EYE_LOOP
from rswap.swap.classical import ClassicalSwapper
from tests._drawn_colour import share_in_swap


@pytest.fixture(scope="module")
def other_person(astronaut):
    img = cv2.resize(astronaut, (600, 460))[:, 44:556]
    return np.ascontiguousarray(cv2.convertScaleAbs(img, alpha=0.8, beta=-5))


@pytest.fixture(scope="module")
def bespectacled(astronaut, astronaut_face):
    return glasses(astronaut, astronaut_face)


def _aligned(image, face):
    """The aligned crop, its mesh points and the frame -> crop matrix."""
    crop, M = align_crop(image, face.kps5, ClassicalSwapper().template)
    return crop, transform_points(face.landmarks[:MESH_POINTS], M), M


def _eyes(hw, pts):
    mask = np.zeros(hw, np.uint8)
    for loop in (LEFT_EYE_LOOP, RIGHT_EYE_LOOP):
        cv2.fillPoly(mask, [np.round(pts[loop]).astype(np.int32)], 1)
    return mask > 0


def test_the_frames_drawn_on_a_face_are_found_and_a_bare_face_has_none(astronaut, bespectacled, analyse):
    crop, pts, M = _aligned(bespectacled, analyse(bespectacled))
    drawn = (np.abs(bespectacled.astype(int) - astronaut.astype(int)).sum(2) > 60).astype(np.uint8)
    drawn = cv2.warpAffine(drawn, M, crop.shape[1::-1], flags=cv2.INTER_NEAREST) > 0
    face = region_mask(crop.shape[:2], pts, include=("face_oval",), feather=0, erode=0) > 0
    drawn &= face & ~_eyes(crop.shape[:2], pts)
    found = glasses_frames(crop, pts)
    assert drawn.sum() > 500  # the drawing is there to find
    assert (found & drawn).sum() > 0.85 * drawn.sum()
    bare, bare_pts, _ = _aligned(astronaut, analyse(astronaut))
    assert not glasses_frames(bare, bare_pts).any()


def _in_dim_light_with_shaded_eyes(image: np.ndarray, face) -> np.ndarray:
    """`image` at 0.3 of its brightness, its eye sockets in shade at half of that (a dim webcam frame)."""
    shade = np.zeros(image.shape[:2], np.float32)
    for loop in (LEFT_EYE_LOOP, RIGHT_EYE_LOOP):
        eye = face.landmarks[loop]
        width = float(np.ptp(eye[:, 0]))
        cv2.ellipse(shade, tuple(np.round(eye.mean(0)).astype(int)), (int(0.9 * width), int(0.6 * width)), 0, 0, 360, 1.0, -1)
    shade = cv2.GaussianBlur(shade, (0, 0), 4)[..., None]
    return np.clip(image * 0.3 * (1.0 - 0.5 * shade), 0, 255).astype(np.uint8)


def test_on_a_dim_face_frames_merged_with_the_eyes_shade_are_found_and_a_bare_face_has_none(astronaut, astronaut_face, analyse):
    dim = _in_dim_light_with_shaded_eyes(astronaut, astronaut_face)
    crop, pts, _ = _aligned(dim, analyse(dim))
    assert not glasses_frames(crop, pts).any()
    worn = glasses(dim, analyse(dim))
    crop, pts, _ = _aligned(worn, analyse(worn))
    found = glasses_frames(crop, pts)
    # The test can fail: searched as lines of LINE_WIDTH only, these frames were not found (0 pixels).
    assert found.sum() > 2000 and not (found & _eyes(crop.shape[:2], pts)).any()


def test_filling_the_frames_leaves_the_eyes_and_the_rest_of_the_face_as_they_were(bespectacled, analyse):
    crop, pts, _ = _aligned(bespectacled, analyse(bespectacled))
    filled, frames = without_glasses(crop, pts)
    assert frames.any()
    untouched = ~frames
    assert np.array_equal(filled[untouched], crop[untouched])  # the eyes among them
    assert _eyes(crop.shape[:2], pts).sum() > 50 and not (frames & _eyes(crop.shape[:2], pts)).any()
    # What was the frame is skin now: near the cheeks' lightness, not the frame's near black.
    frame_l = to_lab(np.array([[FRAME_RGB]], np.uint8))[0, 0, 0]
    assert np.median(to_lab(filled)[frames][:, 0]) > frame_l + 30


def test_glasses_drawn_on_the_source_appear_nowhere_in_the_swapped_face(astronaut, bespectacled, other_person, analyse):
    def frame_share(source_image) -> float:
        return share_in_swap(source_image, other_person, analyse, FRAME_RGB, 25)

    own = frame_share(astronaut)  # her own dark pixels (lash lines, nostrils, lip corners)
    assert frame_share(bespectacled) < own + 0.002
    # The test can fail: the photo's own texture pastes the frames. (Without the frames' step alone
    # the cleaning now removes them too: the arms and lower rims run along the oval's sides, where
    # hair falling down them is followed since the twenty-sixth session; the frames' step is held
    # on its own by the test below.)
    assert share_in_swap(bespectacled, other_person, analyse, FRAME_RGB, 25, clean_source=False) > own + 0.01
