"""Crop, swap and paste-back on the inference device: one upload and one download per frame.

The host path (rswap.swap.frame.FrameSwapper) warps each crop out of the frame with
OpenCV, sends it to the network, brings the output back and warps it into the frame on
the CPU. Here, for learned models on a backend with `run_device` (torch, TensorRT,
onnxruntime through its I/O binding):
- `plan` (swap stage): select the faces and fit their 2x3 matrices on the host (cheap),
  upload the frame once and cut every face out of it with one grid_sample;
- `swap` (swap stage): run the network on those tensors (the swapper's swap_batch_device:
  LearnedSwapper, InSwapper);
  the masks are drawn from landmarks on the host (S² floats) and uploaded;
- `paste` (paste stage): alpha-blend every face back with grid_sample, then download
  the finished frame, so the download of frame n overlaps the swap of frame n+1.
Everything is queued on torch's current stream, in order; `.cpu()` waits for it.
The paste is the feathered alpha blend; the Laplacian blend (--blend-levels) is host only.

Imports torch: only loaded when on-device compose is chosen (realtime.swap_options).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rswap.compose.paste import paste_region
from rswap.errors import RswapError
from rswap.face.align import similarity_matrix, transform_points
from rswap.face.types import Face
from rswap.models.device_warp import crop_faces, paste_faces
from rswap.swap.frame import FrameSwapper, SwapJob


def supports_device_compose(frame_swapper: FrameSwapper) -> bool:
    """A network swapper (learned model, inswapper) whose backend takes and gives device tensors."""
    backend = getattr(frame_swapper.swapper, "backend", None)
    return hasattr(frame_swapper.swapper, "swap_batch_device") and hasattr(backend, "tensor_device")


class DeviceFrameSwapper(FrameSwapper):
    def __init__(self, host: FrameSwapper):
        """Takes over a ready host FrameSwapper: same swapper, sources and face selection."""
        if not supports_device_compose(host):
            raise RswapError("on-device compose needs a learned model (rswap build) on an app backend (torch, tensorrt, onnxruntime)")
        if host.blend_levels:
            raise RswapError("--blend-levels is a host-side blend; it cannot be used with on-device compose")
        super().__init__(host.swapper, host.sources, host.selector, host.embed, watermark=host.watermarker is not None)
        self.device = torch.device(host.swapper.backend.tensor_device)

    def plan(self, frame: np.ndarray, faces: list[Face]) -> list[SwapJob]:
        selected = self.selected(frame, faces)
        if not selected:
            return []
        template = self.swapper.template
        Ms = [similarity_matrix(face.kps5, template.points) for face, _ in selected]
        frame_dev = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device, non_blocking=True)
        crops = crop_faces(frame_dev, np.stack(Ms), template.size)
        return [
            SwapJob(face, idx, crops[i], transform_points(face.landmarks, M), M, device_frame=frame_dev)
            for i, ((face, idx), M) in enumerate(zip(selected, Ms))
        ]

    def swap(self, jobs: list[SwapJob]) -> list[SwapJob]:
        if not jobs:
            return jobs
        crops, masks = self.swapper.swap_batch_device(
            torch.stack([j.crop for j in jobs]), [j.landmarks for j in jobs], [self.sources[j.source_index] for j in jobs]
        )
        frame_hw = tuple(jobs[0].device_frame.shape[:2])
        masks_dev = torch.from_numpy(masks).to(crops.device, non_blocking=True)
        for i, job in enumerate(jobs):
            # where the mask is non-zero, in frame pixels: the paste touches only that
            job.result = DeviceSwapResult(crops[i], masks_dev[i], paste_region(frame_hw, masks[i], job.M))
        return jobs

    def paste(self, frame: np.ndarray, jobs: list[SwapJob], still: bool = False) -> np.ndarray:
        if not jobs:
            return frame
        out = paste_faces(
            jobs[0].device_frame,
            torch.stack([j.result.crop for j in jobs]),
            torch.stack([j.result.mask for j in jobs])[:, None],
            np.stack([j.M for j in jobs]),
            regions=[j.result.region for j in jobs],
        )
        return self.finish(out.cpu().numpy(), jobs, still)


@dataclass
class DeviceSwapResult:
    crop: torch.Tensor  # (3, S, S) float32 RGB 0..255 on the device
    mask: torch.Tensor  # (S, S) float32 in [0, 1] on the device
    region: tuple[int, int, int, int] | None  # frame pixels the mask reaches (None: nothing to paste)
