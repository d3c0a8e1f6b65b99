"""A source texture's own light and colour cast are taken out once per source (source_light.py),
keeping its detail: on the astronaut lit green from one side, a made stand-in for the eval's
green-lit video frame (lcw) and hard side light on dark skin."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rswap.compose.source_light import even_light, skin_weight
from rswap.face.align import align_crop, get_template, transform_points
from rswap.face.landmarks import FACE_OVAL
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser


@pytest.fixture(scope="module")
def crop_and_points(astronaut):
    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        face = analyser.analyse(astronaut)[0]
    crop, M = align_crop(astronaut, face.kps5, get_template("ffhq256"))
    return crop, transform_points(face.landmarks[:468], M)


def side_lit(crop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The crop lit from its right: the left half of the face in a dim, green shade, a soft edge
    down the nose (in linear light, as light multiplies)."""
    w = crop.shape[1]
    nose_x = float(points[1, 0])
    ramp = 1.0 / (1.0 + np.exp(-(np.arange(w, dtype=np.float32) - nose_x) / (0.03 * w)))  # 0 left, 1 right
    shade = np.stack([0.25 + 0.75 * ramp, 0.45 + 0.55 * ramp, 0.25 + 0.75 * ramp], -1)[None]  # dim and green on the left
    lin = (crop.astype(np.float32) / 255.0) ** 2.2
    return np.clip(np.rint(255.0 * (lin * shade) ** (1 / 2.2)), 0, 255).astype(np.uint8)


def _halves(img: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean CIELAB of the skin left and right of the nose."""
    skin = skin_weight(img.shape[:2], points) > 0
    left = skin & (np.arange(img.shape[1])[None, :] < points[1, 0] - 0.05 * img.shape[1])
    right = skin & (np.arange(img.shape[1])[None, :] > points[1, 0] + 0.05 * img.shape[1])
    lab = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return lab[left].mean(0), lab[right].mean(0)


def _detail(img: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return grey - cv2.GaussianBlur(grey, (0, 0), sigma)


def test_a_face_lit_green_from_one_side_comes_out_evenly_lit_with_its_detail(crop_and_points):
    crop, pts = crop_and_points
    lit = side_lit(crop, pts)
    left, right = _halves(lit, pts)
    assert np.linalg.norm(left - right) > 15  # the made light: a strong step in lightness and colour
    even = even_light(lit, pts)
    e_left, e_right = _halves(even, pts)
    assert np.linalg.norm(e_left - e_right) < 0.35 * np.linalg.norm(left - right)
    assert abs(e_left[1] - e_right[1]) < 3 and abs(e_left[2] - e_right[2]) < 3  # the green cast is gone
    # Detail (pores, lashes, the nostrils' edges) is kept: the fine structure of the result still
    # matches the lit crop's (the shade's step is coarse, so it is not in this band).
    skin = skin_weight(crop.shape[:2], pts) > 0
    corr = np.corrcoef(_detail(even)[skin], _detail(lit)[skin])[0, 1]
    assert corr > 0.8


def test_an_evenly_lit_face_and_everything_outside_the_oval_stay_as_they_are(crop_and_points):
    crop, pts = crop_and_points
    even = even_light(crop, pts)
    oval = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(pts[FACE_OVAL]).astype(np.int32)], 1)
    outside = cv2.dilate(oval, np.ones((25, 25), np.uint8)) == 0
    assert np.abs(even[outside].astype(int) - crop[outside]).max() <= 1
    # The astronaut's own soft studio light: the face's mean colour stays, its halves stay near each other.
    lab = [cv2.cvtColor(x.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[oval > 0].mean(0) for x in (crop, even)]
    assert np.linalg.norm(lab[0] - lab[1]) < 4
