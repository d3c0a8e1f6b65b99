"""The fast per-frame swap draws the picture the step-by-step swap drew (issue 11, item 4).

`_reference_swap` below is ClassicalSwapper.swap as it was before the per-frame work was
fused and compiled (commit e20c98a), with issue 10's later steps (shut-eyed sources, the
shadow limit, the target's forehead occluders and glasses, an open source mouth's lips, dark
pixels' share of the colour change, the nose base's shadows in the target's light, a sharp
source's skin not raised to a more contrasty target's) called as
the swapper calls them: the three colour steps one after the other, each in and out of CIELAB, numpy blends, the reshape spline on a
6-pixel grid, the paste mask blurred in uint8. It is kept here only to hold the fast path to it: where no change of
algorithm was intended, the two agree within 40 dB PSNR (measured: 48-63 dB on the dev
photos and the astronaut; the differences are uint8 rounding between steps and the
coarser reshape grid) and the paste masks within 0.01.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rswap.compose.blend import blend_delta
from rswap.compose.blend import alpha_blend
from rswap.compose.color import hold_eye_range, limit_shadows, match_bright_chroma, match_shading, transfer_color
from rswap.compose.mouth import recolour_lips
from rswap.compose.occluders import front_occluders
from rswap.compose.local_light import BELOW_LIP, NOSE_BASE, target_light_at
from rswap.compose.masks import region_mask
from rswap.compose.source_detail import add_target_grain
from rswap.compose.warp import mesh_warp, reshape_map, reshape_points
from rswap.face.align import align_crop, similarity_matrix, transform_points
from rswap.face.landmarks import FACE_OVAL, LIPS_OUTER, MESH_POINTS
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.swap import classical as C
from rswap.swap.classical import ClassicalSwapper


def _limit_moves(start, goal, limit, inward=C.INWARD_SHARE):
    """The swapper's outline limit as numpy wrote it before it was compiled (`classical._outline_goal`):
    each point's move at most `limit`, its inward part at most `inward` x `limit`."""
    move = goal - start
    length = np.sqrt((move * move).sum(1, keepdims=True))
    move = move * np.minimum(1.0, limit / np.maximum(length, 1e-6))
    out = start - start.mean(0)
    out = out / np.maximum(np.sqrt((out * out).sum(1, keepdims=True)), 1e-6)
    radial = (move * out).sum(1, keepdims=True)
    return (start + move + out * np.maximum(-inward * limit - radial, 0.0)).astype(np.float32)


