"""The classical swapper's source texture holds only the source's own face, and its swap keeps
what belongs to the target (an open mouth, a hand in front, the eyes' own hue).

All on the astronaut and edits of it: a hair band drawn over her forehead and eye, half her
face painted over, a strongly tinted copy, an opened mouth."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.hard_cases import HAIR_RGB, hair_band
from rswap.compose.color import to_lab, transfer_color
from rswap.compose.masks import hard_polygon, region_mask
from rswap.compose.source_texture import clean_texture
from rswap.compose.warp import mesh_warp
from rswap.face.align import align_crop, get_template, transform_points
from rswap.face.landmarks import (FACE_OVAL, LEFT_EYE_LOOP, LEFT_EYE_SOCKET_LOWER, RIGHT_EYE_LOOP, RIGHT_EYE_SOCKET_LOWER,
                                  mesh_triangles)
from rswap.face.symmetry import mirror_index
from rswap.swap import classical
from rswap.swap.classical import ClassicalSwapper, mouth_opening
from tests._drawn_colour import share_in_swap
from tests.test_eval import open_mouth


@pytest.fixture(scope="module")
def other_person(astronaut):
    """The target: the astronaut widened and darkened (as in test_swap)."""
    img = cv2.resize(astronaut, (600, 460))[:, 44:556]
    return np.ascontiguousarray(cv2.convertScaleAbs(img, alpha=0.8, beta=-5))


@pytest.fixture(scope="module")
def aligned(astronaut, astronaut_face):
    """Her crop on the ffhq256 template, its 468 mesh points, and their depth on the crop's scale."""
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    z = astronaut_face.z[:468] * np.sqrt(abs(np.linalg.det(M[:, :2])))
    return crop, transform_points(astronaut_face.landmarks[:468], M), z


def _crop(sw, image, face):
    crop, M = align_crop(image, face.kps5, sw.template)
    return crop, transform_points(face.landmarks, M)


def test_mirror_pairs_reflect_the_astronauts_face_across_its_midline(astronaut_face):
    m = mirror_index()
    assert np.array_equal(m[m], np.arange(468))  # an involution
    assert m[33] == 263 and m[133] == 362 and m[61] == 291 and m[1] == 1 and m[152] == 152
    assert list(m[RIGHT_EYE_SOCKET_LOWER]) == LEFT_EYE_SOCKET_LOWER  # typed from mediapipe's annotations
    p = astronaut_face.landmarks[:468]
    mid = p[m == np.arange(468)]
    c = mid.mean(0)
    d = np.linalg.svd(mid - c)[2][0]
    n = np.array([-d[1], d[0]])
    reflected = p - 2 * ((p - c) @ n)[:, None] * n
    eyes = np.linalg.norm(p[33] - p[263])
    assert np.median(np.linalg.norm(reflected[m] - p, axis=1)) < 0.03 * eyes


def test_hair_drawn_over_the_source_appears_nowhere_in_the_swapped_face(astronaut, astronaut_face, other_person, analyse, monkeypatch):
    hairy = hair_band(astronaut, astronaut_face, side=0)

    def hair_share(source_image, clean: bool = True) -> float:
        return share_in_swap(source_image, other_person, analyse, HAIR_RGB, 12, clean_source=clean)

    own = hair_share(astronaut)  # her own dark pixels (lash lines, nostrils, lip corners)
    assert hair_share(hairy) < own + 0.002
    # The test can fail: the raw photo texture pastes the band (with the shadow limit off, which
    # would otherwise lift the pasted band to a lighter, still visible, smear).
    monkeypatch.setattr(classical, "limit_shadows", lambda warped, *args, **kwargs: warped)
    assert hair_share(hairy, clean=False) > own + 0.02


