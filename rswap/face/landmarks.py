"""Named regions of mediapipe's 468/478-point face mesh, and the 5-point set derived from it.

Index sets come from mediapipe's own connection tables, so they stay in step with
the model that produces the points.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from mediapipe.python.solutions import face_mesh_connections as _mc

MESH_POINTS = 468  # without iris refinement
MESH_POINTS_WITH_IRIS = 478
NOSE_TIP = 1
MOUTH_CORNERS = (61, 291)
IRIS_CENTERS = (468, 473)


def _ordered_loop(edges: frozenset) -> list[int]:
    """Walk a closed contour given as an unordered set of edges."""
    nxt = {}
    for a, b in edges:
        nxt.setdefault(a, []).append(b)
        nxt.setdefault(b, []).append(a)
    start = min(nxt)
    loop, prev, cur = [start], None, start
    while True:
        cands = [n for n in nxt[cur] if n != prev]
        if not cands or cands[0] == start:
            break
        prev, cur = cur, cands[0]
        loop.append(cur)
    return loop


def _indices(edges: frozenset) -> list[int]:
    return sorted({i for e in edges for i in e})


FACE_OVAL = _ordered_loop(_mc.FACEMESH_FACE_OVAL)
LEFT_EYE = _indices(_mc.FACEMESH_LEFT_EYE)  # the subject's left eye (image right)
RIGHT_EYE = _indices(_mc.FACEMESH_RIGHT_EYE)
LEFT_BROW = _indices(_mc.FACEMESH_LEFT_EYEBROW)
RIGHT_BROW = _indices(_mc.FACEMESH_RIGHT_EYEBROW)
LIPS = _indices(_mc.FACEMESH_LIPS)
# Inner lip contour: the mouth opening (teeth, tongue).
LIPS_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
LEFT_EYE_LOOP = _ordered_loop(_mc.FACEMESH_LEFT_EYE)
RIGHT_EYE_LOOP = _ordered_loop(_mc.FACEMESH_RIGHT_EYE)
LEFT_BROW_LOOP = LEFT_BROW
RIGHT_BROW_LOOP = RIGHT_BROW

REGIONS: dict[str, list[int]] = {
    "face_oval": FACE_OVAL,
    "mouth_inner": LIPS_INNER,
    "left_eye": LEFT_EYE_LOOP,
    "right_eye": RIGHT_EYE_LOOP,
    "left_brow": LEFT_BROW,
    "right_brow": RIGHT_BROW,
}


@lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """(T, 3) int32 triangles of the 468-point mesh, from mediapipe's tessellation edges."""
    edges = {tuple(sorted(e)) for e in _mc.FACEMESH_TESSELATION}
    adj: dict[int, set[int]] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    tris = set()
    for a, b in edges:
        for c in adj[a] & adj[b]:
            tris.add(tuple(sorted((a, b, c))))
    return np.array(sorted(tris), np.int32)


def kps5_from_mesh(points: np.ndarray) -> np.ndarray:
    """The insightface 5-point set (eyes, nose tip, mouth corners) from mesh points.

    Eye centres are the iris centres when the mesh has them (478 points), else the
    mean of the eye contour. Left/right are image-left/image-right, as insightface.
    """
    pts = np.asarray(points, np.float32)
    if len(pts) >= MESH_POINTS_WITH_IRIS:
        eye_a, eye_b = pts[IRIS_CENTERS[0]], pts[IRIS_CENTERS[1]]
    else:
        eye_a, eye_b = pts[RIGHT_EYE].mean(0), pts[LEFT_EYE].mean(0)
    mouth_a, mouth_b = pts[MOUTH_CORNERS[0]], pts[MOUTH_CORNERS[1]]
    eyes = sorted([eye_a, eye_b], key=lambda p: p[0])
    mouth = sorted([mouth_a, mouth_b], key=lambda p: p[0])
    return np.stack([eyes[0], eyes[1], pts[NOSE_TIP], mouth[0], mouth[1]]).astype(np.float32)
