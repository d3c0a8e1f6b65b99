"""The classical swapper and whole-frame swapping on real pixels."""

import numpy as np
import pytest

from rswap.compose.warp import mesh_warp  # noqa: F401  (imported to fail early if compose is broken)
from rswap.errors import RswapError
from rswap.face.align import align_crop, transform_points
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.swap.classical import ClassicalSwapper
from rswap.swap.frame import FrameSwapper


@pytest.fixture(scope="module")
def other_person(astronaut):
    """A different face shape: the astronaut with a wider, shorter face and darker skin."""
    import cv2

    img = cv2.resize(astronaut, (600, 460))[:, 44:556]
    return np.ascontiguousarray(cv2.convertScaleAbs(img, alpha=0.8, beta=-5))


def _face(img):
    with MediapipeFaceAnalyser(max_faces=1) as a:
        return a.analyse(img)[0]


def test_swap_changes_the_face_toward_the_source(astronaut, astronaut_face, other_person):
    sw = ClassicalSwapper(reshape=1.0)
    src = sw.encode_source([astronaut], [astronaut_face])
    tf = _face(other_person)
    crop, M = align_crop(other_person, tf.kps5, sw.template)
    lm = transform_points(tf.landmarks, M)
    res = sw.swap(crop, lm, src)
    assert res.crop.shape == crop.shape and res.crop.dtype == np.uint8
    assert res.mask.shape == crop.shape[:2] and 0 <= res.mask.min() and res.mask.max() <= 1
    diff = np.abs(res.crop.astype(int) - crop.astype(int)).max(-1)
    assert (diff[res.mask > 0.99] > 8).mean() > 0.3  # the face changed
    from rswap.compose.masks import region_mask

    oval = region_mask(crop.shape[:2], lm, feather=0, erode=4) > 0.5
    assert (res.mask[oval] > 0.99).mean() > 0.9  # the paste mask covers the target's face
    # Reshaping moved the face outline toward the (narrower) source outline.
    sw0 = ClassicalSwapper(reshape=0.0)
    res0 = sw0.swap(crop, lm, sw0.encode_source([astronaut], [astronaut_face]))
    assert res.mask.sum() != pytest.approx(res0.mask.sum(), rel=1e-3)
    # (Identity gain is measured on real different people by `rswap eval`, see RESULTS.md:
    # the only face a fresh clone has is the astronaut's.)


def test_keep_mouth_keeps_target_mouth_pixels(astronaut, astronaut_face, other_person):
    from rswap.compose.masks import region_mask

    tf = _face(other_person)
    sw = ClassicalSwapper(keep_mouth=True, color="none", reshape=0.0)
    src = sw.encode_source([np.ascontiguousarray(astronaut[:, ::-1])], [_face(np.ascontiguousarray(astronaut[:, ::-1]))])
    crop, M = align_crop(other_person, tf.kps5, sw.template)
    lm = transform_points(tf.landmarks, M)
    res = sw.swap(crop, lm, src)
    inner = region_mask(crop.shape[:2], lm, include=("mouth_inner",), feather=0, erode=3) > 0.5
    if inner.sum() < 20:
        pytest.skip("mouth too closed in this image to test")
    assert np.abs(res.crop[inner].astype(int) - crop[inner].astype(int)).mean() < 6


def test_frame_swapper_touches_only_the_face(astronaut, astronaut_face, other_person):
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[100:560, 300:812] = other_person
    frame[:, :200] = 255
    tf = _face(frame)
    sw = ClassicalSwapper()
    fs = FrameSwapper(sw, [sw.encode_source([astronaut], [astronaut_face])])
    out = fs.process(frame, [tf])
    changed = np.abs(out.astype(int) - frame.astype(int)).max(-1) > 0
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = tf.bbox
    pad = 0.35 * (x1 - x0)
    assert xs.min() > x0 - pad and xs.max() < x1 + pad and ys.min() > y0 - pad and ys.max() < y1 + pad
    assert changed.sum() > 2000
    assert fs.process(frame, []) is frame  # no face: the frame passes through


def test_bad_options():
    with pytest.raises(RswapError):
        ClassicalSwapper(reshape=1.5)
    with pytest.raises(RswapError):
        ClassicalSwapper(color="sepia")
    with pytest.raises(RswapError):
        ClassicalSwapper().encode_source([], [])
