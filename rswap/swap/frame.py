"""Whole-frame swapping: select faces, align crops, swap, paste back.

The three steps are separate methods so the live pipeline can run them as separate
stages (plan and paste are cheap; swap is the heavy, batchable one); `process` runs
them in one call for simple loops and offline conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from rswap.compose.paste import paste_back
from rswap.face.align import align_crop, transform_points
from rswap.face.select import FaceSelector
from rswap.face.types import Face
from rswap.provenance.watermark import Watermarker
from rswap.swap.base import SwapResult, Swapper


@dataclass
class SwapJob:
    face: Face
    source_index: int
    crop: np.ndarray  # aligned target crop in the swapper's template
    landmarks: np.ndarray  # target mesh points in crop coordinates
    M: np.ndarray  # 2x3 frame -> crop
    result: SwapResult | None = None
    device_frame: Any = None  # on-device compose: the frame's tensor, uploaded once, shared by its jobs


class FrameSwapper:
    def __init__(
        self,
        swapper: Swapper,
        sources: list[Any],
        selector: FaceSelector | None = None,
        embed: Callable[[np.ndarray, Face], np.ndarray] | None = None,
        blend_levels: int = 0,
        watermark: bool = True,
    ):
        """`sources`: identities from swapper.encode_source, indexed by the selector's source index.
        `embed` is needed only by reference selection. `blend_levels` > 0 pastes back with a
        Laplacian blend of that many levels instead of the feathered alpha mask. `watermark`:
        every frame with a swapped face gets rswap's invisible mark (rswap.provenance)."""
        self.swapper = swapper
        self.sources = sources
        self.selector = selector or FaceSelector()
        self.embed = embed
        self.blend_levels = blend_levels
        self.watermarker = Watermarker() if watermark else None

    def selected(self, frame: np.ndarray, faces: list[Face]) -> list[tuple[Face, int]]:
        """(face, source index) for every face to swap; an index past the sources falls back to the first."""
        n = len(self.sources)
        return [(face, idx if idx < n else 0) for face, idx in self.selector.select(frame, faces, self.embed)]

    def plan(self, frame: np.ndarray, faces: list[Face]) -> list[SwapJob]:
        jobs = []
        for face, idx in self.selected(frame, faces):
            crop, M = align_crop(frame, face.kps5, self.swapper.template)
            jobs.append(SwapJob(face, idx, crop, transform_points(face.landmarks, M), M))
        return jobs

    def swap(self, jobs: list[SwapJob]) -> list[SwapJob]:
        swap_batch = getattr(self.swapper, "swap_batch", None)
        if swap_batch is not None and len(jobs) > 1:  # learned models: every face in one call
            results = swap_batch([j.crop for j in jobs], [j.landmarks for j in jobs], [self.sources[j.source_index] for j in jobs])
            for job, result in zip(jobs, results):
                job.result = result
            return jobs
        for job in jobs:
            job.result = self.swapper.swap(job.crop, job.landmarks, self.sources[job.source_index])
        return jobs

    def paste(self, frame: np.ndarray, jobs: list[SwapJob], still: bool = False) -> np.ndarray:
        out = frame
        for job in jobs:
            out = paste_back(out, job.result.crop, job.result.mask, job.M, levels=self.blend_levels)
        return self.finish(out, jobs, still)

    def finish(self, frame: np.ndarray, jobs: list[SwapJob], still: bool = False) -> np.ndarray:
        """The last step of every paste (host or device): mark a frame whose faces were swapped.
        A video frame's faces keep the mark at its flat-area strength (a face that moves under
        the fixed pattern would flicker); a still picture's faces take it like the rest (nothing
        moves, and a face that fills the picture must still carry it). See rswap.provenance.watermark."""
        if not jobs or self.watermarker is None:
            return frame
        return self.watermarker.embed(frame, [] if still else [job.face.bbox for job in jobs])

    def process(self, frame: np.ndarray, faces: list[Face]) -> np.ndarray:
        """Swap and mark one still picture (convert's images; video frames go plan/swap/paste)."""
        return self.paste(frame, self.swap(self.plan(frame, faces)), still=True)
