"""Tiled detection: run a fixed-input box detector on overlapping tiles of a large frame.

A detector that downscales the whole frame to a small input (mediapipe's full-range one
sees 192x192) loses small faces in the downscale; on a tile the same face is several
times larger in the detector's input. Tiles overlap by at least `overlap` pixels, so a
face no larger than that is whole in at least one tile. A box that touches a tile's
inner edge (one that is not the frame's edge) may be half a face: it is dropped, and the
neighbouring tile that holds the whole face reports it. Boxes found twice in overlapping
tiles are merged by non-maximum suppression.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

EDGE_MARGIN = 2  # px: a box this close to an inner tile edge counts as cut by it


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering [0, length), evenly spread, neighbours overlapping by >= overlap."""
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of the tiles covering a width x height frame."""
    return [(x, y, min(x + tile, width), min(y + tile, height))
            for y in tile_starts(height, tile, overlap) for x in tile_starts(width, tile, overlap)]


def detect_in_tiles(detect: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], image: np.ndarray,
                    tile: int, overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) in frame pixels and scores (N,) from `detect(crop) -> (boxes, scores)`
    run on each tile; boxes cut by an inner tile edge dropped, duplicates not yet merged."""
    h, w = image.shape[:2]
    boxes, scores = [np.zeros((0, 4), np.float32)], [np.zeros(0, np.float32)]
    for x0, y0, x1, y1 in tile_grid(w, h, tile, overlap):
        b, s = detect(np.ascontiguousarray(image[y0:y1, x0:x1]))
        if len(b) == 0:
            continue
        b = b + np.array([x0, y0, x0, y0], np.float32)
        cut = ((x0 > 0) & (b[:, 0] < x0 + EDGE_MARGIN)) | ((y0 > 0) & (b[:, 1] < y0 + EDGE_MARGIN)) \
            | ((x1 < w) & (b[:, 2] > x1 - EDGE_MARGIN)) | ((y1 < h) & (b[:, 3] > y1 - EDGE_MARGIN))
        boxes.append(b[~cut])
        scores.append(s[~cut])
    return np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32)
