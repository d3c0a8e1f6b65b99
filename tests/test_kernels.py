"""The compiled kernels against the implementations they replaced, on the astronaut's mesh.

The references below are the previous code, kept here only to hold the new kernels to
them: an index raster drawn with OpenCV's fillConvexPoly for the mesh warp, scipy's
RBFInterpolator for the thin-plate spline, two distance transforms for masks.
"""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from scipy.interpolate import RBFInterpolator

from rswap.compose.blend import laplacian_blend
from rswap.compose.masks import region_mask
from rswap.compose.warp import ThinPlateSpline, mesh_warp, reshape_map
from rswap.face.align import align_crop, get_template, transform_points
from rswap.face.landmarks import FACE_OVAL, MESH_POINTS, mesh_triangles

CROP = 256


@pytest.fixture(scope="module")
def mesh(astronaut, astronaut_face):
    """(aligned crop, its mesh points, the same points moved: a reenactment target)."""
    crop, M = align_crop(astronaut, astronaut_face.kps5, get_template("ffhq256"))
    pts = transform_points(astronaut_face.landmarks[:MESH_POINTS], M)
    wobble = np.stack([4 * np.sin(pts[:, 1] / 17), 3 * np.cos(pts[:, 0] / 23)], 1)
    return crop, pts, (pts + wobble).astype(np.float32)


def _reference_mesh_maps(src_pts, dst_pts, hw, triangles):
    """The replaced rasteriser: triangle indices drawn with fillConvexPoly, then affines looked up."""
    from rswap.compose.warp import _triangle_affines

    src_t, dst_t = src_pts[triangles], dst_pts[triangles]
    A, ok = _triangle_affines(src_t, dst_t)
    e1, e2 = dst_t[:, 1] - dst_t[:, 0], dst_t[:, 2] - dst_t[:, 0]
    order = np.argsort(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] > 0, kind="stable")
    index = np.zeros(hw, np.int32)
    for t in order[ok[order]]:
        cv2.fillConvexPoly(index, np.rint(dst_t[t] * 16).astype(np.int32), int(t) + 1, cv2.LINE_8, 4)
    table = np.concatenate([np.array([[0, 0, -1, 0, 0, -1]], np.float32), A.reshape(-1, 6)])
    coef = table[index]
    ys, xs = np.mgrid[0 : hw[0], 0 : hw[1]].astype(np.float32)
    map_x = coef[..., 0] * xs + coef[..., 1] * ys + coef[..., 2]
    map_y = coef[..., 3] * xs + coef[..., 4] * ys + coef[..., 5]
    return map_x, map_y, (index > 0).astype(np.float32)


