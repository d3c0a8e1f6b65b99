"""Whole-frame swapping: select faces, align crops, swap, paste back.

The three steps are separate methods so the live pipeline can run them as separate
stages (plan and paste are cheap; swap is the heavy, batchable one); `process` runs
them in one call for simple loops and offline conversion. Where the crops are cut and
pasted (OpenCV on the host, or tensors on the inference device) is the compositor's
business, chosen once when the frame swapper is built (rswap.swap.compositor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Union

import numpy as np

from rswap.face.hands import hand_mask
from rswap.face.select import FaceSelector
from rswap.face.types import Face
from rswap.provenance.watermark import Watermarker
from rswap.swap.base import SwapResult, Swapper

if TYPE_CHECKING:  # the device compositor's types; torch is imported only on that path
    import torch

    from rswap.swap.compositor import Compositor
    from rswap.swap.device_compositor import DeviceSwapResult

Crop = Union[np.ndarray, "torch.Tensor"]  # (S, S, 3) uint8 on the host; (3, S, S) float on the device


@dataclass
class SwapJob:
    face: Face
    source_index: int
    crop: Crop  # aligned target crop in the swapper's template (at one of its crop sizes)
    landmarks: np.ndarray  # target mesh points in crop coordinates
    M: np.ndarray  # 2x3 frame -> crop
    # (S, S) float32 in [0, 1]: what stays in front of the swapped face (its hands, `keep_in_front`)
    keep: np.ndarray | None = None
    result: SwapResult | DeviceSwapResult | None = None
    device_frame: torch.Tensor | None = None  # on-device compose: the frame's tensor, uploaded once, shared by its jobs


def keep_in_front(face: Face, M: np.ndarray, size: int) -> np.ndarray | None:
    """A job's `keep`: the face's hands (Face.hands) drawn in its crop of `size`, or None. Made
    in the plan (live: the track stage's thread, not the swap's); the compositors take it out of
    the paste mask, so the frame's own pixels stay there whatever the swapper (rswap.face.hands)."""
    return hand_mask((size, size), face.hands, M) if face.hands else None


def in_front(mask: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """A paste mask (host array) without what stays in front of the face."""
    return mask if keep is None else mask * (1.0 - keep)


class FrameSwapper:
    def __init__(
        self,
        swapper: Swapper,
        sources: list[Any],
        selector: FaceSelector | None = None,
        embed: Callable[[np.ndarray, Face], np.ndarray] | None = None,
        compositor: Compositor | None = None,
        watermark: bool = True,
    ):
        """`sources`: identities from swapper.encode_source, indexed by the selector's source index.
        `embed` is needed only by reference selection. `compositor`: where crops are cut and pasted
        (default HostCompositor: OpenCV, feathered alpha). `watermark`: every frame with a swapped
        face gets rswap's invisible mark (rswap.provenance)."""
        from rswap.swap.compositor import HostCompositor

        self.swapper = swapper
        self.sources = sources
        self.selector = selector or FaceSelector()
        self.embed = embed
        self.compositor = compositor or HostCompositor()
        self.watermarker = Watermarker() if watermark else None

    def selected(self, frame: np.ndarray, faces: list[Face]) -> list[tuple[Face, int]]:
        """(face, source index) for every face to swap; an index past the sources falls back to the first."""
        n = len(self.sources)
        return [(face, idx if idx < n else 0) for face, idx in self.selector.select(frame, faces, self.embed)]

    def plan(self, frame: np.ndarray, faces: list[Face], fit: bool = True) -> list[SwapJob]:
        """The jobs of a frame: each face cut at the smallest of the swapper's crop sizes that keeps
        the frame's detail (rswap.face.align.fitted_template); `fit` False: at the template's size."""
        sizes = self.swapper.crop_sizes if fit else ()
        return self.compositor.plan(frame, self.selected(frame, faces), self.swapper.template, sizes)

    def swap(self, jobs: list[SwapJob]) -> list[SwapJob]:
        return self.compositor.swap(self.swapper, jobs, [self.sources[j.source_index] for j in jobs])

    def paste(self, frame: np.ndarray, jobs: list[SwapJob], still: bool = False, in_place: bool = False) -> np.ndarray:
        """The frame with the jobs' faces pasted (and marked). `in_place`: the caller owns `frame`
        and lets the faces be pasted into it (the live paste stage: a 720p frame copied per frame
        is 2.7 MB of fresh pages to fault in and fill)."""
        if not jobs:
            return frame
        return self.finish(self.compositor.paste(frame, jobs, in_place), jobs, still)

    def finish(self, frame: np.ndarray, jobs: list[SwapJob], still: bool = False) -> np.ndarray:
        """The last step of every paste (host or device): mark a frame whose faces were swapped.
        A video frame's faces keep the mark at its flat-area strength (a face that moves under
        the fixed pattern would flicker); a still picture's faces take it like the rest (nothing
        moves, and a face that fills the picture must still carry it). See rswap.provenance.watermark."""
        if not jobs or self.watermarker is None:
            return frame
        # The compositor's paste gives a frame this call may write over (the caller's own, or its copy).
        mine = frame.flags.c_contiguous and frame.flags.writeable
        return self.watermarker.embed(frame, [] if still else [job.face.bbox for job in jobs], in_place=mine)

    def process(self, frame: np.ndarray, faces: list[Face]) -> np.ndarray:
        """Swap and mark one still picture (convert's images, the eval; video frames go plan/swap/paste).
        A still is swapped once: at the template's full size, whatever the face's size (a smaller crop
        for a small face saves time per video frame, and the pictures differ a little: RESULTS.md,
        issue 11, seventh session)."""
        return self.paste(frame, self.swap(self.plan(frame, faces, fit=False)), still=True)
