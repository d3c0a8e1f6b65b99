"""Face analysis with mediapipe's embedded models: detection + 478-point mesh.

mediapipe 0.10.21 ships the .tflite files inside its wheel, so nothing is downloaded.
In "video" mode the face mesh graph tracks faces from frame to frame (it re-runs its
detector only when tracking is lost), which is what live use wants; "image" mode
detects on every call. One analyser is not thread-safe: make one per thread.
"""

from __future__ import annotations

import numpy as np

from rswap.face.landmarks import kps5_from_mesh
from rswap.face.types import Face


class MediapipeFaceAnalyser:
    def __init__(self, max_faces: int = 4, video: bool = False, min_confidence: float = 0.5, iris: bool = True):
        import mediapipe as mp  # imported here: loading it costs ~1 s

        self.video = video
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not video,
            max_num_faces=max_faces,
            refine_landmarks=iris,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )

    def analyse(self, image: np.ndarray) -> list[Face]:
        """All faces in an RGB uint8 image, largest first."""
        h, w = image.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(image))
        faces = []
        for lm in result.multi_face_landmarks or []:
            xyz = np.array([(p.x, p.y, p.z) for p in lm.landmark], np.float32)
            pts = xyz[:, :2] * np.array([w, h], np.float32)
            x0, y0 = pts.min(0)
            x1, y1 = pts.max(0)
            bbox = np.array([x0, y0, x1, y1], np.float32)
            faces.append(Face(bbox=bbox, landmarks=pts, kps5=kps5_from_mesh(pts), extra={"z": xyz[:, 2] * w}))
        faces.sort(key=lambda f: -f.area)
        return faces

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
