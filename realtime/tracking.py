"""The detect/landmarks stage: faces with stable track ids and smoothed landmarks.

mediapipe's face mesh in video mode is the tracker: it follows each face from the
previous frame's landmarks and runs its detector only when it tracks fewer faces
than `max_faces` or a face's tracking score drops below min_tracking_confidence.
What it does not do is look for *new* faces while it is full, so every
`detect_every` frames, when it is full, the same detector looks at the frame and the
mesh is made to detect afresh only when that finds a face it does not track
(`reset_if_new_face`: 2.3 ms a look at 640x368 on 2 cores; restarting the mesh's graph
every time cost ~14 ms, measured in benchmarks/RESULTS.md, issue 11, convert, fourth part).

Track ids are kept by box overlap from frame to frame (mediapipe gives none); each
track has its own One-Euro filter.
"""

from __future__ import annotations

import numpy as np

from realtime.packet import Packet
from realtime.smoothing import OneEuroFilter
from rswap.face.options import AnalysisOptions
from rswap.face.types import Face, box_iou


class FaceTracker:
    """Callable stage: packet.faces <- tracked (and, with `smooth`, smoothed) faces."""

    def __init__(self, options: AnalysisOptions | None = None, detector=None, analyser=None,
                 min_cutoff: float = 1.0, beta: float = 20.0, min_iou: float = 0.3):
        """`options`: max faces (None: 1), detection cadence, smoothing, search duty; `detector`:
        the box detector they name, already loaded (None: mediapipe's); `analyser`: a ready one."""
        from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

        options = options or AnalysisOptions()
        self.max_faces = options.max_faces or 1
        self.detect_every = options.detect_every
        self.smooth = options.smooth
        self.filter_args = (min_cutoff, beta)
        self.min_iou = min_iou
        self.analyser = analyser or MediapipeFaceAnalyser(
            max_faces=self.max_faces, video=True, detector=detector, search_duty=options.search_duty,
            search_every=self.detect_every or None,  # the same cadence looks for small faces entering beside others
            hands=options.keeps_hands(live_frames=True),  # convert's options say on or off: its choice
        )
        self.detection_checks = 0  # periodic looks for faces entering while the tracker is full
        self.forced_detections = 0  # those that found one, so the mesh detected afresh
        self._tracks: dict[int, tuple[np.ndarray, OneEuroFilter]] = {}  # id -> (last bbox, filter)
        self._next_id = 0
        self._frames = 0

    def __call__(self, packet: Packet) -> Packet:
        t = packet.pts if packet.pts is not None else packet.capture_ts
        packet.faces = self.track(packet.image, t)
        return packet

    def track(self, image: np.ndarray, t: float) -> list[Face]:
        if self.detect_every and self._frames and self._frames % self.detect_every == 0 and len(self._tracks) >= self.max_faces:
            self.detection_checks += 1
            self.forced_detections += self.analyser.reset_if_new_face(image)  # then the next call detects afresh
        self._frames += 1
        faces = self.analyser.analyse(image)
        if not faces and self._tracks:
            # The track was lost on this very frame (a fast move; or every other frame of a stream, followed by
            # one child of --swap-in process): mediapipe's graph detects afresh on its next call, so that call
            # is made on this frame, not the next, which would otherwise show the face unswapped.
            faces = self.analyser.analyse(image)
        self._assign_ids(faces)
        if self.smooth:
            for face in faces:
                self._smooth(face, t)
        return faces

    def _assign_ids(self, faces: list[Face]) -> None:
        free = dict(self._tracks)
        matched: dict[int, tuple] = {}
        for face in faces:  # largest first: big faces claim their track first
            best, best_iou = None, self.min_iou
            for tid, (box, _) in free.items():
                o = box_iou(face.bbox, box)
                if o > best_iou:
                    best, best_iou = tid, o
            if best is None:
                best = self._next_id
                self._next_id += 1
                filt = OneEuroFilter(*self.filter_args)
            else:
                filt = free.pop(best)[1]
            face.track_id = best
            matched[best] = (face.bbox.copy(), filt)
        self._tracks = matched

    def _smooth(self, face: Face, t: float) -> None:
        filt = self._tracks[face.track_id][1]
        height = float(face.bbox[3] - face.bbox[1])
        smoothed = Face.from_landmarks(filt(face.landmarks, t, height))
        face.raw_landmarks = face.landmarks
        face.landmarks, face.kps5, face.bbox = smoothed.landmarks, smoothed.kps5, smoothed.bbox

    def close(self) -> None:
        self.analyser.close()
