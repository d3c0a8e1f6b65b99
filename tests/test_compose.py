"""Composition operators on real pixels: the astronaut photo and its mediapipe mesh."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest

from rswap.compose.blend import alpha_blend, blend_margin, laplacian_blend
from rswap.compose import color
from rswap.compose.color import detail_spread, from_lab, masked_blur, match_shading, side_hair, to_lab, transfer_color
from rswap.compose.masks import region_mask, region_polygon
from rswap.compose.paste import paste_back, paste_region
from rswap.compose.warp import mesh_warp, reshape_map, reshape_points, reshape_warp
from rswap.errors import RswapError
from rswap.face.align import align_crop, get_template, transform_points
from rswap.face.landmarks import FACE_OVAL, MESH_POINTS, mesh_triangles

CROP = 256


@pytest.fixture(scope="module")
def points(astronaut_face) -> np.ndarray:
    return astronaut_face.landmarks[:MESH_POINTS]


@pytest.fixture(scope="module")
def aligned(astronaut, astronaut_face):
    """(crop, M frame->crop, mesh points in the crop) for the ffhq256 template."""
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    return crop, M, transform_points(astronaut_face.landmarks[:MESH_POINTS], M)


def _signed_areas(pts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    a, b, c = (pts[tris[:, k]].astype(np.float64) for k in range(3))
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of a float image (H, W, C) at points (N, 2)."""
    mx = np.asarray(pts, np.float32)[:, 0].reshape(1, -1)
    my = np.asarray(pts, np.float32)[:, 1].reshape(1, -1)
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR).reshape(len(pts), -1)


def _blob_centroid(img: np.ndarray, near: np.ndarray, radius: int = 7) -> np.ndarray:
    x, y = np.rint(near).astype(int)
    win = img[y - radius : y + radius + 1, x - radius : x + radius + 1].astype(np.float64)
    if win.ndim == 3:
        win = win.mean(2)
    ys, xs = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return np.array([x + (xs * win).sum() / win.sum(), y + (ys * win).sum() / win.sum()])


def _marked(hw, pts, radius=2) -> np.ndarray:
    img = np.zeros(hw, np.uint8)
    for p in pts:
        cv2.circle(img, tuple(np.rint(p * 16).astype(int)), radius * 16, 255, -1, cv2.LINE_AA, shift=4)
    return img


# ---------------------------------------------------------------- mesh triangles


def test_mesh_triangles_tile_the_face_oval(points):
    tris = mesh_triangles()
    assert tris.shape == (898, 3)  # mediapipe's canonical face model has 898
    per_edge = Counter(tuple(sorted(e)) for t in tris for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])))
    oval_edges = {tuple(sorted((FACE_OVAL[i], FACE_OVAL[i - 1]))) for i in range(len(FACE_OVAL))}
    # A disc: every inner edge between exactly two triangles, the boundary is the oval.
    assert {e for e, n in per_edge.items() if n == 1} == oval_edges
    assert set(per_edge.values()) == {1, 2}
    areas = _signed_areas(points, tris)
    oval_area = cv2.contourArea(points[FACE_OVAL])
    # Consistent winding: signed areas add up to the oval; on this near-frontal face the
    # folded (negative) triangles are a sliver, so the tiles neither gap nor overlap.
    assert areas.sum() == pytest.approx(oval_area, rel=1e-6)
    assert np.abs(areas).sum() < 1.01 * oval_area
    assert (areas < 0).sum() < 30


# ---------------------------------------------------------------- masks


def test_region_mask_follows_the_oval_and_excludes_the_mouth(astronaut, points):
    hw = astronaut.shape[:2]
    hard = region_mask(hw, points, feather=0, erode=0)
    assert hard.dtype == np.float32 and set(np.unique(hard)) == {0.0, 1.0}
    assert hard.sum() == pytest.approx(cv2.contourArea(points[FACE_OVAL]), rel=0.03)

    soft = region_mask(hw, points, exclude=("mouth_inner", "left_eye", "right_eye"), feather=12)
    assert soft.min() == 0.0 and soft.max() == 1.0
    assert (soft[hard == 0] == 0).all()  # default erode keeps the ramp inside the polygon
    ramp = (soft > 0) & (soft < 1)
    assert ramp.sum() > 0.1 * hard.sum()  # a real feather, not a hard edge
    mouth = np.rint(points[[13, 14]].mean(0)).astype(int)  # between the inner lips: teeth
    assert soft[mouth[1], mouth[0]] == 0.0
    cheek = np.rint(points[205]).astype(int)
    assert soft[cheek[1], cheek[0]] == 1.0
    # The ramp is a smooth function of distance: no step larger than a feather slope allows.
    grad = np.hypot(*np.gradient(soft))
    assert grad.max() < 3.0 / 12


