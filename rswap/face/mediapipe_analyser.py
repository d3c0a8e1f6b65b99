"""Face analysis with mediapipe's embedded models: detection + 478-point mesh.

mediapipe 0.10.21 ships the .tflite files inside its wheel, so nothing is downloaded.

mediapipe's face mesh finds faces with its *short-range* detector, which misses faces
smaller than about a fifth of the frame. So the analyser works in two passes:
1. the mesh on the whole frame (in "video" mode the mesh graph tracks faces from
   frame to frame, re-detecting only when tracking is lost: what live use wants);
2. for faces that pass missed, a box detector finds them and the mesh runs on a square
   region of interest around each box, scaled to ROI_SIZE. The detector is mediapipe's
   *full-range* one unless another is given (e.g. SCRFD from a user's insightface pack,
   rswap.face.scrfd, which finds smaller faces: mediapipe's sees a 192x192 downscale).
   While the faces known are fewer than max_faces, mediapipe's detector searches again
   on overlapping tiles (rswap.face.tiles), where a small face is several times larger
   in its input (it costs ~9 detections at 720p, so only then).
   In video mode the second pass follows the small faces it found from the previous
   frame's landmarks instead of re-detecting, and searches for new ones only when no
   face is in view (or every `search_every` frames, for faces entering beside others).
With `hands`, each face also gets the hands near it (Face.hands, rswap.face.hands): a hand in
front of a target's face stays in front of the swap, one on a source's face is not its face.
A box the mesh cannot confirm in its ROI (a face too small or blurred for the mesh, or a
false detection) is dropped: every swapper needs the mesh's landmarks, so a face without
them could not be swapped anyway.
One analyser is not thread-safe: make one per thread.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from rswap.face.hands import HandFinder, near_face
from rswap.face.tiles import detect_in_tiles
from rswap.face.types import Face, box_iou, nms

ROI_SIZE = 256  # the mesh sees small faces at this size
# Tiles for mediapipe's full-range detector, measured with benchmarks/small_faces.py: on a
# 416 px tile it finds faces down to ~25 px (whole 720p frame: ~90 px). The overlap keeps
# any face the whole-frame pass misses (< ~90 px) whole in some tile; 720p takes 4 x 2 tiles.
TILE, TILE_OVERLAP = 416, 112


class MediapipeBoxDetector:
    """mediapipe's full-range face detector (embedded in its wheel): the default box detector.

    A box detector (rswap.face.box_detectors.BoxDetector) has `detect(image)`, `detect_tiled(image)`
    (a slower, finer search the analyser runs only when `detect` found no new face),
    `roi_scale` and `close()`.

    `tile`: the tile side for `detect_tiled` (None: no tiled search)."""

    roi_scale = 1.9  # this detector's box is tight (brows to mouth)

    def __init__(self, min_confidence: float = 0.5, tile: int | None = TILE, overlap: int = TILE_OVERLAP,
                 full_range: bool = True):
        """`full_range`: mediapipe's full-range model (1), else its short-range one (0), the one
        its face mesh detects with."""
        from rswap.face.mediapipe_modules import face_detection

        self._graph = face_detection.FaceDetection(model_selection=int(full_range), min_detection_confidence=min_confidence)
        self.tile, self.overlap = tile, overlap

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        return list(self._scored(image)[0])

    def detect_tiled(self, image: np.ndarray) -> list[np.ndarray]:
        """Boxes found on overlapping tiles of the image, duplicates merged; none when the
        image fits in one tile (the whole-frame pass already saw it at that scale)."""
        h, w = image.shape[:2]
        if self.tile is None or max(h, w) <= self.tile:
            return []
        boxes, scores = detect_in_tiles(self._scored, image, self.tile, self.overlap)
        return list(boxes[nms(boxes, scores, 0.3)])

    def _scored(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) float32 boxes in image pixels and their (N,) scores."""
        h, w = image.shape[:2]
        boxes, scores = [], []
        for d in self._graph.process(image).detections or []:
            r = d.location_data.relative_bounding_box
            boxes.append([r.xmin * w, r.ymin * h, (r.xmin + r.width) * w, (r.ymin + r.height) * h])
            scores.append(d.score[0])
        return np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32)

    def close(self) -> None:
        self._graph.close()