def test_mesh_warp_kernel_matches_the_opencv_raster(mesh):
    crop, src, dst = mesh
    tris = mesh_triangles()
    warped, valid = mesh_warp(crop, src, dst, (CROP, CROP), tris)
    map_x, map_y, ref_valid = _reference_mesh_maps(src, dst, (CROP, CROP), tris)
    # Coverage differs only on the mesh's outer edge: at most a pixel's width of it.
    differs = valid != ref_valid
    outline = cv2.morphologyEx((ref_valid > 0).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    assert differs.sum() < 0.01 * ref_valid.sum()
    assert not (differs & ~outline).any()
    # Inside, the maps agree to a fraction of a pixel: a pixel centre near a shared edge
    # may take the neighbour's affine (OpenCV draws edge pixels of both), nothing more.
    both = (valid > 0) & (ref_valid > 0) & ~outline
    coords = np.dstack([map_x, map_y])
    ys, xs = np.mgrid[0:CROP, 0:CROP].astype(np.float32)
    grid = np.dstack([xs, ys])
    ours = mesh_warp(grid, src, dst, (CROP, CROP), tris)[0]
    assert np.hypot(*(ours - coords).transpose(2, 0, 1))[both].max() < 0.75
    # A smooth picture warps to within a grey level; the photo itself to well over 40 dB.
    smooth = cv2.GaussianBlur(crop, (0, 0), 2.0)
    a = mesh_warp(smooth, src, dst, (CROP, CROP), tris)[0].astype(int)
    b = cv2.remap(smooth, map_x, map_y, cv2.INTER_LINEAR).astype(int)
    d = np.abs(a - b)[both]
    assert np.percentile(d, 99.9) <= 1 and d.max() <= 3  # measured: 14 of 53742 values at 2-3
    reference = cv2.remap(crop, map_x, map_y, cv2.INTER_LINEAR).astype(float)
    mse = ((warped.astype(float) - reference) ** 2)[both].mean()
    assert 10 * np.log10(255**2 / max(mse, 1e-12)) > 40


def test_thin_plate_spline_matches_scipy(mesh):
    _, pts, moved = mesh
    nodes = np.concatenate([pts[FACE_OVAL], [[0, 0], [255, 0], [0, 255], [255, 255]]]).astype(np.float64)
    values = np.concatenate([moved[FACE_OVAL] - pts[FACE_OVAL], np.zeros((4, 2))])
    ours = ThinPlateSpline(nodes, values)
    theirs = RBFInterpolator(nodes, values, kernel="thin_plate_spline")
    queries = np.random.default_rng(0).uniform(0, 255, (500, 2))
    np.testing.assert_allclose(ours(queries), theirs(queries), atol=1e-6)
    np.testing.assert_allclose(ours(nodes), values, atol=1e-8)  # it interpolates


def test_reshape_map_is_smooth_and_exact_at_controls(mesh):
    _, pts, moved = mesh
    m = reshape_map((CROP, CROP), pts[FACE_OVAL], moved[FACE_OVAL], 1.0, anchors=pts[[1, 33, 263]])
    assert np.isfinite(m).all()
    # The backward map sends each moved contour point back to where it came from.
    got = cv2.remap(m, moved[FACE_OVAL, :1].T.copy(), moved[FACE_OVAL, 1:].T.copy(), cv2.INTER_LINEAR)[0]
    assert np.abs(got - pts[FACE_OVAL]).max() < 0.5


@pytest.mark.parametrize("include, exclude", [(("face_oval",), ("left_eye",)), (("left_eye", "mouth_inner"), ())])
@pytest.mark.parametrize("feather, erode", [(None, None), (12, 12), (0, 6), (3, -1), (8, 0), (2, -2)])
def test_region_mask_equals_the_full_frame_two_transform_mask(mesh, include, exclude, feather, erode):
    """Windowed around the polygons, one transform where one suffices: the same mask to 1e-6."""
    _, pts, _ = mesh
    got = region_mask((CROP, CROP), pts, include=include, exclude=exclude, feather=feather, erode=erode)
    hard = (region_mask((CROP, CROP), pts, include=include, exclude=exclude, feather=0, erode=0) > 0)
    hard = hard.astype(np.uint8) * 255
    inside = cv2.distanceTransform(hard, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform(255 - hard, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    f = 0.08 * np.sqrt(np.count_nonzero(hard)) if feather is None else feather
    e = f / 2 if erode is None else erode
    signed = inside - outside - 0.5 * np.sign(inside - outside) - e
    if f <= 0:
        want = (signed > 0).astype(np.float32)
    else:
        t = np.clip(signed / f + 0.5, 0.0, 1.0)
        want = t * t * (3.0 - 2.0 * t)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_kernels_compile_from_a_cold_cache(tmp_path, mesh):
    """No kernel cache yet (a fresh install): the first call compiles and still gives the warp
    and the blend."""
    code = (
        "import numpy as np; from rswap.compose.warp import mesh_warp; from rswap.face.landmarks import mesh_triangles;"
        "d = np.load(__import__('sys').argv[1]);"
        "w, v = mesh_warp(d['crop'], d['src'], d['dst'], (256, 256), mesh_triangles());"
        "from rswap.compose.blend import laplacian_blend;"
        "b = laplacian_blend(w, d['crop'], v, levels=4, fg_valid=v);"
        "print(int(v.sum()), int(w.sum()), int(b.sum()))"
    )
    crop, src, dst = mesh
    np.savez(tmp_path / "m.npz", crop=crop, src=src, dst=dst)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.npz")], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    warped, valid = mesh_warp(crop, src, dst, (CROP, CROP), mesh_triangles())
    blended = laplacian_blend(warped, crop, valid, levels=4, fg_valid=valid)
    assert out.stdout.split() == [str(int(valid.sum())), str(int(warped.sum())), str(int(blended.sum()))]
    assert any((tmp_path / "cache").rglob("*.nbi"))  # and left its compiled code for the next start


def test_blend_kernels_give_numpys_sums(mesh):
    """The compiled finish of the Laplacian blend and the alpha mix against the numpy sums
    they replaced (blend_delta over the float difference; bg + m (fg - bg)): equal up to a
    rounding step on a few pixels."""
    from rswap.compose.blend import alpha_blend, blend_delta

    crop, src, dst = mesh
    warped, valid = mesh_warp(crop, src, dst, (CROP, CROP), mesh_triangles())
    mask = region_mask((CROP, CROP), dst, feather=10, erode=10)
    bg = crop.astype(np.float32)
    delta = (warped.astype(np.float32) - bg) * (valid > 0)[..., None]
    want = np.clip(np.rint(bg + blend_delta(delta, mask, 4)), 0, 255).astype(np.uint8)
    got = laplacian_blend(warped, crop, mask, levels=4, fg_valid=valid)
    d = np.abs(got.astype(int) - want.astype(int))
    assert d.max() <= 1 and (d > 0).mean() < 1e-3
    assert np.abs(got.astype(int) - crop.astype(int)).max() > 50  # the blend did move pixels
    # Beyond the blend's reach from the mask, the target itself (copied there, not summed)
    from rswap.compose.blend import blend_margin

    reach = blend_margin(4)
    far = cv2.dilate((mask > 0).astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) == 0
    assert far.mean() > 0.2 and np.array_equal(got[far], crop[far])
    mixed = alpha_blend(warped, crop, mask)
    ref = np.clip(np.rint(bg + mask[..., None] * (warped.astype(np.float32) - bg)), 0, 255).astype(np.uint8)
    assert np.array_equal(mixed, ref)


def test_coarse_skin_colour_from_the_box_equals_the_whole_frame_blur(astronaut):
    """The colour pass shrinks only the face's box (compiled `area_sums`); masked_blur
    shrinks the whole frame with OpenCV's INTER_AREA. Same weighted local means."""
    import cv2

    from rswap.compose.color import _coarse_mean, to_lab, masked_blur

    lab = to_lab(cv2.resize(astronaut, (CROP, CROP)))
    weight = np.zeros((CROP, CROP), np.float32)
    weight[70:200, 60:190] = 1.0
    weight[120:140, 100:160] = 0.0  # a hole, as eyes and lips make in the skin
    box = (slice(61, 211), slice(50, 201))
    sigma = 0.15 * CROP
    want = masked_blur(lab * (weight[..., None] > 0), weight, sigma)
    got = cv2.resize(_coarse_mean(lab[box], weight[box], box, (CROP, CROP), sigma), (CROP, CROP), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(got[weight > 0], want[weight > 0], atol=0.02)


def test_one_call_reshape_equals_the_map_remap_and_forward_points(mesh):
    """`reshape_crop` (both splines, the grid, the upsampling and the sampling in one compiled
    call) against `reshape_warp` + `reshape_points`: the same picture within a grey level
    but at the sharpest edges (the field's upsampling is exact here, OpenCV's rounds it to
    1/32 of a grid cell), the same landmarks."""
    from rswap.compose.warp import reshape_crop, reshape_points, reshape_warp

    crop, pts, moved = mesh
    ctrl = (pts[FACE_OVAL], moved[FACE_OVAL], 0.8, pts[[1, 33, 263]])
    got, got_pts = reshape_crop(crop, pts, *ctrl)
    want, _ = reshape_warp(crop, *ctrl)
    d = np.abs(got.astype(int) - want.astype(int))
    # measured: 208 of 196608 values differ by 2-4, at the photo's sharpest edges
    assert np.percentile(d, 99.5) <= 1 and d.max() <= 4
    assert np.abs(got.astype(int) - crop.astype(int)).max() > 30  # it did move the face
    np.testing.assert_allclose(got_pts, reshape_points(pts, (CROP, CROP), *ctrl), atol=1e-3)


@pytest.mark.parametrize("keep_mouth, shift", [(False, (0, 0)), (True, (0, 0)), (True, (-75, 40))])
def test_one_call_masks_draw_the_step_by_step_masks(mesh, keep_mouth, shift):
    """`swap_masks` (polygons, distance transforms, ramps, the forehead fade and the detail
    blur compiled in one call, each on its own window) against the OpenCV-drawn masks the
    swapper made step by step: the same masks but for a few pixels along polygon edges
    (OpenCV draws edge pixels by its own line rule); also with the face cut by the crop's
    left and bottom edges (the windows clipped there)."""
    from rswap.compose.mask_kernels import swap_masks
    from rswap.swap import classical as C

    _, pts, moved = mesh
    moved = (moved + np.float32(shift)).astype(np.float32)
    sw = C.ClassicalSwapper(keep_mouth=keep_mouth)
    hw = (CROP, CROP)
    valid = np.ones(hw, np.float32)
    valid[:, :40] = 0  # the warped source does not reach everywhere
    lowered = C._lower_forehead(moved)
    face, skin, src_skin, regions, chroma, detail, kept = swap_masks(
        hw, moved.astype(np.float64), lowered.astype(np.float64), valid, sw._face_parts, sw._whole_sets[True],
        sw._kept_parts(("mouth_inner",)), *sw._mask_parts, float(sw._feather), sw._fade_kernel, True)
    want_face = sw._face_mask(hw, moved) * valid
    no_brows = swap_masks(hw, moved.astype(np.float64), lowered.astype(np.float64), valid, sw._face_parts, sw._whole_sets[False],
                          sw._kept_parts(("mouth_inner",)), *sw._mask_parts, float(sw._feather), sw._fade_kernel, True)[0]
    want_skin = C._skin_mask(hw, lowered, sw._feather)
    want_regions = [region_mask(hw, moved, include=(n,), feather=2.0, erode=-2.0) for n in C._FEATURES]
    want_kept = region_mask(hw, moved, include=("mouth_inner",), feather=3, erode=-1)  # an open mouth, put back

    def close(got, want, worst, mean):
        """At most `worst` apart anywhere, `mean` apart on average over where either is set."""
        d = np.abs(got - want)
        where = (got > 0) | (want > 0)
        assert want.sum() > 20 and d.max() <= worst and d[where].mean() <= mean, (d.max(), d[where].mean())

    # measured on this mesh: the face ramp 0.15 at most (a differing edge pixel
    # moves the distances of the pixels around it), eyes 0.43; means 0.0002-0.007
    close(face, want_face, 0.2, 0.005)
    close(no_brows, sw._face_mask(hw, moved, brows=False) * valid, 0.2, 0.005)  # under a brim or fringe
    close(skin, want_skin, 1.0, 0.01)  # hard masks: a few pixels at the edge
    close(src_skin, want_skin * valid, 1.0, 0.01)
    for got, want in zip(regions, want_regions):
        close(got, want, 0.8, 0.05)  # an eye is ~150 pixels: its rim is much of it
    close(chroma, 1.0 - np.max(want_regions, axis=0), 0.8, 0.01)
    close(detail, C._detail_mask(hw, lowered), 0.25, 0.005)
    close(kept, want_kept, 0.8, 0.05)


def test_compiled_median_equals_numpys():
    """The kernels' own quickselect median (numba's np.median compiled for seconds on a cold
    start) gives np.median exactly: odd and even counts, ties, sorted and reversed input."""
    from rswap.compose.kernels import _median

    rng = np.random.default_rng(0)
    cases = [rng.random(n) * 100 for n in (1, 2, 7, 8, 501, 2000)]
    cases += [rng.integers(0, 4, n).astype(np.float64) for n in (5, 6, 64, 99)]  # many ties
    cases += [np.arange(50.0), np.arange(51.0)[::-1].copy(), np.full(10, 3.0)]
    for a in cases:
        assert _median(a.copy()) == np.median(a), a
    assert np.isnan(_median(np.zeros(0)))


# ---------------------------------------------------------------- issue 11, fifth session


def _made_marks(seed: int, shape=(90, 120)) -> np.ndarray:
    """uint8 0/255: a few filled discs and polygons and some lone pixels, one touching the
    border, with whole rows and columns left empty."""
    rng = np.random.default_rng(seed)
    marks = np.zeros(shape, np.uint8)
    for _ in range(3):
        cv2.circle(marks, (int(rng.integers(0, shape[1])), int(rng.integers(0, shape[0]))), int(rng.integers(2, 15)), 255, -1)
    cv2.fillPoly(marks, [rng.integers(0, [shape[1] // 2, shape[0]], (6, 2)).astype(np.int32)], 255)
    marks[rng.integers(0, shape[0], 5), rng.integers(0, shape[1], 5)] = 255
    marks[:, -7:] = 0  # columns with no marked pixel
    marks[:4] = 0
    return marks


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("reach", [4, 11, 40])
def test_compiled_distance_transform_equals_opencvs_exact_one_within_its_reach(seed, reach):
    """`_edt` gives OpenCV's exact Euclidean distances, to the marked pixels and to the
    unmarked ones, wherever they are at most `reach`; beyond it, a value past the reach."""
    from rswap.compose.mask_kernels import _edt

    marks = _made_marks(seed)
    to_marked = cv2.distanceTransform((marks == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    to_unmarked = cv2.distanceTransform((marks > 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    for on, exact in ((True, to_marked), (False, to_unmarked)):
        found = _edt(marks, on, reach)
        near = exact <= reach
        assert near.any() and (reach > 4 or (~near).any())  # at reach 4 the cut is exercised
        np.testing.assert_allclose(found[near], exact[near], atol=1e-4)
        assert (found[~near] > reach).all()


@pytest.mark.parametrize("radius", [3, 10, 14])
def test_compiled_elliptic_dilation_equals_opencvs(mesh, radius):
    """`dilate_rows` (one compiled call) is cv2.dilate by OpenCV's elliptic element, exactly:
    on the swap's paste shape (two face outlines, one cut by the border) and on made marks."""
    from rswap.compose.mask_kernels import dilate_rows, ellipse_rows

    _, pts, moved = mesh
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    outlines = np.zeros((CROP, CROP), np.uint8)
    for p in (pts, moved - [90, 0]):
        cv2.fillPoly(outlines, [np.round(p[FACE_OVAL]).astype(np.int32)], 255)
    for marks in (outlines, _made_marks(radius)):
        want = cv2.dilate(marks, element, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        assert np.array_equal(dilate_rows(marks, ellipse_rows(radius)), want)


def test_float32_spline_sums_stay_within_a_thousandth_of_a_pixel(mesh):
    """The reshape's spline evaluated with float32 kernel sums (`_tps_eval32`) against the
    float64 evaluation, on the reshape's own spline (the outline moved, border pinned)."""
    from rswap.compose.kernels import _tps_eval32, spline_nodes, thin_plate_eval, tps_fit
    from rswap.compose.warp import _fixed_points

    _, pts, moved = mesh
    nodes, values = spline_nodes(moved[FACE_OVAL].astype(np.float64), pts[FACE_OVAL].astype(np.float64),
                                 _fixed_points((CROP, CROP), pts[[1, 33, 263]]))
    centre, scale, scaled, coef, ok = tps_fit(nodes, values)
    assert ok
    queries = (np.random.default_rng(0).uniform(0, 255, (2000, 2)) - centre) * scale
    queries = np.concatenate([queries, scaled])  # the nodes themselves (r = 0 terms)
    want = thin_plate_eval(queries, scaled, coef)
    assert np.abs(want).max() > 1.0  # the spline does move pixels
    np.testing.assert_allclose(_tps_eval32(queries, scaled, coef), want, atol=1e-3)


def _spline_nodes(nodes, moves, fixed):
    """The spline nodes as numpy made them before they were compiled (`kernels.spline_nodes`): the
    nodes with their moves, then the fixed points farther than a pixel from every node, unmoved."""
    dx, dy = fixed[:, 0, None] - nodes[None, :, 0], fixed[:, 1, None] - nodes[None, :, 1]
    fixed = fixed[(dx * dx + dy * dy).min(1) >= 1.0]
    return (np.concatenate([nodes, fixed]).astype(np.float64),
            np.concatenate([moves, np.zeros_like(fixed)]).astype(np.float64))


def test_the_reshape_kernels_spline_nodes_are_warps(mesh):
    """`kernels.spline_nodes` (inside `reshape_kernel`) against numpy's `_spline_nodes` above: the
    moved outline's nodes, then the fixed points but those within a pixel of a node (here one placed
    half a pixel from a node, and the border's own corners)."""
    from rswap.compose.kernels import spline_nodes
    from rswap.compose.warp import _fixed_points

    _, pts, moved = mesh
    nodes, toward = moved[FACE_OVAL].astype(np.float64), pts[FACE_OVAL].astype(np.float64)
    anchors = np.concatenate([pts[[1, 33, 263]], nodes[:1] + 0.5])
    fixed = _fixed_points((CROP, CROP), anchors)
    want = _spline_nodes(nodes, toward - nodes, fixed)
    got = spline_nodes(nodes, toward, fixed)
    assert len(want[0]) < len(nodes) + len(fixed)  # the anchor beside a node was dropped
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_shadow_limits_blur_of_two_lightness_channels_equals_masked_blur(astronaut):
    """`_masked_blur_2d` (one compiled shrink for both images' lightness) against
    `masked_blur` (OpenCV's INTER_AREA shrink) of each channel: the same coarse light."""
    from rswap.compose.color import _masked_blur_2d, masked_blur

    img = cv2.resize(astronaut, (194, 181)).astype(np.float32)
    weight = np.zeros(img.shape[:2], np.float32)
    cv2.ellipse(weight, (97, 95), (60, 75), 0, 0, 360, 1.0, -1)
    values = np.ascontiguousarray(img[..., [0, 1, 2]])
    got, want = _masked_blur_2d(values, weight, 12.8), masked_blur(values, weight, 12.8)
    np.testing.assert_allclose(got[weight > 0], want[weight > 0], atol=0.05)


def test_compiled_lightness_is_opencvs_float_cielab_lightness(astronaut):
    """`lightness_pair` (the shadow limit's L of two images, by tables) against OpenCV's float
    CIELAB L: within 0.2 L units (OpenCV's own 8-bit L is 0.5 off), on the photo and on
    random colours; only the pixels asked for are computed, the rest 0."""
    from rswap.compose.kernels import CUBE_ROOT, SRGB_LINEAR, lightness_pair

    a = np.ascontiguousarray(cv2.resize(astronaut, (160, 120)))
    b = np.random.default_rng(1).integers(0, 256, a.shape, dtype=np.uint8)
    b[0, :4] = [(0, 0, 0), (255, 255, 255), (2, 3, 1), (255, 0, 0)]  # black, white, the dark linear segment
    weight = np.zeros(a.shape[:2], np.float32)
    weight[20:100, 30:140] = 0.5
    got = lightness_pair(a[:, :], b, weight, 0, 90, 10, 150, SRGB_LINEAR, CUBE_ROOT)
    for k, (img, where) in enumerate([(a, weight > 0), (b, np.zeros_like(weight, bool))]):
        if k == 1:
            where[0:90, 10:150] = True
        want = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[..., 0]
        assert np.abs(got[..., k] - want)[where].max() < 0.2
        assert not got[..., k][~where].any()
    assert not got[..., 2].any()


def _side_hair_pieces_by_opencv(light, oval, features, thr, lids, xl, xr, min_area):
    """The side-hair search's pieces as first written: numpy thresholds, a 3 x 3 dilation and
    OpenCV's connected components (the reference for the compiled pass)."""
    dark = light < thr
    inside = dark & (oval > 0) & (features == 0)
    outside = cv2.dilate((dark & (oval == 0)).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inside.astype(np.uint8), connectivity=8)
    keep = (stats[:, cv2.CC_STAT_TOP] < lids) & (stats[:, cv2.CC_STAT_AREA] >= min_area)
    keep &= np.bincount(labels[outside & inside], minlength=count) > 0
    keep[0] = False
    cols = np.arange(light.shape[1])[None, :]
    return (keep[labels] & ((cols < xl) | (cols > xr))).astype(np.uint8)


@pytest.mark.parametrize("seed", range(4))
def test_compiled_side_hair_pieces_equal_opencvs_components(seed):
    """`side_hair_pieces` (one compiled pass) keeps exactly the pieces the numpy and OpenCV
    chain keeps, on made lightness fields of dark blobs and streaks over a face-like oval with
    feature holes, at thresholds that keep some pieces and drop others."""
    from rswap.compose.kernels import side_dark_above, side_hair_pieces

    rng = np.random.default_rng(seed)
    h, w = 64 + seed, 72 - seed
    light = cv2.GaussianBlur(rng.uniform(0, 100, (h, w)).astype(np.float32), (0, 0), 2.0)
    for _ in range(6):  # streaks from outside the oval inward, as locks of hair
        x = int(rng.integers(0, w))
        cv2.line(light, (x, 0), (int(rng.integers(0, w)), int(rng.integers(h // 3, h))), 5.0, int(rng.integers(1, 4)))
    oval = np.zeros((h, w), np.uint8)
    cv2.ellipse(oval, (w // 2, h // 2), (w // 3, h // 2 - 4), 0, 0, 360, 1, -1)
    features = np.zeros((h, w), np.uint8)
    features[h // 3:h // 3 + 6, w // 3:2 * w // 3] = 1
    xl, xr, lids = w / 3 + 0.5, 2 * w / 3 - 0.5, h / 2 + 0.25
    kept = 0
    for thr in (3.0, 20.0, 45.0):  # 3: below the streaks' 5, no candidate at all
        for min_area in (2.0, 30.5, 1e6):
            want = _side_hair_pieces_by_opencv(light, oval, features, thr, lids, xl, xr, min_area)
            assert np.array_equal(side_hair_pieces(light, oval, features, thr, lids, xl, xr, min_area), want)
            kept += int(want.any())
        beside = (light < thr) & (oval > 0) & ((np.arange(w) < xl) | (np.arange(w) > xr))[None, :]
        assert side_dark_above(light, oval, thr, lids, xl, xr) == bool(beside[: int(np.ceil(lids))].any())
    assert 0 < kept < 9  # some settings keep pieces, some keep none


# ---------------------------------------------------------------- twenty-fourth session: the occluder searches


def _half_size_search(mesh, paint):
    """The forehead-to-chin box of the astronaut's crop as the occluder searches see it, with
    `paint(crop, pts)` drawn on the crop first: (CIELAB at half size, mesh points in it, oval)."""
    from rswap.compose.occluders import _at_half_size, _even_box

    crop, pts, _ = mesh
    crop = crop.copy()
    paint(crop, pts)
    top, bottom = int(pts[FACE_OVAL, 1].min()) - 7, int(pts[FACE_OVAL, 1].max()) + 1
    box = _even_box(max(top, 0), min(bottom, CROP), int(pts[FACE_OVAL, 0].min()) - 7, int(pts[FACE_OVAL, 0].max()) + 8,
                    (CROP, CROP))
    return _at_half_size(crop, pts, box)


def _band_cap_and_collar(crop, pts):
    """A blue band over the forehead (a cap's brim) and a green one under the chin (a collar)."""
    cv2.line(crop, tuple(map(int, pts[54])), tuple(map(int, pts[284])), (40, 60, 200), 9)
    cv2.line(crop, tuple(map(int, pts[172])), tuple(map(int, pts[152])), (30, 150, 60), 11)


@pytest.mark.parametrize("paint", [lambda crop, pts: None, _band_cap_and_collar], ids=["plain", "band and collar"])
def test_compiled_forehead_test_and_cheek_median_equal_the_numpy_chain(mesh, paint):
    """`skin_outliers` and `cheek_median` (occluders.py's cheek statistics and forehead test, one
    compiled call each) give what the numpy chain they replaced gave, to the bit."""
    from rswap.compose.kernels import cheek_median, skin_outliers
    from rswap.compose.occluders import CHROMA_FAR, DARK_FAR, SCALE_FLOOR, _cheek_bounds

    lab, local, oval = _half_size_search(mesh, paint)
    rows, cols = np.arange(oval.shape[0])[:, None], np.arange(oval.shape[1])[None, :]
    xl, xr = sorted((float(local[33, 0]), float(local[263, 0])))
    cheeks = (oval > 0) & (rows > local[[33, 263, 133, 362], 1].max() + 1) & (rows < local[1, 1]) & (cols > xl) & (cols < xr)
    ref = lab[cheeks]
    med = np.median(ref, axis=0)
    scale = np.maximum(1.4826 * np.median(np.abs(ref - med), axis=0), SCALE_FLOOR)
    strip = oval.shape[0] // 2
    z = (lab[:strip] - med) / scale
    want = np.zeros(oval.shape, bool)
    want[:strip] = ((z[..., 1] ** 2 + z[..., 2] ** 2 > CHROMA_FAR**2) | (z[..., 0] < -DARK_FAR)) & (oval[:strip] > 0)

    occ, got_med, count = skin_outliers(lab, oval, *_cheek_bounds(local), strip, CHROMA_FAR, DARK_FAR, SCALE_FLOOR)
    assert count == len(ref) > 30
    assert np.array_equal(got_med, med) and got_med.dtype == np.float32
    assert np.array_equal(occ > 0, want)
    assert want.any() or paint is not _band_cap_and_collar  # the band is found: the test compares something
    light = np.ascontiguousarray(lab[..., 0])
    assert cheek_median(light, oval, *_cheek_bounds(local)) == (np.median(light[cheeks]), len(ref))


@pytest.mark.parametrize("paint", [lambda crop, pts: None, _band_cap_and_collar], ids=["plain", "band and collar"])
def test_compiled_clothes_test_equals_the_numpy_chain(mesh, paint):
    """`cloth_pixels` and `pieces_at` (the clothes search's pixels and its pieces that reach the
    oval's rim and a row) against the numpy chain they replaced."""
    from rswap.compose.kernels import cloth_pixels, pieces_at
    from rswap.compose.occluders import CLOTH_CHROMA

    lab, local, oval = _half_size_search(mesh, paint)
    skin = np.median(lab[oval > 0], axis=0).astype(np.float32)
    hue = float(np.hypot(skin[1], skin[2]))
    lips = np.zeros_like(oval)
    cv2.circle(lips, tuple(map(int, local[13])), 6, 1, -1)
    along = (lab[..., 1] * skin[1] + lab[..., 2] * skin[2]) / hue
    across = np.abs(lab[..., 1] * skin[2] - lab[..., 2] * skin[1]) / hue
    want = (along * along + across * across > CLOTH_CHROMA**2) & (across > along) & (oval > 0) & (lips == 0)
    cloth = cloth_pixels(lab, oval, lips, float(skin[1]), float(skin[2]), hue, CLOTH_CHROMA)
    assert np.array_equal(cloth > 0, want) and want.any()

    count, labels = cv2.connectedComponents(cloth, connectivity=8)
    inner = cv2.erode(oval, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    row = 0.6 * oval.shape[0]
    rim = (oval > 0) & (inner == 0)
    below = np.arange(oval.shape[0])[:, None] >= row
    pieces = np.arange(count)
    want_pieces = np.isin(pieces, labels[rim & want]) & np.isin(pieces, labels[below & want])
    assert np.array_equal(pieces_at(labels, cloth, oval, inner, row), want_pieces)


def test_compiled_bridge_test_equals_the_loop_over_pieces():
    """`bridge_pieces` (which pieces bar the nose bridge) against the per-piece numpy loop it
    replaced, on made dark marks: bars across the zone, short ones, one too narrow to reach."""
    from rswap.compose.kernels import bridge_pieces

    for seed in range(4):
        marks = _made_marks(seed, (60, 90))
        cv2.line(marks, (10, 30), (80, 32), 255, 3)  # a bar across the zone
        cv2.line(marks, (40, 20), (50, 20), 255, 2)  # one that does not reach the corners
        strict = marks > 0
        _, labels, stats, _ = cv2.connectedComponentsWithStats(marks, connectivity=8)
        y0, y1, x0, x1, xa, xb = 15, 40, 30, 60, 25.5, 64.5
        zone = np.where(strict[y0:y1, x0:x1], labels[y0:y1, x0:x1], 0)
        want = np.zeros(len(stats), bool)
        for k in np.unique(zone[zone > 0]).tolist():
            left, width = stats[k, cv2.CC_STAT_LEFT], stats[k, cv2.CC_STAT_WIDTH]
            want[k] = (zone == k).any(0).mean() > 0.8 and left < xa and left + width - 1 > xb
        assert want.any()
        assert np.array_equal(bridge_pieces(strict, labels, stats, y0, y1, x0, x1, xa, xb), want)


@pytest.mark.parametrize("seed", range(3))
def test_compiled_hair_candidates_equal_the_numpy_chain(seed):
    """`hair_candidates` (color.side_hair's dark pixels and each row's skin span, one compiled
    pass) against the numpy chain it replaced, on made lightness with dark streaks over a skin oval,
    read through strided views as side_hair reads its CIELAB planes."""
    from rswap.compose.kernels import hair_candidates

    rng = np.random.default_rng(seed)
    h, w = 70 + seed, 64
    plane = cv2.GaussianBlur(rng.uniform(30, 80, (h, w)).astype(np.float32), (0, 0), 1.5)
    for _ in range(4):  # dark locks
        cv2.line(plane, (int(rng.integers(0, w)), 0), (int(rng.integers(0, w)), int(rng.integers(h // 2, h))), 12.0, 2)
    lab = np.zeros((h, w, 3), np.float32)
    lab[..., 0] = plane
    coarse = np.zeros_like(lab)
    coarse[..., 0] = cv2.GaussianBlur(lab[..., 0], (0, 0), 8.0)
    skin = np.zeros((h, w), np.uint8)
    cv2.ellipse(skin, (w // 2, h // 2), (w // 3, h // 2 - 3), 0, 0, 360, 1, -1)
    skin = skin > 0
    light, light_coarse, depth = lab[..., 0], coarse[..., 0], -2.5 * 4.1
    want = skin & (light - light_coarse < depth) & (light < 0.6 * float(np.median(light[skin])))
    rows = np.flatnonzero(skin.any(1))
    dark, first, last = hair_candidates(light, skin, light_coarse, depth, 0.6)
    assert np.array_equal(dark > 0, want) and want.any()
    assert np.array_equal(np.flatnonzero(first >= 0), rows)
    assert np.array_equal(first[rows], skin[rows].argmax(1))
    assert np.array_equal(last[rows], w - 1 - skin[rows, ::-1].argmax(1))


def test_compiled_light_lift_equals_the_numpy_chain():
    """`smooth_ramp` and `light_lift` (local_light.target_light_at's weight and lift, one compiled
    pass each) give the numpy chain's weight, lifted pixels, L and (a, b) changes to the bit, on a
    made hull and a made change field, some of it under the quarter-unit line and some over."""
    from rswap.compose.kernels import light_lift, smooth_ramp

    rng = np.random.default_rng(3)
    outside = np.full((40, 52), 255, np.uint8)
    cv2.fillPoly(outside, [np.array([[14, 10], [38, 12], [30, 28], [16, 24]], np.int32)], 0)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
    t = np.clip(1.0 - distance * (1.0 / (2 * 5)), 0.0, 1.0)
    want_weight = t * t * (3.0 - 2.0 * t)
    weight = smooth_ramp(distance, 1.0 / (2 * 5))
    assert np.array_equal(weight, want_weight) and weight.dtype == np.float32

    change = cv2.GaussianBlur(rng.normal(0, 20, (40, 52, 3)).astype(np.float32), (0, 0), 2.0)
    change[..., 0] += 25.0
    excess = change[..., 0] * np.float32(100 / 255) - np.float32(6.0)
    lift = weight * np.maximum(excess, 0.0)
    where = lift > 0.25
    gate = (weight * np.clip(excess * (1.0 / 4.0), 0.0, 1.0))[where]
    got_where, got_lift, got_shift = light_lift(weight, change, 100 / 255, 6.0, 1.0 / 4.0, 0.25)
    assert where.any() and not where.all()
    assert np.array_equal(got_where, where)
    assert np.array_equal(got_lift, lift[where])
    assert np.array_equal(got_shift, gate[:, None] * change[where][:, 1:])


def test_mask_box_is_the_box_of_the_true_pixels():
    """`masks.mask_box` (OpenCV's boundingRect) gives the rows and columns numpy's any() finds, on
    made marks, a single pixel in a corner, a strided view, and None for an empty mask."""
    from rswap.compose.masks import mask_box

    def by_numpy(mask):
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        return (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)) if rows.size else None

    corner = np.zeros((30, 40), bool)
    corner[29, 39] = True
    for mask in [_made_marks(s) > 0 for s in range(3)] + [corner, (_made_marks(5) > 0)[::2, 1::3], np.zeros((9, 9), bool)]:
        assert mask_box(mask) == by_numpy(mask)
    assert mask_box(np.zeros((9, 9), bool)) is None


def _hold_range_by_numpy(light, m, core, ref_light, own_light):
    """color.hold_eye_range's step for one eye as first written in numpy (the reference)."""
    def ranked(values, fractions):
        ranks = [int(round(f * (values.size - 1))) for f in fractions]
        return np.partition(values, ranks)[ranks]

    lo, top = ranked(light[core], (0.10, 0.98))
    floor, cap = ranked(ref_light[core], (0.10, 0.98))
    own_floor = ranked(own_light[core], (0.10,))[0]
    ceiling = np.float64(max(floor, own_floor)) + 10.0
    floor, cap = min(floor, own_floor), cap + 10.0
    changed = False
    if top > cap > lo:
        light -= m * (light - lo) * np.float32(1.0 - (cap - lo) / (top - lo)) * (light > lo)
        top, changed = cap, True
    if lo < 2.0 and lo < floor < top:
        light += m * (top - light) * np.float32(1.0 - (top - floor) / (top - lo)) * (light < top)
        changed = True
    elif lo > ceiling and top > lo:
        t = np.float32(top)
        light -= m * np.minimum(t - light, t - lo) * np.float32((lo - ceiling) / (top - lo)) * (light < t)
        np.maximum(light, 0.0, out=light)
        changed = True
    return changed


@pytest.mark.parametrize("case", ["glowing whites", "sunk to black", "both", "in range", "washed out", "washed and glowing"])
def test_compiled_eye_range_hold_equals_the_numpy_step(case):
    """`hold_range` (hold_eye_range's percentiles and scalings in one compiled pass, L in place)
    against the numpy step it replaced, on made eyes: whites far brighter than the target's, an
    iris sunk below black, both, one already in range, and a dark end lifted far above both faces'
    (without and with glowing whites); through strided views, as it reads CIELAB."""
    from rswap.compose.kernels import hold_range

    rng = np.random.default_rng(len(case))
    h, w = 14, 30
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (w // 2, h // 2), (12, 5), 0, 0, 360, 1.0, -1)
    m = cv2.GaussianBlur(m, (0, 0), 1.0)
    core = m > 0.5
    lab = np.zeros((h, w, 3), np.float32)
    lab[..., 0] = rng.uniform(20, 60, (h, w))
    ref = rng.uniform(15, 55, (h, w)).astype(np.float32)
    own = rng.uniform(10, 50, (h, w)).astype(np.float32)
    if case in ("glowing whites", "both"):
        lab[..., 0][core & (rng.random((h, w)) < 0.3)] = 95.0
    if case in ("sunk to black", "both"):
        lab[..., 0][core & (rng.random((h, w)) < 0.3)] = 0.5
    if case.startswith("washed"):
        lab[..., 0] = rng.uniform(45, 62, (h, w)) if case == "washed out" else rng.uniform(45, 90, (h, w))
    want = lab.copy()
    want_changed = _hold_range_by_numpy(want[..., 0], m, core, ref, own)
    n = int(core.sum())
    changed = hold_range(lab[..., 0], m, core, ref, own, int(round(0.1 * (n - 1))), int(round(0.98 * (n - 1))), 10.0, 2.0, 10.0)
    assert changed == want_changed == (case != "in range")
    assert np.array_equal(lab, want)


def test_compiled_float_to_uint8_and_masked_copy_equal_numpys():
    """`rgb8` (from_lab's last step) equals numpy's clip(rint(rgb * 255)) on the astronaut's
    colours, shifted below 0 and above 1 at the sides, and `put_where` equals copyto with a mask
    broadcast over the channels, into a strided box of a crop."""
    from skimage import data

    from rswap.compose.kernels import put_where, rgb8

    crop = np.ascontiguousarray(data.astronaut()[40:200, 150:330])
    rgb = crop.astype(np.float32) / 255 + np.linspace(-0.2, 0.2, crop.shape[1], dtype=np.float32)[:, None]
    assert (rgb < 0).any() and (rgb > 1).any()
    assert np.array_equal(rgb8(rgb), np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8))
    mask = cv2.GaussianBlur(crop[..., 0].astype(np.float32), (0, 0), 3) > 120
    want, got = crop.copy(), crop.copy()
    src = np.ascontiguousarray(255 - crop[10:100, 20:150])
    np.copyto(want[10:100, 20:150], src, where=mask[10:100, 20:150][..., None])
    put_where(got[10:100, 20:150], src, mask[10:100, 20:150])
    assert 0 < mask[10:100, 20:150].mean() < 1 and np.array_equal(got, want)


def test_compiled_shadow_lift_equals_the_numpy_step():
    """`shadow_lift` (limit_shadows' lift and its pixels) against the numpy step it replaced, on
    made lightness: a source's detail with deep dark creases against a reference's softer one."""
    from rswap.compose.kernels import shadow_lift

    rng = np.random.default_rng(7)
    h, w = 60, 70
    light = np.zeros((h, w, 3), np.float32)
    light[..., 0] = rng.normal(60, 4, (h, w))
    light[..., 0][rng.random((h, w)) < 0.1] -= 25  # the source's deep creases
    light[..., 1] = rng.normal(62, 2, (h, w))
    coarse = cv2.GaussianBlur(light, (0, 0), 5)
    low = cv2.erode(light[..., 1] - coarse[..., 1], np.ones((5, 5), np.uint8))
    weight = np.clip(rng.normal(0.8, 0.4, (h, w)), 0, 1).astype(np.float32)
    lift = weight * (1.0 - 0.3) * np.maximum((low - 8.0) - (light[..., 0] - coarse[..., 0]), 0.0)
    where, got = shadow_lift(light, coarse, low, weight, 8.0, 1.0 - 0.3, 0.05)
    assert np.array_equal(where, lift > 0.05) and 0 < where.mean() < 0.5
    assert np.array_equal(got, lift[lift > 0.05])
    # a lift of exactly 0.05 in float32 is not above numpy's float32 0.05 (the comparison's precision)
    edge = np.array([[0.05, 0.06]], np.float32)
    zeros = np.zeros((1, 2, 3), np.float32)
    where, got = shadow_lift(zeros, zeros, edge, np.ones((1, 2), np.float32), 0.0, 1.0, 0.05)
    assert where.tolist() == [[False, True]] and got.tolist() == [np.float32(0.06)]