def test_region_mask_rejects_unknown_region(points):
    with pytest.raises(RswapError, match="unknown face region"):
        region_mask((64, 64), points, include=("nose_hair",))
    assert region_polygon(points, "left_brow").shape[1] == 2  # brows: convex hull outline


# ---------------------------------------------------------------- blending


@pytest.mark.parametrize("hw, levels", [((512, 512), 5), ((301, 257), 4), ((101, 77), 2)])
def test_laplacian_blend_reproduces_inputs_away_from_the_seam(astronaut, hw, levels):
    h, w = hw
    bg = np.ascontiguousarray(astronaut[:h, :w])
    fg = np.ascontiguousarray(astronaut[::-1, ::-1][:h, :w])  # different content everywhere
    mask = np.zeros(hw, np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 4, h // 4), 0, 0, 360, 1.0, -1)
    out = laplacian_blend(fg, bg, mask, levels=levels)
    assert out.dtype == np.uint8 and out.shape == bg.shape
    reach = blend_margin(levels)
    far_out = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 5) > reach
    far_in = cv2.distanceTransform((mask == 1).astype(np.uint8), cv2.DIST_L2, 5) > reach
    assert far_out.any() and far_in.any()
    assert np.abs(out.astype(int) - bg)[far_out].max() <= 1
    assert np.abs(out.astype(int) - fg)[far_in].max() <= 1


def test_laplacian_blend_hides_the_seam(astronaut, points):
    # The same photo 60 levels brighter inside (a colour mismatch), no clipping anywhere.
    bg = (astronaut * 0.7).astype(np.uint8)
    fg = bg + np.uint8(60)
    mask = region_mask(bg.shape[:2], points, feather=0, erode=0)  # a hard cut
    edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0

    def seam_gradient(out):
        change = out.astype(np.float32) - bg
        gx = cv2.Sobel(change, cv2.CV_32F, 1, 0, ksize=3) / 8
        gy = cv2.Sobel(change, cv2.CV_32F, 0, 1, ksize=3) / 8
        return np.hypot(gx, gy).max(2)[edge].max()

    hard = seam_gradient(alpha_blend(fg, bg, mask))
    multiband = seam_gradient(laplacian_blend(fg, bg, mask, levels=5))
    assert hard > 20  # the cut is a visible step
    assert multiband < hard / 5
    # One level is the plain alpha blend.
    assert np.array_equal(laplacian_blend(fg, bg, mask, levels=1), alpha_blend(fg, bg, mask))


def test_laplacian_blend_ignores_fg_outside_its_valid_area(aligned, reenact_target):
    crop, _, pts = aligned
    # A face texture warped onto other landmarks: black wherever no triangle lands.
    warped, valid = mesh_warp(crop, pts, reenact_target, (CROP, CROP), mesh_triangles())
    mask = region_mask((CROP, CROP), reenact_target, feather=0, erode=0) * valid
    filled = np.where(valid[..., None] > 0, warped, crop)
    expected = laplacian_blend(filled, crop, mask, levels=5)
    assert np.array_equal(laplacian_blend(warped, crop, mask, levels=5, fg_valid=valid), expected)
    # Without it the black leaks in as a halo along the inside of the seam.
    leaky = laplacian_blend(warped, crop, mask, levels=5)
    band = (mask > 0) & (cv2.erode(mask, np.ones((9, 9), np.uint8)) == 0)
    assert np.abs(leaky[band].astype(int) - expected[band]).mean() > 10


# ---------------------------------------------------------------- colour transfer


