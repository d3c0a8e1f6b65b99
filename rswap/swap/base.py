"""The Swapper interface: an aligned target crop + a source identity -> a swapped crop + a mask.

Every swapper (classical, learned generator, inswapper) works in its own aligned crop
space, named by `template`. Callers align the target face with that template, call
`swap`, and paste the result back with the mask (rswap.swap.frame does all three).
The source identity is computed once per source (never per frame) by `encode_source`
and is opaque to callers: a texture + landmarks for the classical swapper, an
embedding vector for learned ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rswap.face.align import Template
from rswap.face.types import Face


@dataclass
class SwapResult:
    crop: np.ndarray  # (S, S, 3) uint8 RGB, the swapped face in the swapper's crop space
    mask: np.ndarray  # (S, S) float32 in [0, 1]: where `crop` should replace the target


class Swapper(Protocol):
    name: str
    template: Template  # the crop space swap() works in

    def encode_source(self, images: list[np.ndarray], faces: list[Face]) -> Any:
        """Identity of one person from one or more (image, face) pairs of them."""

    def swap(self, crop: np.ndarray, landmarks: np.ndarray, source: Any) -> SwapResult:
        """Swap the source identity into an aligned target crop.

        `landmarks` are the target's mesh points in crop coordinates.
        """
