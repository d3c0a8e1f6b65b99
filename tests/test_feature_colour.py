"""A sharp source's eyes on a high-contrast target stay near the source's own depth, not the
black holes the full contrast raise made (issue 10, colour without casts; RESULTS.md, issue 10, twelfth session).

The per-frame colour match gives the source's skin a share of the target skin's spread (its
standard deviation per CIELAB channel over the source's). A target whose skin mask holds hair
strands or hard shade (2.jpg in the eval: L spread 17 against a smooth source's 9) raised the
source's whole face by that gain, eyes 40 L below the skin included: black eye holes, pale
streaks on the folds beside the nose (hair_trump onto 2.jpg). A sharp photo's skin has its own
detail and takes half the raise to a spread above its own (`classical.raise_spread`); a flat one
takes it all (tests/test_source_detail.py). The made data: the astronaut with dark strands over her cheeks as
the target, the astronaut mirrored as the source.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rswap.compose.color import LIFTED, WHITER
from rswap.compose.masks import region_polygon
from rswap.face.align import align_crop, transform_points
from rswap.face.landmarks import FACE_OVAL, LIPS_OUTER
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.swap.classical import ClassicalSwapper


def _lab(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _fill(hw, polygon) -> np.ndarray:
    mask = np.zeros(hw, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(polygon, np.float32)).astype(np.int32)], 1)
    return mask > 0


def _eyes(hw, points) -> np.ndarray:
    return _fill(hw, region_polygon(points, "left_eye")) | _fill(hw, region_polygon(points, "right_eye"))


def _in_linear(img: np.ndarray, where: np.ndarray, gains) -> np.ndarray:
    """`img` with the pixels `where` multiplied by `gains` in linear light (a dark pigment)."""
    lin = (img.astype(np.float32) / 255.0) ** 2.2
    lin[where] *= np.float32(gains)
    return np.clip(np.rint(255.0 * lin ** (1 / 2.2)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def analyser():
    with MediapipeFaceAnalyser(max_faces=1) as a:
        yield a


def _swap(source_img, target_img, analyser):
    """(target crop, result crop, the target's mesh points in the crop)."""
    sw = ClassicalSwapper()
    sface = analyser.analyse(source_img)[0]
    source = sw.encode_source([source_img], [sface])
    face = analyser.analyse(target_img)[0]
    crop, M = align_crop(target_img, face.kps5, sw.template)
    points = transform_points(face.landmarks[:468], M)
    return crop, sw.swap(crop, points, source).crop, points


def _source_texture(image, analyser):
    """The source as the swapper keeps it: its texture and mesh points (what the warp carries)."""
    source = ClassicalSwapper().encode_source([image], analyser.analyse(image)[:1])
    return source.texture, source.landmarks


@pytest.fixture(scope="module")
def hairy_cheeked(astronaut, astronaut_face):
    """The astronaut with dark hair strands over her cheeks: a skin of high contrast (the target)."""
    img = astronaut.copy()
    pts = np.asarray(astronaut_face.landmarks[:, :2], np.float32)
    face = _fill(img.shape[:2], cv2.convexHull(pts[FACE_OVAL])[:, 0])
    strands = np.zeros(img.shape[:2], np.uint8)
    x0, x1 = pts[FACE_OVAL, 0].min(), pts[FACE_OVAL, 0].max()
    y0, y1 = pts[FACE_OVAL, 1].min(), pts[FACE_OVAL, 1].max()
    for k in range(7):  # a few strands down each side, from the temples to the jaw
        for side in (0, 1):
            x = x0 + (0.04 + 0.03 * k) * (x1 - x0) if side == 0 else x1 - (0.04 + 0.03 * k) * (x1 - x0)
            cv2.line(strands, (int(x), int(y0 + 0.3 * (y1 - y0))), (int(x + (6 if side == 0 else -6)), int(y1)), 1, 2)
    return _in_linear(img, (strands > 0) & face, (0.05, 0.04, 0.035))


def _eye_depth(image: np.ndarray, points: np.ndarray) -> float:
    """How far the eyes' median lightness lies below the face's skin (the oval without eyes,
    brows and lips, grown a little): CIELAB L units."""
    hw = image.shape[:2]
    points = np.asarray(points, np.float32)
    features = _eyes(hw, points) | _fill(hw, cv2.convexHull(points[LIPS_OUTER])[:, 0])
    for name in ("left_brow", "right_brow"):
        features |= _fill(hw, cv2.convexHull(region_polygon(points, name).astype(np.float32))[:, 0])
    features = cv2.dilate(features.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    skin = _fill(hw, cv2.convexHull(points[FACE_OVAL])[:, 0]) & ~features
    lightness = _lab(image)[..., 0]
    return float(np.median(lightness[skin]) - np.median(lightness[_eyes(hw, points)]))


def test_a_sharp_sources_eyes_on_a_high_contrast_target_stay_near_their_own_depth(astronaut, hairy_cheeked, analyser):
    sharp = np.ascontiguousarray(astronaut[:, ::-1])
    crop, result, points = _swap(sharp, hairy_cheeked, analyser)
    texture, source_points = _source_texture(sharp, analyser)
    got, own = _eye_depth(result, points), _eye_depth(texture, source_points)
    # Raised to the target's spread (its strands against the source's plain skin), the eyes sank
    # 41 L below the skin (the source's own: 24, the target's: 13); with half the raise, 30;
    # with none, 22.
    assert got < own + 10.0, (got, own)


def test_a_dim_sources_eye_whites_do_not_glow_in_a_targets_shaded_eyes(astronaut, analyser, astronaut_face):
    """A dim photo's whites, lifted with its skin to a light target's, glowed as pale plates where
    the target's own eyes lie in shade (ljm3 onto 015309, dnl onto Iron man in the eval): the eyes'
    range is scaled down from their dark end until their brightest pixels are at most WHITER above
    the target's, so the whites keep their shading. The made data: the astronaut with her eyes in
    shade (a third of the light) as the target, the astronaut mirrored at a fifth of the exposure
    as the source."""
    shade = _eyes(astronaut.shape[:2], astronaut_face.landmarks[:468, :2]).astype(np.uint8)
    shaded = _in_linear(astronaut, cv2.dilate(shade, np.ones((9, 9), np.uint8)) > 0, 0.3)
    dim = _in_linear(np.ascontiguousarray(astronaut[:, ::-1]), np.ones(astronaut.shape[:2], bool), 0.2)
    crop, result, points = _swap(dim, shaded, analyser)
    eyes = _eyes(crop.shape[:2], points)
    lightness = lambda img: np.percentile(_lab(img)[..., 0][eyes], (10, 98))  # noqa: E731
    (_, want), (dark, got) = lightness(crop), lightness(result)
    # Measured: the target's whites at L 50.0; lifted with the skin, 86.7; scaled, 58.9. The dark
    # end stays where the skin's change put it (27.4).
    assert got < want + WHITER + 1.0, (got, want)
    assert got - dark > 20.0  # a range, not a flattened plate


def test_a_bright_sources_irises_on_a_darker_face_keep_their_detail_not_black_holes(astronaut, analyser):
    """A bright photo's eyes, lowered with its skin onto a darker target, sank below black (trump's
    half-lidded eyes onto simswap_specific2 in the eval: dark holes). Once its dark end (10th
    percentile) has sunk to black, the eye's range is scaled up from its bright end until that end
    is no darker than both faces' own.
    The made data: the astronaut mirrored at three times the exposure (linear light) as the source,
    the astronaut as the target."""
    bright = _in_linear(np.ascontiguousarray(astronaut[:, ::-1]), np.ones(astronaut.shape[:2], bool), 3.0)
    crop, result, points = _swap(bright, astronaut, analyser)
    eyes = _eyes(crop.shape[:2], points)
    lightness = lambda img: np.percentile(_lab(img)[..., 0][eyes], 10)  # noqa: E731
    # Measured: the target's dark end at L 19.7; lowered with the skin, 0.0 (a tenth of the eye
    # black); held, 23.9.
    assert lightness(result) > lightness(crop) - 3.0


def test_a_dim_sources_irises_lifted_with_its_skin_onto_a_light_face_stay_dark(astronaut, analyser, astronaut_face):
    """A dim or dark-skinned photo's skin is lifted to a light target's, and its eyes went up with
    it: their dark end (10th percentile: iris, pupil, lash line) rose 30-40 L above both faces' own,
    and they came out as pale blanks (gy onto 015384 and 015309, ljm onto 000002 in the eval). An
    eye whose dark end lies more than LIFTED above both faces' dark ends is scaled down from its
    bright end until it lies there: the whites stay, the iris is dark again. The made data: the
    astronaut mirrored at a fifth of the exposure (linear light) as the source; as the target, the
    astronaut with her face's skin at twice the light and her eyes as they are."""
    pts = np.asarray(astronaut_face.landmarks[:468, :2], np.float32)
    hw = astronaut.shape[:2]
    around_eyes = cv2.dilate(_eyes(hw, pts).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    light = _in_linear(astronaut, _fill(hw, cv2.convexHull(pts[FACE_OVAL])[:, 0]) & ~around_eyes, 2.0)
    dim = _in_linear(np.ascontiguousarray(astronaut[:, ::-1]), np.ones(hw, bool), 0.2)
    crop, result, points = _swap(dim, light, analyser)
    eyes = _eyes(crop.shape[:2], points)
    lightness = lambda img, q: np.percentile(_lab(img)[..., 0][eyes], q)  # noqa: E731
    texture, source_points = _source_texture(dim, analyser)
    own = np.percentile(_lab(texture)[..., 0][_eyes(texture.shape[:2], source_points)], 10)
    # Measured: the target's dark end at L 18.5, the source's 6.1; lifted with the skin, 48.9;
    # held, 36.5 (the swapper judges the eye's core, this test its whole outline: 7 to spare).
    # The whites: 91.3 either way (the target's 83.4).
    assert lightness(result, 10) < max(lightness(crop, 10), own) + LIFTED + 7.0
    assert lightness(result, 98) > lightness(crop, 98) - 3.0


@pytest.mark.parametrize("pigment", [(0.55, 0.75, 1.6), (1.25, 0.75, 1.35)], ids=["light blue iris", "lilac eye shadow"])
def test_a_targets_own_eye_colour_does_not_tint_the_swapped_eyes(astronaut, analyser, astronaut_face, pigment):
    """The eyes take the colour of the target's own eyes over their brighter half (its whites),
    but where little white shows that half is the eye's own colour: a light blue iris (015316 in
    the eval), lids under lilac shadow (simswap_specific1); every source's eyes came out blue or
    lilac on them. The target's eyes' colour is matched only as far as it reads as its photo's
    cast (near its skin's hue axis, `kernels.cast_share`); for the rest they take a share of the
    target skin's hue (the target eyes' or the source eyes' own share, the larger).
    The made data: the astronaut with her eyes and lids tinted in linear light (blue or lilac) as
    the target, the astronaut mirrored as the source; against the same swap onto her untinted."""
    pts = np.asarray(astronaut_face.landmarks[:468, :2], np.float32)
    around_eyes = cv2.dilate(_eyes(astronaut.shape[:2], pts).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    tinted = _in_linear(astronaut, around_eyes, pigment)
    source = np.ascontiguousarray(astronaut[:, ::-1])
    (plain_crop, plain, points), (tinted_crop, result, _) = (_swap(source, t, analyser) for t in (astronaut, tinted))
    eyes = _eyes(plain_crop.shape[:2], points)
    chroma = lambda img: _lab(img)[..., 1:][eyes].mean(0)  # noqa: E731
    tint = chroma(tinted_crop) - chroma(plain_crop)  # what the pigment did to the target's eyes
    took = float((chroma(result) - chroma(plain)) @ tint / (tint @ tint))  # the share of it the swap took
    # Measured: blue, the target's eyes moved (-0.7, -21.6) in a, b and the swapped eyes took 1.40 of
    # that with the bright half's whole move (its shift is larger than the eyes' mean's), -0.07 now;
    # lilac, (15.6, -9.6): 1.38 before, -0.02 now.
    assert abs(took) < 0.25, (tint, took)