def _reference_swap(sw: ClassicalSwapper, crop, landmarks, source):
    hw = crop.shape[:2]
    target = np.asarray(landmarks[:MESH_POINTS], np.float32)
    keep = sw.keep
    if "mouth_inner" not in keep and C.mouth_opening(target) > C.MOUTH_OPEN:
        keep = (*keep, "mouth_inner")
    if "left_eye" not in keep and source.eye_opening < C.EYES_CLOSED and C.eye_opening(target) > C.EYES_OPEN:
        keep = (*keep, "left_eye", "right_eye")
    shaped, background = target.copy(), crop
    strength = sw.reshape * C._reshape_confidence(target)
    if strength > 0:
        S = similarity_matrix(source.landmarks[C.STABLE_POINTS], target[C.STABLE_POINTS])
        goal = _limit_moves(target[FACE_OVAL], transform_points(source.outline, S), C.MAX_RESHAPE * hw[0])
        ctrl = (target[FACE_OVAL], goal, strength, target[C.STABLE_POINTS])
        m = reshape_map(hw, *ctrl, grid_step=6)
        background = cv2.remap(crop, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        shaped = reshape_points(target, hw, *ctrl)
    warped, valid = mesh_warp(source.texture, source.landmarks, shaped, hw, sw._triangles)
    lowered = C._lower_forehead(shaped)
    oval = region_mask(hw, shaped, include=("face_oval",), exclude=sw.keep, feather=sw._feather, erode=sw._feather)
    face_mask = oval * C._forehead_fade(hw, shaped) * valid
    if sw.color != "none":
        dst_skin = C._skin_mask(hw, lowered, sw._feather)
        src_skin = dst_skin * valid
        # Issue 10, sixteenth session (an intended change): what stays in front of the target's
        # face is no part of its skin statistics, and the spreads matched are the skins' detail.
        dst_skin = dst_skin * (front_occluders(crop, target, glasses=sw.keep_glasses) < 0.5)
        regions = [region_mask(hw, shaped, include=(n,), feather=2.0, erode=-2.0) for n in ("left_eye", "right_eye", "mouth_inner")]
        chroma = 1.0 - np.max(regions, axis=0)
        # Issue 10, fifth session (an intended change): a pixel darker than the source skin's mean
        # takes its (L + 16) share of the colour change; a light's colour multiplies.
        lightness = cv2.cvtColor(warped.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[..., 0]
        dim = np.minimum((lightness + 16.0) / (lightness[src_skin > 0].mean() + 16.0), 1.0)
        chroma = chroma * dim
        own = warped
        # Issue 10, twelfth session (an intended change): a sharp source takes no gain above 1 (raise_spread).
        warped = transfer_color(warped, background, src_skin, dst_skin, method=sw.color, spread=C.colour_spread(source.grain),
                                where=face_mask > 0, chroma=chroma, raise_spread=C.raise_spread(source.grain),
                                detail_sigma=C.SHADING_SIGMA * hw[0])
        warped = match_shading(warped, background, src_skin, dst_skin, face_mask > 0, C.SHADING_SIGMA * hw[0], chroma=chroma)
        # Thirtieth session (an intended change): the target's eye and teeth colour matched only
        # where it reads as its photo's cast (near its skin's hue).
        skin_ab = [cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[skin > 0][:, 1:].mean(0)
                   for img, skin in ((background, dst_skin), (own, src_skin))]
        warped = match_bright_chroma(warped, background, regions, *skin_ab)
        # Issue 10, twenty-first session (an intended change): the eyes' lightness range held between
        # both faces' darks and the target's whites.
        warped = hold_eye_range(warped, background, own, regions[:2])
        warped = limit_shadows(warped, background, C._detail_mask(hw, lowered), C.DETAIL_SIGMA * hw[0])
    if source.grain > 0:  # issue 10, eighth session (an intended change): a flat source takes the target's grain
        warped = add_target_grain(warped, background, C._detail_mask(hw, lowered), source.grain)
    bg = background.astype(np.float32)
    delta = (warped.astype(np.float32) - bg) * (valid > 0)[..., None]
    swapped = np.clip(np.rint(bg + blend_delta(delta, face_mask, sw.blend_levels)), 0, 255).astype(np.uint8)
    if sw.color != "none":  # issue 10, sixth and twenty-second sessions (intended changes): the nose base and
        # the crease under the lower lip in the target's light
        swapped = target_light_at(swapped, background, shaped, NOSE_BASE)
        swapped = target_light_at(swapped, background, shaped, BELOW_LIP, spare=LIPS_OUTER)
    if keep:
        kept = region_mask(hw, shaped, include=keep, feather=3, erode=-1)[..., None]
        swapped = np.clip(np.rint(swapped + kept * (background.astype(np.float32) - swapped)), 0, 255).astype(np.uint8)
    if source.open_lips is not None:
        swapped = recolour_lips(swapped, background, shaped, source.open_lips)
    swapped = alpha_blend(crop, swapped, front_occluders(crop, target, glasses=sw.keep_glasses))
    paste = np.zeros(hw, np.uint8)
    for pts in (target, shaped):
        cv2.fillPoly(paste, [np.round(pts[FACE_OVAL]).astype(np.int32)], 255)
    g = sw._feather
    paste = cv2.dilate(paste, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1)))
    paste = cv2.GaussianBlur(paste, (0, 0), g / 2).astype(np.float32) / 255.0
    return swapped, paste


def _psnr(a, b) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def target(astronaut):
    """A different target: the astronaut narrowed, turned a little and tinted, mouth as it is."""
    img = cv2.resize(astronaut, (440, 512))
    img = cv2.warpAffine(img, cv2.getRotationMatrix2D((220, 200), 8, 1.0), (440, 512), borderMode=cv2.BORDER_REFLECT)
    img = np.clip(img * np.float32((0.85, 0.75, 0.7)), 0, 255).astype(np.uint8)
    with MediapipeFaceAnalyser(max_faces=1) as a:
        face = a.analyse(img)[0]
    return img, face


@pytest.mark.parametrize("options", [{}, {"keep_mouth": True, "keep_eyes": True}, {"color": "lct", "reshape": 1.0}])
def test_fast_swap_draws_the_reference_picture(astronaut, target, options):
    sw = ClassicalSwapper(**options)
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    with MediapipeFaceAnalyser(max_faces=1) as a:
        source = sw.encode_source([mirrored], a.analyse(mirrored)[:1])
    img, face = target
    crop, M = align_crop(img, face.kps5, sw.template)
    lm = transform_points(face.landmarks, M)
    got = sw.swap(crop, lm, source)
    want_crop, want_mask = _reference_swap(sw, crop, lm, source)
    assert _psnr(got.crop, crop) < 30  # the face did change: the comparison below means something
    assert _psnr(got.crop, want_crop) > 40
    assert np.abs(got.mask - want_mask).max() < 0.01