@pytest.mark.parametrize("method", ["reinhard", "lct"])
def test_transfer_color_matches_masked_statistics(astronaut, points, method):
    src = astronaut
    # The same scene under a different light: channel gains + offsets (no clipping in the face).
    ref = np.clip(src.astype(np.float32) * [0.8, 0.9, 1.1] + [0, 10, -10], 0, 255).astype(np.uint8)
    ref = np.ascontiguousarray(ref[:, ::-1])  # and the face moved, so masks differ
    src_mask = region_mask(src.shape[:2], points, feather=0, erode=0)
    ref_mask = np.ascontiguousarray(src_mask[:, ::-1])
    out = transfer_color(src, ref, src_mask, ref_mask, method=method)

    inside = src_mask > 0
    assert np.array_equal(out[~inside], src[~inside])  # untouched outside the mask
    got, want, before = (to_lab(x)[m].astype(np.float64) for x, m in ((out, inside), (ref, ref_mask > 0), (src, inside)))
    assert np.abs(got.mean(0) - want.mean(0)).max() < 1.0
    assert np.abs(before.mean(0) - want.mean(0)).max() > 3.0  # there was something to move
    np.testing.assert_allclose(got.std(0), want.std(0), rtol=0.06)
    if method == "lct":  # LCT matches the cross-channel covariance too
        np.testing.assert_allclose(np.cov(got.T), np.cov(want.T), atol=0.08 * np.cov(want.T).diagonal().max())


def test_transfer_color_statistics_from_one_mask_applied_in_another(astronaut, points):
    """Statistics from the skin, the change applied over the whole face; spread 0 is a pure mean shift."""
    ref = np.clip(astronaut.astype(np.float32) * [0.7, 0.8, 0.9], 0, 255).astype(np.uint8)
    face = region_mask(astronaut.shape[:2], points, feather=0, erode=0)
    skin = region_mask(astronaut.shape[:2], points, exclude=("left_eye", "right_eye", "mouth_inner"), feather=0, erode=8)
    out = transfer_color(astronaut, ref, skin, skin, spread=0.0, where=face)
    assert np.array_equal(out[face == 0], astronaut[face == 0])
    got, want, before = (to_lab(x)[skin > 0].astype(np.float64) for x in (out, ref, astronaut))
    assert np.abs(got.mean(0) - want.mean(0)).max() < 0.6
    np.testing.assert_allclose(got.std(0), before.std(0), rtol=0.06)  # contrast kept, not matched
    assert not np.allclose(got.std(0), want.std(0), rtol=0.06)


def test_match_shading_moves_the_light_and_keeps_the_detail(astronaut, points):
    """A reference lit from one side: the output takes its coarse light, the source keeps its fine texture."""
    light = np.linspace(0.5, 1.1, astronaut.shape[1], dtype=np.float32)[None, :, None]
    ref = np.clip(astronaut * light, 0, 255).astype(np.uint8)
    skin = region_mask(astronaut.shape[:2], points, exclude=("left_eye", "right_eye", "mouth_inner"), feather=0, erode=8)
    out = match_shading(astronaut, ref, skin, skin, skin > 0, sigma=20)
    assert np.array_equal(out[skin == 0], astronaut[skin == 0])
    inside = skin > 0
    nose = int(points[1, 0])
    for side in (np.s_[:, :nose], np.s_[:, nose:]):
        m = np.zeros_like(inside)
        m[side] = inside[side]
        before = abs(to_lab(astronaut)[m][:, 0].mean() - to_lab(ref)[m][:, 0].mean())
        after = abs(to_lab(out)[m][:, 0].mean() - to_lab(ref)[m][:, 0].mean())
        assert before > 4 and after < 0.25 * before, (before, after)
    # Fine detail (what a small blur removes) is the source's, not the reference's, texture.
    def detail(img):
        f = to_lab(img)[..., 0]
        return (f - cv2.GaussianBlur(f, (0, 0), 2))[cv2.erode(skin, np.ones((9, 9), np.uint8)) > 0]
    assert np.corrcoef(detail(out), detail(astronaut))[0, 1] > 0.9


