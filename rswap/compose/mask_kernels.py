"""The classical swap's per-frame masks, drawn in one compiled call (issue 11, fourth part).

The same masks as `region_mask` (polygons filled, the signed distance to their edge,
a smoothstep ramp) and the swapper's forehead fade and detail mask, but drawn by numba
`nogil` code instead of ~40 OpenCV and numpy calls: each of those released the GIL and
waited for it again (up to Python's 5 ms switch interval when another thread runs
Python), so a swap beside the live conveyor's other threads spent more time waiting than
drawing. The pieces:
- `fill_polygon`: scanline fill with OpenCV's fillPoly rounding (a few edge pixels differ);
- `_edt`: exact Euclidean distance transform, as OpenCV's DIST_MASK_PRECISE, up to the
  ramp's reach (beyond it a mask's ramp is flat);
- `_region`: region_mask's polygons, window, distances and ramp;
- `convex_hull`: Andrew's monotone chain (brows and lips are filled as their hulls).
- `dilate_rows`: OpenCV's elliptic dilation, exactly, by runs of set pixels (the paste mask's growth).
Each mask is drawn on its own window of the crop (issue 11, fifth session).
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

from rswap.face.landmarks import REGIONS

_INF = 1e20


@numba.njit(nogil=True, cache=True)
def _sort_by(items, key):  # pragma: no cover - compiled
    """Sort `items` (1-D) in place by key[item] (an insertion sort: a polygon's few dozen
    points or a row's few edges; numba's own sort compiled for seconds on a cold start)."""
    for i in range(1, items.shape[0]):
        item = items[i]
        j = i - 1
        while j >= 0 and key[items[j]] > key[item]:
            items[j + 1] = items[j]
            j -= 1
        items[j + 1] = item


@numba.njit(nogil=True, cache=True)
def convex_hull(pts):  # pragma: no cover - compiled
    """(K, 2) float64: the convex hull of `pts` (N, 2), counter-clockwise, no repeated point."""
    n = pts.shape[0]
    key = np.empty(n)
    for i in range(n):
        key[i] = pts[i, 0] * 1e6 + pts[i, 1]
    order = np.empty(n, np.int64)
    for i in range(n):
        order[i] = i
    _sort_by(order, key)  # not np.argsort: numba's quicksort cost ~5 s of the first start's compiling
    p = np.empty((n, 2))
    for i in range(n):
        p[i, 0], p[i, 1] = pts[order[i], 0], pts[order[i], 1]
    hull = np.empty((2 * n + 1, 2))
    k = 0
    for sweep in range(2):
        start = k
        for ii in range(n):
            i = ii if sweep == 0 else n - 1 - ii
            while k >= start + 2:
                ax, ay = hull[k - 1, 0] - hull[k - 2, 0], hull[k - 1, 1] - hull[k - 2, 1]
                bx, by = p[i, 0] - hull[k - 2, 0], p[i, 1] - hull[k - 2, 1]
                if ax * by - ay * bx > 0:
                    break
                k -= 1
            hull[k, 0], hull[k, 1] = p[i, 0], p[i, 1]
            k += 1
        k -= 1  # the last point of a sweep is the first of the next
    out = np.empty((max(k, 1), 2))
    for i in range(out.shape[0]):
        out[i, 0], out[i, 1] = hull[i, 0], hull[i, 1]
    return out


# Explicit signatures for the helpers called with constants: numba otherwise compiles one
# version per constant (a fill value of 0, 1 or 255; hull True or False), ~4 s more compiling.
@numba.njit("void(uint8[:, ::1], float64[:, ::1], int64)", nogil=True, cache=True)
def fill_polygon(mask, poly, value):  # pragma: no cover - compiled
    """Fill `poly` (K, 2) into `mask` (H, W) uint8 with `value` (even-odd rule), as OpenCV's
    fillPoly does with sub-pixel points: vertex rows rounded to the nearest row, each
    row's span between the edges rounded to the nearest pixels at both ends, and the
    outline drawn as lines between the rounded vertices."""
    h, w = mask.shape
    k = poly.shape[0]
    ys = np.empty(k)
    lo, hi = 1e9, -1e9
    for i in range(k):
        ys[i] = np.floor(poly[i, 1] + 0.5)
        lo, hi = min(lo, ys[i]), max(hi, ys[i])
    xs = np.empty(k)
    for y in range(max(int(lo), 0), min(int(hi), h - 1) + 1):
        n = 0
        last = y == hi  # the bottom row: edges that end on it count (half-open from the other side)
        for i in range(k):
            j = (i + 1) % k
            y0, y1 = ys[i], ys[j]
            if y0 == y1:
                continue
            if (not last and ((y0 <= y < y1) or (y1 <= y < y0))) or (last and ((y0 < y <= y1) or (y1 < y <= y0))):
                xs[n] = poly[i, 0] + (y - y0) * (poly[j, 0] - poly[i, 0]) / (y1 - y0)
                n += 1
        for i in range(1, n):  # sorted by insertion (a few edges; numba's sort compiled for seconds)
            xv, jj = xs[i], i - 1
            while jj >= 0 and xs[jj] > xv:
                xs[jj + 1] = xs[jj]
                jj -= 1
            xs[jj + 1] = xv
        for p in range(0, n - 1, 2):
            for x in range(max(int(np.floor(xs[p] + 0.5)), 0), min(int(np.floor(xs[p + 1] + 0.5)), w - 1) + 1):
                mask[y, x] = value
    for i in range(k):  # and its outline, as OpenCV draws it: 8-connected lines between the rounded vertices
        j = (i + 1) % k
        ax, ay = np.floor(poly[i, 0] + 0.5), ys[i]
        bx, by = np.floor(poly[j, 0] + 0.5), ys[j]
        steps = int(max(abs(bx - ax), abs(by - ay)))
        for s in range(steps + 1):
            f = s / steps if steps else 0.0
            x, y = int(np.floor(ax + f * (bx - ax) + 0.5)), int(np.floor(ay + f * (by - ay) + 0.5))
            if 0 <= x < w and 0 <= y < h:
                mask[y, x] = value


@numba.njit("float32[:, ::1](uint8[:, :], boolean, int64)", nogil=True, cache=True)
def _edt(marks, on, reach):  # pragma: no cover - compiled
    """float32 (H, W): Euclidean distance from each pixel to the nearest pixel where
    `marks` (uint8 (H, W)) is set (on) or not set (not on): 0 there, exact up to `reach`
    pixels, and _INF where it is more (a mask's ramp is flat beyond its reach: `_region`).
    (A flag, not a `marks == 0` argument: array expressions compiled slowly.)

    The columns' distances (capped at reach + 1) come from two scans down and up the rows
    (Meijster et al. 2000). A row's distances within reach then need only the columns within
    reach: d(x)² is the least k² + g(x + k)² over |k| <= reach, one pass over the row per k,
    which vectorises. The parabola envelope (Felzenszwalb & Huttenlocher) that found the
    whole frame's distances ran a sequential search per pixel: the face mask's two transforms
    took ~160 µs at 144² (twenty-fifth session). The distances within reach are the same
    whole numbers' square roots, so the masks are the same."""
    h, w = marks.shape
    cap = reach + 1  # g's ceiling: (reach + 1)² is beyond every distance kept
    g = np.empty((h, w), np.int64)
    row, m = g[0], marks[0]
    for x in range(w):
        row[x] = 0 if (m[x] != 0) == on else cap
    for y in range(1, h):
        prev, row, m = g[y - 1], g[y], marks[y]
        for x in range(w):
            row[x] = 0 if (m[x] != 0) == on else min(prev[x] + 1, cap)
    for y in range(h - 2, -1, -1):
        row, nxt = g[y], g[y + 1]
        for x in range(w):
            row[x] = min(row[x], nxt[x] + 1)
    out = np.empty((h, w), np.float32)
    sq = np.empty(w, np.int64)
    best = np.empty(w, np.int64)
    limit = reach * reach
    for y in range(h):
        row = g[y]
        for x in range(w):
            sq[x] = row[x] * row[x]
            best[x] = sq[x]
        for k in range(1, min(reach, w - 1) + 1):
            kk = k * k
            for x in range(w - k):  # the column k to the right, then k to the left
                best[x] = min(best[x], kk + sq[x + k])
            for x in range(k, w):
                best[x] = min(best[x], kk + sq[x - k])
        o = out[y]
        for x in range(w):
            o[x] = np.sqrt(np.float64(best[x])) if best[x] <= limit else np.float32(_INF)
    return out


@numba.njit("float64[:, ::1](float64[:, ::1], int64[::1], boolean, boolean)", nogil=True, cache=True)
def _outline(pts, idx, hull, subpixel):  # pragma: no cover - compiled
    """A region's polygon from the landmarks: pts[idx], or its convex hull; rounded to 1/16
    pixel (region_mask's sub-pixel fill) or to whole pixels (a plain fillPoly of rounded points)."""
    p = np.empty((idx.shape[0], 2))
    for i in range(idx.shape[0]):
        p[i, 0], p[i, 1] = pts[idx[i], 0], pts[idx[i], 1]
    if hull:
        p = convex_hull(p)
    step = 16.0 if subpixel else 1.0
    for i in range(p.shape[0]):
        p[i, 0] = np.floor(p[i, 0] * step + 0.5) / step
        p[i, 1] = np.floor(p[i, 1] * step + 0.5) / step
    return p


@numba.njit(nogil=True, cache=True)
def _shifted_outline(pts, idx, hull, subpixel, x0, y0):  # pragma: no cover - compiled
    """`_outline` moved by (-x0, -y0) whole pixels: the same polygon drawn into a window whose
    corner is (x0, y0) (a whole-pixel shift commutes with the fill's rounding)."""
    p = _outline(pts, idx, hull, subpixel)
    for i in range(p.shape[0]):
        p[i, 0] -= x0
        p[i, 1] -= y0
    return p


@numba.njit(nogil=True, cache=True)
def _bounds(pts, idx, hull, subpixel, box):  # pragma: no cover - compiled
    """Grow `box` (x_lo, y_lo, x_hi, y_hi, in place) to the pixels a fill of the polygon can set
    (its vertices rounded to the nearest pixel, as fill_polygon rounds rows and span ends)."""
    p = _outline(pts, idx, hull, subpixel)
    for i in range(p.shape[0]):
        x, y = np.floor(p[i, 0] + 0.5), np.floor(p[i, 1] + 0.5)
        box[0], box[1] = min(box[0], x), min(box[1], y)
        box[2], box[3] = max(box[2], x), max(box[3], y)


@numba.njit(nogil=True, cache=True)
def _window(hw, box, margin):  # pragma: no cover - compiled
    """(y0, y1, x0, x1): `box` (x_lo, y_lo, x_hi, y_hi) grown by `margin` pixels, within the frame."""
    h, w = hw
    return (max(int(box[1]) - margin, 0), min(int(box[3]) + 1 + margin, h),
            max(int(box[0]) - margin, 0), min(int(box[2]) + 1 + margin, w))


@numba.njit(nogil=True, cache=True)
def _region(hw, pts, parts, feather, erode):  # pragma: no cover - compiled
    """`region_mask` of landmark regions on a window of the frame: (float32 window, y0, x0),
    the frame being 0 outside it. parts = (idx, starts, hulls, signs): the regions' landmark
    indices one after the other (region i is idx[starts[i]:starts[i + 1]]), whether each is
    filled as its hull, +1 / -1 for an included / excluded one (drawn in order, outlines
    rounded to 1/16 pixel as region_mask's). feather, erode: pixels, as region_mask's (no
    defaults here). The window is the included polygons' box grown by the ramp's reach: the
    distances and the ramp are those of the whole frame (zeros around the shape either way)
    and no pass reads the whole frame (issue 11, fifth session: the swap's masks made ~30
    whole-frame passes, half their time). (Flat arrays, not lists: numba compiles them once,
    where lists of arrays made every start ~10 s slower.)"""
    idx, starts, hulls, signs = parts
    box = np.array([1e9, 1e9, -1e9, -1e9])
    for i in range(starts.shape[0] - 1):
        if signs[i] > 0:
            _bounds(pts, idx[starts[i]:starts[i + 1]], hulls[i], True, box)
    pad = int(np.ceil(max(feather / 2 - erode, 0.0))) + 2
    y0, y1, x0, x1 = _window(hw, box, pad)
    if y1 <= y0 or x1 <= x0:
        return np.zeros((0, 0), np.float32), 0, 0
    win = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for i in range(starts.shape[0] - 1):
        fill_polygon(win, _shifted_outline(pts, idx[starts[i]:starts[i + 1]], hulls[i], True, x0, y0),
                     255 if signs[i] > 0 else 0)
    out = np.zeros((y1 - y0, x1 - x0), np.float32)
    # Only distances up to the ramp's reach change the ramp: beyond it, it is flat at 0 or 1.
    reach = int(np.ceil(max(feather, 0.0) / 2 + abs(erode))) + 1
    inside = _edt(win, False, reach)
    one_sided = erode >= max(feather, 0.0) / 2 - 0.5  # the ramp lies inside: outside pixels end at 0
    outside = inside if one_sided else _edt(win, True, reach)
    for y in range(y1 - y0):
        for x in range(x1 - x0):
            a = inside[y, x] if win[y, x] else np.float32(0.0)
            if one_sided:
                if not win[y, x]:
                    continue  # a = 0, b = 1: s < 0, the ramp's 0
                b = np.float32(0.0)
            else:
                b = np.float32(0.0) if win[y, x] else outside[y, x]
            diff = a - b
            s = diff - 0.5 * (1.0 if diff > 0 else (-1.0 if diff < 0 else 0.0)) - erode
            if feather <= 0:
                out[y, x] = 1.0 if s > 0 else 0.0
            else:
                t = min(max(s / feather + 0.5, 0.0), 1.0)
                out[y, x] = t * t * (3.0 - 2.0 * t)
    return out, y0, x0


@numba.njit(nogil=True, cache=True)
def _brow_line(hw, pts, brows, kernel):  # pragma: no cover - compiled
    """The classical swapper's `_brow_line`: (W,) float32, the row of the brows' upper edge in
    every column (each column's first brow row, interpolated between and held beyond the
    brows), blurred by `kernel`. The brows are drawn on their own box only."""
    h, w = hw
    box = np.array([1e9, 1e9, -1e9, -1e9])
    for b in range(len(brows)):
        _bounds(pts, brows[b], True, False, box)
    y0, y1, x0, x1 = _window(hw, box, 0)
    first = np.empty(w)
    hits = np.empty(w, np.int64)  # the columns the brows cover
    n_hits = 0
    if y1 > y0 and x1 > x0:
        marks = np.zeros((y1 - y0, x1 - x0), np.uint8)
        for b in range(len(brows)):
            fill_polygon(marks, _shifted_outline(pts, brows[b], True, False, x0, y0), 1)
        for x in range(x1 - x0):
            for y in range(y1 - y0):
                if marks[y, x]:
                    first[x + x0] = y + y0
                    hits[n_hits] = x + x0
                    n_hits += 1
                    break
    line = np.empty(w, np.float32)
    nxt = 1
    for x in range(w):  # np.interp over the columns the brows cover
        if n_hits == 0:
            line[x] = 0.0
        elif x <= hits[0]:
            line[x] = first[hits[0]]
        elif x >= hits[n_hits - 1]:
            line[x] = first[hits[n_hits - 1]]
        else:
            while hits[nxt] < x:  # hits[nxt]: the first covered column at or after x (as np.searchsorted)
                nxt += 1
            a, b = hits[nxt - 1], hits[nxt]
            line[x] = first[a] + (first[b] - first[a]) * (x - a) / (b - a)
    r = kernel.shape[0] // 2
    smooth = np.empty(w, np.float32)
    for x in range(w):  # OpenCV's GaussianBlur of one row: reflect-101 border
        s = np.float32(0.0)
        for k in range(-r, r + 1):
            xx = x + k
            while xx < 0 or xx >= w:
                xx = -xx if xx < 0 else 2 * (w - 1) - xx
            s += kernel[k + r] * line[xx]
        smooth[x] = s
    return smooth


@numba.njit(nogil=True, cache=True)
def _place(frame, win, y0, x0):  # pragma: no cover - compiled
    """frame[y0:, x0:] = win (the window's extent)."""
    for y in range(win.shape[0]):
        for x in range(win.shape[1]):
            frame[y + y0, x + x0] = win[y, x]


@numba.njit(nogil=True, cache=True)
def swap_masks(hw, shaped, lowered, valid, face_parts, whole_parts, kept_parts, skin_parts, feature_parts, oval, eyes, brows,
               lips, feather, fade_kernel, colour):  # pragma: no cover - compiled
    """Every per-frame mask of the classical swap, in one call (see ClassicalSwapper.swap).

    shaped, lowered (468, 2) float64: the reshaped target's landmarks, and the same with the
    oval's top pulled down; valid (H, W): where the warped source has pixels. *_parts:
    regions as `_region` takes them: face_parts the oval without the swapper's kept regions,
    kept_parts this frame's kept regions (none: empty), skin_parts the oval without eyes and
    brows, feature_parts the left eye, right eye and inner mouth (one part each). oval, lips:
    landmark indices; eyes, brows: (left, right) index arrays. whole_parts: the regions the face
    mask holds whole, grown by the feather (the eyes; none: empty). feather: the swapper's feather
    (px); fade_kernel: the brow line's Gaussian. colour: also the colour step's masks.
    Returns (face mask, target skin, source skin, eye/eye/mouth regions (3, H, W), chroma,
    detail mask, kept mask), float32 (H, W); those not asked for are empty. Each mask is
    drawn on its own window and written into its zeroed frame (see `_region`)."""
    h, w = hw
    empty = np.zeros((0, 0), np.float32)
    # where the source replaces the target: the oval minus the kept regions, feathered, times
    # the forehead fade (1 from the brows down, a smoothstep to 0 at 0.45 of the forehead's
    # height above them: the swapper's `_forehead_fade`) and the warped source's coverage
    face = np.zeros((h, w), np.float32)
    win, y0, x0 = _region(hw, shaped, face_parts, feather, feather)
    smooth = _brow_line(hw, shaped, brows, fade_kernel)
    top, lo = 1e9, 1e9
    for b in range(len(brows)):
        for i in brows[b]:
            top = min(top, shaped[i, 1])
    for i in oval:
        lo = min(lo, shaped[i, 1])
    lift = np.float32(0.45 * (top - lo))
    for y in range(win.shape[0]):
        for x in range(win.shape[1]):
            if win[y, x] != 0.0:
                t = min(max((y + y0 - (smooth[x + x0] - lift)) / max(lift, np.float32(1.0)), 0.0), 1.0)
                fade = np.float32(t * t * (3.0 - 2.0 * t))
                face[y + y0, x + x0] = win[y, x] * (fade * valid[y + y0, x + x0])
    # ... and at least the regions swapped whole (the eyes) grown by the feather, where the source
    # reaches (the swapper's `_face_mask`)
    if whole_parts[1].shape[0] > 1:
        win, y0, x0 = _region(hw, shaped, whole_parts, feather, -feather)
        for y in range(win.shape[0]):
            for x in range(win.shape[1]):
                v = win[y, x] * valid[y + y0, x + x0]
                if v > face[y + y0, x + x0]:
                    face[y + y0, x + x0] = v
    kept = empty
    if kept_parts[1].shape[0] > 1:
        kept = np.zeros((h, w), np.float32)
        win, y0, x0 = _region(hw, shaped, kept_parts, 3.0, -1.0)
        _place(kept, win, y0, x0)
    if not colour:
        return face, empty, empty, np.zeros((3, 0, 0), np.float32), empty, empty, kept
    # skin: the lowered oval without eyes and brows, shrunk by the feather, without the lips' hull
    skin = np.zeros((h, w), np.float32)
    src_skin = np.zeros((h, w), np.float32)
    win, y0, x0 = _region(hw, lowered, skin_parts, 0.0, feather)
    hole = np.zeros(win.shape, np.uint8)
    if win.size:
        fill_polygon(hole, _shifted_outline(lowered, lips, True, False, x0, y0), 1)
    for y in range(win.shape[0]):
        for x in range(win.shape[1]):
            v = np.float32(0.0) if hole[y, x] else win[y, x]
            skin[y + y0, x + x0] = v
            src_skin[y + y0, x + x0] = v * valid[y + y0, x + x0]
    # eyes and the inner mouth: whole up to the rim and a short ramp outside
    idx, starts, hulls, signs = feature_parts
    regions = np.zeros((3, h, w), np.float32)
    chroma = np.ones((h, w), np.float32)
    for k in range(3):
        one_start = np.zeros(2, np.int64)
        one_start[1] = starts[k + 1] - starts[k]
        one = (idx[starts[k]:starts[k + 1]], one_start, hulls[k:k + 1], signs[k:k + 1])
        win, y0, x0 = _region(hw, shaped, one, 2.0, -2.0)
        for y in range(win.shape[0]):
            for x in range(win.shape[1]):
                regions[k, y + y0, x + x0] = win[y, x]
                chroma[y + y0, x + x0] = min(chroma[y + y0, x + x0], 1.0 - win[y, x])
    # the detail mask: the lowered oval without eyes, brows and lips, a 5x5 box blur (uint8, as
    # OpenCV's), on the oval's box grown by 3: the blur's reach, and zeros its border reflects
    detail = np.zeros((h, w), np.float32)
    box = np.array([1e9, 1e9, -1e9, -1e9])
    _bounds(lowered, oval, False, False, box)
    y0, y1, x0, x1 = _window(hw, box, 3)
    if y1 > y0 and x1 > x0:
        marks = np.zeros((y1 - y0, x1 - x0), np.uint8)
        fill_polygon(marks, _shifted_outline(lowered, oval, False, False, x0, y0), 255)
        for k in range(2):
            fill_polygon(marks, _shifted_outline(lowered, eyes[k], False, False, x0, y0), 0)
            fill_polygon(marks, _shifted_outline(lowered, brows[k], True, False, x0, y0), 0)
        fill_polygon(marks, _shifted_outline(lowered, lips, True, False, x0, y0), 0)
        _place(detail, _box5(marks), y0, x0)
    return face, skin, src_skin, regions, chroma, detail, kept


def ellipse_rows(radius: int) -> np.ndarray:
    """int64 (radius + 1,): the half-width of OpenCV's elliptic structuring element of size
    2 radius + 1 at each row offset 0..radius from its centre (`dilate_rows` takes it)."""
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return np.array([np.flatnonzero(element[radius + dy]).max() - radius for dy in range(radius + 1)], np.int64)


@numba.njit("uint8[:, ::1](uint8[:, ::1], int64[::1])", nogil=True, cache=True)
def dilate_rows(mask, half):  # pragma: no cover - compiled
    """uint8 (H, W): cv2.dilate of `mask` by the symmetric element whose row at offset dy has
    half-width half[|dy|] (`ellipse_rows`), 0 beyond the border; set pixels read 255.

    By runs: each row's runs of set pixels are found once; an output row is the union of the
    runs of the rows within reach, each widened by its row's half-width (the intervals sorted
    and merged), and only the merged intervals are written. OpenCV dilates by a non-rectangular
    element pixel by pixel of the element (the paste mask's 21 x 21 ellipse: 0.6 ms at 256²); a
    compiled per-pixel version with row scans took 0.35 ms on bench latency's 220 x 224 boxes
    (fourteenth session); a filled face blob has one or two runs a row, and this takes 75 µs
    where that took 270 on a 230 x 225 blob (twenty-fifth session)."""
    h, w = mask.shape
    r = half.shape[0] - 1
    most = w // 2 + 1  # the most runs a row can hold
    first = np.empty(h + 1, np.int64)  # row y's runs: run_lo[first[y]:first[y + 1]], inclusive ends
    run_lo = np.empty(h * most, np.int64)
    run_hi = np.empty(h * most, np.int64)
    n = 0
    for y in range(h):
        first[y] = n
        row = mask[y]
        x = 0
        while x < w:
            if row[x]:
                run_lo[n] = x
                while x < w and row[x]:
                    x += 1
                run_hi[n] = x - 1
                n += 1
            else:
                x += 1
    first[h] = n
    out = np.zeros((h, w), np.uint8)
    lo = np.empty((2 * r + 1) * most, np.int64)  # an output row's widened runs, sorted by start
    hi = np.empty((2 * r + 1) * most, np.int64)
    for y in range(h):
        m = 0
        for dy in range(-r, r + 1):
            yy = y + dy
            if yy < 0 or yy >= h:
                continue
            g = half[abs(dy)]
            for k in range(first[yy], first[yy + 1]):
                a, b = max(run_lo[k] - g, 0), min(run_hi[k] + g, w - 1)
                j = m  # insertion sort: a few runs a row
                while j > 0 and lo[j - 1] > a:
                    lo[j], hi[j] = lo[j - 1], hi[j - 1]
                    j -= 1
                lo[j], hi[j] = a, b
                m += 1
        orow = out[y]
        k = 0
        while k < m:  # merge the overlapping intervals, then write each once
            a, b = lo[k], hi[k]
            k += 1
            while k < m and lo[k] <= b + 1:
                b = max(b, hi[k])
                k += 1
            for x in range(a, b + 1):
                orow[x] = 255
    return out


def region_parts(regions: list[tuple[str, bool, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`_region`'s parts from (landmark region name, filled as its hull, +1 include / -1 exclude)."""
    idx = [np.asarray(REGIONS[name], np.int64) for name, _, _ in regions]
    starts = np.cumsum([0] + [len(i) for i in idx]).astype(np.int64)
    flat = np.concatenate(idx) if idx else np.zeros(0, np.int64)
    return (flat, starts, np.array([hull for _, hull, _ in regions], np.bool_),
            np.array([sign for _, _, sign in regions], np.int64))


@numba.njit(nogil=True, cache=True)
def _box5(marks):  # pragma: no cover - compiled
    """float32: cv2.blur(marks, (5, 5)) (uint8, rounded; reflect-101 border) / 255."""
    h, w = marks.shape
    rows = np.empty((h, w), np.int32)
    for y in range(h):
        for x in range(w):
            s = 0
            for k in range(-2, 3):
                xx = x + k
                xx = -xx if xx < 0 else (2 * (w - 1) - xx if xx >= w else xx)
                s += marks[y, xx]
            rows[y, x] = s
    out = np.empty((h, w), np.float32)
    for y in range(h):
        for x in range(w):
            s = 0
            for k in range(-2, 3):
                yy = y + k
                yy = -yy if yy < 0 else (2 * (h - 1) - yy if yy >= h else yy)
                s += rows[yy, x]
            out[y, x] = np.floor(s / 25.0 + 0.5) / 255.0
    return out