def test_a_source_half_covered_is_filled_from_its_other_half(aligned):
    crop, pts, z = aligned
    covered = crop.copy()
    nose_x = int(pts[1, 0])
    left_cheek = region_mask(crop.shape[:2], pts, feather=0, erode=0) > 0
    left_cheek[:, nose_x - 12:] = False  # image-left half of the face, away from the nose
    left_cheek[: int(pts[168, 1])] = False  # below the brows: the cheek and jaw
    covered[left_cheek] = (40, 200, 60)  # a green card held over half the face
    cleaned = clean_texture(covered, pts, z)
    assert cleaned.trust[left_cheek].mean() < 0.1
    green = np.abs(cleaned.texture.astype(int) - (40, 200, 60)).sum(2) < 60
    assert not green[left_cheek].any()
    # What fills it is the other half, mirrored through the mesh: compare with the untouched
    # photo's own mirror image there (its light moved to this side, so compare coarsely).
    mirrored, _ = mesh_warp(crop, pts[mirror_index()], pts, crop.shape[:2], mesh_triangles())
    inner = cv2.erode(left_cheek.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    blur = lambda im: to_lab(cv2.GaussianBlur(im, (0, 0), 2))  # noqa: E731
    to_mirror = np.linalg.norm(blur(cleaned.texture) - blur(mirrored), axis=2)[inner]
    to_original = np.linalg.norm(blur(cleaned.texture) - blur(crop), axis=2)[inner]
    assert np.median(to_mirror) < 12 and np.median(to_original) < 15
    # Fine detail comes from the mirror (correlation of the high-pass), not a flat fill.
    hp = lambda im: im - cv2.GaussianBlur(im, (0, 0), 3)  # noqa: E731
    a, b = hp(to_lab(cleaned.texture)[..., 0])[inner], hp(to_lab(mirrored)[..., 0])[inner]
    assert np.corrcoef(a, b)[0, 1] > 0.6


def test_a_mirror_that_is_not_skin_does_not_fill_the_skin(aligned):
    """A grey band along both jaw edges (hair the cues leave in, as along hzxc's jaw), one of them
    covered: the covered edge is filled with skin, not with the band across the mesh's mirror
    (mirrored, such a band drew a dark streak down the other cheek)."""
    crop, pts, z = aligned
    oval = region_mask(crop.shape[:2], pts, feather=0, erode=0) > 0
    rows, cols = np.arange(crop.shape[0])[:, None], np.arange(crop.shape[1])[None, :]
    band = oval & ~(cv2.erode(oval.astype(np.uint8), np.ones((13, 13), np.uint8)) > 0)  # 6 px inside the outline
    band &= (rows > pts[1, 1]) & (rows < pts[17, 1])  # beside the mouth: below the nose tip, above the lower lip
    near, far = band & (cols < pts[61, 0]), band & (cols > pts[291, 0])
    grey = (96, 92, 90)
    painted = crop.copy()
    painted[near | far] = grey
    cleaned = clean_texture(painted, pts, z, covered=far.astype(np.float32))
    assert cleaned.trust[near].mean() > 0.5  # the cues take the symmetric band for the face's own
    greyish = np.linalg.norm(to_lab(cleaned.texture) - to_lab(np.array([[grey]], np.uint8))[0, 0], axis=2) < 12
    assert greyish[far].mean() < 0.1
    # ... but like the skin just inside it
    beside = (cv2.dilate(far.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0) & oval & ~band
    lab = to_lab(cleaned.texture)
    assert np.median(np.linalg.norm(lab[far] - np.median(lab[beside], axis=0), axis=1)) < 10


def test_the_shade_under_a_covered_eye_comes_from_the_other_eye(aligned):
    """A dark shade under both eyes (their sockets from the lower lid to the cheekbone, at 55% of
    their light), one of them covered: its fill keeps the shade, from the other eye, and does not
    take the lighter cheek's smooth fill (a pale arc under the eye)."""
    crop, pts, z = aligned
    hw = crop.shape[:2]

    def below(eye, ring):
        socket = hard_polygon(hw, pts, eye + ring, hull=True)
        return socket & ~(cv2.dilate(hard_polygon(hw, pts, eye, hull=True).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)

    right, left = below(RIGHT_EYE_LOOP, RIGHT_EYE_SOCKET_LOWER), below(LEFT_EYE_LOOP, LEFT_EYE_SOCKET_LOWER)
    shaded = crop.copy()
    shaded[right | left] = np.rint(shaded[right | left] * 0.55).astype(np.uint8)
    covered = cv2.dilate(right.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
    cleaned = clean_texture(shaded, pts, z, covered=covered)
    light = to_lab(cleaned.texture)[..., 0]
    cheek = cv2.dilate(right.astype(np.uint8), np.ones((31, 31), np.uint8)) > 0
    cheek &= ~(cv2.dilate(right.astype(np.uint8), np.ones((11, 11), np.uint8)) > 0) & (np.arange(hw[0])[:, None] > pts[RIGHT_EYE_SOCKET_LOWER, 1].max())
    # (L: the shaded sockets 41-45, the cheek 79; the fill took the cheek's light, 73, before the
    # sockets reached down to the cheekbone.)
    assert np.median(light[right]) < np.median(light[left]) + 10
    assert np.median(light[right]) < np.median(light[cheek]) - 15


def test_hair_down_the_sides_of_the_face_is_taken_out_but_a_bearded_jaw_stays(aligned):
    """Strands of her own hair's colour down both sides of her face (3 px inside the outline, 6 px
    outside), from the temples to the lips: below the nose tip, where no other cue looks, they are
    not trusted and not in the texture. With her chin the same colour (a beard) the strands along
    the jaw are its sides, and stay."""
    crop, pts, z = aligned
    oval = region_mask(crop.shape[:2], pts, feather=0, erode=0) > 0
    rows, cols = np.arange(crop.shape[0])[:, None], np.arange(crop.shape[1])[None, :]
    edge = (cv2.dilate(oval.astype(np.uint8), np.ones((13, 13), np.uint8)) > 0) & ~(cv2.erode(oval.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)
    strands = edge & ((cols < pts[33, 0]) | (cols > pts[263, 0])) & (rows > pts[[33, 263], 1].max() - 30) & (rows < pts[17, 1])
    below = strands & oval & (rows > pts[1, 1])
    top = int(pts[10, 1])  # the oval's top: her hair lies just above it
    hair = np.median(crop[top - 16:top - 6, int(pts[103, 0]):int(pts[332, 0])].reshape(-1, 3), axis=0).astype(np.uint8)
    hair_lab = to_lab(hair[None, None])[0, 0]

    def cleaned_with(painted_mask):
        painted = crop.copy()
        painted[painted_mask] = hair
        cleaned = clean_texture(painted, pts, z)
        return cleaned, np.linalg.norm(to_lab(cleaned.texture) - hair_lab, axis=2) < 12

    cleaned, hairy = cleaned_with(strands)
    assert cleaned.trust[below].mean() < 0.2
    assert hairy[below].mean() < 0.1
    chin = oval & (rows > pts[17, 1] + 4) & (cols > pts[61, 0]) & (cols < pts[291, 0])
    cleaned, hairy = cleaned_with(strands | chin)
    assert cleaned.trust[below].mean() > 0.5 and cleaned.trust[chin].mean() > 0.8  # (the rim is partly unseen: 0.62)


def test_the_source_texture_is_skin_a_little_past_its_outline(astronaut, astronaut_face):
    """What lies beside the face in the photo (here a green wall up to the mesh's outline) is not in
    the texture just past the outline, where the warp's rim triangles read: warped onto its own mesh
    with the outline pulled out 6% of the crop (a turned target's near cheek stretches them so),
    the face shows none of the wall."""
    green = (40, 200, 60)
    walled = astronaut.copy()
    oval = region_mask(astronaut.shape[:2], astronaut_face.landmarks, include=("face_oval",), feather=0, erode=0) > 0
    walled[~oval] = green
    sw = ClassicalSwapper()
    source = sw.encode_source([walled], [astronaut_face])
    hw = source.texture.shape[:2]
    inside = region_mask(hw, source.landmarks, include=("face_oval",), feather=0, erode=0) > 0
    band = (cv2.dilate(inside.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0) & ~inside
    is_green = lambda img: np.linalg.norm(to_lab(img) - to_lab(np.array([[green]], np.uint8)), axis=2) < 30  # noqa: E731
    assert is_green(source.texture)[band].mean() < 0.05
    pts = source.landmarks.copy()
    rim = FACE_OVAL
    centre = pts[rim].mean(0)
    pts[rim] = centre + (pts[rim] - centre) * (1 + 0.06 * hw[0] / np.linalg.norm(pts[rim] - centre, axis=1))[:, None]
    warped, valid = mesh_warp(source.texture, source.landmarks, pts, hw, mesh_triangles())
    assert is_green(warped)[valid > 0].mean() < 2e-4  # (the photo's wall up to the outline: 7e-4, ~20 pixels)


def test_eye_whites_stay_near_neutral_after_colour_transfer_to_a_strongly_tinted_target(astronaut, astronaut_face, analyse):
    """A teal-lit face whose eye whites stayed white (the tint is on the skin): the swapped
    eyes keep near-neutral whites, while a transfer that moves the whole face by the skin's
    statistics turns them teal."""
    eyes_img = np.zeros(astronaut.shape[:2], np.float32)
    for name in ("left_eye", "right_eye"):
        eyes_img = np.maximum(eyes_img, region_mask(astronaut.shape[:2], astronaut_face.landmarks, include=(name,), feather=2, erode=-2))
    tint = 1.0 + (np.array([0.55, 0.95, 1.35], np.float32) - 1.0) * (1.0 - eyes_img[..., None])
    target = np.clip(astronaut.astype(np.float32) * tint, 0, 255).astype(np.uint8)
    sw = ClassicalSwapper(reshape=0.0)
    crop, lm = _crop(sw, target, analyse(target))
    source = sw.encode_source([astronaut[:, ::-1].copy()], [analyse(astronaut[:, ::-1].copy())])
    out = sw.swap(crop, lm, source).crop
    eyes = region_mask(crop.shape[:2], lm, include=("left_eye", "right_eye"), feather=0, erode=1) > 0
    lab = to_lab(crop)
    whites = eyes & (lab[..., 0] > np.percentile(lab[..., 0][eyes], 60))  # the brighter part of the eyes
    chroma_of = lambda img: float(np.linalg.norm(to_lab(img)[whites][:, 1:], axis=1).mean())  # noqa: E731
    skin = region_mask(crop.shape[:2], lm, exclude=("left_eye", "right_eye", "left_brow", "right_brow", "lips"), feather=0, erode=6)
    everywhere = region_mask(crop.shape[:2], lm, feather=0) > 0
    astronaut_crop = _crop(sw, astronaut, astronaut_face)[0]
    pushed = transfer_color(astronaut_crop, crop, skin, skin, where=everywhere)  # the skin's shift and gain on everything
    assert chroma_of(pushed) > chroma_of(crop) + 8  # the cast a whole-face transfer puts on the whites (can fail)
    assert chroma_of(out) < chroma_of(crop) + 3  # near-neutral, as the target's own whites
    assert chroma_of(astronaut_crop) < 12  # (the source's whites are near-neutral too)
    # and the skin still takes the target's colour
    assert np.linalg.norm(to_lab(out)[skin > 0].mean(0) - to_lab(crop)[skin > 0].mean(0)) < 3


def test_an_open_mouth_target_keeps_its_mouth_interior_by_default(astronaut, astronaut_face, other_person, analyse):
    opened = open_mouth(other_person, analyse(other_person))
    face = analyse(opened)
    sw = ClassicalSwapper(reshape=0.0)  # no keep_mouth; no reshaping, so the target's pixels stay in place
    crop, lm = _crop(sw, opened, face)
    assert mouth_opening(lm) > 0.12
    source = sw.encode_source([astronaut[:, ::-1].copy()], [analyse(astronaut[:, ::-1].copy())])
    out = sw.swap(crop, lm, source).crop
    inner = region_mask(crop.shape[:2], lm, include=("mouth_inner",), feather=0, erode=2) > 0
    assert inner.sum() > 30
    assert np.abs(out[inner].astype(int) - crop[inner].astype(int)).mean() < 4
    # The opening measure grows with the mouth (the astronaut's own smile shows teeth: ~0.14).
    assert mouth_opening(lm) > mouth_opening(_crop(sw, other_person, analyse(other_person))[1]) + 0.1


def test_several_photos_fill_what_one_of_them_hides_from_another(astronaut, astronaut_face, analyse):
    """A band over both eyes in one photo (no mirror can help) and a clean second photo:
    the source texture takes the eyes from the photo that sees them."""
    covered = astronaut.copy()
    eyes_y = int(astronaut_face.kps5[:2, 1].mean())
    x0, x1 = int(astronaut_face.bbox[0]), int(astronaut_face.bbox[2])
    covered[eyes_y - 12: eyes_y + 12, x0:x1] = (40, 200, 60)  # a green band across both eyes
    second = np.ascontiguousarray(cv2.resize(astronaut, None, fx=0.9, fy=0.9, interpolation=cv2.INTER_AREA))
    sw = ClassicalSwapper()
    one = sw.encode_source([covered], [astronaut_face])
    both = sw.encode_source([covered, second], [astronaut_face, analyse(second)])
    eyes = region_mask(one.texture.shape[:2], one.landmarks, include=("left_eye", "right_eye"), feather=0, erode=-3) > 0

    def green(texture):
        return float((np.abs(texture.astype(int) - (40, 200, 60)).sum(2) < 80)[eyes].mean())

    assert green(one.texture) > 0.1  # one photo alone cannot know what is under the band
    assert green(both.texture) < 0.02
