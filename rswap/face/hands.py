"""Hands in front of faces: mediapipe's hand landmarks and a mask drawn from them.

A hand raised to the face (a chin in the hand, fingers over a cheek or the mouth) must
stay in front of the swapped face, in the target; on a source photo its pixels are not the
source's face. mediapipe 0.10.21's wheel ships the legacy hand models (palm detection and
the 21-point hand landmarks, lite and full), run here by its `Hands` solution: nothing is
downloaded. Found hands travel on the faces they cover (`Face.hands`, frame pixels); the
swap turns them into a mask in each face's crop (`hand_mask`).

Cost, measured on 2 cores (benchmarks/RESULTS.md, "issue 10, eighth session"; process CPU,
mostly in mediapipe's own graph threads): a search (palm detection on the whole frame) ~15 ms
with either model at 720p or 640x368; following a hand already found (landmarks only, from the
last frame's hand) ~8 ms a frame with the lite models, ~12 ms with the full ones. So stills and
source photos search with the full models (once), and a stream (`video=True`, lite models)
searches only every `search_every` frames while no hand is near a face (~2 ms a frame), and
follows a hand every frame while one is.
"""

from __future__ import annotations

import cv2
import numpy as np

WRIST, MIDDLE_BASE = 0, 9  # landmark indices (mediapipe's HandLandmark)
PALM = (0, 1, 2, 5, 9, 13, 17)  # the palm's outline: wrist, thumb base and knuckles
# Widths as a share of the hand's own length, wrist to the middle finger's base (~9-10 cm on
# an adult, whatever the distance to the camera). mediapipe's points sit on the bones' axis:
# a finger is ~2 cm wide (0.2 of that length), the thumb a little more; both are drawn a
# little wider (the points wobble by a few % of the hand between frames).
FINGER_WIDTH, THUMB_WIDTH = 0.26, 0.30
# The hand's points stop at the wrist; the forearm goes on beyond it, away from the fingers.
WRIST_WIDTH, FOREARM_LENGTH = 0.55, 0.6
FEATHER = 0.03  # the mask's soft edge (Gaussian sigma), a share of the hand's length
# A hand matters to a face when its box meets the face's box grown by this share of the
# face's side on every side (a stream follows such a hand every frame: it is about to cover it).
NEAR = 0.5
SEARCH_EVERY = 8  # a stream: frames between searches while no hand is near a face
MODELS = ("lite", "full")  # mediapipe's hand models, by its model_complexity
STREAM_MODEL = "lite"  # what a stream runs
# A stream follows one hand: mediapipe's graph runs its palm search on every frame while it
# follows fewer hands than it may (measured: 16.6 ms a frame with one hand followed of two, lite).
STREAM_HANDS = 1
# mediapipe's full models find "hands" on ears: all 21 points on a line along the ear (on 2 of
# the 46 dev photos, 5 with the hard set's variants of them). Their points' spread across their main
# axis is 0.06-0.08 of that along it; the real hands on the dev photos, fists included, 0.58-0.90.
# A hand seen exactly edge-on is thin as well, and is dropped with them (it covers little).
MIN_SPREAD = 0.25


def spread(points: np.ndarray) -> float:
    """How far a hand's points spread across their main axis, over along it (0: on a line)."""
    low, high = np.linalg.eigvalsh(np.cov(np.asarray(points, np.float64).T))
    return float(np.sqrt(max(low, 0.0) / high)) if high > 0 else 0.0


def hand_length(points: np.ndarray) -> float:
    """Wrist to the middle finger's base, in the points' pixels: the scale of every width."""
    return float(np.linalg.norm(points[MIDDLE_BASE] - points[WRIST]))


def hand_mask(hw: tuple[int, int], hands, M: np.ndarray | None = None) -> np.ndarray | None:
    """float32 (H, W) in [0, 1]: 1 on the hands, a soft edge outside them; None for no hand.

    hands: (21, 2) hand landmarks each, in frame pixels; M: 2x3 frame -> mask (a face's crop
    matrix), None for the frame itself. Every bone (mediapipe's hand connections) is a thick
    capsule, the palm a filled polygon, the forearm a short wide capsule beyond the wrist; all
    widths follow the hand's own length, so a hand far from the camera is drawn as thin."""
    from rswap.face.mediapipe_modules import hands_connections

    bones = hands_connections.HAND_CONNECTIONS
    thumb = set(hands_connections.HAND_THUMB_CONNECTIONS)
    canvas = np.zeros(hw, np.uint8)
    feather = 0.0
    for hand in hands:
        pts = np.asarray(hand, np.float32)
        if M is not None:
            pts = (pts @ M[:, :2].T + M[:, 2]).astype(np.float32)
        length = hand_length(pts)
        if length < 1.0:  # a hand under a pixel long (or a degenerate one) draws nothing
            continue
        feather = max(feather, FEATHER * length)
        grow = 1.5 * FEATHER * length  # drawn wider by 1.5 sigma: the blurred mask is ~0.93 at the true edge
        away = pts[WRIST] + FOREARM_LENGTH * (pts[WRIST] - pts[MIDDLE_BASE])
        xy = [tuple(p) for p in np.round(np.vstack([pts, away])).astype(int).tolist()]  # (the forearm's end: 21)
        cv2.fillConvexPoly(canvas, np.round(cv2.convexHull(pts[list(PALM)])[:, 0]).astype(np.int32), 1)
        for a, b in bones:  # OpenCV draws thick lines with round caps: capsules
            width = (THUMB_WIDTH if (a, b) in thumb else FINGER_WIDTH) * length
            cv2.line(canvas, xy[a], xy[b], 1, max(1, int(round(width + 2 * grow))))
        cv2.line(canvas, xy[WRIST], xy[21], 1, max(1, int(round(WRIST_WIDTH * length + 2 * grow))))
    if feather == 0.0 or not canvas.any():
        return None
    return cv2.GaussianBlur(canvas.astype(np.float32), (0, 0), feather)


