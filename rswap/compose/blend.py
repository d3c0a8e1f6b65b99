"""Laplacian multi-band blending (Burt & Adelson 1983).

Each band of detail is blended with the mask blurred to that band's scale: fine
detail switches over sharply at the seam, low frequencies (skin tone, shading)
fade over a wide margin, so no visible seam and no halo. Far from the seam the
output is exactly one of the inputs.
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.compose.kernels import finish_blend, masked_difference, mix


def max_levels(h: int, w: int) -> int:
    """Most pyramid levels that keep the coarsest level at least 4 pixels on its short side."""
    return max(1, int(np.log2(max(min(h, w), 4) / 4)) + 1)


def blend_margin(levels: int) -> int:
    """How far from the mask's edge (either side) a `levels`-level Laplacian blend differs
    from a hard cut: beyond it the output is bg outside the mask and fg inside.

    Measured: a step of 100 under a disc mask reaches ~2^levels + 2 px (the coarse mask
    levels reach that far); half as much again covers a full-range step with room to spare.
    """
    return 2 + (3 * (1 << levels) // 2 if levels > 1 else 0)


def blend_delta(delta: np.ndarray, mask: np.ndarray, levels: int) -> np.ndarray:
    """Multi-band blend of `delta` = fg - bg against zero: returns what to add to bg.

    Blending is linear in the images, so blending fg over bg equals bg plus the
    blend of (fg - bg) over zero; that needs one pyramid instead of two.
    `delta` is float32 (H, W) or (H, W, C), `mask` float32 (H, W) in [0, 1].
    """
    shape = delta.shape
    if delta.ndim == 3 and shape[2] == 1:
        delta = delta[..., 0]  # OpenCV returns single-channel images as 2-D
    levels = max(1, min(levels, max_levels(*mask.shape[:2])))
    gauss, masks = [delta], [mask]
    for _ in range(levels - 1):
        gauss.append(cv2.pyrDown(gauss[-1]))
        masks.append(cv2.pyrDown(masks[-1]))

    def weighted(img, m):
        return img * (m[..., None] if img.ndim == 3 else m)

    acc = weighted(gauss[-1], masks[-1])
    for i in range(levels - 2, -1, -1):
        size = gauss[i].shape[1::-1]
        lap = gauss[i] - cv2.pyrUp(gauss[i + 1], dstsize=size)
        acc = cv2.pyrUp(acc, dstsize=size)
        acc += weighted(lap, masks[i])
    return acc.reshape(shape)


def laplacian_blend(
    fg: np.ndarray, bg: np.ndarray, mask: np.ndarray, levels: int = 5, fg_valid: np.ndarray | None = None
) -> np.ndarray:
    """Blend uint8 image `fg` over `bg` (same shape) where float `mask` (H, W) is 1.

    `levels` is the number of pyramid levels (1 = plain alpha blend); it is capped so
    the coarsest level keeps a few pixels. Any size works, odd included.
    `fg_valid` (H, W): where fg has content at all (e.g. mesh_warp's valid mask).
    Elsewhere fg counts as bg; without it, the black around a warped face would bleed
    into the coarse bands and leave a halo along the inside of the seam.
    """
    if fg.shape != bg.shape or mask.shape != fg.shape[:2]:
        raise ValueError(f"laplacian_blend: shapes differ: fg {fg.shape}, bg {bg.shape}, mask {mask.shape}")
    if fg.ndim == 3 and fg.dtype == np.uint8 and bg.dtype == np.uint8:
        return _laplacian_blend_rgb(fg, bg, np.ascontiguousarray(mask, np.float32), levels, fg_valid)
    bg_f = bg.astype(np.float32)
    delta = fg.astype(np.float32) - bg_f
    if fg_valid is not None:
        delta *= (np.asarray(fg_valid) > 0)[..., None] if delta.ndim == 3 else np.asarray(fg_valid) > 0
    out = bg_f + blend_delta(delta, np.asarray(mask, np.float32), levels)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _laplacian_blend_rgb(fg: np.ndarray, bg: np.ndarray, mask: np.ndarray, levels: int, fg_valid: np.ndarray | None) -> np.ndarray:
    """laplacian_blend of uint8 (H, W, C) images: the same sums (blend_delta's), with the
    full-size passes fused in compiled kernels (outside the GIL): 3.1 -> 0.8 ms at 256²
    (one OpenCV thread)."""
    fg, bg = np.ascontiguousarray(fg), np.ascontiguousarray(bg)
    valid = np.ones(mask.shape, np.float32) if fg_valid is None else np.ascontiguousarray(fg_valid, np.float32)
    delta = masked_difference(fg, bg, valid)
    levels = max(1, min(levels, max_levels(*mask.shape[:2])))
    if levels == 1:
        zero = np.zeros_like(delta)
        return finish_blend(bg, zero, delta, zero, mask)
    gauss, masks = [delta], [mask]
    for _ in range(levels - 1):
        gauss.append(cv2.pyrDown(gauss[-1]))
        masks.append(cv2.pyrDown(masks[-1]))
    acc = gauss[-1] * masks[-1][..., None]
    for i in range(levels - 2, 0, -1):
        size = gauss[i].shape[1::-1]
        acc = cv2.pyrUp(acc, dstsize=size)
        acc += (gauss[i] - cv2.pyrUp(gauss[i + 1], dstsize=size)) * masks[i][..., None]
    size = delta.shape[1::-1]
    return finish_blend(bg, cv2.pyrUp(acc, dstsize=size), delta, cv2.pyrUp(gauss[1], dstsize=size), mask)


def alpha_blend(fg: np.ndarray, bg: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """out = bg + mask * (fg - bg), rounded to uint8."""
    m = np.asarray(mask, np.float32)
    if fg.ndim == 3 and m.ndim == 2 and fg.dtype == np.uint8 and bg.dtype == np.uint8 and fg.shape == bg.shape:
        return mix(np.ascontiguousarray(fg), np.ascontiguousarray(bg), np.ascontiguousarray(m))
    if fg.ndim == 3:
        m = m[..., None]
    bg_f = bg.astype(np.float32)
    return np.clip(np.rint(bg_f + m * (fg.astype(np.float32) - bg_f)), 0, 255).astype(np.uint8)
