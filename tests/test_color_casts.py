"""A tinted source comes out in the target's colour, its features in their own
(issue 10, colour without casts): the light's colour is taken out of every pixel once per source
(`neutral_light`), and per frame a dark pixel takes only its share of the skin's colour change.

The astronaut has light brows, so the made data give her dark ones (darkened in linear light, as
a dark brow is); the target is that face, the source the same face mirrored and lit: green or
magenta as a tinted video frame. The right answer is the target's own
brows; the old per-frame shift turned a green-lit source's dark brows purple (lcw in the eval)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rswap.compose.color import match_face_colour
from rswap.compose.source_light import neutral_light, skin_weight
from rswap.face.align import align_crop, get_template, transform_points
from rswap.face.landmarks import LEFT_BROW, RIGHT_BROW
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.swap.classical import SHADING_SIGMA, ClassicalSwapper, colour_spread, raise_spread


def _lit(img: np.ndarray, light) -> np.ndarray:
    """`img` under a light of colour and strength `light` (linear RGB gains): light multiplies."""
    lin = (img.astype(np.float32) / 255.0) ** 2.2
    return np.clip(np.rint(255.0 * (lin * np.float32(light)) ** (1 / 2.2)), 0, 255).astype(np.uint8)


def _brows(hw, points) -> np.ndarray:
    mask = np.zeros(hw, np.uint8)
    for idx in (LEFT_BROW, RIGHT_BROW):
        cv2.fillPoly(mask, [np.round(cv2.convexHull(np.asarray(points, np.float32)[idx])[:, 0]).astype(np.int32)], 1)
    return mask


def _lab(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _rgb(lab: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def dark_browed(astronaut):
    """The astronaut with dark brown brows, her face and an analyser for the made sources."""
    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        face = analyser.analyse(astronaut)[0]
        brows = cv2.dilate(_brows(astronaut.shape[:2], face.landmarks[:, :2]), np.ones((5, 5), np.uint8)) > 0
        lin = (astronaut.astype(np.float32) / 255.0) ** 2.2
        lin[brows] *= np.float32((0.10, 0.08, 0.07))
        img = np.clip(np.rint(255.0 * lin ** (1 / 2.2)), 0, 255).astype(np.uint8)
        yield img, analyser.analyse(img)[0], analyser


def _swap_lit_source(dark_browed, light):
    """The dark-browed astronaut swapped onto herself from a mirrored source under `light`:
    (target crop, result crop, target points)."""
    img, face, analyser = dark_browed
    src = np.ascontiguousarray(_lit(img, light)[:, ::-1])
    sw = ClassicalSwapper()
    source = sw.encode_source([src], analyser.analyse(src)[:1])
    crop, M = align_crop(img, face.kps5, sw.template)
    points = transform_points(face.landmarks[:468], M)
    return crop, sw.swap(crop, points, source).crop, points


@pytest.mark.parametrize("light", [(0.25, 0.45, 0.25), (0.5, 0.25, 0.5)], ids=["green", "magenta"])
def test_a_tinted_sources_dark_brows_keep_their_colour_not_a_hue_neither_face_has(dark_browed, light):
    crop, out, points = _swap_lit_source(dark_browed, light)
    brows = _brows(crop.shape[:2], points) > 0
    got, want = _lab(out)[brows].mean(0), _lab(crop)[brows].mean(0)
    # Measured: the skin's shift pushed onto the brows put them 15-17 units of a, b off (purple under
    # green light, green under magenta); taken out as a light's colour, 2.5 and 2.9.
    assert np.linalg.norm(got[1:] - want[1:]) < 6.0
    skin = skin_weight(crop.shape[:2], points) > 0
    assert np.linalg.norm(_lab(out)[skin].mean(0)[1:] - _lab(crop)[skin].mean(0)[1:]) < 3.0  # the skin is the target's


def test_the_lights_colour_leaves_every_pixel_so_a_grey_card_comes_back_grey(astronaut, astronaut_face):
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    points = transform_points(astronaut_face.landmarks[:468], M)
    crop = crop.copy()
    crop[8:40, 8:40] = 120  # a grey card beside the face
    green = _lit(crop, (0.3, 0.5, 0.3))
    card = lambda img: _lab(img)[12:36, 12:36].mean((0, 1))  # noqa: E731
    assert np.hypot(*card(green)[1:]) > 8  # the made light tints it
    out = neutral_light(green, points)
    assert np.hypot(*card(out)[1:]) < 3
    skin = skin_weight(crop.shape[:2], points) > 0
    hue = np.degrees(np.arctan2(*np.median(_lab(out)[skin], 0)[[2, 1]]))
    assert 35 < hue < 80  # the skin is skin-coloured again


def test_a_source_lit_blue_along_the_skin_line_comes_back_no_bluer_than_grey(astronaut, astronaut_face):
    """A cool light can push a skin's colour along the skin line, past grey to blue (zxy in the eval:
    a, b = -7.7, -14): no skin has that colour, so it is the light's, and it goes like one that
    tints across the line. Only back to grey: a washed-out skin is never boosted (SKIN_CHROMA)."""
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    points = transform_points(astronaut_face.landmarks[:468], M)
    skin = skin_weight(crop.shape[:2], points) > 0
    along = np.array([np.cos(np.radians(55.0)), np.sin(np.radians(55.0))])  # the skin line (a, b)
    blue = _lit(crop, (0.1, 0.3, 0.5))
    # Measured: the made light puts the skin's median 9.9 units the wrong way along the line (about 3
    # across it, under SKIN_SPREAD); the cross-line gains alone left it at -9.9, now 0.0.
    assert np.median(_lab(blue)[skin], 0)[1:] @ along < -8
    assert np.median(_lab(neutral_light(blue, points))[skin], 0)[1:] @ along > -1


@pytest.mark.parametrize("turn, kept", [(0.004, False), (-0.004, True)],
                         ids=["greyer shade: a cool fill", "richer shade: the skin's"])
def test_a_sources_shade_greyer_than_its_lit_skin_is_a_cool_fill_and_goes(astronaut, astronaut_face, turn, kept):
    """A frame lit blue (zxy in the eval) has shade less saturated along the skin line than its lit
    skin, per unit of lightness (chromaticity): a cool fill's colour, which per frame came out as
    grey-violet eye sockets, nose sides and chin on warm targets. It is taken out as a light's
    colour; a shade more saturated than the lit skin (a dark skin's, most sources') is the skin's
    own and stays. The made sources keep the astronaut's lightness and set the chromaticity along
    the line by it."""
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    points = transform_points(astronaut_face.landmarks[:468], M)
    skin = skin_weight(crop.shape[:2], points) > 0
    along = np.array([np.cos(np.radians(55.0)), np.sin(np.radians(55.0))], np.float32)  # the skin line (a, b)
    made = _lab(crop)
    light = made[..., 0]
    made[..., 1:] = ((0.25 + turn * (light - np.median(light[skin]))) * (light + 16.0))[..., None] * along
    source = _rgb(made)

    def slope(img):  # of the skin's chromaticity along the line against its lightness
        lab = _lab(img)[skin]
        c, x = (lab[:, 1:] @ along) / (lab[:, 0] + 16.0), lab[:, 0] - np.median(lab[:, 0])
        return float(x @ (c - c.mean()) / (x @ x))

    before, after = slope(source), slope(neutral_light(source, points))
    # Measured: greyer shade 0.0034 made, 0.0034 before this was taken out, 0.0010 now; the richer
    # shade -0.0037 made and after.
    if kept:
        assert abs(after - before) < 3e-4
    else:
        assert before > 0.003 and after < 0.0015


def test_a_green_fill_in_the_sources_shade_leaves_no_green_patches_on_the_swapped_skin(astronaut, astronaut_face):
    """A source lit by a white key light in patches and a green fill in the shade between them (a
    frame with green bounce light, hzc in the eval): once the light's colour is out, the shaded
    skin of the swap must lie on the target's skin line as its lit skin does, not olive."""
    side = astronaut_face.bbox[2] - astronaut_face.bbox[0]
    noise = cv2.GaussianBlur(np.random.default_rng(0).standard_normal(astronaut.shape[:2]).astype(np.float32), (0, 0), 0.04 * side)
    key = cv2.GaussianBlur((noise > np.median(noise)).astype(np.float32), (0, 0), 0.01 * side)[..., None]
    lin = (astronaut.astype(np.float32) / 255.0) ** 2.2
    src = np.clip(np.rint(255.0 * (lin * (key + np.float32((0.12, 0.22, 0.12)))) ** (1 / 2.2)), 0, 255).astype(np.uint8)
    sw = ClassicalSwapper()
    source = sw.encode_source([src], [astronaut_face])  # the same geometry: the made light hides the face from the detector
    crop, M = align_crop(astronaut, astronaut_face.kps5, sw.template)
    points = transform_points(astronaut_face.landmarks[:468], M)
    out = sw.swap(crop, points, source).crop
    shade = cv2.warpAffine(key[..., 0], M, crop.shape[1::-1]) < 0.5
    skin = skin_weight(crop.shape[:2], points) > 0
    across = np.array([-np.sin(np.radians(55.0)), np.cos(np.radians(55.0))])  # the skin line's normal (a, b)

    def shade_minus_lit(img):
        c = _lab(img)[..., 1:] @ across
        return c[skin & shade].mean() - c[skin & ~shade].mean()

    # Measured: the target's own skin -0.03; the swap's shade 1.64 units greener than its lit skin
    # before the fill's colour was taken out, -0.08 after.
    assert abs(shade_minus_lit(crop)) < 0.3
    assert abs(shade_minus_lit(out)) < 0.6


