"""The Swapper interface: an aligned target crop + a source identity -> a swapped crop + a mask.

Every swapper (classical, learned generator, inswapper) works in its own aligned crop
space, named by `template`. Callers align the target face with that template, call
`swap`, and paste the result back with the mask (rswap.swap.frame does all three).
The source identity is computed once per source (never per frame) by `encode_source`
and is opaque to callers: a texture + landmarks for the classical swapper, an
embedding vector for learned ones.

What a swapper can do is declared, never discovered: every swapper has `swap_batch`
(HostSwapper's default is a loop; networks run all faces of a frame in one call) and
states in `tensor_device` whether it also takes torch tensors where its network computes
(`swap_batch_device`, the on-device compose path), so the frame swapper's compositor is
chosen once at build time (rswap.swap.compositor), not by probing attributes per call.
Likewise `moves_to_process` states whether the swapper and its sources may be pickled into a
child process and swap there (the live conveyor's swap stage with its own GIL,
realtime.swap_process): plain numpy and dataclasses can; a swapper holding an onnxruntime,
TensorRT or torch session cannot (the session is not picklable, and a GPU wants one owner).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rswap.errors import RswapError
from rswap.face.align import Template
from rswap.face.types import Face

if TYPE_CHECKING:  # torch is imported only on the device path
    import torch


@dataclass
class SwapResult:
    crop: np.ndarray  # (S, S, 3) uint8 RGB, the swapped face in the swapper's crop space
    mask: np.ndarray  # (S, S) float32 in [0, 1]: where `crop` should replace the target


class Swapper(Protocol):
    name: str
    template: Template  # the crop space swap() works in
    # smaller crop sizes swap() also takes, the template scaled (rswap.face.align.fitted_template:
    # the plan cuts each face at the smallest that keeps the frame's detail); () for the template's only
    crop_sizes: tuple[int, ...]
    # the torch device swap_batch_device takes and gives tensors on ("cuda:0", "cpu");
    # None: host arrays only (the classical swapper, a network on the core's own runner)
    tensor_device: str | None
    # True: the swapper and its encoded sources pickle, and swap in a child process gives the
    # same pictures (realtime.swap_process); False: it stays in the process that built it
    moves_to_process: bool

    def encode_source(self, images: list[np.ndarray], faces: list[Face]) -> Any:
        """Identity of one person from one or more (image, face) pairs of them."""

    def swap(self, crop: np.ndarray, landmarks: np.ndarray, source: Any) -> SwapResult:
        """Swap the source identity into an aligned target crop.

        `landmarks` are the target's mesh points in crop coordinates.
        """

    def swap_batch(self, crops: list[np.ndarray], landmarks: list[np.ndarray], sources: list[Any]) -> list[SwapResult]:
        """Every face of a frame: one call, so a network can run them as one batch."""

    def warm_up(self, source: Any) -> None:
        """Swap once on made data, so that what a first swap loads (compiled kernels from their
        cache) is loaded before the first frame: a child process's first frame took ~0.3 s without."""

    def swap_batch_device(
        self, crops: torch.Tensor, landmarks: list[np.ndarray], sources: list[Any]
    ) -> tuple[torch.Tensor, np.ndarray]:
        """The device twin of swap_batch, only where `tensor_device` is set: crops (N, 3, S, S) float
        RGB 0..255 on that device -> (swapped crops alike, masks (N, S, S) float32 on the host)."""


class HostSwapper:
    """What a swapper that works on host arrays one face at a time inherits: the batch call is a
    loop over `swap`, and there is no device path."""

    tensor_device: str | None = None
    crop_sizes: tuple[int, ...] = ()
    moves_to_process: bool = False  # a subclass holding no session says True (the classical swapper)

    def swap_batch(self, crops: list[np.ndarray], landmarks: list[np.ndarray], sources: list[Any]) -> list[SwapResult]:
        return [self.swap(c, lm, s) for c, lm, s in zip(crops, landmarks, sources)]

    def warm_up(self, source: Any) -> None:
        """Nothing to load by default (a session warms itself up where it is made)."""

    def swap_batch_device(self, crops, landmarks: list[np.ndarray], sources: list[Any]):
        raise RswapError(f"{self.name} computes on host arrays; it has no on-device path")
