"""The source's outer band takes the target's rim light (issue 10, tenth session).

With the swap's mask ramp at the oval where the target's rim is skin, a source rim lifted to its
inner skin's light met a shaded target jaw as a light seam. `match_rim_light` darkens the warped
source's outer band to the target's coarse light there. All on the astronaut's crop: the same
picture as source and target, the target's rim shaded by hand."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rswap.compose.target_rim import match_rim_light
from rswap.face.align import align_crop, transform_points
from rswap.swap import classical as C
from rswap.swap.classical import ClassicalSwapper


@pytest.fixture(scope="module")
def scene(astronaut, astronaut_face):
    """(crop, main's face mask, the mask at the oval, the outer band): the astronaut's aligned crop
    and the swap's two masks on her own landmarks."""
    sw = ClassicalSwapper()
    crop, M = align_crop(astronaut, astronaut_face.kps5, sw.template)
    lm = transform_points(astronaut_face.landmarks, M)[:468]
    hw = crop.shape[:2]
    inner = sw._face_mask(hw, lm)
    rim = sw._face_mask(hw, lm, erode=C.FACE_ERODE * sw._feather)
    band = (rim > 0.05) & (inner < 0.05)  # where the source shows at the rim and main's mask did not reach
    return crop, inner, rim, band


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _shaded(crop: np.ndarray, rim: np.ndarray, inner: np.ndarray, factor: float) -> np.ndarray:
    """The crop with its outer band (inside the oval, outside main's mask) multiplied by `factor`, softly."""
    shade = cv2.GaussianBlur(((rim > 0) * (1.0 - inner)).astype(np.float32), (0, 0), 2.0)
    return np.clip(crop * (1.0 + (factor - 1.0) * shade)[..., None] + 0.5, 0, 255).astype(np.uint8)


def test_a_lit_source_rim_takes_a_shaded_target_rims_light(scene):
    crop, inner, rim, band = scene
    target = _shaded(crop, rim, inner, 0.65)  # a shaded jaw and cheeks
    ones = np.ones(inner.shape, np.float32)
    out = match_rim_light(crop, target, ones, inner, rim, ones, 0.02 * crop.shape[0])
    before = np.abs(_grey(crop)[band] - _grey(target)[band]).mean()
    after = np.abs(_grey(out)[band] - _grey(target)[band]).mean()
    assert before > 20, before  # the premise: a seam's worth of light apart
    assert after < 0.35 * before, (before, after)
    deep = inner > 0.999
    assert np.array_equal(out[deep], crop[deep])  # the inner face is the source's own


def test_a_source_rim_darker_than_the_target_is_left_as_it_is(scene):
    """Only darkened: lightening a source's chin to a lit target chin drew a light crescent (RESULTS.md)."""
    crop, inner, rim, band = scene
    target = _shaded(crop, rim, inner, 1.3)
    ones = np.ones(inner.shape, np.float32)
    out = match_rim_light(crop, target, ones, inner, rim, ones, 0.02 * crop.shape[0])
    assert np.abs(out.astype(int) - crop).max() <= 1


def test_a_rim_that_is_not_skin_is_not_matched(scene):
    """Where the target's rim is hair or shade (skin weight 0) the swap keeps main's mask there; no match."""
    crop, inner, rim, band = scene
    target = _shaded(crop, rim, inner, 0.65)
    zeros, ones = np.zeros(inner.shape, np.float32), np.ones(inner.shape, np.float32)
    assert match_rim_light(crop, target, zeros, inner, rim, ones, 0.02 * crop.shape[0]) is crop
