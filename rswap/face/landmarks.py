"""Named regions of mediapipe's 468/478-point face mesh, and the 5-point set derived from it.

Index sets come from mediapipe's own connection tables, so they stay in step with
the model that produces the points.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rswap.face.mediapipe_modules import face_mesh_connections as _mc

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


def _paired_chains(edges: frozenset) -> tuple[list[int], list[int]]:
    """The two open chains of an edge set (a brow's upper and lower edge), each walked from its
    lower-numbered end: in mediapipe's mesh that is the brow's outer end for both edges, so
    the chains pair point by point (tests/test_source_brows.py checks it on the astronaut)."""
    nxt: dict[int, list[int]] = {}
    for a, b in edges:
        nxt.setdefault(a, []).append(b)
        nxt.setdefault(b, []).append(a)
    chains, seen = [], set()
    for end in sorted(i for i, n in nxt.items() if len(n) == 1):
        if end in seen:
            continue
        chain, prev = [end], None
        while True:
            cands = [n for n in nxt[chain[-1]] if n != prev]
            if not cands:
                break
            prev = chain[-1]
            chain.append(cands[0])
        seen.update(chain)
        chains.append(chain)
    if len(chains) != 2 or len(chains[0]) != len(chains[1]):
        raise ValueError("expected two open chains of equal length")
    return chains[0], chains[1]


FACE_OVAL = _ordered_loop(_mc.FACEMESH_FACE_OVAL)
LEFT_EYE = _indices(_mc.FACEMESH_LEFT_EYE)  # the subject's left eye (image right)
RIGHT_EYE = _indices(_mc.FACEMESH_RIGHT_EYE)
LEFT_BROW = _indices(_mc.FACEMESH_LEFT_EYEBROW)
RIGHT_BROW = _indices(_mc.FACEMESH_RIGHT_EYEBROW)
LIPS = _indices(_mc.FACEMESH_LIPS)
# Inner lip contour: the mouth opening (teeth, tongue).
LIPS_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
# Outer lip contour, ordered: the lips' edges that touch no inner-contour point.
LIPS_OUTER = _ordered_loop(frozenset(e for e in _mc.FACEMESH_LIPS if not set(e) & set(LIPS_INNER)))
# Each brow's two edges (upper and lower, in mediapipe's own point order), paired point by point.
LEFT_BROW_EDGES = _paired_chains(_mc.FACEMESH_LEFT_EYEBROW)
RIGHT_BROW_EDGES = _paired_chains(_mc.FACEMESH_RIGHT_EYEBROW)
LEFT_EYE_LOOP = _ordered_loop(_mc.FACEMESH_LEFT_EYE)
RIGHT_EYE_LOOP = _ordered_loop(_mc.FACEMESH_RIGHT_EYE)
# The ring under each eye along the cheekbone's top (mediapipe's annotations rightEyeLower3 and
# leftEyeLower3, mirror pairs): with the eye and the brow, the socket whose shade is the face's own.
RIGHT_EYE_SOCKET_LOWER = [143, 111, 117, 118, 119, 120, 121, 128, 245]
LEFT_EYE_SOCKET_LOWER = [372, 340, 346, 347, 348, 349, 350, 357, 465]
# Index arrays for per-frame code: numpy converts a list index on every use (~2 µs a lookup).
BROWS = np.asarray(LEFT_BROW + RIGHT_BROW, np.int64)  # both brows' points
EYE_CORNERS = np.asarray([33, 263, 133, 362], np.int64)  # the outer and inner corners of both eyes
# The nose from the bridge between the inner eye corners down to the wings and the columella (its hull).
NOSE = [168, 193, 417, 245, 465, 188, 412, 217, 437, 129, 358, 64, 294, 98, 327, 2]

REGIONS: dict[str, list[int]] = {
    "face_oval": FACE_OVAL,
    "mouth_inner": LIPS_INNER,
    "left_eye": LEFT_EYE_LOOP,
    "right_eye": RIGHT_EYE_LOOP,
    "left_brow": LEFT_BROW,
    "right_brow": RIGHT_BROW,
    "lips": LIPS,  # both lips and the opening between them (filled as their convex hull)
}


# The openings the tessellation leaves, as (ordered loop, the corner to start filling from).
_OPENINGS = ((RIGHT_EYE_LOOP, 33), (LEFT_EYE_LOOP, 263), (LIPS_INNER, 78))


def _zigzag_fill(loop: list[int], corner: int) -> list[tuple[int, int, int]]:
    """Triangulate a closed loop as a strip between its two sides, starting at `corner`.

    Eye and mouth openings are two lids/lips meeting at two corners; a strip of
    triangles spanning upper-to-lower stays valid as the opening closes (its
    triangles flatten instead of folding over).
    """
    k = loop.index(corner)
    ring = loop[k:] + loop[:k]
    i, j = 1, len(ring) - 1
    tris = [(ring[0], ring[i], ring[j])]
    while j - i > 1:
        if len(tris) % 2:
            tris.append((ring[i], ring[i + 1], ring[j]))
            i += 1
        else:
            tris.append((ring[i], ring[j - 1], ring[j]))
            j -= 1
    return tris


@lru_cache(maxsize=2)
def mesh_triangles(fill_openings: bool = True) -> np.ndarray:
    """(T, 3) int32 triangles of the 468-point mesh covering the face oval without holes or overlaps.

    mediapipe ships the tessellation only as edges. Its faces are the 3-cliques of
    that edge graph, except two cliques at the nose wings (49-64-129 and its mirror
    279-294-358) that enclose a vertex and would overlap the real faces: a clique is
    a false face when each of its edges is then claimed by three triangles. That gives
    852 faces with three openings (eyes, mouth); `fill_openings` closes them with 46
    more triangles, 898 in all, the count of mediapipe's canonical face model.
    """
    edges = {tuple(sorted(e)) for e in _mc.FACEMESH_TESSELATION}
    adj: dict[int, set[int]] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    cliques = set()
    for a, b in edges:
        for c in adj[a] & adj[b]:
            cliques.add(tuple(sorted((a, b, c))))
    per_edge: dict[tuple[int, int], int] = {}
    for a, b, c in cliques:
        for e in ((a, b), (b, c), (a, c)):
            per_edge[e] = per_edge.get(e, 0) + 1
    tris = [t for t in cliques if not all(per_edge[e] > 2 for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])))]
    if fill_openings:
        for loop, corner in _OPENINGS:
            tris.extend(_zigzag_fill(loop, corner))
    out = np.array(_orient(sorted(tuple(sorted(t)) for t in tris)), np.int32)
    out.setflags(write=False)  # cached and shared by every caller
    return out


def _orient(tris: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Wind every triangle clockwise on screen for a frontal face (positive shoelace area in
    x-right/y-down pixel coordinates), so a negative area on a real face marks a triangle
    folded over by a head turn. FACE_OVAL runs counter-clockwise on screen, so triangles on
    its edges take that edge reversed, and winding then spreads across shared edges."""
    owner: dict[tuple[int, int], list[int]] = {}
    for k, (a, b, c) in enumerate(tris):
        for e in ((a, b), (b, c), (a, c)):
            owner.setdefault(e, []).append(k)
    # Seed with the triangle on the oval's first edge (10 -> 109, towards image left), reversed.
    b, a = FACE_OVAL[0], FACE_OVAL[1]
    seed = owner[tuple(sorted((a, b)))][0]
    c = next(v for v in tris[seed] if v not in (a, b))
    oriented = {seed: (a, b, c)}
    todo = [seed]
    while todo:
        k = todo.pop()
        x, y, z = oriented[k]
        for u, v in ((x, y), (y, z), (z, x)):
            for n in owner[tuple(sorted((u, v)))]:
                if n not in oriented:
                    w = next(t for t in tris[n] if t not in (u, v))
                    oriented[n] = (v, u, w)  # a shared edge runs the other way in the neighbour
                    todo.append(n)
    return [oriented[k] for k in range(len(tris))]


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