def near_face(hand: np.ndarray, box: np.ndarray) -> bool:
    """Whether a hand's box meets a face's box grown by NEAR of its side."""
    grow = NEAR * max(box[2] - box[0], box[3] - box[1])
    lo, hi = hand.min(0), hand.max(0)
    return bool(lo[0] <= box[2] + grow and hi[0] >= box[0] - grow and lo[1] <= box[3] + grow and hi[1] >= box[1] - grow)


def same_hand(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two sets of hand landmarks are one hand: their points on average within 0.3
    of its length."""
    return float(np.linalg.norm(a - b, axis=1).mean()) < 0.3 * max(hand_length(a), hand_length(b), 1.0)


class HandFinder:
    """mediapipe's hands on whole frames; `find` returns the hands near the given faces.

    Stills (`video=False`): every call searches twice, on the photo and on the photo set in a
    grey border half its size on each side: a hand cut by the photo's edge (a chin in a hand
    that comes from below a tight portrait) was found only with room around it (dev photos
    with made hands, full models: 9 of 11 against 6 as is; benchmarks/RESULTS.md).
    Streams (`video=True`): mediapipe's tracking (a hand found is followed from its last
    landmarks, without a new palm search), and a search only every `search_every` frames while
    no hand is near a face: most frames have no hand, and a hand entering is found within
    `search_every` frames, usually before it reaches the face (it is followed from NEAR a face
    on). A hand the graph follows away from every face is dropped (the graph restarts): while
    it follows its one hand it does not search, and would miss another one raised to a face.
    `model`: mediapipe's "full" or "lite" models (default full for stills, STREAM_MODEL for
    streams). One finder is not thread-safe: one per analyser."""

    def __init__(self, video: bool = False, model: str | None = None, max_hands: int | None = None,
                 min_confidence: float = 0.5, search_every: int = SEARCH_EVERY):
        from rswap.face.mediapipe_modules import hands

        model = model or (STREAM_MODEL if video else "full")
        max_hands = max_hands or (STREAM_HANDS if video else 2)
        self.video = video
        self.search_every = search_every
        self._graph = hands.Hands(static_image_mode=not video, max_num_hands=max_hands,
                                  model_complexity=MODELS.index(model), min_detection_confidence=min_confidence,
                                  min_tracking_confidence=min_confidence)
        self._following = False  # a stream: the last call found a hand near a face
        self._since = search_every  # a stream: frames since the graph last ran (the first frame searches)
        self.graph_calls = 0

    def find(self, image: np.ndarray, face_boxes: list[np.ndarray]) -> list[np.ndarray]:
        """(21, 2) float32 landmarks in frame pixels of each hand near one of the faces (none
        without faces: a hand matters only in front of one)."""
        if not face_boxes:
            self._following, self._since = False, self.search_every
            return []
        self._since += 1
        if self.video and not self._following and self._since < self.search_every:
            return []
        self._since = 0
        image = np.ascontiguousarray(image)
        found = self._hands(image)
        if not self.video:
            h, w = image.shape[:2]
            padded = cv2.copyMakeBorder(image, h // 2, h // 2, w // 2, w // 2, cv2.BORDER_CONSTANT, value=(128, 128, 128))
            found += [hand for hand in (pts - np.float32([w // 2, h // 2]) for pts in self._hands(padded))
                      if not any(same_hand(hand, other) for other in found)]
        near = [hand for hand in found if spread(hand) >= MIN_SPREAD and any(near_face(hand, box) for box in face_boxes)]
        self._following = bool(near)
        if self.video and found and not near:
            self._graph.reset()  # the next search looks for palms afresh instead of following this one
        return near

    def _hands(self, image: np.ndarray) -> list[np.ndarray]:
        """The graph's hands, (21, 2) float32 in the image's pixels."""
        from rswap.face.mesh_graph import graph_landmarks

        self.graph_calls += 1
        h, w = image.shape[:2]
        return [xyz[:, :2] * np.float32([w, h]) for xyz in graph_landmarks(self._graph, image, "multi_hand_landmarks")]

    def close(self) -> None:
        self._graph.close()
