"""A source's shadow at the base of the nose does not print on a target lit there (local_light.py).

The eval's targets that break most swaps (a raised, top-lit head, a wide smile) break first at the
nose base: the source's dark nostrils and the shade under its tip land on the target's lit skin as
a dark blob. Made here on the astronaut's aligned crop: a result that carries such a shadow (a
soft blob under the nose tip, 25 L darker than her own skin there), with her crop as the target."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rswap.compose.local_light import BELOW_LIP, NOSE_BASE, shade_below_occluders, target_light_at
from rswap.face.align import align_crop, get_template, transform_points
from rswap.face.landmarks import LIPS_OUTER


def _lightness(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[..., 0]


def _with_lightness(image: np.ndarray, change: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    lab[..., 0] += change
    return np.clip(np.rint(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def crop_and_points(astronaut, astronaut_face):
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    return crop, transform_points(astronaut_face.landmarks[:468], M)


@pytest.fixture(scope="module")
def shadow(crop_and_points):
    """(H, W) float: a soft blob of -35 L over the nostrils and the skin under the tip."""
    crop, pts = crop_and_points
    height = float(np.linalg.norm(pts[1] - pts[0]))  # nose tip to the upper lip's top
    width = float(np.linalg.norm(pts[98] - pts[327]))
    blob = np.zeros(crop.shape[:2], np.float32)
    centre = pts[2] - np.float32([0, 0.2 * height])
    cv2.ellipse(blob, tuple(int(v) for v in np.round(centre)), (int(0.5 * width), int(0.3 * height)), 0.0, 0.0, 360.0, 1.0, -1)
    return -35.0 * cv2.GaussianBlur(blob, (0, 0), 0.1 * height)


def test_a_shadow_under_the_nose_takes_the_targets_light(crop_and_points, shadow):
    crop, pts = crop_and_points
    result = _with_lightness(crop, shadow)
    hull = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(hull, [np.round(cv2.convexHull(pts[NOSE_BASE])[:, 0]).astype(np.int32)], 1)
    core = (shadow < -20) & (hull > 0)
    assert core.sum() > 30
    before = _lightness(crop)[core].mean() - _lightness(result)[core].mean()
    assert before > 20  # the made shadow is there
    lifted = target_light_at(result, crop, pts, NOSE_BASE)
    after = _lightness(crop)[core].mean() - _lightness(lifted)[core].mean()
    # The light is taken at a nostril's scale (SIGMA) beyond the source's slack, so a blob this small
    # keeps part of its core (the source's detail); measured: 30.9 -> 19.8 L (SLACK 6).
    assert after < 0.7 * before


def test_only_the_nose_base_and_only_its_shadows_change(crop_and_points):
    crop, pts = crop_and_points
    h, w = crop.shape[:2]
    darker = _with_lightness(crop, np.full(crop.shape[:2], -15.0, np.float32))
    moved = target_light_at(darker, crop, pts, NOSE_BASE)
    changed = np.abs(moved.astype(int) - darker).max(2) > 2
    ys, xs = np.nonzero(changed)
    assert changed.any()
    assert xs.min() > pts[NOSE_BASE, 0].min() - 0.1 * w and xs.max() < pts[NOSE_BASE, 0].max() + 0.1 * w
    assert ys.min() > pts[NOSE_BASE, 1].min() - 0.1 * h and ys.max() < pts[NOSE_BASE, 1].max() + 0.1 * h
    # A result lighter than the target there (a source's own lit nose) stays as it is.
    lighter = _with_lightness(crop, np.full(crop.shape[:2], 10.0, np.float32))
    assert np.abs(target_light_at(lighter, crop, pts, NOSE_BASE).astype(int) - lighter).max() <= 1


def test_a_pouting_lips_shadow_below_it_takes_the_targets_light_and_the_lips_stay(crop_and_points):
    """A source whose lower lip juts out (trump in the eval) carries the lip's shadow on the crease
    below it; warped onto a target whose chin is lit there it printed as a dark band under the mouth
    (the structure term's flags on 18 of trump's 22 pairs lay there)."""
    crop, pts = crop_and_points
    width = float(np.linalg.norm(pts[61] - pts[291]))  # the mouth's corners
    band = np.zeros(crop.shape[:2], np.float32)
    centre = (pts[17] + pts[18]) / 2 + np.float32([0, 0.06 * width])
    cv2.ellipse(band, tuple(int(v) for v in np.round(centre)), (int(0.35 * width), int(0.07 * width)), 0.0, 0.0, 360.0, 1.0, -1)
    band = -30.0 * cv2.GaussianBlur(band, (0, 0), 0.03 * width)
    result = _with_lightness(crop, band)
    core = band < -20
    assert core.sum() > 30
    before = _lightness(crop)[core].mean() - _lightness(result)[core].mean()
    lifted = target_light_at(result, crop, pts, BELOW_LIP, spare=LIPS_OUTER)
    after = _lightness(crop)[core].mean() - _lightness(lifted)[core].mean()
    # As at the nose, light at a nostril's scale beyond the slack: measured 26.0 -> 17.6 L.
    assert after < 0.75 * before
    # The lips (above the crease) are the source's: a darker lip is not lifted.
    lips = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(pts[LIPS_OUTER]).astype(np.int32)], 1)
    darker = _with_lightness(crop, np.where(lips > 0, -15.0, 0.0).astype(np.float32))
    kept = target_light_at(darker, crop, pts, BELOW_LIP, spare=LIPS_OUTER)
    assert np.abs(_lightness(kept)[lips > 0] - _lightness(darker)[lips > 0]).max() < 0.5


def test_the_shade_beside_a_lock_of_hair_dims_the_skin_and_keeps_its_hue(crop_and_points):
    """The cheek beside a lock of the target's side hair takes the target's shade there
    (`shade_below_occluders`). Taken off R, G and B alike (the same grey levels each), a deep
    shade on pale skin came out saturated orange-brown (the outer eye corner under
    simswap_specific1's lock, on every source); a shade dims a colour and keeps its hue and
    saturation. The made data: a pale skin crop with a lock down one side, its target the same
    with the skin beside the lock at 55% of the light."""
    crop, pts = crop_and_points
    h, w = crop.shape[:2]
    skin = np.array([225, 175, 150], np.uint8)
    result = np.broadcast_to(skin, crop.shape).copy()
    cols = np.arange(w)[None, :]
    lock = np.broadcast_to((cols < 40), (h, w))
    beside = np.broadcast_to((cols >= 40) & (cols < 70), (h, w))
    target = result.copy()
    target[lock] = (50, 40, 35)
    target[beside] = np.rint(skin * 0.55).astype(np.uint8)
    found = ((slice(0, h), slice(0, 40)), np.ones((h, 40), np.float32))
    weight = np.broadcast_to((cols >= 40).astype(np.float32), (h, w)).copy()  # the skin; the lock is not
    out = shade_below_occluders(result, target, weight, [(found, False)], pts)
    near = np.broadcast_to((cols >= 44) & (cols < 56), (h, w))
    rgb = out[near].astype(np.float32)
    luma = rgb @ np.float32([0.299, 0.587, 0.114])
    saturation = (rgb.max(1) - rgb.min(1)) / np.maximum(rgb.max(1), 1.0)
    own = (float(skin.max()) - float(skin.min())) / float(skin.max())
    # Measured: the skin there dims from luma 188 to 144 (the target's 103, less the blur's and
    # the slack's share); its saturation stays 0.33, where the same grey levels off each channel
    # made it 0.42.
    assert luma.mean() < 188 - 30
    assert abs(float(saturation.mean()) - own) < 0.03, (float(saturation.mean()), own)
