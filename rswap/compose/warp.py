"""Landmark-guided warps: piecewise-affine mesh warp (reenactment) and a smooth
thin-plate-spline warp (face reshaping).

Both build one dense backward map (for each output pixel, where to sample the
input) and resample once with cv2.remap.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from rswap.compose.kernels import mesh_warp_kernel, rasterise_affine_maps, reshape_kernel, spline_nodes, thin_plate_eval


def _triangle_affines(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-triangle 2x3 affines taking dst triangle points to src ones, and which are usable.

    src, dst: (T, 3, 2). With edge matrices E_d = [d1-d0, d2-d0] and E_s likewise,
    the linear part is E_s E_d^-1 (2x2 inverses written out: a batched
    np.linalg.solve costs ~10x more for 900 tiny systems).
    """
    src = src.astype(np.float64)
    dst = dst.astype(np.float64)
    ed = np.stack([dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]], axis=2)  # (T, 2, 2), columns = edges
    es = np.stack([src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]], axis=2)
    det = ed[:, 0, 0] * ed[:, 1, 1] - ed[:, 0, 1] * ed[:, 1, 0]
    ok = np.abs(det) > 1e-6  # twice the triangle area in px²: degenerate ones cover no pixel
    safe = np.where(ok, det, 1.0)
    inv = np.stack([np.stack([ed[:, 1, 1], -ed[:, 0, 1]], 1), np.stack([-ed[:, 1, 0], ed[:, 0, 0]], 1)], 1)
    lin = es @ (inv / safe[:, None, None])
    shift = src[:, 0] - np.einsum("tij,tj->ti", lin, dst[:, 0])
    return np.concatenate([lin, shift[:, :, None]], axis=2).astype(np.float32), ok


