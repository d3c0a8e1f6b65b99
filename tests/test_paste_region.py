"""The paste-back's region from the compiled row scan, and the live paste into the packet's own frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rswap.compose.blend import blend_margin
from rswap.compose.masks import region_mask
from rswap.compose.paste import paste_region
from rswap.face.align import align_crop, get_template, invert_affine, transform_points
from rswap.face.landmarks import MESH_POINTS
from rswap.swap.base import SwapResult
from rswap.swap.compositor import HostCompositor
from rswap.swap.frame import SwapJob

S = 256


def _region_by_numpy(frame_hw, crop_mask, M, levels):
    """The region as numpy computed it before the compiled scan (compare, any, two argmax)."""
    support = np.asarray(crop_mask) > 0.5 / 255
    rows = np.flatnonzero(support.any(1))
    if rows.size == 0:
        return None
    first = support[rows].argmax(1)
    last = support.shape[1] - 1 - support[rows, ::-1].argmax(1)
    outline = np.concatenate([np.stack([first - 0.5, rows], 1), np.stack([last + 0.5, rows], 1)])
    outline = np.concatenate([outline + (0, -0.5), outline + (0, 0.5)]).astype(np.float32)
    in_frame = transform_points(outline, invert_affine(M))
    pad = blend_margin(levels)
    h, w = frame_hw
    x0, y0 = np.floor(in_frame.min(0)).astype(int) - pad
    x1, y1 = np.ceil(in_frame.max(0)).astype(int) + pad + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def _masks():
    rng = np.random.default_rng(3)
    yield np.zeros((S, S), np.float32)  # nothing to paste
    disc = np.zeros((S, S), np.float32)
    cv2.ellipse(disc, (120, 140), (70, 95), 20, 0, 360, 1.0, -1)
    yield cv2.GaussianBlur(disc, (0, 0), 6)  # a feathered face, tails just over and under the threshold
    ring = disc - cv2.erode(disc, np.ones((31, 31), np.uint8))  # rows with a gap in the middle
    yield ring
    speckle = (rng.random((S, S)) > 0.995).astype(np.float32) * rng.random((S, S)).astype(np.float32)
    yield speckle  # isolated pixels, some under the threshold
    yield np.ones((S, S), np.float32)  # the whole crop, to its edges


@pytest.mark.parametrize("angle,scale,shift", [(0, 1.0, (0, 0)), (17, 0.6, (300, 200)), (-40, 2.2, (-150, 90)),
                                               (90, 1.0, (900, -100))])
def test_paste_region_is_the_outline_of_the_masks_support(angle, scale, shift):
    M = cv2.getRotationMatrix2D((128, 128), angle, scale)
    M[:, 2] += shift  # frame -> crop
    for k, mask in enumerate(_masks()):
        for levels in (0, 4):
            assert paste_region((720, 1280), mask, M, levels) == _region_by_numpy((720, 1280), mask, M, levels), (k, levels)


def test_live_paste_writes_into_the_packets_frame_the_same_picture(astronaut, astronaut_face):
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    pts = transform_points(astronaut_face.landmarks[:MESH_POINTS], M)
    mask = region_mask((S, S), pts)
    swapped = np.ascontiguousarray(255 - crop)
    moved = M.copy()
    moved[:, 2] += (40, -30)  # a second face, pasted after the first
    jobs = [SwapJob(astronaut_face, 0, crop, pts, m, result=SwapResult(swapped, mask)) for m in (M, moved)]
    compositor = HostCompositor()
    frame = astronaut.copy()
    copied = compositor.paste(frame, jobs)
    assert copied is not frame and np.array_equal(frame, astronaut)  # the still path leaves its input alone
    assert compositor.paste(frame, jobs, in_place=True) is frame
    assert np.array_equal(frame, copied) and not np.array_equal(frame, astronaut)
