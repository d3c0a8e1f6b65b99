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
    _raster(dst_tris, affines, order, x0, y0, map_x, map_y, valid, np.empty(map_x.shape, np.int32))
    h, w = map_x.shape
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
    its weight. numpy took seven whole-image passes (and held the GIL between them).
    Where the mask and the coarse levels are 0 (over half of a swap's crop: far from the face)
    the sum is bg exactly, so bg is copied (0.49 -> 0.28 ms at 256², issue 11, sixth session)."""
    h, w, c = bg.shape
    out = np.empty((h, w, c), np.uint8)
    for y in range(h):
        for x in range(w):
            m = mask[y, x]
            # (the three channels spelled out: a loop over them here took twice as long)
            if m == 0.0 and c == 3 and coarse[y, x, 0] == 0.0 and coarse[y, x, 1] == 0.0 and coarse[y, x, 2] == 0.0:
                out[y, x, 0], out[y, x, 1], out[y, x, 2] = bg[y, x, 0], bg[y, x, 1], bg[y, x, 2]
                continue
            for k in range(c):
                v = np.float32(bg[y, x, k]) + (coarse[y, x, k] + (detail[y, x, k] - detail_coarse[y, x, k]) * m)
                out[y, x, k] = min(max(np.rint(v), 0.0), 255.0)
    return out


@numba.njit("uint8[:, :, ::1](float32[:, :, ::1])", nogil=True, cache=True)
def rgb8(rgb):  # pragma: no cover - compiled
    """uint8 (H, W, C) of float RGB in 0..1: times 255 (in float32), rounded, clipped, as numpy's
    clip(rint(rgb * 255), 0, 255) did it in four passes (the clip alone ~18 µs on a face's box)."""
    h, w, c = rgb.shape
    out = np.empty((h, w, c), np.uint8)
    for y in range(h):
        for x in range(w):
            for k in range(c):
                out[y, x, k] = min(max(np.rint(rgb[y, x, k] * np.float32(255.0)), np.float32(0.0)), np.float32(255.0))
    return out


# Any layout for dst and mask (a crop's box, or a whole crop): one compiled version for all.
@numba.njit("void(uint8[:, :, :], uint8[:, :, ::1], boolean[:, :])", nogil=True, cache=True)
def put_where(dst, src, mask):  # pragma: no cover - compiled
    """dst[mask] = src[mask] for (H, W, C) images and an (H, W) mask: numpy's copyto with a
    mask broadcast over the channels took ~0.1 ms on a face's box."""
    h, w, c = dst.shape
    for y in range(h):
        for x in range(w):
            if mask[y, x]:
                for k in range(c):
                    dst[y, x, k] = src[y, x, k]


@numba.njit(nogil=True, cache=True)
def mix(fg, bg, mask):  # pragma: no cover - compiled
    """uint8 (H, W, C): bg + mask * (fg - bg), rounded, in float32 as numpy computed it.
    Where the mask is 0 or 1 (most of a kept-mouth or paste mask) the pixel is copied: the
    same value, without the float arithmetic (the swap's kept-region blend 0.47 -> 0.1 ms)."""
    h, w, c = bg.shape
    out = np.empty((h, w, c), np.uint8)
    for y in range(h):
        for x in range(w):
            m = np.float32(mask[y, x])
            if m == 0.0:
                for k in range(c):
                    out[y, x, k] = bg[y, x, k]
                continue
            if m == 1.0:
                for k in range(c):
                    out[y, x, k] = fg[y, x, k]
                continue
            for k in range(c):
                b = np.float32(bg[y, x, k])
                v = b + m * (np.float32(fg[y, x, k]) - b)
                out[y, x, k] = min(max(np.rint(v), 0.0), 255.0)
    return out


# An explicit signature, so it compiles when the module is imported (into the on-disk cache that
# `make setup` fills), not lazily: only a face larger than its crop reaches this kernel, which the
# setup's swap does not, and the first such paste stalled ~0.45 s (a 1080p frame's first paste:
# 464 ms, then 16 ms; twenty-fifth session).
@numba.njit("uint8[:, :, ::1](uint8[:, :, ::1], uint8[:, :, ::1], uint8[:, :, ::1], float32[:, ::1], float32[:, ::1], "
            "float32)", nogil=True, cache=True)
def mix_detail(fg, under, bg, mask, detail, clip):  # pragma: no cover - compiled
    """uint8 (H, W, C): `mix`'s bg + mask (fg - bg), plus min(detail, mask) x (bg - under) held
    within +-clip: the frame's (bg's) own detail that its crop (`under`, warped like fg) could
    not hold, put back where `detail` says. Its own kernel, not a flag on `mix`: every live
    frame's paste keeps `mix`'s copy of the pixels where the mask is 1, which this one cannot do.
    All arrays contiguous (the paste's warps and its copy of the frame's box)."""
    h, w, c = bg.shape
    out = np.empty((h, w, c), np.uint8)
    for y in range(h):
        for x in range(w):
            m = np.float32(mask[y, x])
            if m == 0.0:
                for k in range(c):
                    out[y, x, k] = bg[y, x, k]
                continue
            a = min(np.float32(detail[y, x]), m)
            for k in range(c):
                b = np.float32(bg[y, x, k])
                d = min(max(b - np.float32(under[y, x, k]), -clip), clip)
                v = b + m * (np.float32(fg[y, x, k]) - b) + a * d
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
    # each column's cell and its share in it, once (per pixel, a division: ~a fifth of the time)
    col_cell = np.empty(w, np.int64)
    col_share = np.empty(w)
    for x in range(w):
        col_cell[x] = min(int((x + x0) / step_x), grid_w - 1)
        col_share[x] = min((col_cell[x] + 1) * step_x - (x + x0), 1.0)
    for y in range(h):
        gy = (y + y0) / step_y
        cy = min(int(gy), grid_h - 1)
        # the share of this pixel row in cell cy (the rest goes to cy + 1)
        fy = min((cy + 1) * step_y - (y + y0), 1.0)
        for x in range(w):
            wt = weight[y, x]
            if wt == 0.0:
                continue
            cx, fx = col_cell[x], col_share[x]
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


# CIELAB lightness from 8-bit sRGB, by tables: the sRGB decoding of each 8-bit value, and the cube
# root on a fine grid of the luminance Y in [0, 1] (linear between entries: within 1e-3 L units).
_SRGB = np.arange(256) / 255.0
SRGB_LINEAR = np.where(_SRGB <= 0.04045, _SRGB / 12.92, ((_SRGB + 0.055) / 1.055) ** 2.4).astype(np.float32)
CUBE_ROOT_STEPS = 4096
CUBE_ROOT = ((np.arange(CUBE_ROOT_STEPS + 2, dtype=np.float64) / CUBE_ROOT_STEPS) ** (1.0 / 3.0)).astype(np.float32)


@numba.njit(nogil=True, cache=True)
def lightness_pair(a, b, weight, y0, y1, x0, x1, linear, cube_root):  # pragma: no cover - compiled
    """float32 (h, w, 3): CIELAB L (0..100, D65, as OpenCV's float conversion) of the uint8 RGB
    images a and b (h, w, 3, any strides: a box of a crop) in channels 0 and 1, channel 2 zero
    (the shadow limit's three-channel masked blur). a's only where `weight` (h, w) > 0, b's only
    on rows y0:y1, columns x0:x1; 0 elsewhere: the shadow limit reads nothing else. `linear`,
    `cube_root`: SRGB_LINEAR and CUBE_ROOT. Two 8-bit cvtColor calls made all of L, a and b of
    both whole boxes to keep L (0.45 -> ~0.2 ms, issue 11, sixth session)."""
    h, w = a.shape[0], a.shape[1]
    out = np.zeros((h, w, 3), np.float32)
    steps = cube_root.shape[0] - 2
    scale = np.float32(steps)
    for k in range(2):
        img = a if k == 0 else b
        for y in range(y0 if k else 0, y1 if k else h):
            for x in range(x0 if k else 0, x1 if k else w):
                if k == 0 and weight[y, x] <= 0.0:
                    continue
                lum = (np.float32(0.212671) * linear[img[y, x, 0]] + np.float32(0.715160) * linear[img[y, x, 1]]
                       + np.float32(0.072169) * linear[img[y, x, 2]])
                t = lum * scale
                i = min(int(t), steps)
                f = t - np.float32(i)
                c = cube_root[i] + f * (cube_root[i + 1] - cube_root[i])
                out[y, x, k] = np.float32(116.0) * c - np.float32(16.0) if lum > np.float32(0.008856) else np.float32(903.3) * lum
    return out


@numba.njit(nogil=True, cache=True)
def _median(a):  # pragma: no cover - compiled
    """np.median of `a` (1-D float64, reordered in place) by Hoare's quickselect: numba's
    np.median (its partition and sort helpers) cost ~2.5 s of compiling on a cold start."""
    n = a.shape[0]
    if n == 0:
        return np.nan
    k = n // 2
    middle = _kth(a, k)
    if n % 2:
        return middle
    below = a[0]  # the largest of the lower half: everything before k is at most a[k]
    for i in range(1, k):
        below = max(below, a[i])
    return (below + middle) / 2


@numba.njit(nogil=True, cache=True)
def _kth(a, k):  # pragma: no cover - compiled
    """The k-th smallest of `a` (1-D, reordered in place so that a[k] holds it, nothing after k
    smaller, nothing before it larger), by Hoare's quickselect: what np.partition(a, k)[k] gives."""
    lo, hi = 0, a.shape[0] - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return a[k]


@numba.njit(nogil=True, cache=True)
def bright_half_chroma(lab, core):  # pragma: no cover - compiled
    """(2,) float64: the mean a, b of the pixels of `core` (bool (h, w)) whose lightness is at
    least the median lightness over `core` (lab (h, w, 3))."""
    n = 0
    for y in range(core.shape[0]):
        for x in range(core.shape[1]):
            n += core[y, x]
    light = np.empty(n)
    n = 0
    for y in range(core.shape[0]):
        for x in range(core.shape[1]):
            if core[y, x]:
                light[n] = lab[y, x, 0]
                n += 1
    median = _median(light)
    total = np.zeros(2)
    count = 0
    for y in range(core.shape[0]):
        for x in range(core.shape[1]):
            if core[y, x] and lab[y, x, 0] >= median:
                total[0] += lab[y, x, 1]
                total[1] += lab[y, x, 2]
                count += 1
    if count == 0:  # an empty core
        total[0], total[1] = np.nan, np.nan
        return total
    total[0], total[1] = total[0] / count, total[1] / count
    return total


# ---------------------------------------------------------------- the swap's geometry in whole steps
# Issue 11, fourth part: each of the classical swap's per-frame steps is one compiled call, so a
# swap crosses back into the GIL a few times instead of ~50 (each crossing waits up to Python's
# 5 ms switch interval while another thread runs Python).


@numba.njit(nogil=True, cache=True)
def tps_fit(nodes, values):  # pragma: no cover - compiled
    """Thin-plate spline through `nodes` (N, 2) with `values` (N, D), both float64.

    Returns (centre (2,), scale, scaled nodes (N, 2), coefficients (N + 3, D), ok). The
    nodes are scaled to about unit size first (a well-conditioned system; the spline does
    not depend on it) and the (N + 3)² system is solved by Gaussian elimination with
    partial pivoting, as OpenCV's DECOMP_LU does (~75 points: no BLAS, no threads).
    ok is False when the system is singular (two nodes coincide)."""
    n, d = nodes.shape[0], values.shape[1]
    centre = np.zeros(2)
    for i in range(n):
        centre[0] += nodes[i, 0] / n
        centre[1] += nodes[i, 1] / n
    spread = 1e-9
    for i in range(n):
        spread = max(spread, abs(nodes[i, 0] - centre[0]), abs(nodes[i, 1] - centre[1]))
    scale = 1.0 / spread
    scaled = np.empty((n, 2))
    for i in range(n):
        scaled[i, 0] = (nodes[i, 0] - centre[0]) * scale
        scaled[i, 1] = (nodes[i, 1] - centre[1]) * scale
    size = n + 3
    a = np.zeros((size, size))
    coef = np.zeros((size, d))
    for i in range(n):
        for j in range(i + 1, n):  # the kernel is symmetric: each pair's log once (a[i, i] is 0)
            dx, dy = scaled[i, 0] - scaled[j, 0], scaled[i, 1] - scaled[j, 1]
            r2 = dx * dx + dy * dy
            a[i, j] = a[j, i] = 0.5 * r2 * np.log(r2) if r2 > 0.0 else 0.0  # r² log r = ½ r² log r²
        a[i, n], a[i, n + 1], a[i, n + 2] = 1.0, scaled[i, 0], scaled[i, 1]
        a[n, i], a[n + 1, i], a[n + 2, i] = 1.0, scaled[i, 0], scaled[i, 1]
        for k in range(d):
            coef[i, k] = values[i, k]
    for c in range(size):
        p = c
        for r in range(c + 1, size):
            if abs(a[r, c]) > abs(a[p, c]):
                p = r
        if abs(a[p, c]) < 1e-12:
            return centre, scale, scaled, coef, False
        if p != c:
            for j in range(size):
                a[c, j], a[p, j] = a[p, j], a[c, j]
            for k in range(d):
                coef[c, k], coef[p, k] = coef[p, k], coef[c, k]
        # Each row's update on 1-D slices of the two rows: so indexed, the loop vectorises (on the
        # 2-D array it ran a scalar step per element: the elimination 59 -> 29 µs at 78², the
        # same numbers; twenty-fifth session).
        pivot = a[c, c:]
        for r in range(c + 1, size):
            f = a[r, c] / a[c, c]
            if f != 0.0:
                row = a[r, c:]
                for j in range(size - c):
                    row[j] -= f * pivot[j]
                for k in range(d):
                    coef[r, k] -= f * coef[c, k]
    for c in range(size - 1, -1, -1):
        for k in range(d):
            s = coef[c, k]
            for j in range(c + 1, size):
                s -= a[c, j] * coef[j, k]
            coef[c, k] = s / a[c, c]
    return centre, scale, scaled, coef, True


@numba.njit(nogil=True, cache=True, inline="always")
def _bilinear(img, x, y, out, oy, ox, replicate):  # pragma: no cover - compiled
    """out[oy, ox] = uint8 img sampled at (x, y) bilinearly, beyond the border the edge pixel
    (replicate) or 0. As cv2.remap does it: the position rounded to 1/32 pixel, integer
    weights (here 10 bits: exact sums of 8-bit values, rounded once)."""
    h, w, c = img.shape
    fx, fy = x * 32.0 + 0.5, y * 32.0 + 0.5
    # floor (a libm call) only where truncation is not floor already
    xi = int(fx) if fx >= 0.0 else int(np.floor(fx))
    yi = int(fy) if fy >= 0.0 else int(np.floor(fy))
    ix, iy, ax, ay = xi >> 5, yi >> 5, xi & 31, yi & 31
    w00, w01, w10, w11 = (32 - ax) * (32 - ay), ax * (32 - ay), (32 - ax) * ay, ax * ay
    if ix >= 0 and iy >= 0 and ix + 1 < w and iy + 1 < h:  # inside: the common case
        for k in range(c):
            out[oy, ox, k] = (w00 * np.int32(img[iy, ix, k]) + w01 * np.int32(img[iy, ix + 1, k])
                              + w10 * np.int32(img[iy + 1, ix, k]) + w11 * np.int32(img[iy + 1, ix + 1, k]) + 512) >> 10
        return
    x0c, x1c = min(max(ix, 0), w - 1), min(max(ix + 1, 0), w - 1)
    y0c, y1c = min(max(iy, 0), h - 1), min(max(iy + 1, 0), h - 1)
    if not replicate:  # taps beyond the border read 0
        if ix < 0 or ix >= w:
            w00, w10 = 0, 0
        if ix + 1 < 0 or ix + 1 >= w:
            w01, w11 = 0, 0
        if iy < 0 or iy >= h:
            w00, w01 = 0, 0
        if iy + 1 < 0 or iy + 1 >= h:
            w10, w11 = 0, 0
    for k in range(c):
        out[oy, ox, k] = (w00 * np.int32(img[y0c, x0c, k]) + w01 * np.int32(img[y0c, x1c, k])
                          + w10 * np.int32(img[y1c, x0c, k]) + w11 * np.int32(img[y1c, x1c, k]) + 512) >> 10


@numba.njit(nogil=True, cache=True, fastmath=True)
def _tps_eval32(points, nodes, coef):  # pragma: no cover - compiled
    """`thin_plate_eval` of a 2-D spline with its kernel sums in float32: the log of
    float32 (and fastmath, so the sums vectorise) halves the reshape's ~110k kernel terms a
    frame (0.55 -> 0.26 ms for its 33 x 33 grid); values within 3e-5 px of the float64 ones
    on the swap's splines (unit-scaled nodes, coefficients up to ~60)."""
    m, n = points.shape[0], nodes.shape[0]
    nx, ny = np.empty(n, np.float32), np.empty(n, np.float32)
    c0, c1 = np.empty(n, np.float32), np.empty(n, np.float32)
    for j in range(n):
        nx[j], ny[j], c0[j], c1[j] = nodes[j, 0], nodes[j, 1], coef[j, 0], coef[j, 1]
    out = np.empty((m, 2))
    for i in range(m):
        px, py = np.float32(points[i, 0]), np.float32(points[i, 1])
        a0, a1 = np.float32(0.0), np.float32(0.0)
        for j in range(n):
            dx, dy = px - nx[j], py - ny[j]
            r2 = dx * dx + dy * dy + np.float32(1e-30)  # r2 = 0 (a node) gives ~0, as it should
            phi = r2 * np.log(r2)
            a0 += c0[j] * phi
            a1 += c1[j] * phi
        x, y = points[i, 0], points[i, 1]
        out[i, 0] = coef[n, 0] + coef[n + 1, 0] * x + coef[n + 2, 0] * y + 0.5 * a0  # r² log r = ½ r² log r²
        out[i, 1] = coef[n, 1] + coef[n + 1, 1] * x + coef[n + 2, 1] * y + 0.5 * a1
    return out


@numba.njit(nogil=True, cache=True)
def spline_nodes(nodes, toward, fixed):  # pragma: no cover - compiled
    """(nodes and fixed points, their displacements), float64: the nodes (N, 2) moving to `toward`
    (N, 2), then the `fixed` points (K, 2) with zero displacement, but for those within a pixel
    of a node (two conditions at one place make the spline's system singular: a contour point on
    the crop border). The reshape's splines, compiled (`reshape_kernel`) and not (`warp._tps`), take theirs here."""
    n, k = nodes.shape[0], fixed.shape[0]
    keep = np.zeros(k, np.bool_)
    kept = 0
    for j in range(k):
        nearest = np.inf
        for i in range(n):
            dx, dy = fixed[j, 0] - nodes[i, 0], fixed[j, 1] - nodes[i, 1]
            nearest = min(nearest, dx * dx + dy * dy)
        keep[j] = nearest >= 1.0
        kept += keep[j]
    y = np.empty((n + kept, 2))
    d = np.zeros((n + kept, 2))
    for i in range(n):
        y[i, 0], y[i, 1] = nodes[i, 0], nodes[i, 1]
        d[i, 0], d[i, 1] = toward[i, 0] - nodes[i, 0], toward[i, 1] - nodes[i, 1]
    r = n
    for j in range(k):
        if keep[j]:
            y[r, 0], y[r, 1] = fixed[j, 0], fixed[j, 1]
            r += 1
    return y, d


@numba.njit(nogil=True, cache=True)
def reshape_kernel(hw, src, moved, fixed, points, nx, ny):  # pragma: no cover - compiled
    """The reshaping warp's geometry in one call: its dense backward map, and `points` (M, 2)
    carried by the forward spline. The splines run through the control points (`src` where they
    are, `moved` where the reshape takes them, (N, 2) float64) and the `fixed` points
    (`spline_nodes`): the backward one from `moved` to `src`, the forward one the other way.

    The backward spline (output pixel -> displacement to its input position) is evaluated on
    an nx x ny grid over the (H, W) image (border rows and columns held at zero, so the
    border maps to itself) and interpolated bilinearly at every pixel (align corners): what
    `reshape_map` did in a dozen calls. Returns (map (H, W, 2) float32 for cv2.remap, moved
    points (M, 2), ok); ok False: a spline's system was singular. The sampling itself is left
    to cv2.remap: its SIMD gather is ~3x faster than a compiled scalar loop."""
    h, w = hw
    out = np.empty((h, w, 2), np.float32)
    carried = np.empty((points.shape[0], 2))
    back_nodes, back_values = spline_nodes(moved, src, fixed)
    fwd_nodes, fwd_values = spline_nodes(src, moved, fixed)
    bc, bs, bn, bcoef, ok_b = tps_fit(back_nodes, back_values)
    fc, fs, fn, fcoef, ok_f = tps_fit(fwd_nodes, fwd_values)
    if not (ok_b and ok_f):
        return out, carried, False
    # The spline on the grid's inner points only: its border rows and columns are held at 0.
    inner = np.empty((max(ny - 2, 0) * max(nx - 2, 0), 2))
    for j in range(1, ny - 1):
        for i in range(1, nx - 1):
            inner[(j - 1) * (nx - 2) + i - 1, 0] = (i * (w - 1.0) / (nx - 1) - bc[0]) * bs
            inner[(j - 1) * (nx - 2) + i - 1, 1] = (j * (h - 1.0) / (ny - 1) - bc[1]) * bs
    values = _tps_eval32(inner, bn, bcoef)
    field = np.zeros((ny * nx, 2), np.float32)
    for j in range(1, ny - 1):
        for i in range(1, nx - 1):
            field[j * nx + i, 0] = values[(j - 1) * (nx - 2) + i - 1, 0]
            field[j * nx + i, 1] = values[(j - 1) * (nx - 2) + i - 1, 1]
    sx, sy = (nx - 1) / max(w - 1.0, 1.0), (ny - 1) / max(h - 1.0, 1.0)
    col_i = np.empty(w, np.int64)
    col_t = np.empty(w, np.float32)
    for x in range(w):
        gx = x * sx
        col_i[x] = min(int(gx), nx - 2)
        col_t[x] = gx - col_i[x]
    row_x = np.empty(nx, np.float32)
    row_y = np.empty(nx, np.float32)
    for y in range(h):
        gy = y * sy
        j = min(int(gy), ny - 2)
        ty = np.float32(gy - j)
        for i in range(nx):  # the field along this row, at the grid's columns
            row_x[i] = (1 - ty) * field[j * nx + i, 0] + ty * field[(j + 1) * nx + i, 0]
            row_y[i] = (1 - ty) * field[j * nx + i, 1] + ty * field[(j + 1) * nx + i, 1]
        for x in range(w):
            i, tx = col_i[x], col_t[x]
            out[y, x, 0] = x + ((1 - tx) * row_x[i] + tx * row_x[i + 1])
            out[y, x, 1] = y + ((1 - tx) * row_y[i] + tx * row_y[i + 1])
    fp = np.empty((points.shape[0], 2))
    for k in range(points.shape[0]):
        fp[k, 0] = (points[k, 0] - fc[0]) * fs
        fp[k, 1] = (points[k, 1] - fc[1]) * fs
    shift = _tps_eval32(fp, fn, fcoef)
    for k in range(points.shape[0]):
        carried[k, 0] = points[k, 0] + shift[k, 0]
        carried[k, 1] = points[k, 1] + shift[k, 1]
    return out, carried, True


@numba.njit(nogil=True, cache=True)
def mesh_warp_kernel(img, src_tris, dst_tris, h, w):  # pragma: no cover - compiled
    """A piecewise-affine warp in one call: per-triangle affines, the raster and the sampling.

    img uint8 (Hs, Ws, C); src_tris, dst_tris (T, 3, 2) float32: where each triangle samples
    and where it lands in the (h, w) output. Triangles that fold over (negative area at the
    destination: the hidden side of a turned head) are drawn first, so front-facing ones win;
    degenerate ones are skipped. Each covered pixel samples img bilinearly (0 beyond its
    border, as cv2.remap's BORDER_CONSTANT). Returns (warped uint8 (h, w, C), valid float32
    (h, w): 1 where a triangle covers the pixel). The raster is `rasterise_affine_maps'`
    (pixel centres, OpenCV-like outline pixels), drawn straight into `valid`'s window; no
    whole-crop array but the two returned is made (each fresh 256 KB one cost ~0.07 ms of
    page faults: issue 11, sixth session)."""
    t_count = dst_tris.shape[0]
    affines = np.zeros((t_count, 2, 3), np.float32)
    usable = np.zeros(t_count, np.bool_)
    front = np.zeros(t_count, np.bool_)
    lo_x, lo_y, hi_x, hi_y = 1e9, 1e9, -1e9, -1e9
    for t in range(t_count):
        d0x, d0y = np.float64(dst_tris[t, 0, 0]), np.float64(dst_tris[t, 0, 1])
        e00, e10 = dst_tris[t, 1, 0] - d0x, dst_tris[t, 1, 1] - d0y
        e01, e11 = dst_tris[t, 2, 0] - d0x, dst_tris[t, 2, 1] - d0y
        s0x, s0y = np.float64(src_tris[t, 0, 0]), np.float64(src_tris[t, 0, 1])
        f00, f10 = src_tris[t, 1, 0] - s0x, src_tris[t, 1, 1] - s0y
        f01, f11 = src_tris[t, 2, 0] - s0x, src_tris[t, 2, 1] - s0y
        det = e00 * e11 - e01 * e10
        for v in range(3):
            lo_x, hi_x = min(lo_x, dst_tris[t, v, 0]), max(hi_x, dst_tris[t, v, 0])
            lo_y, hi_y = min(lo_y, dst_tris[t, v, 1]), max(hi_y, dst_tris[t, v, 1])
        front[t] = np.float32(e00) * np.float32(e11) - np.float32(e10) * np.float32(e01) > 0
        if abs(det) <= 1e-6:
            continue
        usable[t] = True
        # linear part: source edges times the inverse of the destination edges
        i00, i01, i10, i11 = e11 / det, -e01 / det, -e10 / det, e00 / det
        l00, l01 = f00 * i00 + f01 * i10, f00 * i01 + f01 * i11
        l10, l11 = f10 * i00 + f11 * i10, f10 * i01 + f11 * i11
        affines[t, 0, 0], affines[t, 0, 1], affines[t, 0, 2] = l00, l01, s0x - (l00 * d0x + l01 * d0y)
        affines[t, 1, 0], affines[t, 1, 1], affines[t, 1, 2] = l10, l11, s0y - (l10 * d0x + l11 * d0y)
    n_draw = 0
    for t in range(t_count):
        n_draw += usable[t]
    order = np.empty(n_draw, np.int64)
    n = 0
    for want in (False, True):  # folded first, front-facing last
        for t in range(t_count):
            if usable[t] and front[t] == want:
                order[n] = t
                n += 1
    out = np.zeros((h, w, img.shape[2]), np.uint8)
    valid = np.zeros((h, w), np.float32)
    x0, y0 = max(int(np.floor(lo_x)) - 1, 0), max(int(np.floor(lo_y)) - 1, 0)
    x1, y1 = min(int(np.ceil(hi_x)) + 2, w), min(int(np.ceil(hi_y)) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return out, valid
    map_x = np.empty((y1 - y0, x1 - x0), np.float32)
    map_y = np.empty((y1 - y0, x1 - x0), np.float32)
    win = valid[y0:y1, x0:x1]
    _raster(dst_tris, affines, order, float(x0), float(y0), map_x, map_y, win, np.empty((y1 - y0, x1 - x0), np.int32))
    for y in range(y1 - y0):
        for x in range(x1 - x0):
            if win[y, x] > 0.0:
                win[y, x] = 1.0
                _bilinear(img, np.float64(map_x[y, x]), np.float64(map_y[y, x]), out, y + y0, x + x0, False)
    return out, valid


@numba.njit(nogil=True, cache=True)
def _narrow(xl, xr, a, bound):  # pragma: no cover - compiled
    """(xl, xr) narrowed by one edge of `_raster`'s triangle: its x bound on this row, `bound`
    (from the left where the edge's a > 0, from the right where a < 0). 1e-3 px of slack where
    |a| >= 1e-3, a whole pixel on a steeper edge (its bound is a large, less exact number)."""
    if a > 1e-3:
        return max(xl, int(np.ceil(bound - 1e-3))), xr
    if a > 1e-9:
        return max(xl, int(np.floor(bound)) - 1), xr
    if a < -1e-3:
        return xl, min(xr, int(np.floor(bound + 1e-3)))
    if a < -1e-9:
        return xl, min(xr, int(np.ceil(bound)) + 1)
    return xl, xr


# One explicit signature (any layout): its two callers pass windows and whole arrays, and a
# compiled version per layout cost ~0.6 s more of the first start's compiling.
@numba.njit("void(float32[:, :, ::1], float32[:, :, ::1], int64[::1], float64, float64, float32[:, :], float32[:, :], "
            "float32[:, :], int32[:, :])", nogil=True, cache=True)
def _raster(dst_tris, affines, order, x0, y0, map_x, map_y, valid, tri):  # pragma: no cover - compiled
    """The raster of `rasterise_affine_maps` (valid left at 2 inside a triangle, 1 on the
    outline), also writing each pixel's triangle into `tri`. Each row of a triangle's box is
    first narrowed to the span its three edges allow; the per-pixel test decides, so the
    raster is the same. A face's ~900 triangles made ~97k box visits, and the raster took
    0.75 -> 0.55 ms (issue 11, fifth session). The span was first widened by a pixel on each
    side against rounding; the triangles of a 144² crop are a few pixels wide, so that doubled
    the visits (31k for 6.1k covered pixels). It is now widened by 1e-3 px, far above the
    rounding of u + v y against the test's sum, except beside an edge too steep for that
    (|a| under 1e-3, where u and v are huge): 0.31 -> 0.21 ms on bench stages' 144² warps,
    the same maps (issue 11, twenty-ninth session)."""
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
        # each edge's (a, b, c): a x + b y + c is the signed distance to it, >= 0 inside
        ex, ey = bx - ax, by - ay
        norm = np.sqrt(ex * ex + ey * ey)
        a0, b0 = -ey * sign / norm, ex * sign / norm
        c0 = -(a0 * ax + b0 * ay)
        ex, ey = cx - bx, cy - by
        norm = np.sqrt(ex * ex + ey * ey)
        a1, b1 = -ey * sign / norm, ex * sign / norm
        c1 = -(a1 * bx + b1 * by)
        ex, ey = ax - cx, ay - cy
        norm = np.sqrt(ex * ex + ey * ey)
        a2, b2 = -ey * sign / norm, ex * sign / norm
        c2 = -(a2 * cx + b2 * cy)
        lo_x = max(int(np.floor(min(ax, bx, cx) - 0.5)), 0)
        hi_x = min(int(np.ceil(max(ax, bx, cx) + 0.5)), w - 1)
        lo_y = max(int(np.floor(min(ay, by, cy) - 0.5)), 0)
        hi_y = min(int(np.ceil(max(ay, by, cy) + 0.5)), h - 1)
        p00, p01, p02 = affines[t, 0, 0], affines[t, 0, 1], affines[t, 0, 2]
        p10, p11, p12 = affines[t, 1, 0], affines[t, 1, 1], affines[t, 1, 2]
        # Each edge's bound on x as a line in y, x = u + v y: a division per edge, not per row
        # (its rounding is far inside the span's pixel of margin).
        u0, v0 = ((-0.5 - c0) / a0, -b0 / a0) if abs(a0) > 1e-9 else (0.0, 0.0)
        u1, v1 = ((-0.5 - c1) / a1, -b1 / a1) if abs(a1) > 1e-9 else (0.0, 0.0)
        u2, v2 = ((-0.5 - c2) / a2, -b2 / a2) if abs(a2) > 1e-9 else (0.0, 0.0)
        for y in range(lo_y, hi_y + 1):
            xl, xr = lo_x, hi_x
            xl, xr = _narrow(xl, xr, a0, u0 + v0 * y)
            xl, xr = _narrow(xl, xr, a1, u1 + v1 * y)
            xl, xr = _narrow(xl, xr, a2, u2 + v2 * y)
            for x in range(xl, xr + 1):
                nearest = min(a0 * x + b0 * y + c0, a1 * x + b1 * y + c1, a2 * x + b2 * y + c2)
                if nearest >= 0.0 or (nearest >= -0.5 and valid[y, x] < 2.0):
                    fx, fy = x + x0, y + y0
                    map_x[y, x] = p00 * fx + p01 * fy + p02
                    map_y[y, x] = p10 * fx + p11 * fy + p12
                    valid[y, x] = 2.0 if nearest >= 0.0 else 1.0
                    tri[y, x] = t


# A reference eye's colour reads as its photo's cast when it lies on its skin's side of grey and
# within CAST_NEAR (a, b units) of the skin's hue axis, or that near the source eyes' own colour
# (ordinary whites, whatever the skin); past CAST_FAR from both, it is the eye's own (a light
# iris, eye shadow) and says nothing of the light. Measured on the eval's 22 targets (each eye's
# bright half): 0-4 from the axis on 15, 5-6.5 on one eye of 000050 and 015384, 6-10 under eye
# shadow or lilac lids (simswap_specific1-3, multi_people), 14-15 for 015316's light blue irises
# (RESULTS.md, thirtieth session).
CAST_NEAR, CAST_FAR = 4.0, 10.0


@numba.njit(nogil=True, cache=True)
def _cast_fade(off):  # pragma: no cover - compiled
    """1 up to CAST_NEAR a, b units off, 0 from CAST_FAR, smooth between."""
    x = min(max((off - CAST_NEAR) / (CAST_FAR - CAST_NEAR), 0.0), 1.0)
    return 1.0 - x * x * (3.0 - 2.0 * x)


@numba.njit(nogil=True, cache=True)
def cast_share(a, b, axis_a, axis_b):  # pragma: no cover - compiled
    """(share, t): how much the chroma (a, b) of a feature reads as its photo's cast, 1 to 0, by
    its distance from the skin's hue axis (axis_a, axis_b) (`_cast_fade`; 0 against the axis: a
    blue iris on a warm face), and where along that axis it lies (t: the cast as a share of the
    skin's a, b, 0 to 1). A grey skin (axis under 1e-3) has no axis: (1, 0)."""
    norm2 = axis_a * axis_a + axis_b * axis_b
    if norm2 < 1e-6:
        return 1.0, 0.0
    t = (a * axis_a + b * axis_b) / norm2
    if t < 0.0:
        return 0.0, 0.0
    return _cast_fade(np.sqrt((a - t * axis_a) ** 2 + (b - t * axis_b) ** 2)), min(t, 1.0)


@numba.njit(nogil=True, cache=True)
def eye_chroma_goal(want, have, axis, own_axis):  # pragma: no cover - compiled
    """(share, cast a, cast b): how much of the reference eyes' colour `want` (a, b) a source's
    eyes (their own `have`) take, and the colour they take for the rest. `want` counts as far as
    it reads as its photo's cast (`cast_share` against its skin's a, b `axis`) or lies near
    `have` (ordinary whites, whatever the skin). The rest: a share of the reference skin's hue,
    the larger of `want`'s and `have`'s share of its own skin's hue (`own_axis`): an eye's own
    hue lies off or against its skin's, so it only pulls that share down."""
    share, t_ref = cast_share(want[0], want[1], axis[0], axis[1])
    _, t_own = cast_share(have[0], have[1], own_axis[0], own_axis[1])
    share = max(share, _cast_fade(np.sqrt((want[0] - have[0]) ** 2 + (want[1] - have[1]) ** 2)))
    t = max(t_ref, t_own)
    return share, t * axis[0], t * axis[1]


@numba.njit(nogil=True, cache=True)
def move_feature_chroma(lab, ref_lab, regions, axis, own_axis, eyes):  # pragma: no cover - compiled
    """`match_bright_chroma`'s move on CIELAB images, every region in one call: each region
    (regions (R, h, w) float32 weights) moves lab's a, b (in place) from their mean over the
    brighter half of its core (weight > 0.5) to a goal, weighted by the region; regions with a
    core under 8 pixels are left alone. The goal is ref_lab's mean there, except on the first
    `eyes` regions (both eyes, judged together so they stay alike): there `eye_chroma_goal`'s
    share of it, and its cast for the rest (`axis`, `own_axis`: ref_lab's and lab's skin a, b)."""
    h, w = regions.shape[1], regions.shape[2]
    n = regions.shape[0]
    boxes = np.full((n, 4), -1, np.int64)
    wants = np.zeros((n, 2))
    haves = np.zeros((n, 2))
    for r in range(n):
        m = regions[r]
        y0, y1, x0, x1 = h, -1, w, -1
        for y in range(h):
            for x in range(w):
                if m[y, x] > 0:
                    y0, y1, x0, x1 = min(y0, y), max(y1, y), min(x0, x), max(x1, x)
        if y1 < 0:
            continue
        core = np.empty((y1 + 1 - y0, x1 + 1 - x0), np.bool_)  # by loops: array expressions compiled slowly
        n_core = 0
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                core[y - y0, x - x0] = m[y, x] > 0.5
                n_core += core[y - y0, x - x0]
        if n_core < 8:
            continue
        boxes[r, 0], boxes[r, 1], boxes[r, 2], boxes[r, 3] = y0, y1, x0, x1
        wants[r] = bright_half_chroma(ref_lab[y0:y1 + 1, x0:x1 + 1], core)
        haves[r] = bright_half_chroma(lab[y0:y1 + 1, x0:x1 + 1], core)
    want_eyes, have_eyes = np.zeros(2), np.zeros(2)
    n_eyes = 0
    for r in range(min(eyes, n)):
        if boxes[r, 0] >= 0:
            want_eyes += wants[r]
            have_eyes += haves[r]
            n_eyes += 1
    share, cast_a, cast_b = eye_chroma_goal(want_eyes / max(n_eyes, 1), have_eyes / max(n_eyes, 1), axis, own_axis)
    for r in range(n):
        if boxes[r, 0] < 0:
            continue
        goal_a, goal_b = wants[r, 0], wants[r, 1]
        if r < eyes:
            goal_a = share * goal_a + (1.0 - share) * cast_a
            goal_b = share * goal_b + (1.0 - share) * cast_b
        ma, mb = np.float32(goal_a - haves[r, 0]), np.float32(goal_b - haves[r, 1])
        m = regions[r]
        for y in range(boxes[r, 0], boxes[r, 1] + 1):
            for x in range(boxes[r, 2], boxes[r, 3] + 1):
                lab[y, x, 1] += m[y, x] * ma
                lab[y, x, 2] += m[y, x] * mb


@numba.njit(nogil=True, cache=True)
def side_dark_above(light, oval, thr, lids, xl, xr):  # pragma: no cover - compiled
    """Whether any pixel of `light` (float32 (h, w)) inside `oval` (uint8) is darker than `thr`
    above row `lids` and beside the columns xl..xr: the side-hair search's quick no (most faces)."""
    h, w = light.shape
    for y in range(min(h, int(np.ceil(lids)))):
        for x in range(w):
            if (x < xl or x > xr) and oval[y, x] and light[y, x] < thr:
                return True
    return False


@numba.njit(nogil=True, cache=True)
def side_hair_pieces(light, oval, features, thr, lids, xl, xr, min_area):  # pragma: no cover - compiled
    """uint8 (h, w) 0/1: the side-hair search's pieces (occluders.side_hair_box), in one pass.

    A pixel is a candidate when `light` (float32) is below `thr`, inside `oval` and off `features`
    (uint8 masks). Its 8-connected pieces are kept when their top row is above `lids`, they hold at
    least `min_area` pixels, and some pixel of theirs has a dark pixel outside the oval among its
    eight neighbours; of a kept piece, the pixels left of `xl` or right of `xr` are returned. The
    same as thresholds, a 3 x 3 dilation and OpenCV's connected components in ~12 numpy and OpenCV
    calls, each of which let go of the GIL and waited for it again beside convert's other threads."""
    h, w = light.shape
    labels = np.zeros((h, w), np.int32)
    keep = np.zeros(h * w + 1, np.bool_)
    stack = np.empty(h * w, np.int64)
    count = 0
    for y0 in range(h):
        for x0 in range(w):
            if labels[y0, x0] or not (oval[y0, x0] and not features[y0, x0] and light[y0, x0] < thr):
                continue
            count += 1
            labels[y0, x0] = count
            stack[0] = y0 * w + x0
            n = 1
            top, area, touches = y0, 0, False
            while n:
                n -= 1
                y, x = stack[n] // w, stack[n] % w
                area += 1
                top = min(top, y)
                for yy in range(max(0, y - 1), min(h, y + 2)):
                    for xx in range(max(0, x - 1), min(w, x + 2)):
                        if light[yy, xx] >= thr:
                            continue
                        if not oval[yy, xx]:
                            touches = True
                        elif not labels[yy, xx] and not features[yy, xx]:
                            labels[yy, xx] = count
                            stack[n] = yy * w + xx
                            n += 1
            keep[count] = top < lids and area >= min_area and touches
    found = np.zeros((h, w), np.uint8)
    for y in range(h):
        for x in range(w):
            if keep[labels[y, x]] and (x < xl or x > xr):
                found[y, x] = 1
    return found


@numba.njit(nogil=True, cache=True)
def _cheek_values(values, oval, below, above, left, right):  # pragma: no cover - compiled
    """(n, C) float64: the pixels of `values` (float32 (h, w, C)) in the cheek skin of a half-size
    occluder search (occluders.py): inside `oval` (uint8), on rows strictly between `below` and
    `above`, columns strictly between `left` and `right`; in row order, as numpy's mask indexing."""
    h, w, c = values.shape
    n = 0
    for y in range(h):
        if below < y < above:
            for x in range(w):
                if oval[y, x] and left < x < right:
                    n += 1
    out = np.empty((n, c), np.float64)
    k = 0
    for y in range(h):
        if below < y < above:
            for x in range(w):
                if oval[y, x] and left < x < right:
                    for j in range(c):
                        out[k, j] = values[y, x, j]
                    k += 1
    return out


@numba.njit(nogil=True, cache=True)
def _median32(a):  # pragma: no cover - compiled
    """np.median of float32 values held in `a` (1-D float64, reordered in place), as numpy gives it
    for a float32 array: the middle pair's mean rounded to float32 (halving commutes with rounding)."""
    return np.float32(_median(a))


@numba.njit(nogil=True, cache=True)
def cheek_median(light, oval, below, above, left, right):  # pragma: no cover - compiled
    """(median of `light` (float32 (h, w)) over the cheek skin (`_cheek_values`), its pixel count):
    the side-hair search's reference lightness."""
    values = _cheek_values(light.reshape(light.shape[0], light.shape[1], 1), oval, below, above, left, right)
    n = values.shape[0]
    return (_median32(values[:, 0].copy()) if n else np.float32(np.nan)), n


@numba.njit(nogil=True, cache=True)
def skin_outliers(lab, oval, below, above, left, right, strip, chroma_far, dark_far, floor):  # pragma: no cover - compiled
    """The forehead test of occluders.front_occluder_box in one pass: (uint8 (h, w) 0/1 of the pixels
    on rows above `strip`, inside `oval`, whose CIELAB (`lab`, float32 (h, w, 3)) lies far from
    the cheek skin's, the cheeks' per-channel median (float32 (3,)), the cheeks' pixel count).

    Far: (a, b) more than `chroma_far`, or L more than `dark_far` darker, in units of the cheeks'
    robust spread (1.4826 x the median absolute deviation, at least `floor`, float32 (3,)). The
    cheeks are `_cheek_values`' pixels. The same float32 arithmetic as the chain of numpy calls it
    replaced (each holding the GIL for its dispatch), so the same pixels."""
    h, w = oval.shape
    cheeks = _cheek_values(lab, oval, below, above, left, right)
    n = cheeks.shape[0]
    occ = np.zeros((h, w), np.uint8)
    med = np.zeros(3, np.float32)
    if n == 0:
        return occ, med, n
    scale = np.zeros(3, np.float32)
    for j in range(3):
        med[j] = _median32(cheeks[:, j].copy())
        dev = np.empty(n, np.float64)
        for k in range(n):
            dev[k] = abs(np.float32(cheeks[k, j]) - med[j])
        scale[j] = max(np.float32(1.4826) * _median32(dev), floor[j])
    far_sq = np.float32(chroma_far) * np.float32(chroma_far)
    for y in range(min(strip, h)):
        for x in range(w):
            if oval[y, x]:
                zl = (lab[y, x, 0] - med[0]) / scale[0]
                za = (lab[y, x, 1] - med[1]) / scale[1]
                zb = (lab[y, x, 2] - med[2]) / scale[2]
                if za * za + zb * zb > far_sq or zl < -np.float32(dark_far):
                    occ[y, x] = 1
    return occ, med, n


@numba.njit(nogil=True, cache=True)
def cloth_pixels(lab, oval, lips, skin_a, skin_b, hue, chroma):  # pragma: no cover - compiled
    """uint8 (h, w) 0/1: the pixels of occluders._clothes_below's search that have a hue, and one
    not the skin's: CIELAB (`lab`, float32 (h, w, 3)) chroma above `chroma`, more across the skin's
    hue (`skin_a`, `skin_b`, of chroma `hue`) than along it, inside `oval`, off `lips` (uint8).
    A pixel's (a, b) along the skin's hue and across it; their squares sum to its chroma's, and one
    opposite the skin's hue (along < 0) is across > along too. float32 as the numpy it replaced."""
    h, w = oval.shape
    out = np.zeros((h, w), np.uint8)
    sa, sb, k = np.float32(skin_a), np.float32(skin_b), np.float32(hue)
    limit = np.float32(chroma) * np.float32(chroma)
    for y in range(h):
        for x in range(w):
            if oval[y, x] and not lips[y, x]:
                a, b = lab[y, x, 1], lab[y, x, 2]
                along = (a * sa + b * sb) / k
                across = abs(a * sb - b * sa) / k
                if along * along + across * across > limit and across > along:
                    out[y, x] = 1
    return out


@numba.njit(nogil=True, cache=True)
def pieces_at(labels, marked, oval, inner, row):  # pragma: no cover - compiled
    """bool per label of `labels` (int32 (h, w), cv2.connectedComponents'): the pieces that have a
    `marked` pixel on the rim of `oval` (in it, not in `inner`, its erosion; uint8 masks) and a
    marked pixel on a row at or below `row`."""
    h, w = labels.shape
    count = 0
    for y in range(h):
        for x in range(w):
            count = max(count, labels[y, x] + 1)
    on_rim = np.zeros(count, np.bool_)
    below = np.zeros(count, np.bool_)
    for y in range(h):
        for x in range(w):
            if marked[y, x]:
                if oval[y, x] and not inner[y, x]:
                    on_rim[labels[y, x]] = True
                if y >= row:
                    below[labels[y, x]] = True
    return on_rim & below


BRIDGE_COVER = 0.8  # share of the nose bridge zone's columns a glasses frame's strict pixels cover


@numba.njit(nogil=True, cache=True)
def bridge_pieces(strict, labels, stats, y0, y1, x0, x1, xa, xb):  # pragma: no cover - compiled
    """bool per label of `labels` (int32 (h, w); `stats`: cv2.connectedComponentsWithStats' (n, 5)
    int32, left in column 0, width in column 2): the pieces whose `strict` pixels in the zone rows
    y0:y1, columns x0:x1 cover more than BRIDGE_COVER of its columns, and that reach past column
    `xa` on the left and `xb` on the right (occluders.pieces_across_bridge: a glasses frame across
    the bridge)."""
    n = stats.shape[0]
    keep = np.zeros(n, np.bool_)
    cols = np.zeros(n, np.int64)
    seen = np.full(n, -1, np.int64)  # the last zone column each label was counted in
    for x in range(x0, x1):
        for y in range(y0, y1):
            k = labels[y, x]
            if k > 0 and strict[y, x] and seen[k] != x:
                seen[k] = x
                cols[k] += 1
    for k in range(1, n):
        if cols[k] > 0:
            left, width = stats[k, 0], stats[k, 2]
            keep[k] = cols[k] / (x1 - x0) > BRIDGE_COVER and left < xa and left + width - 1 > xb
    return keep


@numba.njit(nogil=True, cache=True)
def hair_candidates(light, skin, coarse, depth, dark_share):  # pragma: no cover - compiled
    """The first pass of color.side_hair over a face's skin (`skin`, bool (h, w)): (uint8 (h, w) 0/1
    of the skin pixels whose lightness `light` lies more than `depth` (L units, a negative number)
    from the coarse light `coarse` and under `dark_share` of the skin's median lightness, each
    row's first and last skin column (-1 on rows without skin)). float32 comparisons, as numpy
    makes them against a Python float, so the same pixels as the numpy chain it replaced."""
    h, w = light.shape
    first = np.full(h, -1, np.int64)
    last = np.full(h, -1, np.int64)
    n = 0
    for y in range(h):
        for x in range(w):
            if skin[y, x]:
                n += 1
                if first[y] < 0:
                    first[y] = x
                last[y] = x
    dark = np.zeros((h, w), np.uint8)
    if n == 0:
        return dark, first, last
    values = np.empty(n, np.float64)
    k = 0
    for y in range(h):
        for x in range(w):
            if skin[y, x]:
                values[k] = light[y, x]
                k += 1
    below = np.float32(dark_share * np.float64(_median32(values)))
    step = np.float32(depth)
    for y in range(h):
        for x in range(first[y], last[y] + 1 if first[y] >= 0 else 0):
            if skin[y, x] and light[y, x] - coarse[y, x] < step and light[y, x] < below:
                dark[y, x] = 1
    return dark, first, last


@numba.njit(nogil=True, cache=True)
def smooth_ramp(distance, scale):  # pragma: no cover - compiled
    """float32 (h, w): 1 at distance 0 falling to 0 at 1 / `scale` along a smoothstep, from
    `distance` (float32, cv2.distanceTransform's): local_light.target_light_at's weight, float32
    throughout as the numpy it replaced."""
    h, w = distance.shape
    out = np.empty((h, w), np.float32)
    k, one, two, three = np.float32(scale), np.float32(1.0), np.float32(2.0), np.float32(3.0)
    for y in range(h):
        for x in range(w):
            t = min(max(one - distance[y, x] * k, np.float32(0.0)), one)
            out[y, x] = t * t * (three - two * t)
    return out


@numba.njit(nogil=True, cache=True)
def shadow_lift(light, coarse, low, weight, slack, gain, least):  # pragma: no cover - compiled
    """color.limit_shadows' lift, in row order as numpy's mask indexing: (bool (h, w) of the pixels
    whose lift is above `least`, their lifts (n,)). A pixel's lift is `weight` x `gain` x how far
    its detail (light's channel 0 minus coarse's) lies below `low` (the reference's darkest detail
    within reach) minus `slack`; all float32 (h, w) or (h, w, 3), in float32 as numpy computed it."""
    h, w = weight.shape
    where = np.zeros((h, w), np.bool_)
    # (least as float32: numpy compares a float32 array with a Python float in float32)
    g, s, lim, zero = np.float32(gain), np.float32(slack), np.float32(least), np.float32(0.0)
    n = 0
    for y in range(h):
        for x in range(w):
            if weight[y, x] * g * max((low[y, x] - s) - (light[y, x, 0] - coarse[y, x, 0]), zero) > lim:
                where[y, x] = True
                n += 1
    lift = np.empty(n, np.float32)
    k = 0
    for y in range(h):
        for x in range(w):
            if where[y, x]:
                lift[k] = weight[y, x] * g * max((low[y, x] - s) - (light[y, x, 0] - coarse[y, x, 0]), zero)
                k += 1
    return where, lift


@numba.njit(nogil=True, cache=True)
def light_lift(weight, change, gain, slack, ramp, least):  # pragma: no cover - compiled
    """local_light.target_light_at's lift: for each pixel whose `weight` x the L excess (`change`'s
    L, float32 (h, w, 3), times `gain`, minus `slack`) is above `least`, in row order as numpy's
    mask indexing: (bool (h, w) of those pixels, the L to add (n,), the (a, b) to add (n, 2): the
    pixel's share of `change`'s a and b, its weight x its excess over `ramp`, capped at 1)."""
    h, w = weight.shape
    where = np.zeros((h, w), np.bool_)
    g, s, r, zero, one = np.float32(gain), np.float32(slack), np.float32(ramp), np.float32(0.0), np.float32(1.0)
    n = 0
    for y in range(h):
        for x in range(w):
            excess = change[y, x, 0] * g - s
            if weight[y, x] * max(excess, zero) > least:
                where[y, x] = True
                n += 1
    lift = np.empty(n, np.float32)
    shift = np.empty((n, 2), np.float32)
    k = 0
    for y in range(h):
        for x in range(w):
            if where[y, x]:
                excess = change[y, x, 0] * g - s
                lift[k] = weight[y, x] * max(excess, zero)
                gate = weight[y, x] * min(max(excess * r, zero), one)
                shift[k, 0] = gate * change[y, x, 1]
                shift[k, 1] = gate * change[y, x, 2]
                k += 1
    return where, lift, shift


@numba.njit(nogil=True, cache=True)
def _ranked_core(values, core, k):  # pragma: no cover - compiled
    """The k-th smallest of `values` (float32 (h, w)) over the bool `core`, as float32."""
    n = 0
    for y in range(core.shape[0]):
        for x in range(core.shape[1]):
            n += core[y, x]
    a = np.empty(n, np.float64)
    i = 0
    for y in range(core.shape[0]):
        for x in range(core.shape[1]):
            if core[y, x]:
                a[i] = values[y, x]
                i += 1
    return np.float32(_kth(a, k))


@numba.njit(nogil=True, cache=True)
def hold_range(light, m, core, ref_light, own_light, low, high, whiter, black, lifted):  # pragma: no cover - compiled
    """color.hold_eye_range's step for one eye, `light` (float32 (h, w), CIELAB L) changed in place;
    whether it changed. `low`, `high`: the ranks of the 10th and 98th percentiles among the `core`
    pixels (bool); `m`: the eye's soft mask; `ref_light`, `own_light`: the target's and the
    uncorrected source's L; `whiter`, `black`, `lifted`: color.WHITER, BLACK and LIFTED. The scalar
    and pixel arithmetic keeps numpy's types (float32 pixels and ranks, float64 where numpy's scalar
    rules make it so), so the same L as the numpy it replaced."""
    lo, top = _ranked_core(light, core, low), _ranked_core(light, core, high)
    floor, cap = _ranked_core(ref_light, core, low), _ranked_core(ref_light, core, high)
    own_floor = _ranked_core(own_light, core, low)
    ceiling = np.float64(max(floor, own_floor)) + lifted
    floor = min(floor, own_floor)
    cap64 = np.float64(cap) + whiter  # numpy: a float32 scalar plus a Python float is a float64
    h, w = light.shape
    changed = False
    top64 = np.float64(top)
    if top > cap64 and cap64 > lo:  # too bright: the range scaled down from its dark end
        share = np.float32(1.0 - (cap64 - lo) / (top - lo))
        for y in range(h):
            for x in range(w):
                v = light[y, x]
                light[y, x] = v - m[y, x] * (v - lo) * share * (np.float32(1.0) if v > lo else np.float32(0.0))
        top64, changed = cap64, True
    if lo < black and lo < floor and floor < top64:  # sunk to black: scaled up from its bright end
        share = np.float32(1.0 - (top64 - floor) / (top64 - lo)) if changed else np.float32(1.0 - (top - floor) / (top - lo))
        t = np.float32(top64)
        for y in range(h):
            for x in range(w):
                v = light[y, x]
                light[y, x] = v + m[y, x] * (t - v) * share * (np.float32(1.0) if v < t else np.float32(0.0))
        changed = True
    elif lo > ceiling and top64 > lo:  # washed out: scaled down from its bright end
        # (Below the dark end, shifted as the dark end is: a range squeezed flat would otherwise
        # throw its darkest pixels far below black.)
        share = np.float32((lo - ceiling) / (top64 - lo))
        t = np.float32(top64)
        span = t - lo
        for y in range(h):
            for x in range(w):
                v = light[y, x]
                moved = v - m[y, x] * min(t - v, span) * share * (np.float32(1.0) if v < t else np.float32(0.0))
                light[y, x] = max(moved, np.float32(0.0))
        changed = True
    return changed
