"""Compiled per-pixel kernels for the swap's hot loops, run outside the GIL.

The classical swap's per-frame work is small images (a 256² crop) and many small
steps; written as Python loops or chains of numpy calls it holds the GIL, so the live
conveyor's threads could not overlap it with tracking or a second swap worker. These
kernels are numba `njit(nogil=True)`: while one runs, other Python threads run.
`cache=True` keeps the compiled code in numba's on-disk cache (beside this file, or
under NUMBA_CACHE_DIR where the package folder is read-only), so only the first start
on a machine pays for compiling.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def rasterise_affine_maps(dst_tris, affines, order, x0, y0, map_x, map_y, valid):  # pragma: no cover - compiled
    """Fill the backward maps of a piecewise-affine warp, triangle by triangle.

    dst_tris (T, 3, 2) float32: triangle corners in output pixels; affines (T, 2, 3):
    output (x, y) -> input position; `order`: which triangles to draw, in drawing order
    (later ones overwrite earlier ones). map_x, map_y, valid (h, w): the window of the
    output starting at (x0, y0), filled in place. A pixel takes the triangle its centre
    lies in. Pixels whose centre is within half a pixel outside a triangle's edge and
    in no triangle (the mesh's outline) take that triangle too, as OpenCV's
    fillConvexPoly draws edge pixels; they never override a containing triangle, where
    extrapolating a thin neighbour's affine could sample far away.
    """
    h, w = map_x.shape
    for k in range(order.shape[0]):
        t = order[k]
        ax, ay = dst_tris[t, 0, 0] - x0, dst_tris[t, 0, 1] - y0
        bx, by = dst_tris[t, 1, 0] - x0, dst_tris[t, 1, 1] - y0
        cx, cy = dst_tris[t, 2, 0] - x0, dst_tris[t, 2, 1] - y0
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if abs(area) < 1e-6:
            continue
        sign = 1.0 if area > 0 else -1.0
        # Each edge function, normalised by its edge length, is a signed distance in pixels.
        e = np.empty((3, 3))
        px = (ax, bx, cx)
        py = (ay, by, cy)
        for i in range(3):
            j = (i + 1) % 3
            ex, ey = px[j] - px[i], py[j] - py[i]
            norm = np.sqrt(ex * ex + ey * ey)
            # distance of (x, y) to edge i -> i+1, positive on the triangle's inner side
            e[i, 0] = -ey * sign / norm
            e[i, 1] = ex * sign / norm
            e[i, 2] = -(e[i, 0] * px[i] + e[i, 1] * py[i])
        lo_x = max(int(np.floor(min(ax, bx, cx) - 0.5)), 0)
        hi_x = min(int(np.ceil(max(ax, bx, cx) + 0.5)), w - 1)
        lo_y = max(int(np.floor(min(ay, by, cy) - 0.5)), 0)
        hi_y = min(int(np.ceil(max(ay, by, cy) + 0.5)), h - 1)
        a00, a01, a02 = affines[t, 0, 0], affines[t, 0, 1], affines[t, 0, 2]
        a10, a11, a12 = affines[t, 1, 0], affines[t, 1, 1], affines[t, 1, 2]
        for y in range(lo_y, hi_y + 1):
            for x in range(lo_x, hi_x + 1):
                nearest = 1e9  # the smallest signed distance to the three edges
                for i in range(3):
                    nearest = min(nearest, e[i, 0] * x + e[i, 1] * y + e[i, 2])
                # valid holds 2 for "in a triangle", 1 for "within half a pixel of one" while drawing
                if nearest >= 0.0 or (nearest >= -0.5 and valid[y, x] < 2.0):
                    fx, fy = x + x0, y + y0
                    map_x[y, x] = a00 * fx + a01 * fy + a02
                    map_y[y, x] = a10 * fx + a11 * fy + a12
                    valid[y, x] = 2.0 if nearest >= 0.0 else 1.0
    for y in range(h):
        for x in range(w):
            if valid[y, x] > 0.0:
                valid[y, x] = 1.0


@numba.njit(nogil=True, cache=True)
def thin_plate_eval(points, nodes, coef):  # pragma: no cover - compiled
    """Values (M, D) of a thin-plate spline at `points` (M, 2): for each point, the sum of
    coef[j] * r² log r over the nodes (N, 2), plus the affine part coef[N:] (1, x, y).
    One fused pass: no (M, N) kernel matrix is built, and no BLAS call is made (a 75-point
    solve through multi-threaded OpenBLAS took 8 ms on a loaded 2-core box)."""
    m, n, d = points.shape[0], nodes.shape[0], coef.shape[1]
    out = np.empty((m, d))
    for i in range(m):
        px, py = points[i, 0], points[i, 1]
        for k in range(d):
            out[i, k] = coef[n, k] + coef[n + 1, k] * px + coef[n + 2, k] * py
        for j in range(n):
            dx, dy = px - nodes[j, 0], py - nodes[j, 1]
            r2 = dx * dx + dy * dy
            if r2 > 0.0:
                phi = 0.5 * r2 * np.log(r2)
                for k in range(d):
                    out[i, k] += coef[j, k] * phi
    return out


@numba.njit(nogil=True, cache=True)
def masked_difference(fg, bg, valid):  # pragma: no cover - compiled
    """float32 (H, W, C): fg - bg where valid > 0, else 0 (fg, bg uint8 (H, W, C)).
    One pass instead of numpy's four (two casts, a subtraction, a masking product)."""
    h, w, c = fg.shape
    out = np.zeros((h, w, c), np.float32)
    for y in range(h):
        for x in range(w):
            if valid[y, x] > 0:
                for k in range(c):
                    out[y, x, k] = np.float32(fg[y, x, k]) - np.float32(bg[y, x, k])
    return out


@numba.njit(nogil=True, cache=True)
def finish_blend(bg, coarse, detail, detail_coarse, mask):  # pragma: no cover - compiled
    """uint8 (H, W, C): bg + coarse + (detail - detail_coarse) * mask, rounded and clipped.

    The last (finest) step of a Laplacian blend of a difference image: `coarse` is the
    blended coarser levels scaled up, `detail - detail_coarse` the finest band and `mask`
    its weight. numpy took seven whole-image passes (and held the GIL between them)."""
    h, w, c = bg.shape
    out = np.empty((h, w, c), np.uint8)
    for y in range(h):
        for x in range(w):
            m = mask[y, x]
            for k in range(c):
                v = np.float32(bg[y, x, k]) + (coarse[y, x, k] + (detail[y, x, k] - detail_coarse[y, x, k]) * m)
                out[y, x, k] = min(max(np.rint(v), 0.0), 255.0)
    return out


@numba.njit(nogil=True, cache=True)
def mix(fg, bg, mask):  # pragma: no cover - compiled
    """uint8 (H, W, C): bg + mask * (fg - bg), rounded, in float32 as numpy computed it."""
    h, w, c = bg.shape
    out = np.empty((h, w, c), np.uint8)
    for y in range(h):
        for x in range(w):
            m = np.float32(mask[y, x])
            for k in range(c):
                b = np.float32(bg[y, x, k])
                v = b + m * (np.float32(fg[y, x, k]) - b)
                out[y, x, k] = min(max(np.rint(v), 0.0), 255.0)
    return out


@numba.njit(nogil=True, cache=True)
def area_sums(lab, weight, y0, x0, step_y, step_x, grid_h, grid_w):  # pragma: no cover - compiled
    """(grid_h, grid_w, 4) float32: per cell of a grid laid over the whole image (cells
    step_y x step_x pixels, fractional), the sums of weight * lab (3 channels) and of weight
    over the pixels of `lab` (h, w, 3) and `weight` (h, w), a box whose corner is (y0, x0).

    A pixel straddling two cells goes to each in proportion to its overlap: up to a constant
    factor per cell this is OpenCV's INTER_AREA shrink of the whole (zero outside the box)
    image, which the weighted mean num / den does not see. Only the box's pixels are read."""
    out = np.zeros((grid_h, grid_w, 4), np.float32)
    h, w = weight.shape
    for y in range(h):
        gy = (y + y0) / step_y
        cy = min(int(gy), grid_h - 1)
        # the share of this pixel row in cell cy (the rest goes to cy + 1)
        fy = min((cy + 1) * step_y - (y + y0), 1.0)
        for x in range(w):
            wt = weight[y, x]
            if wt == 0.0:
                continue
            gx = (x + x0) / step_x
            cx = min(int(gx), grid_w - 1)
            fx = min((cx + 1) * step_x - (x + x0), 1.0)
            v0, v1, v2 = wt * lab[y, x, 0], wt * lab[y, x, 1], wt * lab[y, x, 2]
            for dy in range(2):
                sy = fy if dy == 0 else 1.0 - fy
                ry = cy + dy
                if sy <= 0.0 or ry >= grid_h:
                    continue
                for dx in range(2):
                    sx = fx if dx == 0 else 1.0 - fx
                    rx = cx + dx
                    if sx <= 0.0 or rx >= grid_w:
                        continue
                    s = sy * sx
                    out[ry, rx, 0] += s * v0
                    out[ry, rx, 1] += s * v1
                    out[ry, rx, 2] += s * v2
                    out[ry, rx, 3] += s * wt
    return out


@numba.njit(nogil=True, cache=True)
def bright_half_chroma(lab, core):  # pragma: no cover - compiled
    """(2,) float64: the mean a, b of the pixels of `core` (bool (h, w)) whose lightness is at
    least the median lightness over `core` (lab (h, w, 3))."""
    light = np.empty(core.sum())
    n = 0
    for y in range(core.shape[0]):
        for x in range(core.shape[1]):
            if core[y, x]:
                light[n] = lab[y, x, 0]
                n += 1
    median = np.median(light)
    total = np.zeros(2)
    count = 0
    for y in range(core.shape[0]):
        for x in range(core.shape[1]):
            if core[y, x] and lab[y, x, 0] >= median:
                total[0] += lab[y, x, 1]
                total[1] += lab[y, x, 2]
                count += 1
    return total / count
