"""The Face record that flows from the analyser to the swappers.

Conventions used everywhere in rswap:
- images are RGB uint8 arrays of shape (H, W, 3), C-contiguous;
- points are float32 arrays of shape (N, 2) in pixel coordinates (x, y) of the
  image they were measured on;
- `kps5` is the insightface order: image-left eye, image-right eye, nose tip,
  image-left mouth corner, image-right mouth corner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes (N, 4) x0 y0 x1 y1 that survive non-maximum suppression, best first
    (OpenCV's NMSBoxes; boxes are expected to be score-filtered already)."""
    import cv2

    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    keep = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, iou), np.int64).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]


@dataclass
class Face:
    bbox: np.ndarray  # (4,) float32: x0, y0, x1, y1 in pixels
    landmarks: np.ndarray  # (468 or 478, 2) float32 mediapipe mesh, pixel coordinates
    kps5: np.ndarray  # (5, 2) float32, insightface order (see module doc)
    score: float = 1.0
    track_id: int | None = None  # set by trackers in video mode
    z: np.ndarray | None = None  # (N,) float32 mesh depth on the x/y pixel scale (mediapipe)
    raw_landmarks: np.ndarray | None = None  # the mesh before temporal smoothing (trackers)
    embedding: np.ndarray | None = None  # identity vector, set by live's per-track cache (reference selection)
    # (21, 2) float32 landmarks, frame pixels, of each hand near this face (the analyser's hand finder,
    # rswap.face.hands): kept in front of the swapped face, untrusted on a source photo
    hands: tuple[np.ndarray, ...] = ()

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray, z: np.ndarray | None = None, **fields) -> Face:
        """The one place a box and the 5 points come from a mesh: the box bounds the mesh, the
        5 points are the iris centres (or eye-contour means), nose tip and mouth corners."""
        from rswap.face.landmarks import kps5_from_mesh  # imports mediapipe's mesh tables

        pts = np.asarray(landmarks, np.float32)
        bbox = np.concatenate([pts.min(0), pts.max(0)]).astype(np.float32)
        return cls(bbox=bbox, landmarks=pts, kps5=kps5_from_mesh(pts), z=z, **fields)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return float(max(0.0, x1 - x0) * max(0.0, y1 - y0))

    @property
    def center(self) -> np.ndarray:
        x0, y0, x1, y1 = self.bbox
        return np.array([(x0 + x1) / 2, (y0 + y1) / 2], np.float32)
