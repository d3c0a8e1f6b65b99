"""What the classical swap must not paste: a source's fringe joined to its hair, a source's
hard shadows that the target's light does not make; and what it must leave in front: a cap's
brim over the target's forehead (and the brim's shadow below it), a jacket its mesh's jaw runs
over, hair falling over the side of its face, and its open eyes when the source's are shut. On
the astronaut and edits of it."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from benchmarks.hard_cases import HAIR_RGB
from rswap.compose.color import limit_shadows, to_lab
from rswap.compose.masks import region_mask
from rswap.compose.occluders import forehead_occluders, front_occluder_box, front_occluders, side_hair_box
from rswap.compose.source_texture import occluder_mask, visibility_map
from rswap.face.align import align_crop, get_template, transform_points
from rswap.face.landmarks import FACE_OVAL, LEFT_BROW, LIPS_OUTER, RIGHT_BROW
from rswap.swap.classical import EYES_CLOSED, EYES_OPEN, ClassicalSwapper, _beside_brows, _over_brows, eye_opening

BRIM_RGB = (150, 190, 235)  # a light-blue cap


def test_strands_of_a_fringe_joined_to_the_hair_are_found_below_the_brows(astronaut, astronaut_face):
    """A fringe over the forehead with two strands falling, one each side alike, past the
    brows' outer ends to the eyes: the mirror cannot tell them from skin (both sides alike),
    and below the brows a symmetric dark patch is normally a beard or a shadow. Their
    continuity with the hair outside the face gives them away."""
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    pts = transform_points(astronaut_face.landmarks[:468], M)
    z = astronaut_face.z[:468] * np.sqrt(abs(np.linalg.det(M[:, :2])))
    rows, cols = np.arange(crop.shape[0])[:, None], np.arange(crop.shape[1])[None, :]
    brows_top = pts[LEFT_BROW + RIGHT_BROW, 1].min()
    eyes_y = pts[[33, 263], 1].mean()
    fringe = (rows < brows_top - 4) & (cols > pts[FACE_OVAL, 0].min() - 10) & (cols < pts[FACE_OVAL, 0].max() + 10)
    for outer, inner in ((33, 133), (263, 362)):  # a strand over each outer eye corner
        x = pts[outer, 0] + 0.15 * (pts[outer, 0] - pts[inner, 0])
        fringe |= (np.abs(cols - x) < 7) & (rows < eyes_y - 2)
    hairy = crop.copy()
    hairy[fringe] = HAIR_RGB
    occ = occluder_mask(hairy, pts, visibility_map(crop.shape[:2], pts, z))
    oval = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(pts[FACE_OVAL]).astype(np.int32)], 1)
    strands = fringe & (oval > 0) & (rows > brows_top + 2)
    assert strands.sum() > 100
    assert occ[strands].mean() > 0.8
    # The clean photo: the skin between her eyes and brows is her own (her real hairline at
    # the top of the mesh's oval and at one temple is hair, and is found as such).
    clean = occluder_mask(crop, pts, visibility_map(crop.shape[:2], pts, z))
    xl, xr = sorted(((pts[33, 0] + pts[133, 0]) / 2, (pts[263, 0] + pts[362, 0]) / 2))  # the eyes' centres
    assert clean[(oval > 0) & (rows > brows_top + 2) & (rows < eyes_y) & (cols > xl) & (cols < xr)].mean() < 0.02


def test_a_cap_brim_over_the_targets_forehead_stays_in_front(astronaut, astronaut_face, analyse):
    sw = ClassicalSwapper(reshape=0.0)
    crop, M = align_crop(astronaut, astronaut_face.kps5, sw.template)
    lm = transform_points(astronaut_face.landmarks[:468], M)
    top, brows = lm[FACE_OVAL, 1].min(), lm[LEFT_BROW + RIGHT_BROW, 1].min()
    rows, cols = np.arange(crop.shape[0])[:, None], np.arange(crop.shape[1])[None, :]
    xl, xr = sorted((lm[133, 0], lm[362, 0]))  # between the inner eye corners
    forehead = (rows > brows - 15) & (rows < brows) & (cols > xl) & (cols < xr)
    assert forehead_occluders(crop, lm)[forehead].mean() < 0.05  # her own skin (her hair over a temple is hair, and kept)
    capped = crop.copy()
    brim_y = int(top + 0.75 * (brows - top))  # the brim reaches into the swapped part of the forehead
    capped[:brim_y] = BRIM_RGB
    occ = forehead_occluders(capped, lm)
    oval = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(lm[FACE_OVAL]).astype(np.int32)], 1)
    inner = cv2.erode(oval, np.ones((9, 9), np.uint8)) > 0  # the mask is soft at the oval's edge
    brim = inner & (rows < brim_y - 3)
    assert brim.sum() > 100 and occ[brim].min() > 0.9
    # Under it the brows are not held whole (the source's brow ridge would meet the brim as a seam).
    assert _over_brows(front_occluder_box(capped, lm), lm)
    assert not _over_brows(None, lm) and not _over_brows(((slice(0, 9), slice(0, 256)), np.zeros((9, 256), np.float32)), lm)
    source = sw.encode_source([astronaut[:, ::-1].copy()], [analyse(astronaut[:, ::-1].copy())])
    out = sw.swap(capped, lm, source).crop
    assert np.abs(out[brim].astype(int) - capped[brim].astype(int)).max() <= 1
    skin_below = (oval > 0) & (np.arange(crop.shape[0])[:, None] > brows + 20)
    assert np.abs(out[skin_below].astype(int) - capped[skin_below].astype(int)).mean() > 3  # the face is still swapped


def test_the_forehead_under_a_cap_brim_keeps_the_brims_shadow(astronaut, astronaut_face, analyse):
    """A brim casts a hard shadow on the forehead just below it, finer than the colour match's
    coarse light: the swapped forehead must take it there (not come out lit up to the brim),
    and the skin far from the brim must not change."""
    sw = ClassicalSwapper(reshape=0.0)
    crop, M = align_crop(astronaut, astronaut_face.kps5, sw.template)
    lm = transform_points(astronaut_face.landmarks[:468], M)
    top, brows = lm[FACE_OVAL, 1].min(), lm[LEFT_BROW + RIGHT_BROW, 1].min()
    rows, cols = np.arange(crop.shape[0])[:, None], np.arange(crop.shape[1])[None, :]
    capped = crop.copy()
    brim_y = int(top + 0.75 * (brows - top))
    capped[:brim_y] = BRIM_RGB
    shaded = capped.copy()
    shadow = np.broadcast_to((rows >= brim_y) & (rows < brim_y + 12), crop.shape[:2])
    shaded[shadow] = (shaded[shadow] * 0.6).astype(np.uint8)  # ~90 grey levels darker on her forehead
    oval = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(lm[FACE_OVAL]).astype(np.int32)], 1)
    xl, xr = sorted((lm[133, 0], lm[362, 0]))
    under = (oval > 0) & (rows >= brim_y + 2) & (rows < brim_y + 10) & (cols > xl) & (cols < xr)
    far = (oval > 0) & (rows > brows + 40)
    assert under.sum() > 100
    # Measured: 8 levels above the target's shade (20 before the shade was taken).
    _assert_shade_taken(sw, lm, astronaut, analyse, capped, shaded, under, far, within=10, lit_by=50)


def test_a_jacket_under_the_mesh_jaw_stays_in_front_and_a_beard_does_not(astronaut, astronaut_face, analyse):
    """A face leaning over its collar: the mesh's jaw runs on over the jacket, and the swap must
    leave the jacket there (not paint the source's chin over it). A dark beard in the same place
    has the skin's hue and is swapped as before; the bare face keeps nothing below the mouth."""
    sw, crop, lm, rows, cols, oval = _aligned_target(astronaut, astronaut_face)
    chin, left, right = lm[FACE_OVAL, 1].max(), lm[FACE_OVAL, 0].min(), lm[FACE_OVAL, 0].max()
    # A corner of the lower face, from the jaw's right side in, well below the mouth's bottom (17).
    corner = (rows > lm[17, 1] + 0.35 * (chin - lm[17, 1])) & (cols > 0.55 * right + 0.45 * left)
    # 4 px in from the jacket's edge: the search runs at half size (its edge moves by a pixel with the
    # box's phase) and its mask is feathered by 2 px.
    inner = (cv2.erode(oval, np.ones((9, 9), np.uint8)) > 0) & cv2.erode(corner.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert inner.sum() > 50
    below_mouth = (oval > 0) & (rows > lm[17, 1])
    assert front_occluders(crop, lm)[below_mouth].max() < 0.05  # her own chin and jaw
    jacket, beard = crop.copy(), crop.copy()
    jacket[corner] = (60, 75, 110)  # a dark blue jacket
    beard[corner] = (70, 50, 40)  # a dark brown beard: the skin's hue
    assert front_occluders(jacket, lm)[inner].min() > 0.9
    assert front_occluders(beard, lm)[below_mouth].max() < 0.05
    source = sw.encode_source([astronaut[:, ::-1].copy()], [analyse(astronaut[:, ::-1].copy())])
    out = sw.swap(jacket, lm, source).crop
    assert np.abs(out[inner].astype(int) - jacket[inner].astype(int)).mean() < 1.5  # the jacket (a soft edge at its rim)
    assert np.abs(sw.swap(beard, lm, source).crop[inner].astype(int) - beard[inner].astype(int)).mean() > 10  # swapped


def test_a_collar_rising_beside_the_mouth_stays_in_front_all_the_way_up(astronaut, astronaut_face):
    """A collar comes up along the jaw past the mouth (simswap_multi_people's, on the cheek up to
    the nose): kept only below the lower lip's line, the swap cut it there with a straight edge of
    the source's cheek across the jacket."""
    sw, crop, lm, rows, cols, oval = _aligned_target(astronaut, astronaut_face)
    left, right = lm[FACE_OVAL, 0].min(), lm[FACE_OVAL, 0].max()
    # A band along the face's right side, from the nose tip's height down to the chin.
    band = (rows > lm[1, 1]) & (cols > 0.78 * right + 0.22 * left)
    inner = (cv2.erode(oval, np.ones((9, 9), np.uint8)) > 0) & cv2.erode(band.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    beside_mouth = inner & (rows < lm[17, 1])  # above the line the search began at before
    assert beside_mouth.sum() > 30
    jacket = crop.copy()
    jacket[band] = (60, 75, 110)  # a dark blue jacket
    kept = front_occluders(jacket, lm)
    # Measured: 0.0 before over the whole band (the search began 2% of the crop below the lower lip,
    # and the band's part below that line alone was too small a piece); now at least 0.90, 0.99 mean.
    assert kept[beside_mouth].min() > 0.8 and kept[inner].mean() > 0.95
    lips = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(lm[LIPS_OUTER]).astype(np.int32)], 1)
    assert kept[lips > 0].max() < 0.05  # the lips stay the face's


def test_source_shadows_deeper_than_the_targets_own_are_lifted_and_the_rest_kept():
    """Flat skin: the source has a deep and a shallow dark blotch; the target has the deep one
    too at one place only. Only the deep blotch the target lacks is lifted, and only in the weight."""
    size = 128
    skin = np.full((size, size, 3), (200, 160, 140), np.uint8)
    src, ref = skin.copy(), skin.copy()
    deep, shallow, shared = (slice(30, 40), slice(30, 40)), (slice(30, 40), slice(80, 90)), (slice(80, 90), slice(30, 40))
    src[deep] = src[shared] = (110, 80, 70)  # ~30 L darker
    src[shallow] = (190, 150, 130)  # ~4 L darker
    ref[shared] = (110, 80, 70)  # the target's own shadow in the same place
    weight = np.zeros((size, size), np.float32)
    weight[8:120, 8:110] = 1.0
    out = limit_shadows(src, ref, weight, sigma=6.0)
    L = lambda img, where: float(to_lab(img)[where][..., 0].mean())  # noqa: E731
    assert L(out, deep) > L(src, deep) + 10  # lifted, most of the way to the skin
    assert L(out, deep) < L(skin, deep) - 3  # but a soft knee: still a little darker
    assert abs(L(out, shallow) - L(src, shallow)) < 0.5
    assert abs(L(out, shared) - L(src, shared)) < 0.5
    outside = np.ones((size, size), bool)
    outside[8:120, 8:110] = False
    assert np.array_equal(out[outside], src[outside])


def test_a_source_with_shut_eyes_leaves_the_targets_open_eyes(astronaut, astronaut_face, analyse):
    """The source's lids pasted over open eyes read as dark holes: a source whose eyes are
    shut (by the mesh's lid gap) keeps the target's eyes; an open-eyed one swaps them."""
    sw = ClassicalSwapper(reshape=0.0)
    crop, M = align_crop(astronaut, astronaut_face.kps5, sw.template)
    lm = transform_points(astronaut_face.landmarks[:468], M)
    assert eye_opening(lm) > EYES_OPEN  # her eyes are open
    mirrored = astronaut[:, ::-1].copy()
    source = sw.encode_source([mirrored], [analyse(mirrored)])
    assert source.eye_opening > EYES_CLOSED
    eyes = region_mask(crop.shape[:2], lm, include=("left_eye", "right_eye"), feather=0, erode=2) > 0
    open_out = sw.swap(crop, lm, source).crop
    shut_out = sw.swap(crop, lm, dataclasses.replace(source, eye_opening=0.05)).crop
    assert np.abs(open_out[eyes].astype(int) - crop[eyes].astype(int)).mean() > 3  # the source's eyes
    assert np.abs(shut_out[eyes].astype(int) - crop[eyes].astype(int)).mean() < 2  # her own


def test_an_eye_under_hair_does_not_say_the_source_is_open_eyed(astronaut, analyse):
    """The mesh guesses the lids of an eye under hair, and guesses them open: the hard set's
    hair_1_source, whose eyes are shut, read 0.30 for the covered eye and 0.05 for the other, so
    her lids were pasted over every target's open eyes as dark holes. Only the eyes the photo
    shows count. Here the astronaut's uncovered eye is shut by moving its upper lid's points onto
    the lower lid's; the one under a drawn hair band still reads open."""
    from benchmarks.hard_cases import hair_band

    sw = ClassicalSwapper(reshape=0.0)
    hairy = hair_band(astronaut, analyse(astronaut), side=0)  # over the image-left eye: the mesh's right eye
    face = analyse(hairy)
    lids = face.landmarks.copy()
    lids[[384, 385, 386, 387, 388, 398, 466], 1] = lids[[381, 380, 374, 373, 390, 382, 249], 1]  # the left eye shut
    shut = dataclasses.replace(face, landmarks=lids)
    assert eye_opening(lids[:468], (False, True)) < EYES_CLOSED < EYES_OPEN < eye_opening(lids[:468], (True, False))
    assert sw.encode_source([hairy], [shut]).eye_opening < EYES_CLOSED
    assert sw.encode_source([hairy], [face]).eye_opening > EYES_OPEN  # with its own lids: open


def test_hair_falling_over_the_side_of_the_targets_face_stays_in_front_and_a_jaw_shade_does_not(astronaut, astronaut_face, analyse):
    """A lock of hair falls from beside her head over one temple and cheek, inside the mesh's oval (as
    on 2.jpg and 015384): the swap must leave it in front, not paste the source's cheek over it, and
    still swap the rest of that cheek. A dark shade along the jaw, also joined to dark pixels outside
    the face, is no hair: it starts below the eyes."""
    sw, crop, lm, rows, cols, oval = _aligned_target(astronaut, astronaut_face)
    brows, mouth = lm[LEFT_BROW + RIGHT_BROW, 1].min(), lm[17, 1]
    # The lock: from above the brows (outside the face) down to the mouth, over the image-right temple and
    # cheek, beside the eye's outer corner.
    lock = np.broadcast_to((rows > brows - 30) & (rows < mouth) & (cols > lm[263, 0] + 6), crop.shape[:2])
    hairy = crop.copy()
    hairy[lock] = HAIR_RGB
    on_face = lock & (cv2.erode(oval, np.ones((9, 9), np.uint8)) > 0) & (rows > lm[263, 1])  # below the brow's end
    on_face &= cv2.erode(lock.astype(np.uint8), np.ones((11, 11), np.uint8)) > 0  # the mask is soft at the lock's edge
    assert on_face.sum() > 200
    # Below the eyes, off the oval's rim (a sliver of her own hair lies on it at one temple): no hair on the plain photo.
    cheeks = (cv2.erode(oval, np.ones((9, 9), np.uint8)) > 0) & (rows > lm[[33, 263], 1].max() + 8)
    assert side_hair_mask(crop, lm)[cheeks].max() < 0.05
    assert side_hair_mask(hairy, lm)[on_face].min() > 0.9
    # Beside the brows: they are not held whole there (the held brow's rim would cover the lock).
    assert _beside_brows(side_hair_box(hairy, lm), lm) and not _beside_brows(None, lm)
    source = sw.encode_source([astronaut[:, ::-1].copy()], [analyse(astronaut[:, ::-1].copy())])
    out = sw.swap(hairy, lm, source).crop
    assert np.abs(out[on_face].astype(int) - hairy[on_face].astype(int)).max() <= 2
    other_cheek = cheeks & (cols < lm[33, 0]) & (cv2.erode(oval, np.ones((15, 15), np.uint8)) > 0)
    assert np.abs(out[other_cheek].astype(int) - hairy[other_cheek].astype(int)).mean() > 3  # still swapped
    # A shade along the jaw, from the chin up to the mouth's level, over the oval's rim on both sides.
    shade = crop.copy()
    jaw = (np.abs(cv2.distanceTransform(1 - oval, cv2.DIST_L2, 3) - cv2.distanceTransform(oval, cv2.DIST_L2, 3)) < 6)
    jaw &= np.broadcast_to(rows > mouth - 10, crop.shape[:2])
    shade[jaw] = (45, 35, 30)
    assert side_hair_mask(shade, lm)[jaw & (oval > 0)].max() < 0.05


def _assert_shade_taken(sw, lm, astronaut, analyse, lit_target, shaded_target, near, far, within, lit_by):
    """The mirrored astronaut swapped into a target crop without and with a cast shadow: near the
    occluder the shaded result stays within `within` grey levels of the target's shade and is
    `lit_by` darker than the unshaded one; `far` from it the two differ by under half a level."""
    source = sw.encode_source([astronaut[:, ::-1].copy()], [analyse(astronaut[:, ::-1].copy())])
    lit, shade = (cv2.cvtColor(sw.swap(t, lm, source).crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
                  for t in (lit_target, shaded_target))
    target = cv2.cvtColor(shaded_target, cv2.COLOR_RGB2GRAY).astype(np.float32)
    assert shade[near].mean() < target[near].mean() + within
    assert lit[near].mean() > shade[near].mean() + lit_by  # the unshaded occluder leaves it lit
    assert abs(shade[far].mean() - lit[far].mean()) < 0.5


def _aligned_target(astronaut, astronaut_face):
    """A swapper without reshaping, the astronaut's aligned crop and mesh in it, the crop's row and
    column indices, and its face oval (uint8 0/1)."""
    sw = ClassicalSwapper(reshape=0.0)
    crop, M = align_crop(astronaut, astronaut_face.kps5, sw.template)
    lm = transform_points(astronaut_face.landmarks[:468], M)
    rows, cols = np.arange(crop.shape[0])[:, None], np.arange(crop.shape[1])[None, :]
    oval = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(lm[FACE_OVAL]).astype(np.int32)], 1)
    return sw, crop, lm, rows, cols, oval


