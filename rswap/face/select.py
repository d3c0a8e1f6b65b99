"""Which faces in a frame get swapped, and with which source.

Modes: "largest" (one face), "center" (the face nearest the frame centre), "all"
(every face gets source 0), "reference" (each face is matched by identity to the
reference embeddings, one per source; faces that match none are left alone).
Reference mode needs an embedding per face; callers that track faces should embed
once per track and pass the cached vectors in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from rswap.errors import RswapError
from rswap.face.dlib_embedder import cosine
from rswap.face.types import Face

MODES = ("largest", "center", "all", "reference")


@dataclass
class FaceSelector:
    mode: str = "largest"
    references: Sequence[np.ndarray] = field(default_factory=list)  # one embedding per source
    min_cosine: float = 0.82

    def __post_init__(self):
        if self.mode not in MODES:
            raise RswapError(f"unknown face selection {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.mode == "reference" and not len(self.references):
            raise RswapError("face selection 'reference' needs at least one reference face")

    def select(
        self,
        image: np.ndarray,
        faces: list[Face],
        embed: Callable[[np.ndarray, Face], np.ndarray] | None = None,
    ) -> list[tuple[Face, int]]:
        """(face, source index) pairs to swap."""
        if not faces:
            return []
        if self.mode == "largest":
            return [(max(faces, key=lambda f: f.area), 0)]
        if self.mode == "center":
            c = np.array([image.shape[1] / 2, image.shape[0] / 2], np.float32)
            return [(min(faces, key=lambda f: float(np.linalg.norm(f.center - c))), 0)]
        if self.mode == "all":
            return [(f, 0) for f in faces]
        if embed is None:
            raise ValueError("reference selection needs an embedding function")
        picked = []
        for face in faces:
            vec = face.embedding
            if vec is None:
                vec = embed(image, face)
            scores = [cosine(vec, r) for r in self.references]
            best = int(np.argmax(scores))
            if scores[best] >= self.min_cosine:
                picked.append((face, best))
        return picked
