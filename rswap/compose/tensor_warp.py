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

from rswap.compose.paste import CUBIC_FROM, DETAIL_CLIP
from rswap.face.align import enlargement


def frame_to_chw(frame: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) uint8 or (3, H, W) float -> (3, H, W) float32 on the same device, values 0..255."""
    if frame.dim() != 3:
        raise ValueError(f"frame must be (H, W, 3) or (3, H, W), got {tuple(frame.shape)}")
    if frame.dtype == torch.uint8:
        return frame.permute(2, 0, 1).float()
    return frame.float()


def _frame_hw(frame: torch.Tensor) -> tuple[int, int]:
    return tuple(frame.shape[:2]) if frame.dtype == torch.uint8 else tuple(frame.shape[1:])


def _window(frame: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    """The frame's pixels in box (x0, y0, x1, y1), in the frame's own layout (a view)."""
    x0, y0, x1, y1 = box
    return frame[y0:y1, x0:x1] if frame.dtype == torch.uint8 else frame[:, y0:y1, x0:x1]


def _host_matrices(Ms) -> np.ndarray:
    """Ms as (N, 2, 3) float64 numpy: the matrix algebra is tiny and stays on the host."""
    return np.asarray(Ms.detach().cpu() if isinstance(Ms, torch.Tensor) else Ms, np.float64).reshape(-1, 2, 3)


def _invert(M: np.ndarray) -> np.ndarray:
    """Inverse of a batch of 2x3 affine matrices."""
    A_inv = np.linalg.inv(M[:, :, :2])
    return np.concatenate([A_inv, -A_inv @ M[:, :, 2:]], axis=2)


def _offset(M: np.ndarray, x0: float, y0: float) -> np.ndarray:
    """M for a sub-image whose pixel (0, 0) is frame pixel (x0, y0) (M reads frame pixels)."""
    M = M.copy()
    M[..., 2] += M[..., :2] @ np.array([x0, y0], np.float64)
    return M


def _sample(image: torch.Tensor, out_to_in: np.ndarray, out_hw: tuple[int, int], padding: str,
            mode: str = "bilinear") -> torch.Tensor:
    """Bilinear (or `mode`) warp: output pixel (x, y) takes image's value at out_to_in @ (x, y, 1).

    image (N, C, H, W) float; out_to_in (N, 2, 3) pixel-space matrices. The grid is the
    matrix applied to a row of x and a column of y, broadcast: two multiply-adds per
    coordinate, in float32 (a 1e-4 px error at 4K), with the align_corners=True
    normalisation folded into the matrix on the host.
    """
    h, w = out_hw
    H, W = image.shape[-2:]
    scale = np.array([[2.0 / max(W - 1, 1)], [2.0 / max(H - 1, 1)]])
    norm = out_to_in * scale[None]  # pixel centre 0 -> -1, centre (size - 1) -> 1
    norm[:, :, 2] -= 1.0
    coef = torch.from_numpy(norm.astype(np.float32)).to(image.device)  # (N, 2, 3)
    xs = torch.arange(w, device=image.device, dtype=torch.float32)
    ys = torch.arange(h, device=image.device, dtype=torch.float32)
    a, b, t = (coef[:, None, None, :, k] for k in range(3))  # each (N, 1, 1, 2)
    grid = a * xs[None, None, :, None] + b * ys[None, :, None, None] + t  # (N, h, w, 2)
    return F.grid_sample(image, grid.to(image.dtype), mode=mode, padding_mode=padding, align_corners=True)


def crop_faces(frame: torch.Tensor, Ms, size: int) -> torch.Tensor:
    """Aligned crops of every face at once: (N, 3, size, size) float32, values 0..255, on frame's device.

    Ms: (N, 2, 3) frame -> crop matrices (numpy or tensor), as align_crop returns them.
    Only the window of the frame that the crops reach is converted to float.
    """
    M = _host_matrices(Ms)
    frame_hw = _frame_hw(frame)
    boxes = [b for b in (_footprint(m, size, frame_hw) for m in M) if b is not None]
    # The crops' union window; a crop wholly off the frame still samples its edge (reflect-101).
    x0, y0 = (min(b[0] for b in boxes), min(b[1] for b in boxes)) if boxes else (0, 0)
    x1, y1 = (max(b[2] for b in boxes), max(b[3] for b in boxes)) if boxes else frame_hw[::-1]
    window = frame_to_chw(_window(frame, (x0, y0, x1, y1)))
    image = window.unsqueeze(0).expand(M.shape[0], -1, -1, -1)
    crop_to_window = _invert(M)
    crop_to_window[:, :, 2] -= (x0, y0)
    # Reflection happens at the window's edges: where they are not the frame's, no crop reaches.
    return _sample(image, crop_to_window, (size, size), padding="reflection")


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


def paste_faces(frame: torch.Tensor, crops: torch.Tensor, masks: torch.Tensor, Ms, regions=None,
                unders: torch.Tensor | None = None, details: torch.Tensor | None = None) -> torch.Tensor:
    """Alpha-blend each crop (N, 3, S, S) back into a copy of `frame` where its mask (N, 1, S, S) in [0, 1] says.

    Faces are pasted in order, each over the result of the previous one, like
    FrameSwapper.paste. Only each crop's footprint in the frame is read and written;
    everything else is bit-identical. `regions`, when the caller knows them (the host
    drew the masks: rswap.compose.paste.paste_region), narrow each footprint to where
    its mask is non-zero, (x0, y0, x1, y1) or None for nothing to paste. Returns the
    frame in its own layout and dtype (uint8 (H, W, 3) is rounded and clipped, as
    paste_back does). `unders` (N, 3, S, S), the crops the swap was given, and `details`
    (N, 1, S, S) in [0, 1]: the frame's own fine detail the crops could not hold comes back
    where `details` says, within +-DETAIL_CLIP, as paste_back's `under` and `detail` do (the
    host computes the share, rswap.compose.paste.lost_detail_share, into `details`).
    """
    M = _host_matrices(Ms)
    if crops.shape[0] != M.shape[0] or masks.shape[0] != M.shape[0]:
        raise ValueError(f"paste_faces: {crops.shape[0]} crops, {masks.shape[0]} masks, {M.shape[0]} matrices")
    size = crops.shape[-1]
    hwc = frame.dtype == torch.uint8
    out = frame.clone()
    for i in range(M.shape[0]):
        box = _footprint(M[i], size, _frame_hw(frame)) if regions is None else regions[i]
        if box is None:
            continue
        x0, y0, x1, y1 = box
        M_sub = _offset(M[i : i + 1], x0, y0)  # sub-image pixel -> crop pixel
        hw = (y1 - y0, x1 - x0)
        # Replicate the crop's edge (as paste_back does); the mask is zero beyond the crop. A face
        # much larger than its crop is enlarged with a cubic, as paste_back does (`into_frame`).
        mode = "bicubic" if enlargement(M[i]) >= CUBIC_FROM else "bilinear"
        fg = _sample(crops[i : i + 1].float(), M_sub, hw, padding="border", mode=mode)[0]
        alpha = _sample(masks[i : i + 1].float(), M_sub, hw, padding="zeros")[0]
        region = _window(out, box)
        if unders is not None and details is not None:  # the frame's own detail: fg + clip(bg - under)
            low = _sample(unders[i : i + 1].float(), M_sub, hw, padding="border", mode=mode)[0]
            weight = torch.minimum(_sample(details[i : i + 1].float(), M_sub, hw, padding="zeros")[0], alpha)
            bg = region.float().permute(2, 0, 1) if hwc else region.float()
            fine = (bg - low).clamp_(-DETAIL_CLIP, DETAIL_CLIP)
            blended = bg + alpha * (fg - bg) + weight * fine
            if hwc:
                region.copy_(blended.permute(1, 2, 0).round_().clamp_(0, 255))
            else:
                region.copy_(blended)
        elif hwc:  # blend in the frame's HWC layout: one permute of the small fg, none of the frame
            bg = region.float()
            blended = torch.addcmul(bg, fg.permute(1, 2, 0) - bg, alpha.permute(1, 2, 0))
            region.copy_(blended.round_().clamp_(0, 255))
        else:
            region.copy_(torch.addcmul(region, fg - region, alpha))
    return out


__all__ = ["crop_faces", "frame_to_chw", "paste_faces"]