def side_hair_mask(crop, points):
    """side_hair_box's soft mask on the whole crop (zero where nothing is found)."""
    out = np.zeros(crop.shape[:2], np.float32)
    found = side_hair_box(crop, points)
    if found is not None:
        out[found[0]] = found[1]
    return out


def test_the_cheek_beside_a_lock_of_hair_keeps_the_locks_shadow(astronaut, astronaut_face, analyse):
    """Hair falling over a cheek shades the skin beside it, finer than the colour match's coarse
    light: the swapped cheek must take that shade there (not come out lit up to the lock, a pale
    band along the hair on 2.jpg), and the other cheek must not change."""
    sw, crop, lm, rows, cols, oval = _aligned_target(astronaut, astronaut_face)
    brows, mouth = lm[LEFT_BROW + RIGHT_BROW, 1].min(), lm[17, 1]
    edge = lm[263, 0] + 6  # the lock's inner edge, beside the eye's outer corner
    hairy = crop.copy()
    hairy[np.broadcast_to((rows > brows - 30) & (rows < mouth) & (cols > edge), crop.shape[:2])] = HAIR_RGB
    shaded = hairy.copy()
    shadow = np.broadcast_to((rows > brows - 30) & (rows < mouth) & (cols > edge - 12) & (cols <= edge), crop.shape[:2])
    shaded[shadow] = (shaded[shadow] * 0.6).astype(np.uint8)
    beside = shadow & (cv2.erode(oval, np.ones((9, 9), np.uint8)) > 0) & (rows > lm[263, 1] + 10) & (rows < mouth - 5)
    beside &= np.broadcast_to(cols < edge - 3, crop.shape[:2])  # off the lock's soft edge
    far = (cv2.erode(oval, np.ones((15, 15), np.uint8)) > 0) & (cols < lm[33, 0]) & (rows > lm[33, 1] + 8)
    assert beside.sum() > 60
    # Measured: 43 levels above the target's shade with the step off.
    _assert_shade_taken(sw, lm, astronaut, analyse, hairy, shaded, beside, far, within=12, lit_by=25)
