"""Made hard cases for the classical swapper's eval: occluded and turned sources.

- `hair_band`: a hair-coloured band drawn from the forehead across one eye, with strands
  (a fringe falling over an eye: the case that pasted a black blotch on every target);
- `glasses`: dark frames drawn round both eyes, joined across the nose (a source who wears
  glasses: the frames were pasted onto every target);
- `three_quarter`: the part of the face that a three-quarter view would not show (by the
  mesh's own visibility after turning its 3D points) replaced by background, as beside the
  far cheek of a real turned head. (Re-rendering the turned face instead gave sources too
  distorted for the mesh to follow: broken swaps with or without any cleaning.)
`python -m benchmarks.hard_cases SRC_DIR OUT_DIR` writes the three variants of every photo with a
face (outputs are derived from the inputs: keep them out of git when the inputs are).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from rswap.compose.warp import mesh_warp
from rswap.face.landmarks import FACE_OVAL, LEFT_EYE_LOOP, RIGHT_EYE_LOOP, mesh_triangles
from rswap.face.types import Face

HAIR_RGB = (38, 28, 22)  # dark brown
FRAME_RGB = (30, 24, 24)  # near black


def hair_band(image: np.ndarray, face: Face, side: int = 0, seed: int = 0, colour: tuple[int, int, int] = HAIR_RGB) -> np.ndarray:
    """`image` with a hair band of `colour` (RGB) from the top of the forehead down over one eye
    (side 0: image-left eye, 1: image-right), ~a third of the eye distance wide, with strands."""
    rng = np.random.default_rng(seed)
    pts = face.landmarks
    eye = face.kps5[side]
    top = pts[10] + (pts[10] - pts[1]) * 0.1
    iod = float(np.linalg.norm(face.kps5[1] - face.kps5[0]))
    out = image.copy()
    mask = np.zeros(image.shape[:2], np.uint8)
    end = eye + (eye - top) * 0.25  # past the eye, onto the cheek's top
    start = top + (face.kps5[1 - side] - face.kps5[side]) * 0.15
    cv2.line(mask, tuple(np.round(start).astype(int)), tuple(np.round(end).astype(int)), 255, max(2, int(0.45 * iod)))
    strands = np.zeros_like(mask)
    for _ in range(12):  # thin strands at the band's edges: hair is not a clean stripe
        off = rng.normal(0, 0.18 * iod, 2)
        cv2.line(strands, tuple(np.round(start + off).astype(int)), tuple(np.round(end + off * 1.3).astype(int)), 255, max(1, int(0.04 * iod)))
    mask = cv2.GaussianBlur(np.maximum(mask, strands), (0, 0), max(1.0, 0.02 * iod)).astype(np.float32) / 255.0
    shade = rng.normal(1.0, 0.15, image.shape[:2]).astype(np.float32)
    shade = cv2.GaussianBlur(shade, (0, 0), 1.0)[..., None]
    hair = np.clip(np.array(colour, np.float32) * shade, 0, 255)
    out = image.astype(np.float32) * (1 - mask[..., None]) + hair * mask[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def glasses(image: np.ndarray, face: Face, colour: tuple[int, int, int] = FRAME_RGB) -> np.ndarray:
    """`image` with a pair of glasses' frames of `colour` (RGB) drawn on the face: a rim round each
    eye (an ellipse 1.7 eye widths across and 1 high, its centre a little below the eye's, so its top
    runs under the brow), a bridge across the nose between the rims and short arms towards the ears,
    all ~0.13 eye widths thick."""
    pts = face.landmarks
    out = image.copy()
    roll = float(np.degrees(np.arctan2(*(pts[263] - pts[33])[::-1])))
    rims = []
    for outer, inner, loop in ((33, 133, RIGHT_EYE_LOOP), (263, 362, LEFT_EYE_LOOP)):
        width = float(np.linalg.norm(pts[outer] - pts[inner]))
        centre = pts[loop].mean(0) + np.array([0.0, 0.12 * width])
        rims.append((centre, width, pts[outer], pts[inner]))
    thick = max(2, int(round(0.13 * np.mean([r[1] for r in rims]))))
    for centre, width, outer, _ in rims:
        axes = (int(round(0.85 * width)), int(round(0.5 * width)))
        cv2.ellipse(out, tuple(np.round(centre).astype(int)), axes, roll, 0, 360, colour, thick, cv2.LINE_AA)
        start, end = outer + (outer - centre) * 0.45, outer + (outer - centre) * 0.9  # from the rim towards the ear
        cv2.line(out, tuple(np.round(start).astype(int)), tuple(np.round(end).astype(int)), colour, thick, cv2.LINE_AA)
    # The bridge joins the rims' inner sides, a little above the eyes.
    ends = []
    for centre, width, _, inner in rims:
        toward = (inner - centre) / max(float(np.linalg.norm(inner - centre)), 1e-6)
        ends.append(tuple(np.round(centre + toward * 0.8 * width - np.array([0.0, 0.2 * width])).astype(int)))
    cv2.line(out, ends[0], ends[1], colour, thick, cv2.LINE_AA)
    return out


def three_quarter(image: np.ndarray, face: Face, yaw_deg: float = 40.0) -> np.ndarray:
    """`image` cut to what a three-quarter view would show: the face's own 3D mesh (mediapipe
    x, y, z) is turned by `yaw_deg` about the vertical axis through the nose, and the triangles that then face away or are seen nearly
    edge-on (facing cosine under 0.3), beyond the far eye's outer corner, are cut out of the
    photo and inpainted from around, so background and hair show where that cheek was. The
    mesh a detector then finds still spans the cut: the swapper must not paste what is there.
    (Positive yaw turns the image-left cheek away: mediapipe's z grows away from the camera.)"""
    from rswap.compose.source_texture import triangle_facing

    z = face.z
    if z is None:
        raise ValueError("three_quarter needs a face with 3D landmarks (face.z)")
    pts = np.asarray(face.landmarks[:468], np.float64)
    q = np.column_stack([pts, np.asarray(z[:468], np.float64)])
    a = np.radians(yaw_deg)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    turned = (q - q[1]) @ R.T + q[1]
    tris = mesh_triangles()
    facing = triangle_facing(turned[:, :2], turned[:, 2], tris)
    cut = np.zeros(image.shape[:2], np.uint8)
    for t in tris[facing < 0.3]:
        cv2.fillConvexPoly(cut, np.round(pts[t]).astype(np.int32), 255)
    # Only the far cheek and temple: beyond the far eye's outer corner (towards the ear), as
    # one region (a turned head hides the side of the face, not patches of the nose).
    far_corner = pts[33] if yaw_deg > 0 else pts[263]
    xs = np.arange(image.shape[1])[None, :]
    side = xs < far_corner[0] + 2 if yaw_deg > 0 else xs > far_corner[0] - 2
    eye_gap = float(np.linalg.norm(pts[33] - pts[263]))
    k = max(3, int(0.25 * eye_gap) | 1)
    cut = cv2.morphologyEx(cut, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    cut = cv2.dilate(cut, np.ones((5, 5), np.uint8)) * side
    # Inpaint from the photo beyond the face: keep the face's remaining skin out of the source
    # pixels by filling from the outside of the oval in (the cut touches the oval's edge).
    oval = np.zeros_like(cut)
    cv2.fillPoly(oval, [np.round(pts[FACE_OVAL]).astype(np.int32)], 255)
    background = cv2.inpaint(image, cv2.dilate(oval, np.ones((15, 15), np.uint8)), 9, cv2.INPAINT_TELEA)
    out = image.copy()
    out[cut > 0] = background[cut > 0]
    return out


def main(argv: list[str]) -> int:
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
    from rswap.media.images import read_image, write_image
    from rswap.media.paths import IMAGE_SUFFIXES

    src, dst = Path(argv[0]), Path(argv[1])
    dst.mkdir(parents=True, exist_ok=True)
    with MediapipeFaceAnalyser(max_faces=1, video=False) as analyser:
        for k, path in enumerate(sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)):
            image = read_image(path)
            faces = analyser.analyse(image)
            if not faces:
                continue
            write_image(dst / f"hair_{path.stem}.png", hair_band(image, faces[0], side=k % 2, seed=k))
            write_image(dst / f"glasses_{path.stem}.png", glasses(image, faces[0]))
            write_image(dst / f"turned_{path.stem}.png", three_quarter(image, faces[0], 40.0 if k % 2 else -40.0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
