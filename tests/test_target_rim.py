"""The swap's mask starts at the oval only where the target's own rim is skin (issue 10, ninth session).

Starting the face mask's ramp at the oval (`FACE_ERODE`) instead of a feather inside shows
more of the source's cheeks and jaw, and laid the source's lit skin over a target's own rim
where that rim is hair or shade. `skin_rim_weight` judges the target per pixel; the swap takes
the mask at the oval where the target is skin-like and the one a feather inside elsewhere.
All on the astronaut, one cheek's rim painted as dark hair, the other as her skin."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.hard_cases import HAIR_RGB
from rswap.compose.masks import region_mask
from rswap.compose.target_rim import skin_rim_weight
from rswap.face.align import align_crop, transform_points
from rswap.swap import classical as C
from rswap.swap.classical import ClassicalSwapper


def _hair_on_one_cheek(image: np.ndarray, face) -> np.ndarray:
    """The photo with a band just inside its face oval, from the eyes down, painted hair colour
    on the image's left cheek and the face's own skin colour (its inner median) on the right:
    the astronaut's own right rim is hair and shade (20-35 L below her lit inner skin)."""
    pts = np.asarray(face.landmarks[:468], np.float32)
    iod = float(np.linalg.norm(face.kps5[1] - face.kps5[0]))
    oval = (region_mask(image.shape[:2], pts, include=("face_oval",), feather=0, erode=0) > 0).astype(np.uint8)
    width = max(2, int(round(0.25 * iod)))
    inner = cv2.erode(oval, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1)))
    deep = cv2.erode(oval, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * width + 1, 4 * width + 1)))
    skin = np.median(image[(deep > 0) & (np.indices(image.shape[:2])[0] > pts[1, 1])], axis=0)
    rows, cols = np.indices(image.shape[:2])
    band = (oval > 0) & (inner == 0) & (rows > pts[[33, 263], 1].max())
    out = image.astype(np.float32)
    for side, colour in ((cols < pts[1, 0], HAIR_RGB), (cols > pts[1, 0], skin)):
        alpha = cv2.GaussianBlur((band & side).astype(np.float32), (0, 0), max(1.0, 0.02 * iod))[..., None]
        out = out * (1 - alpha) + np.array(colour, np.float32) * alpha
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def haired(astronaut, astronaut_face):
    """The painted photo on the astronaut's own landmarks: hair inside the mesh oval, as on a
    photo whose hair falls over the cheek (the mesh detector, asked again, draws its oval
    inside the painted band)."""
    return _hair_on_one_cheek(astronaut, astronaut_face), astronaut_face


def _crop(sw, image, face):
    crop, M = align_crop(image, face.kps5, sw.template)
    return crop, transform_points(face.landmarks, M)


def test_the_weight_is_low_on_a_hair_rim_and_high_on_a_skin_rim(haired):
    sw = ClassicalSwapper()
    crop, lm = _crop(sw, *haired)
    hw = crop.shape[:2]
    skin = C._skin_mask(hw, C._lower_forehead(lm[:468]), sw._feather)
    weight = skin_rim_weight(crop, skin)
    oval = region_mask(hw, lm[:468], include=("face_oval",), feather=0, erode=0) > 0
    inner = region_mask(hw, lm[:468], include=("face_oval",), feather=0, erode=sw._feather) > 0
    rows, cols = np.indices(hw)
    rim = oval & ~inner & (rows > lm[[33, 263], 1].max()) & (rows < lm[13, 1])  # the cheeks' rim, eyes to mouth
    hair, bare = rim & (cols < lm[1, 0]), rim & (cols > lm[1, 0])
    assert weight[hair].mean() < 0.2, weight[hair].mean()
    assert weight[bare].mean() > 0.6, weight[bare].mean()
    assert weight.dtype == np.float32 and weight.shape == hw


def test_no_inner_skin_means_no_rim_taken():
    crop = np.full((64, 64, 3), 128, np.uint8)
    assert not skin_rim_weight(crop, np.zeros((64, 64), np.float32)).any()


def test_a_hair_rim_keeps_the_target_and_a_skin_rim_takes_the_source(astronaut, haired, monkeypatch):
    """The same swap three ways: the mask a feather inside everywhere (before), at the oval
    everywhere, and chosen by the target. Where the two fixed masks differ, the chosen one
    follows the first on the hair cheek and the second on the bare one."""
    sw = ClassicalSwapper()
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

    with MediapipeFaceAnalyser(max_faces=1) as a:
        source = sw.encode_source([mirrored], a.analyse(mirrored)[:1])
    crop, lm = _crop(sw, *haired)
    chosen = sw.swap(crop, lm, source).crop.astype(np.float32)
    outs = {}
    for name, value in (("inside", 0.0), ("oval", 1.0)):
        with monkeypatch.context() as m:
            m.setattr(C, "skin_rim_weight", lambda b, s, v=value: np.full(b.shape[:2], v, np.float32))
            outs[name] = sw.swap(crop, lm, source).crop.astype(np.float32)
    apart = np.abs(outs["oval"] - outs["inside"]).max(axis=2)
    rows, cols = np.indices(apart.shape)
    painted = (rows > lm[[33, 263], 1].max() + 0.02 * rows.shape[0]) & (rows < lm[13, 1])  # the painted cheeks, eyes to mouth
    for side, follows in ((cols < lm[1, 0], "inside"), (cols > lm[1, 0], "oval")):
        where = painted & side & (apart > 4)
        assert where.sum() > 30, (follows, where.sum())
        off = np.abs(chosen - outs[follows]).max(axis=2)[where].mean()
        assert off < 0.35 * apart[where].mean(), (follows, off, apart[where].mean())
