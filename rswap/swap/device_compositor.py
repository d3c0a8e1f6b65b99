"""Crop, swap and paste-back on the inference device: one upload and one download per frame.

The host compositor (rswap.swap.compositor.HostCompositor) warps each crop out of the frame
with OpenCV, sends it to the network, brings the output back and warps it into the frame on
the CPU. Here, for swappers that declare a `tensor_device` (learned models and inswapper on
the app's backends: torch, TensorRT, onnxruntime through its I/O binding):
- `plan` (swap stage): the faces' 2x3 matrices are fitted on the host (cheap), the frame is
  uploaded once and every face cut out of it with one grid_sample;
- `swap` (swap stage): the network runs on those tensors (the swapper's swap_batch_device);
  the masks are drawn from landmarks on the host (S² floats) and uploaded;
- `paste` (paste stage): every face is alpha-blended back with grid_sample, then the finished
  frame is downloaded, so the download of frame n overlaps the swap of frame n+1.
Everything is queued on torch's current stream, in order; `.cpu()` waits for it.
The paste is the feathered alpha blend, with the frame's own fine detail back on the skin of a
face larger than its crop, as on the host (rswap.compose.paste.paste_back); the Laplacian blend
(--blend-levels) is host only.

Imports torch: only loaded when on-device compose is chosen (rswap.swap.compositor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rswap.compose.masks import skin_detail_mask
from rswap.compose.paste import lost_detail_share, paste_region
from rswap.face.align import Template, similarity_matrix, transform_points
from rswap.face.types import Face
from rswap.compose.tensor_warp import crop_faces, paste_faces
from rswap.swap.base import Swapper
from rswap.swap.frame import SwapJob, in_front, keep_in_front


@dataclass
class DeviceSwapResult:
    crop: torch.Tensor  # (3, S, S) float32 RGB 0..255 on the device
    mask: torch.Tensor  # (S, S) float32 in [0, 1] on the device
    region: tuple[int, int, int, int] | None  # frame pixels the mask reaches (None: nothing to paste)
    # (S, S) float32 on the device: where the frame's own fine detail comes back, times its share
    # (rswap.compose.paste.lost_detail_share); None for a face no larger than its crop
    detail: torch.Tensor | None = None


class DeviceCompositor:
    def __init__(self, device: str):
        """`device`: the swapper's tensor_device, where its network takes and gives tensors."""
        self.device = torch.device(device)
        self.where = str(self.device)

    def plan(self, frame: np.ndarray, selected: list[tuple[Face, int]], template: Template,
             sizes: tuple[int, ...] = ()) -> list[SwapJob]:
        """`sizes` is not used: the crops go through a network as one batch of its one size."""
        if not selected:
            return []
        Ms = [similarity_matrix(face.kps5, template.points) for face, _ in selected]
        frame_dev = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device, non_blocking=True)
        crops = crop_faces(frame_dev, np.stack(Ms), template.size)
        return [
            SwapJob(face, idx, crops[i], transform_points(face.landmarks, M), M, keep_in_front(face, M, template.size),
                    device_frame=frame_dev)
            for i, ((face, idx), M) in enumerate(zip(selected, Ms))
        ]

    def swap(self, swapper: Swapper, jobs: list[SwapJob], sources: list[Any]) -> list[SwapJob]:
        if not jobs:
            return jobs
        crops, masks = swapper.swap_batch_device(torch.stack([j.crop for j in jobs]), [j.landmarks for j in jobs], sources)
        if any(job.keep is not None for job in jobs):  # hands stay in front (the masks are host arrays)
            masks = np.stack([in_front(mask, job.keep) for mask, job in zip(masks, jobs)]).astype(np.float32)
        frame_hw = tuple(jobs[0].device_frame.shape[:2])
        masks_dev = torch.from_numpy(masks).to(crops.device, non_blocking=True)
        for i, job in enumerate(jobs):
            # where the mask is non-zero, in frame pixels: the paste touches only that
            job.result = DeviceSwapResult(crops[i], masks_dev[i], paste_region(frame_hw, masks[i], job.M), _detail(job, crops.device))
        return jobs

    def paste(self, frame: np.ndarray, jobs: list[SwapJob], in_place: bool = False) -> np.ndarray:
        """`in_place` changes nothing here: the frame comes back from the device as a new array."""
        masks = torch.stack([j.result.mask for j in jobs])[:, None]
        fine = any(j.result.detail is not None for j in jobs)  # the frame's own detail, as the host paste
        details = torch.stack([torch.zeros_like(j.result.mask) if j.result.detail is None else j.result.detail
                               for j in jobs])[:, None] if fine else None
        out = paste_faces(
            jobs[0].device_frame,
            torch.stack([j.result.crop for j in jobs]),
            masks,
            np.stack([j.M for j in jobs]),
            regions=[j.result.region for j in jobs],
            unders=torch.stack([j.crop for j in jobs]) if fine else None,
            details=details,
        )
        return out.cpu().numpy()


def _detail(job: SwapJob, device: torch.device) -> torch.Tensor | None:
    """DeviceSwapResult.detail: the host's skin mask times the share of detail a face larger than
    its crop gets back (HostCompositor.paste does the same on the host)."""
    share = lost_detail_share(job.M)
    if share <= 0.0:
        return None
    size = job.crop.shape[-1]
    weight = skin_detail_mask((size, size), job.landmarks) * np.float32(share)
    return torch.from_numpy(weight).to(device, non_blocking=True)