def test_transfer_color_on_the_skins_detail_does_not_take_the_references_light_for_texture(astronaut, points):
    """The reference is the source with a light falling off across the face (30 L, along her own
    shading): its skin's whole spread is mostly that light. Matched whole, it scales the source's
    texture up by a third; matched on the detail (`detail_sigma`, for a caller that moves the
    light itself, as the classical swapper does), the texture keeps its contrast."""
    lab = to_lab(astronaut)
    x0, x1 = points[:, 0].min(), points[:, 0].max()
    lab[..., 0] += (15.0 - 30.0 * np.clip((np.arange(astronaut.shape[1]) - x0) / (x1 - x0), 0, 1)).astype(np.float32)
    ref = from_lab(lab)
    skin = region_mask(astronaut.shape[:2], points, exclude=("left_eye", "right_eye", "mouth_inner"), feather=0, erode=8)
    inner = cv2.erode(skin, np.ones((9, 9), np.uint8)) > 0

    def texture(img):  # the spread of L's fine detail over the skin
        f = to_lab(img)[..., 0]
        return float((f - cv2.GaussianBlur(f, (0, 0), 2))[inner].std())

    whole = transfer_color(astronaut, ref, skin, skin, spread=1.0)
    detail = transfer_color(astronaut, ref, skin, skin, spread=1.0, detail_sigma=20)
    assert abs(texture(ref) / texture(astronaut) - 1) < 0.03  # the light added no texture
    assert texture(whole) > 1.25 * texture(astronaut)
    assert texture(detail) < 1.12 * texture(astronaut)


def test_hair_over_the_side_of_the_reference_face_is_no_part_of_its_skin_statistics(astronaut, points, monkeypatch):
    """Three dark strands fall from above her head over the side of the reference's face, inside
    its skin mask (as hair falls over a target's cheeks, under the mesh). `side_hair` finds them
    and nothing on the plain face; the colour match then gives the source about the texture and
    lightness it gets from the plain face. Counted as skin (the finder off), the strands raise
    the texture the source takes by more than half and darken it by over 3 L."""
    skin = region_mask(astronaut.shape[:2], points, exclude=("left_eye", "right_eye", "left_brow", "right_brow", "mouth_inner"),
                       feather=0, erode=8)
    oval = points[FACE_OVAL]
    strands = np.zeros(astronaut.shape[:2], np.uint8)
    for k, dx in enumerate((2, 9, 16)):
        ys = np.linspace(oval[:, 1].min() - 10, points[1, 1], 30)  # from above the face to the nose tip
        xs = oval[:, 0].min() + dx + 6 * np.sin((ys - oval[:, 1].min()) / 12 + k)
        cv2.polylines(strands, [np.round(np.column_stack([xs, ys])).astype(np.int32)], False, 1, 3)
    hair = astronaut.copy()
    hair[strands > 0] = (38, 26, 20)

    def found(img):
        lab = to_lab(img)
        light = masked_blur(lab, skin, 20)
        return side_hair(lab[..., 0], skin > 0, light[..., 0], float(detail_spread(lab, skin, light)[0]))

    on_skin = (strands > 0) & (skin > 0)
    assert on_skin.sum() > 100 and not found(astronaut).any()
    assert (found(hair) & on_skin).sum() > 0.9 * on_skin.sum()

    inner = (cv2.erode(skin, np.ones((9, 9), np.uint8)) > 0) & (strands == 0)

    def texture_and_light(img):
        f = to_lab(img)[..., 0]
        return float((f - cv2.GaussianBlur(f, (0, 0), 2))[inner].std()), float(f[inner].mean())

    source = cv2.GaussianBlur(astronaut, (0, 0), 1.0)  # smoother: the gain raises its texture toward the reference's
    texture, light = texture_and_light(transfer_color(source, astronaut, skin, skin, spread=1.0, detail_sigma=20))
    got_texture, got_light = texture_and_light(transfer_color(source, hair, skin, skin, spread=1.0, detail_sigma=20))
    assert got_texture < 1.2 * texture and abs(got_light - light) < 1.0
    monkeypatch.setattr(color, "side_hair", lambda light, skin, coarse, sd: np.zeros(skin.shape, bool))
    blind_texture, blind_light = texture_and_light(transfer_color(source, hair, skin, skin, spread=1.0, detail_sigma=20))
    assert blind_texture > 1.5 * texture and light - blind_light > 3.0


def test_transfer_color_errors(astronaut):
    empty = np.zeros(astronaut.shape[:2], np.float32)
    with pytest.raises(RswapError, match="mask is empty"):
        transfer_color(astronaut, astronaut, empty)
    with pytest.raises(RswapError, match="unknown colour transfer"):
        transfer_color(astronaut, astronaut, empty + 1, method="histogram")


