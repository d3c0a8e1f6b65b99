"""Face crop and paste-back as torch ops, so on a GPU they stay on the device.

The same work as `rswap.face.align.align_crop` and `rswap.compose.paste.paste_back`
(alpha blend), done with `grid_sample` on whatever device the frame lives on: the
frame goes up once, crops feed the generator as tensors, and only the finished
frame comes back. Written device-generically; the tests run it on CPU tensors.

Matrices are the host path's 2x3 pixel-space M (frame -> crop), with pixel
centres at integer coordinates as in OpenCV. Grids are built in pixels and then
normalised with align_corners=True, where -1 and 1 are the first and last pixel
*centres*: that is OpenCV's convention, and it makes grid_sample's "reflection"
padding reflect about the edge pixel, i.e. BORDER_REFLECT_101 as align_crop uses.
(affine_grid would do the same job; building the grid by hand also serves
sub-images one pixel wide, where its normalisation divides by zero.)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def frame_to_chw(frame: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) uint8 or (3, H, W) float -> (3, H, W) float32 on the same device, values 0..255."""
    if frame.dim() != 3:
        raise ValueError(f"frame must be (H, W, 3) or (3, H, W), got {tuple(frame.shape)}")
    if frame.dtype == torch.uint8:
        return frame.permute(2, 0, 1).float()
    return frame.float()


def _as_matrices(Ms, device) -> tuple[np.ndarray, torch.Tensor]:
    """Ms as float64 numpy (for the host-side bounding boxes) and as float64 tensors on `device`."""
    host = np.asarray(Ms.detach().cpu() if isinstance(Ms, torch.Tensor) else Ms, np.float64).reshape(-1, 2, 3)
    return host, torch.from_numpy(host).to(device)


def _invert(M: torch.Tensor) -> torch.Tensor:
    """Inverse of a batch of 2x3 affine matrices."""
    A, t = M[:, :, :2], M[:, :, 2:]
    A_inv = torch.linalg.inv(A)
    return torch.cat([A_inv, -A_inv @ t], dim=2)


def _sample(image: torch.Tensor, out_to_in: torch.Tensor, out_hw: tuple[int, int], padding: str) -> torch.Tensor:
    """Bilinear warp: output pixel (x, y) takes image's value at out_to_in @ (x, y, 1).

    image (N, C, H, W) float; out_to_in (N, 2, 3) pixel-space matrices.
    """
    h, w = out_hw
    H, W = image.shape[-2:]
    device = image.device
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device, dtype=torch.float64),
        torch.arange(w, device=device, dtype=torch.float64),
        indexing="ij",
    )
    base = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1)  # (h, w, 3)
    pixels = torch.einsum("hwk,njk->nhwj", base, out_to_in)  # (N, h, w, 2) in input pixels
    # align_corners=True: pixel centre 0 -> -1, centre (size - 1) -> 1.
    scale = torch.tensor([2.0 / max(W - 1, 1), 2.0 / max(H - 1, 1)], device=device, dtype=torch.float64)
    grid = (pixels * scale - 1.0).to(image.dtype)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=True)


def crop_faces(frame: torch.Tensor, Ms, size: int) -> torch.Tensor:
    """Aligned crops of every face at once: (N, 3, size, size) float32, values 0..255, on frame's device.

    Ms: (N, 2, 3) frame -> crop matrices (numpy or tensor), as align_crop returns them.
    """
    _, M = _as_matrices(Ms, frame.device)
    image = frame_to_chw(frame).unsqueeze(0).expand(M.shape[0], -1, -1, -1)
    return _sample(image, _invert(M), (size, size), padding="reflection")


def _footprint(M: np.ndarray, size: int, frame_hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the frame pixels the crop square can reach, clipped to the frame; None if none."""
    A_inv = np.linalg.inv(M[:, :2])
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    in_frame = (corners - M[:, 2]) @ A_inv.T
    h, w = frame_hw
    x0, y0 = np.floor(in_frame.min(0)).astype(int)
    x1, y1 = np.ceil(in_frame.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def paste_faces(frame: torch.Tensor, crops: torch.Tensor, masks: torch.Tensor, Ms) -> torch.Tensor:
    """Alpha-blend each crop (N, 3, S, S) back into a copy of `frame` where its mask (N, 1, S, S) in [0, 1] says.

    Faces are pasted in order, each over the result of the previous one, like
    FrameSwapper.paste. Only each crop's footprint in the frame is read and written;
    everything else is bit-identical. Returns the frame in its own layout and dtype
    (uint8 (H, W, 3) is rounded and clipped, as paste_back does).
    """
    host_M, M = _as_matrices(Ms, frame.device)
    if crops.shape[0] != M.shape[0] or masks.shape[0] != M.shape[0]:
        raise ValueError(f"paste_faces: {crops.shape[0]} crops, {masks.shape[0]} masks, {M.shape[0]} matrices")
    size = crops.shape[-1]
    hwc = frame.dtype == torch.uint8
    frame_hw = tuple(frame.shape[:2] if hwc else frame.shape[1:])
    out = frame.clone()
    for i in range(M.shape[0]):
        box = _footprint(host_M[i], size, frame_hw)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        # Sub-image pixel (x, y) is frame pixel (x + x0, y + y0): fold the offset into M.
        M_sub = M[i : i + 1].clone()
        M_sub[:, :, 2] += M_sub[:, :, :2] @ torch.tensor([x0, y0], device=M.device, dtype=M.dtype)
        hw = (y1 - y0, x1 - x0)
        # Replicate the crop's edge (as paste_back does); the mask is zero beyond the crop.
        fg = _sample(crops[i : i + 1].float(), M_sub, hw, padding="border")[0]
        alpha = _sample(masks[i : i + 1].float(), M_sub, hw, padding="zeros")[0]
        region = out[y0:y1, x0:x1] if hwc else out[:, y0:y1, x0:x1]
        bg = frame_to_chw(region)
        blended = bg + (fg - bg) * alpha
        if hwc:
            out[y0:y1, x0:x1] = blended.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0)
        else:
            out[:, y0:y1, x0:x1] = blended.to(out.dtype)
    return out


__all__ = ["crop_faces", "frame_to_chw", "paste_faces"]
