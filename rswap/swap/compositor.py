"""Where a frame's faces are cut out and pasted back: the compositor a FrameSwapper is built with.

- HostCompositor: OpenCV warps on host arrays, the feathered alpha mask or a Laplacian blend
  (`blend_levels`). Every swapper works with it.
- DeviceCompositor (rswap.swap.device_compositor, imports torch): crop, network and paste as
  tensors on the inference device, one upload and one download per frame; for swappers that
  declare a `tensor_device`.

`choose_compositor` picks one at build time from what the swapper declares; nothing is
discovered per frame.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from rswap.compose.masks import skin_detail_mask
from rswap.compose.paste import lost_detail_share, paste_back
from rswap.errors import RswapError
from rswap.face.align import Template, align_crop, fitted_template, transform_points
from rswap.face.types import Face
from rswap.swap.base import SwapResult, Swapper
from rswap.swap.frame import SwapJob, in_front, keep_in_front
from rswap.swap.options import COMPOSE_ON


class Compositor(Protocol):
    where: str  # "host" or the torch device the crops live on

    def plan(self, frame: np.ndarray, selected: list[tuple[Face, int]], template: Template,
             sizes: tuple[int, ...] = ()) -> list[SwapJob]:
        """Cut out every selected (face, source index) in the swapper's crop space; `sizes`: the
        smaller crop sizes the swapper takes (each face is cut at the one that fits it, fitted_template)."""

    def swap(self, swapper: Swapper, jobs: list[SwapJob], sources: list[Any]) -> list[SwapJob]:
        """Run the swapper on every job's crop (sources: one per job); sets job.result."""

    def paste(self, frame: np.ndarray, jobs: list[SwapJob], in_place: bool = False) -> np.ndarray:
        """Blend every job's result back; returns a host frame (watermarking is the FrameSwapper's).
        `in_place`: the host frame may be written over (then the returned frame may be it)."""


class HostCompositor:
    where = "host"

    def __init__(self, blend_levels: int = 0):
        """`blend_levels` > 0 pastes back with a Laplacian blend of that many levels instead of the
        feathered alpha mask."""
        self.blend_levels = blend_levels

    def plan(self, frame: np.ndarray, selected: list[tuple[Face, int]], template: Template,
             sizes: tuple[int, ...] = ()) -> list[SwapJob]:
        jobs = []
        for face, idx in selected:
            crop, M = align_crop(frame, face.kps5, fitted_template(face.kps5, template, sizes))
            jobs.append(SwapJob(face, idx, crop, transform_points(face.landmarks, M), M, keep_in_front(face, M, crop.shape[0])))
        return jobs

    def swap(self, swapper: Swapper, jobs: list[SwapJob], sources: list[Any]) -> list[SwapJob]:
        if jobs:  # learned models: every face in one call
            with_results(jobs, swapper.swap_batch([j.crop for j in jobs], [j.landmarks for j in jobs], sources))
        return jobs

    def paste(self, frame: np.ndarray, jobs: list[SwapJob], in_place: bool = False) -> np.ndarray:
        out = frame
        for i, job in enumerate(jobs):  # a copy at most once, for the first face
            # A face larger than its crop keeps the frame's own fine detail on its skin (paste_back).
            fine = lost_detail_share(job.M) > 0.0
            detail = skin_detail_mask(job.crop.shape[:2], job.landmarks) if fine else None
            out = paste_back(out, job.result.crop, job.result.mask, job.M, levels=self.blend_levels,
                             out=out if in_place or i else None, under=job.crop if fine else None, detail=detail)
        return out


def with_results(jobs: list[SwapJob], results: list[SwapResult]) -> list[SwapJob]:
    """Set each job's result: the swapper's, its mask without what stays in front (job.keep).
    Also where the swapper ran elsewhere (a child process, realtime.swap_process)."""
    for job, result in zip(jobs, results):
        job.result = result if job.keep is None else SwapResult(result.crop, in_front(result.mask, job.keep))
    return jobs


def choose_compositor(swapper: Swapper, where: str = "auto", blend_levels: int = 0) -> Compositor:
    """'host'; 'device' insists on the device path; 'auto' takes it when the swapper computes on a
    GPU and nothing needs the host (the Laplacian blend). On the CPU grid_sample is slower than
    OpenCV, so 'auto' stays on the host there."""
    if where not in COMPOSE_ON:
        raise RswapError(f"unknown compose place {where!r}; choose one of {', '.join(COMPOSE_ON)}")
    device = swapper.tensor_device
    on_gpu = (device or "").startswith("cuda")
    if where == "host" or (where == "auto" and not (on_gpu and blend_levels == 0)):
        return HostCompositor(blend_levels)
    # the device path holds frames in torch tensors: onnxruntime-gpu alone is not enough
    if on_gpu and not _torch_sees_a_gpu():
        if where == "auto":
            return HostCompositor(blend_levels)
        raise RswapError("--compose-on device on a GPU needs torch with CUDA installed")
    if device is None:
        raise RswapError("on-device compose needs a learned model (rswap build) on an app backend (torch, tensorrt, onnxruntime)")
    if blend_levels:
        raise RswapError("--blend-levels is a host-side blend; it cannot be used with on-device compose")
    from rswap.swap.device_compositor import DeviceCompositor  # imports torch

    return DeviceCompositor(device)


def _torch_sees_a_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()