# ---------------------------------------------------------------- mesh warp


@pytest.fixture(scope="module")
def reenact_target(aligned):
    """Destination landmarks: the aligned crop's mesh with a smooth non-rigid deformation."""
    _, _, pts = aligned
    wobble = np.stack([3 * np.sin(pts[:, 1] / 20), 2 * np.cos(pts[:, 0] / 25)], 1)
    return (pts + wobble).astype(np.float32)


def test_mesh_warp_maps_landmarks_to_landmarks(astronaut, points, reenact_target):
    dst = reenact_target
    h, w = astronaut.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    coords = np.dstack([xs, ys, np.zeros_like(xs)])
    warped, valid = mesh_warp(coords, points, dst, (CROP, CROP), mesh_triangles())
    assert warped.shape == (CROP, CROP, 3) and valid.shape == (CROP, CROP) and valid.dtype == np.float32
    # Landmarks strictly inside the covered area (all 4 bilinear neighbours valid).
    corner = np.floor(dst).astype(int)
    inner = np.array([valid[y : y + 2, x : x + 2].all() for x, y in corner])
    assert inner.sum() > 400
    err = np.linalg.norm(_sample(warped, dst[inner])[:, :2] - points[inner], axis=1)
    assert err.max() < 0.5
    # Nothing outside the destination mesh.
    hull = np.zeros((CROP, CROP), np.uint8)
    cv2.fillPoly(hull, [np.rint(cv2.convexHull(dst)).astype(np.int32)], 1)
    assert (valid[cv2.dilate(hull, np.ones((5, 5))) == 0] == 0).all()
    assert valid[hull > 0].mean() > 0.95


def test_mesh_warp_moves_marks_on_a_real_uint8_image(astronaut, points, reenact_target):
    ids = [1, 33, 133, 362, 263, 61, 291, 199, 50, 280, 9]
    apart = np.linalg.norm(reenact_target[ids][:, None] - reenact_target[ids][None], axis=2)
    assert (apart + 99 * np.eye(len(ids))).min() > 16  # centroid windows never see two marks
    marks = _marked(astronaut.shape[:2], points[ids])
    image = astronaut.copy()
    image[marks > 0] = 255
    warped, _ = mesh_warp(image, points, reenact_target, (CROP, CROP), mesh_triangles())
    assert warped.dtype == np.uint8
    only_marks, _ = mesh_warp(marks, points, reenact_target, (CROP, CROP), mesh_triangles())
    for i in ids:
        centre = _blob_centroid(only_marks, reenact_target[i])
        assert np.linalg.norm(centre - reenact_target[i]) < 1.0, i
        assert warped[tuple(np.rint(reenact_target[i][::-1]).astype(int))].min() > 200  # the mark is there


# ---------------------------------------------------------------- reshape warp


@pytest.fixture(scope="module")
def slimmer(aligned):
    """Control points: the face contour pulled 12% towards the face centre horizontally;
    anchors: eye corners, nose, mouth corners."""
    _, _, pts = aligned
    src = pts[FACE_OVAL]
    centre = src.mean(0)
    dst = (centre + (src - centre) * [0.88, 1.0]).astype(np.float32)
    return src, dst, pts[[1, 33, 133, 362, 263, 61, 291, 168]]


@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_reshape_warp_moves_controls_keeps_anchors_and_border(aligned, slimmer, strength):
    crop = aligned[0]
    src, dst, anchors = slimmer
    warped, m = reshape_warp(crop, src, dst, strength=strength, anchors=anchors)
    assert warped.shape == crop.shape and m.shape == (CROP, CROP, 2)
    target = src + strength * (dst - src)
    assert np.abs(target - src).max() > 5 * strength  # the test moves points by real amounts
    # Backward map: the output pixel at the target samples the input at the control point.
    assert np.linalg.norm(_sample(m, target) - src, axis=1).max() < 1.0
    assert np.linalg.norm(_sample(m, anchors) - anchors, axis=1).max() < 1.0
    ys, xs = np.mgrid[0:CROP, 0:CROP]
    identity = np.dstack([xs, ys]).astype(np.float32)
    border = np.ones((CROP, CROP), bool)
    border[1:-1, 1:-1] = False
    assert np.array_equal(m[border], identity[border])
    assert np.array_equal(warped[border], crop[border])
    # Forward points go where the image content went.
    np.testing.assert_allclose(reshape_points(src, (CROP, CROP), src, dst, strength, anchors), target, atol=1e-3)