def mesh_warp(
    src_img: np.ndarray,
    src_pts: np.ndarray,
    dst_pts: np.ndarray,
    out_hw: tuple[int, int],
    triangles: np.ndarray,
    src_triangles: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-affine warp of `src_img` so that src_pts land on dst_pts.

    `src_triangles` (T, 3, 2), optional: where each triangle samples the source, when that
    is not src_pts[triangles] (e.g. the far side of a turned source head sampling its
    mirrored near side).

    Returns (warped image of size out_hw, same dtype as src_img; valid mask float32
    (H, W), 1 where a triangle covers the pixel). A compiled kernel rasterises the
    destination triangles straight into the backward map (each pixel gets its
    triangle's affine; it runs outside the GIL), and one remap resamples the image.
    Triangles that fold over (negative area at the destination, the hidden side of a
    turned head) are drawn first so front-facing ones win.
    """
    h, w = out_hw
    src_pts = np.asarray(src_pts, np.float32)
    dst_pts = np.asarray(dst_pts, np.float32)
    tris = np.asarray(triangles, np.int64)
    src_t = src_pts[tris] if src_triangles is None else np.asarray(src_triangles, np.float32)
    dst_t = dst_pts[tris]
    if src_img.dtype == np.uint8 and src_img.ndim == 3:
        # Colour images (the swap's case): affines, raster and sampling in one compiled call.
        warped, valid = mesh_warp_kernel(np.ascontiguousarray(src_img), np.ascontiguousarray(src_t), dst_t, h, w)
        return warped, valid
    A, ok = _triangle_affines(src_t, dst_t)

    e1, e2 = dst_t[:, 1] - dst_t[:, 0], dst_t[:, 2] - dst_t[:, 0]
    signed_area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    order = np.argsort(signed_area > 0, kind="stable")  # folded first, front-facing last

    # Work only inside the destination mesh's bounding box.
    corners = dst_t.reshape(-1, 2)
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 2, [w, h])
    # Pixels no triangle covers map to (-1, -1): outside the source, sampled as 0.
    map_x = np.full((h, w), -1.0, np.float32)
    map_y = np.full((h, w), -1.0, np.float32)
    valid = np.zeros((h, w), np.float32)
    if x1 > x0 and y1 > y0:
        drawn = order[ok[order]].astype(np.int64)
        rasterise_affine_maps(
            dst_t, A, drawn, float(x0), float(y0), map_x[y0:y1, x0:x1], map_y[y0:y1, x0:x1], valid[y0:y1, x0:x1]
        )
    return _remap(src_img, map_x, map_y), valid


def _remap(img: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


@functools.lru_cache(maxsize=8)
def _border_points(hw: tuple[int, int], per_side: int = 8) -> np.ndarray:
    """(4 per_side - 4, 2) float64, read-only: points along the image border (made once per
    size: a frame's crops share one, and linspace and friends cost 0.05 ms a call)."""
    h, w = hw
    xs, ys = np.linspace(0, w - 1, per_side), np.linspace(0, h - 1, per_side)
    top = np.stack([xs, np.zeros_like(xs)], 1)
    bottom = np.stack([xs, np.full_like(xs, h - 1)], 1)
    left = np.stack([np.zeros_like(ys[1:-1]), ys[1:-1]], 1)
    right = np.stack([np.full_like(ys[1:-1], w - 1), ys[1:-1]], 1)
    points = np.concatenate([top, bottom, left, right]).astype(np.float64)
    points.flags.writeable = False
    return points


class ThinPlateSpline:
    """A 2D thin-plate spline (kernel r² log r plus an affine part) through given points.

    For the ~70 points of a reshape: one small dense solve (OpenCV's LU, which releases
    the GIL) and a compiled evaluation (`thin_plate_eval`). scipy's RBFInterpolator
    computes the same interpolant but spent ~2.5 ms a frame in its general-purpose setup,
    and numpy's solve through multi-threaded OpenBLAS took up to 8 ms on a busy 2-core box
    (`benchmarks/RESULTS.md`). Coordinates are scaled to about unit size first for a
    well-conditioned system; the spline itself does not depend on that scale.
    """

    def __init__(self, points: np.ndarray, values: np.ndarray):
        pts = np.asarray(points, np.float64)
        self._centre = pts.mean(0)
        self._scale = 1.0 / max(float(np.abs(pts - self._centre).max()), 1e-9)
        self._nodes = np.ascontiguousarray((pts - self._centre) * self._scale)
        n = len(pts)
        d2 = ((self._nodes[:, None, :] - self._nodes[None, :, :]) ** 2).sum(-1)
        system = np.zeros((n + 3, n + 3))
        with np.errstate(divide="ignore", invalid="ignore"):
            system[:n, :n] = np.where(d2 > 0, 0.5 * d2 * np.log(d2), 0.0)  # r² log r = ½ r² log r²
        affine = np.concatenate([np.ones((n, 1)), self._nodes], axis=1)
        system[:n, n:], system[n:, :n] = affine, affine.T
        rhs = np.zeros((n + 3, values.shape[1]))
        rhs[:n] = values
        ok, self._coef = cv2.solve(system, rhs, flags=cv2.DECOMP_LU)
        if not ok:
            raise ValueError("thin-plate spline: singular system (two control points coincide)")

    def __call__(self, points: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray((np.asarray(points, np.float64) - self._centre) * self._scale)
        return thin_plate_eval(x, self._nodes, self._coef)


def _tps(nodes: np.ndarray, toward: np.ndarray, fixed: np.ndarray) -> ThinPlateSpline:
    """Thin-plate spline taking `nodes` to `toward`, zero displacement at `fixed`.

    Fixed points within a pixel of a node are dropped: two conditions at one place
    would make the spline's system singular (a contour point on the crop border).
    The nodes are `kernels.spline_nodes`', the very ones `reshape_kernel` fits.
    """
    return ThinPlateSpline(*spline_nodes(np.asarray(nodes, np.float64), np.asarray(toward, np.float64), fixed))


def _fixed_points(hw: tuple[int, int], anchors: np.ndarray | None) -> np.ndarray:
    border = _border_points(hw)
    if anchors is None or len(anchors) == 0:
        return border
    return np.concatenate([np.asarray(anchors, np.float64).reshape(-1, 2), border])


def _controls(src_ctrl: np.ndarray, dst_ctrl: np.ndarray, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """(where the control points are, where the reshape takes them): `strength` of the way to dst."""
    src = np.asarray(src_ctrl, np.float64)
    return src, src + strength * (np.asarray(dst_ctrl, np.float64) - src)


def reshape_map(
    hw: tuple[int, int],
    src_ctrl: np.ndarray,
    dst_ctrl: np.ndarray,
    strength: float = 1.0,
    anchors: np.ndarray | None = None,
    grid_step: int = 8,
) -> np.ndarray:
    """Backward map (H, W, 2) float32 of the reshaping warp (see reshape_warp).

    The thin-plate spline is evaluated on a coarse grid (every `grid_step` pixels,
    border rows and columns included) and interpolated bilinearly: the field is
    smooth, so this costs a tiny error for a large saving: against the spline at every
    pixel, steps of 6 / 8 / 12 put a face's reshape map at most 0.33 / 0.50 / 1.0 px off
    (the warped crop at 55 / 51 / 46 dB PSNR) and cost 1.1 / 0.6 / 0.3 ms. The map is the identity
    on the image border exactly.
    """
    h, w = hw
    src, moved = _controls(src_ctrl, dst_ctrl, strength)
    # Backward: output pixel `moved` samples the input at `src`.
    field = _tps(moved, src, _fixed_points(hw, anchors))
    nx, ny = max(2, -(-(w - 1) // grid_step) + 1), max(2, -(-(h - 1) // grid_step) + 1)
    gx, gy = np.meshgrid(np.linspace(0, w - 1, nx), np.linspace(0, h - 1, ny))
    coarse = field(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(ny, nx, 2).astype(np.float32)
    coarse[[0, -1]] = 0
    coarse[:, [0, -1]] = 0
    # Align-corners bilinear upsampling: pixel x sits at grid coordinate x * (nx-1)/(w-1).
    ux = np.arange(w, dtype=np.float32) * np.float32((nx - 1) / max(w - 1, 1))
    uy = np.arange(h, dtype=np.float32) * np.float32((ny - 1) / max(h - 1, 1))
    map_x, map_y = np.meshgrid(ux, uy)
    dense = cv2.remap(coarse, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    dense[..., 0] += np.arange(w, dtype=np.float32)
    dense[..., 1] += np.arange(h, dtype=np.float32)[:, None]
    return dense


def reshape_warp(
    img: np.ndarray,
    src_ctrl: np.ndarray,
    dst_ctrl: np.ndarray,
    strength: float = 1.0,
    anchors: np.ndarray | None = None,
    grid_step: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothly warp `img` so content at src_ctrl moves to src + strength * (dst - src).

    A thin-plate spline through the control points, pinned at `anchors` (K, 2) and
    along the image border, so only the neighbourhood of the moved points changes.
    Returns (warped image, backward map (H, W, 2): output pixel -> input position),
    the map being reusable for masks of the same image (cv2.remap).
    """
    m = reshape_map(img.shape[:2], src_ctrl, dst_ctrl, strength, anchors, grid_step)
    warped = cv2.remap(img, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped, m


def reshape_points(
    points: np.ndarray,
    hw: tuple[int, int],
    src_ctrl: np.ndarray,
    dst_ctrl: np.ndarray,
    strength: float = 1.0,
    anchors: np.ndarray | None = None,
) -> np.ndarray:
    """Where the reshaping warp moves `points` (the forward spline; control points go
    exactly to their targets, anchors stay). Use it to carry landmarks along."""
    src, moved = _controls(src_ctrl, dst_ctrl, strength)
    field = _tps(src, moved, _fixed_points(hw, anchors))
    pts = np.asarray(points, np.float64)
    return (pts + field(pts)).astype(np.float32)


def reshape_crop(
    img: np.ndarray,
    points: np.ndarray,
    src_ctrl: np.ndarray,
    dst_ctrl: np.ndarray,
    strength: float = 1.0,
    anchors: np.ndarray | None = None,
    grid_step: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """`reshape_warp` of `img` and `reshape_points` of `points` in two calls, both outside the
    GIL: one compiled (`reshape_kernel`: both splines solved, the backward one evaluated on
    the `grid_step` grid and upsampled to a dense map, the points moved) and one remap: the
    swap's per-frame reshape (it took a dozen calls). The same warp as those two (the map
    exact where OpenCV's upsampling rounds to 1/32 of a grid cell). Returns (warped image,
    moved points float32)."""
    h, w = img.shape[:2]
    src, moved = _controls(src_ctrl, dst_ctrl, strength)
    nx, ny = max(2, -(-(w - 1) // grid_step) + 1), max(2, -(-(h - 1) // grid_step) + 1)
    m, out_points, ok = reshape_kernel((h, w), src, moved, _fixed_points((h, w), anchors), np.asarray(points, np.float64), nx, ny)
    if not ok:
        raise ValueError("thin-plate spline: singular system (two control points coincide)")
    return cv2.remap(img, m, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), out_points.astype(np.float32)
