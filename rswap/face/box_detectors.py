"""Box detectors for the face analyser's second pass (faces too small for the mesh alone):
the interface they all have and the name -> factory table that `--detector` chooses from.

mediapipe's full-range detector is embedded; SCRFD comes from a user's insightface pack
(never downloaded). The mesh gives the landmarks either way (MediapipeFaceAnalyser).
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from rswap.errors import RswapError


class BoxDetector(Protocol):
    # the side of the mesh's ROI over the box's longer side: it depends on how much of the
    # head the detector's boxes cover (measured: benchmarks/roi_scale.py)
    roi_scale: float

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """(4,) float32 x0 y0 x1 y1 boxes in image pixels, best first."""

    def detect_tiled(self, image: np.ndarray) -> list[np.ndarray]:
        """A slower, finer search the analyser runs only while fewer faces are known than it
        may find; [] for a detector that has none."""

    def close(self) -> None: ...


def _mediapipe(model: str | None) -> None:
    """None: every analyser builds its own mediapipe detector (its graphs are not shared)."""
    if model:
        raise RswapError("--detector-model needs --detector scrfd")
    return None


def _scrfd(model: str | None) -> BoxDetector:
    """One SCRFD detector (stateless onnxruntime session) serves every analyser."""
    from rswap.face.insightface_pack import find_scrfd
    from rswap.face.scrfd import SCRFDDetector

    return SCRFDDetector(find_scrfd(model))


# name -> factory(model path or pack folder) -> a detector, or None for the analyser's own
BOX_DETECTORS: dict[str, Callable[[str | None], BoxDetector | None]] = {"mediapipe": _mediapipe, "scrfd": _scrfd}


def open_box_detector(name: str = "mediapipe", model: str | None = None) -> BoxDetector | None:
    """The named detector, loaded and checked now (before any camera or file opens)."""
    if name not in BOX_DETECTORS:
        raise RswapError(f"unknown detector {name!r}; choose one of {', '.join(BOX_DETECTORS)}")
    return BOX_DETECTORS[name](model)