def test_reshape_warp_moves_marks_and_zero_strength_is_identity(slimmer):
    src, dst, anchors = slimmer
    picks = [0, 9, 18, 27]  # forehead, side, chin, other side
    marks = _marked((CROP, CROP), src[picks])
    warped, _ = reshape_warp(marks, src, dst, strength=1.0, anchors=anchors)
    for k in picks:
        assert np.linalg.norm(_blob_centroid(warped, dst[k]) - dst[k]) < 1.0
    ys, xs = np.mgrid[0:CROP, 0:CROP]
    still = reshape_map((CROP, CROP), src, dst, strength=0.0, anchors=anchors)
    assert np.abs(still - np.dstack([xs, ys])).max() < 1e-3


# ---------------------------------------------------------------- paste back


@pytest.mark.parametrize("levels", [0, 3, 5])
def test_paste_back_round_trip_touches_only_the_face_region(astronaut, aligned, levels):
    crop, M, pts = aligned
    mask = region_mask((CROP, CROP), pts)
    frame = astronaut.copy()
    out = paste_back(frame, crop, mask, M, levels=levels)
    assert np.array_equal(frame, astronaut)  # input not mutated
    x0, y0, x1, y1 = paste_region(frame.shape[:2], mask, M, levels)
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], frame[outside])
    # The region is the face's: the crop's mask footprint, grown by the blend's reach.
    footprint = cv2.warpAffine(mask, M, frame.shape[1::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) > 0
    fy, fx = np.nonzero(footprint)
    grow = blend_margin(levels) + 3
    assert x0 >= fx.min() - grow and x1 <= fx.max() + 1 + grow and y0 >= fy.min() - grow and y1 <= fy.max() + 1 + grow
    assert (x1 - x0) * (y1 - y0) < 0.25 * frame.shape[0] * frame.shape[1]

    # Align, paste back: the original again inside the mask, up to two bilinear resamplings.
    face = region_mask(frame.shape[:2], transform_points(pts, cv2.invertAffineTransform(M)), feather=0, erode=4)
    diff = np.abs(out.astype(int) - frame).max(2)[face > 0]
    assert np.mean(diff) < 3 and np.percentile(diff, 99) < 20
    # ...and exactly the crop warped back where the mask is 1, beyond the blend's reach
    # (the astronaut's face is too small in the frame for 5 levels to leave such a core).
    if levels == 5:
        return
    back = cv2.warpAffine(crop, M, frame.shape[1::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    core = (footprint & (cv2.warpAffine(mask, M, frame.shape[1::-1], flags=cv2.WARP_INVERSE_MAP) == 1))
    core = cv2.erode(core.astype(np.uint8), np.ones((2 * blend_margin(levels) + 3,) * 2, np.uint8)) > 0
    assert core.sum() > 1000
    assert np.abs(out.astype(int) - back)[core].max() <= 1


def test_paste_back_in_place_edges_and_empty_mask(astronaut, aligned):
    crop, M, pts = aligned
    mask = region_mask((CROP, CROP), pts)
    expected = paste_back(astronaut, crop, mask, M, levels=5)
    frame = astronaut.copy()
    assert paste_back(frame, crop, mask, M, levels=5, out=frame) is frame
    assert np.array_equal(frame, expected)

    # The face half out of the frame: only the visible part is pasted, no error.
    shifted = np.ascontiguousarray(astronaut[:, 190:])
    M_shift = M.copy()
    M_shift[:, 2] += M[:, 0] * 190  # frame x' = x - 190
    out = paste_back(shifted, crop, mask, M_shift, levels=5)
    x0, y0, x1, y1 = paste_region(shifted.shape[:2], mask, M_shift, 5)
    assert x0 == 0 and not np.array_equal(out, shifted)

    empty = np.zeros_like(mask)
    same = paste_back(astronaut, crop, empty, M, levels=5)
    assert same is not astronaut and np.array_equal(same, astronaut)
