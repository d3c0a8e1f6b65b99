"""How faces are found and followed: the face-analysis options of `rswap live` and `rswap
convert`, each with its default, choices and help text defined here once (rswap.options
turns them into flags)."""

from __future__ import annotations

from dataclasses import dataclass

from rswap.face.box_detectors import BOX_DETECTORS
from rswap.options import option


@dataclass
class AnalysisOptions:
    detector: str = option("mediapipe", "box detector for faces too small for mediapipe's mesh to find: mediapipe "
                                         "(embedded) or scrfd (an insightface pack's det_10g.onnx / det_500m.onnx, "
                                         "never downloaded)", choices=BOX_DETECTORS)
    detector_model: str | None = option(
        None, "--detector scrfd: the SCRFD .onnx, or the insightface models folder holding the pack "
              "(default ~/.insightface/models: buffalo_l/det_10g.onnx, buffalo_s/det_500m.onnx, ...)", metavar="PATH")
    max_faces: int | None = option(None, "faces to track (default 1 for largest/center selection, 4 otherwise)",
                                   metavar="N")
    detect_every: int = option(30, "force a fresh face detection every N frames to find new faces "
                                   "(0: only when tracking is lost)", metavar="N")
    smooth: bool = option(True, "One-Euro smoothing of landmarks (steady still faces)")
    keep_hands: bool | None = option(
        None, "a hand in front of a face stays in front of the swapped face, and one on a source photo's face is "
              "left out of its identity (mediapipe's hand landmarks). Default: on, but in live only for the source "
              "photos: following a hand costs ~8 ms of CPU a frame, looking for one ~2 ms")

    def keeps_hands(self, live_frames: bool) -> bool:
        """`keep_hands` where given; by default on for source photos (once per photo) and convert's
        videos and images, off for a live stream's frames: on 2 cores live has no CPU to spare
        (benchmarks/RESULTS.md, issue 10, eighth session)."""
        return self.keep_hands if self.keep_hands is not None else not live_frames
    # Not a flag: live caps the small-face search's share of the time while no face is in view
    # (realtime.live_cli); None searches every frame (offline conversion). MediapipeFaceAnalyser.
    search_duty: float | None = None


# What only a live stream tunes; convert detects every 10 frames and always smooths.
LIVE_ONLY = ("max_faces", "detect_every", "smooth")