def test_a_dim_compressed_sources_colour_blocks_are_not_raised_into_blotches(astronaut, astronaut_face):
    """A dim, washed-out video frame (ljm, ljm3 in the eval) has little colour detail of its own,
    and what it has is mostly its codec's blocks; a target's skin has several times more. Matching
    the spreads raised the blocks 3-5x: pink and green blotches. The same frame with its blocks
    flipped isolates how much of them comes through (the face's own colour cancels)."""
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    points = transform_points(astronaut_face.landmarks[:468], M)
    skin = (skin_weight(crop.shape[:2], points) > 0).astype(np.float32)
    rng = np.random.default_rng(0)
    dim = _lab(cv2.GaussianBlur(crop, (0, 0), 2.0))
    dim[..., 0] *= 0.6
    dim[..., 1:] *= 0.3
    blocks = cv2.resize(rng.standard_normal((32, 32, 2)).astype(np.float32), (256, 256), interpolation=cv2.INTER_NEAREST)
    sources = [_rgb(dim + np.dstack([np.zeros_like(blocks[..., 0]), s * blocks])) for s in (1.0, -1.0)]
    vivid = _lab(crop)
    vivid[..., 1:] += 8.0 * cv2.GaussianBlur(rng.standard_normal((256, 256, 2)).astype(np.float32), (0, 0), 1.5)
    target = _rgb(vivid)
    # A flat source's spread settings (classical.colour_spread / raise_spread at its grain).
    outs = [match_face_colour(s, target, skin, skin, skin, SHADING_SIGMA * 256, spread=colour_spread(0.6),
                              raise_spread=raise_spread(0.6)) for s in sources]
    made, came = _lab(sources[0]) - _lab(sources[1]), _lab(outs[0]) - _lab(outs[1])
    inside = skin > 0
    for c in (1, 2):
        gain = (came[..., c][inside] @ made[..., c][inside]) / (made[..., c][inside] @ made[..., c][inside])
        # Measured: the blocks came through 1.80x in a and 2.06x in b; capped, 1.40 and 1.46.
        assert gain < 1.55
