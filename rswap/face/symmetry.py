"""Left/right symmetry of mediapipe's 468-point face mesh, derived from its topology.

The mesh is built left/right symmetric, but mediapipe ships no table of mirror pairs (nor,
in the 0.10.21 wheel, the canonical model's coordinates). The topology is enough:
- the face-oval loop starts at point 10 (top of the forehead, on the midline), so walking
  it both ways from there pairs its points (oval[k] <-> oval[-k]);
- a reflection maps triangles to triangles and reverses their winding: if it maps the
  directed edge (u, v) to (u', v'), the triangle wound (u, v, w) maps to the triangle wound
  (v', u', w'). Starting from the oval's first edge and spreading over the 852 real
  triangles of the tessellation (the eye/mouth fills are not symmetric) gives every vertex
  its mirror. A few diagonals are not symmetric, so edges vote (see `mirror_index`); the
  result is checked to be an involution, and on the astronaut's mesh a reflected point
  lands within a few % of the eye distance of its mirror (tests/test_source_texture.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import lru_cache

import numpy as np

from rswap.face.align import similarity_matrix, transform_points
from rswap.face.landmarks import FACE_OVAL, MESH_POINTS, mesh_triangles


@lru_cache(maxsize=1)
def mirror_index() -> np.ndarray:
    """(468,) int64: mirror_index()[i] is the mesh point on the other side of the face
    from point i (itself for midline points)."""
    tris = mesh_triangles(fill_openings=False)
    # Oriented edge (u, v) -> the third vertex of the triangle wound (u, v, w).
    third: dict[tuple[int, int], int] = {}
    for a, b, c in tris.tolist():
        third[(a, b)], third[(b, c)], third[(c, a)] = c, a, b
    seed = {FACE_OVAL[0]: FACE_OVAL[0], FACE_OVAL[1]: FACE_OVAL[-1], FACE_OVAL[-1]: FACE_OVAL[1]}
    mirror = dict(seed)
    # The tessellation is symmetric but for a few flipped quad diagonals (beside the eyes'
    # outer corners and the nose wings: 12 points get conflicting answers), so every
    # oriented edge votes and the majority wins; a tie goes to the candidate that names
    # the voter as its own mirror. Spreads from the seed, ~35 rounds.
    for _ in range(4 * MESH_POINTS):
        votes: dict[int, Counter] = defaultdict(Counter)
        for (u, v), w in third.items():
            if u in mirror and v in mirror and (mirror[v], mirror[u]) in third:
                votes[w][third[(mirror[v], mirror[u])]] += 1
        new = {w: max(c, key=lambda k: (c[k], mirror.get(k) == w)) for w, c in votes.items()}
        new.update(seed)
        if new == mirror:
            break
        mirror = new
    m = np.array([mirror.get(i, -1) for i in range(MESH_POINTS)], np.int64)
    if (m < 0).any() or not np.array_equal(m[m], np.arange(MESH_POINTS)):
        raise AssertionError("face mesh symmetry could not be derived from the tessellation")
    m.setflags(write=False)
    return m


def mirrored_landmarks(points: np.ndarray) -> np.ndarray:
    """The mesh points renumbered by their mirrors: point i of the result is point mirror[i]."""
    return np.asarray(points)[mirror_index()]


def frontal_layout(points: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(468, 2) float32: the mesh as seen from straight ahead, in the frame of `points`.

    The face's own 3D points (x, y and mediapipe's relative depth z, on one scale) are turned
    by the smallest rotation that brings the normal of its plane of symmetry onto the image's
    x axis: yaw (and roll) go, pitch stays as photographed. The normal is the main direction
    of the vectors between mirror pairs (point i to point mirror[i]). The orthographic view
    of the turned points is then fitted (rotation, scale, shift) onto `points`, so a frontal
    face's layout is its own landmarks. On a turned head the far cheek, folded or squeezed
    into a sliver in the photo, gets the area it has on the face: a texture in this frame
    has room for what the mirror fills in there (rswap/compose/source_texture.py)."""
    pts = np.asarray(points, np.float64)[:MESH_POINTS]
    p = np.column_stack([pts, np.asarray(z, np.float64)[:MESH_POINTS]])
    m = mirror_index()
    pairs = p - p[m]
    normal = np.linalg.svd(pairs[m != np.arange(MESH_POINTS)], full_matrices=False)[2][0]
    if normal[0] < 0:  # image-left to image-right, as x
        normal = -normal
    axis = np.cross(normal, [1.0, 0.0, 0.0])
    sin, cos = np.linalg.norm(axis), normal[0]
    turn = np.eye(3)
    if sin > 1e-9:  # Rodrigues: about `axis` by the angle between the normal and x
        k = axis / sin
        K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        turn += sin * K + (1.0 - cos) * K @ K
    view = (p @ turn.T)[:, :2]
    return transform_points(view, similarity_matrix(view, pts)).astype(np.float32)