class MediapipeFaceAnalyser:
    def __init__(self, max_faces: int = 4, video: bool = False, min_confidence: float = 0.5, iris: bool = True,
                 detector=None, search_duty: float | None = None, search_every: int | None = None,
                 hands: bool = False):
        """`detector`: the box detector for pass 2 (default mediapipe's full-range one). A
        detector passed in stays the caller's: `close()` does not close it, so one may serve
        several analysers when it is thread-safe (SCRFDDetector is).

        `search_duty` (video mode, live use): while no face is in view pass 2 searches every
        frame, and a slow detector (SCRFD det_10g on a CPU: tens of ms) would then stall the
        stream exactly when nothing is there. With a duty d, after a search that took t
        seconds the next waits until t / d has passed, so searching takes at most that share
        of the time; a fast detector still runs every frame. None: every frame (offline).

        `search_every` (video mode): small faces already found are followed frame to frame, and
        pass 2 searches for new ones whenever no face is in view; with N, also every N frames
        while other faces are (a small face entering beside a tracked one). None: only then.

        `hands`: find the hands near the faces (rswap.face.hands.HandFinder, in this analyser's
        mode: a stream searches every few frames and follows a hand found near a face)."""
        from rswap.face.mesh_graph import LeanFaceMesh  # imported here: loading mediapipe costs ~1 s

        self.video = video
        self.max_faces = max_faces
        self._mesh = LeanFaceMesh(
            static_image_mode=not video,
            max_num_faces=max_faces,
            refine_landmarks=iris,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )
        self._roi_mesh = LeanFaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=iris, min_detection_confidence=min_confidence
        )
        self._own_detector = detector is None
        self._detector = MediapipeBoxDetector(min_confidence) if detector is None else detector
        self._roi_boxes: list[np.ndarray] = []  # video mode: small faces followed by pass 2
        self._min_confidence = min_confidence
        self._known: list[np.ndarray] = []  # video mode: the boxes of the faces the last call returned
        self._mesh_detector: MediapipeBoxDetector | None = None  # made on first use (reset_if_new_face)
        self.search_duty = search_duty
        self._next_search = 0.0  # perf_counter time before which a duty-limited search is skipped
        self.search_every = search_every
        self._frames_since_search = 0
        self.whole_frame_passes = 0  # pass-1 mesh runs (video mode skips them while pass 2 follows enough faces)
        self._hands = HandFinder(video=video) if hands else None

    def analyse(self, image: np.ndarray) -> list[Face]:
        """All faces in an RGB uint8 image, largest first."""
        image = np.ascontiguousarray(image)
        if self._followed_faces_suffice():
            faces = []  # the small faces followed by pass 2 fill max_faces: pass 1 would find none of them
        else:
            faces = self._mesh_faces(self._mesh, image)
            self.whole_frame_passes += 1
        if len(faces) < self.max_faces:
            faces += self._small_faces(image, faces)
        elif self.video:
            self._roi_boxes = []  # pass 1 has all the faces it may: stop following small-face boxes
        faces.sort(key=lambda f: -f.area)
        faces = faces[: self.max_faces]
        self._known = [f.bbox for f in faces]
        if self._hands is not None:
            found = self._hands.find(image, self._known)
            for face in faces:
                face.hands = tuple(hand for hand in found if near_face(hand, face.bbox))
        return faces

    def _small_faces(self, image: np.ndarray, found: list[Face]) -> list[Face]:
        boxes = list(self._roi_boxes) if self.video else []  # small faces followed from the last frame
        if self._time_to_search(found):
            boxes += self._search(image, [f.bbox for f in found] + boxes)
        faces = []
        for box in boxes:
            if not _is_new(box, [f.bbox for f in found + faces]):
                continue
            # A followed box is the previous mesh's bbox, not a detector box (0.8-1x its side);
            # the ROI mesh works over a wide range of ROI sizes (measured 1.2-3.5x), so one scale serves both.
            face = self._mesh_in_roi(image, box, self._detector.roi_scale)
            # The ROI mesh re-detects inside its ROI, so a stray box beside a face (say half
            # a face from a tile's edge) may return that same face again: compare the meshes.
            if face is not None and _is_new(face.bbox, [f.bbox for f in found + faces]):
                faces.append(face)
        if self.video:
            self._roi_boxes = [f.bbox for f in faces]
        return faces

    def _followed_faces_suffice(self) -> bool:
        """Video: pass 2 follows as many (small) faces as are wanted and no periodic search is
        due. Then the whole-frame mesh is skipped: its detector misses faces under ~1/5 of the
        frame, so on a talking head at 15% of a 720p frame it ran (and failed) on every frame,
        ~10 ms of the tracking stage's time (benchmarks/RESULTS.md). It runs again with the
        next periodic search (`search_every`), which is when a large face entering is found."""
        if not self.video or len(self._roi_boxes) < self.max_faces:
            return False
        return not (self.search_every and self._frames_since_search + 1 >= self.search_every)

    def _time_to_search(self, found: list[Face]) -> bool:
        """Images: always. Video: when no face at all is in view, or every `search_every` frames."""
        if not self.video:
            return True
        self._frames_since_search += 1
        if (found or self._roi_boxes) and not (self.search_every and self._frames_since_search >= self.search_every):
            return False
        self._frames_since_search = 0
        return True

    def _search(self, image: np.ndarray, known: list[np.ndarray]) -> list[np.ndarray]:
        """The box detector's boxes, unless the search duty says to wait (then none). The
        tiled search, when the detector has one, runs while the faces known (`known`: boxes
        of faces found or followed) and the whole frame's new boxes are fewer than max_faces:
        then there may be smaller faces than the whole-frame pass can see."""
        start = time.perf_counter()
        duty = self.video and self.search_duty
        if duty and start < self._next_search:
            return []
        boxes = self._detector.detect(image)
        if len(known) + sum(_is_new(b, known) for b in boxes) < self.max_faces:
            boxes = boxes + self._detector.detect_tiled(image)
        if duty:
            self._next_search = start + (time.perf_counter() - start) / self.search_duty
        return boxes

    def _mesh_in_roi(self, image: np.ndarray, box: np.ndarray, roi_scale: float) -> Face | None:
        side = roi_scale * max(box[2] - box[0], box[3] - box[1])
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        s = ROI_SIZE / side
        M = np.array([[s, 0, ROI_SIZE / 2 - s * cx], [0, s, ROI_SIZE / 2 - s * cy]], np.float32)
        roi = cv2.warpAffine(image, M, (ROI_SIZE, ROI_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        found = self._mesh_faces(self._roi_mesh, roi)
        if not found:
            return None
        face = found[0]
        inv = cv2.invertAffineTransform(M)
        pts = face.landmarks @ inv[:, :2].T + inv[:, 2]
        return self._face(pts.astype(np.float32), face.z / s)

    def _mesh_faces(self, mesh, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        scale = np.array([w, h], np.float32)
        return [self._face(xyz[:, :2] * scale, xyz[:, 2] * w) for xyz in mesh.landmarks(image)]

    @staticmethod
    def _face(pts: np.ndarray, z: np.ndarray) -> Face:
        return Face.from_landmarks(pts, z)

    def reset(self) -> None:
        """Forget the faces the whole-frame mesh tracks: its next video-mode call detects afresh.
        Small faces that pass 2 follows stay followed (each is re-meshed every frame and dropped
        when lost): forgetting them too made every forced detection a full tiled search."""
        self._mesh.reset()

    def reset_if_new_face(self, image: np.ndarray) -> bool:
        """Video: `reset()`, but only when the fresh detection would find a face the last call
        did not return: when mediapipe's short-range detector (the model the whole-frame mesh
        detects with, at the same confidence) sees a face that none of those faces covers.
        True when it reset.

        A periodic look for faces entering while the mesh tracks all it may (FaceTracker's
        `detect_every`) used to reset every time; a reset restarts the mesh's graph and its
        models, and the next call detects again: 19.5 ms of CPU against 5.0 ms for a tracked
        640x368 frame on 2 cores, where the detector alone takes 2.3 ms (benchmarks/RESULTS.md,
        "issue 11, convert, fourth part"). A face the detector finds is found the same way."""
        if self._mesh_detector is None:
            self._mesh_detector = MediapipeBoxDetector(self._min_confidence, tile=None, full_range=False)
        if any(_is_new(box, self._known) for box in self._mesh_detector.detect(np.ascontiguousarray(image))):
            self.reset()
            return True
        return False

    def close(self) -> None:
        self._mesh.close()
        self._roi_mesh.close()
        if self._own_detector:
            self._detector.close()
        if self._mesh_detector is not None:
            self._mesh_detector.close()
        if self._hands is not None:
            self._hands.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _is_new(box: np.ndarray, boxes: list[np.ndarray]) -> bool:
    """Whether a box is not (mostly) one of these boxes."""
    return not any(box_iou(box, b) > 0.3 for b in boxes)
