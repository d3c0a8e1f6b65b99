"""Colour transfer inside a mask: make one face's colours match another's.

Both methods work in CIELAB (perceptual, lightness separated from colour) on the
masked pixels only, weighting each pixel by the mask:
- "reinhard": match each channel's mean and standard deviation (Reinhard et al. 2001);
- "lct": linear colour transform matching the full mean and covariance, so colour
  casts that mix channels are also corrected.
Pixels where the mask is 0 are returned unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.errors import RswapError

METHODS = ("reinhard", "lct")
_EPS = 1e-3  # variance floor (Lab units²): flat regions must not blow up the gain


def _to_lab(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB)


def _from_lab(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def _weighted_stats(lab: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (3,) and covariance (3, 3) of (N, 3) samples under (N,) weights."""
    w = weight / weight.sum()
    mean = w @ lab
    centred = lab - mean
    cov = (centred * w[:, None]).T @ centred
    return mean, cov


def _sqrtm(cov: np.ndarray, inverse: bool = False) -> np.ndarray:
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, _EPS)
    return (vecs * (vals ** (-0.5 if inverse else 0.5))) @ vecs.T


def _bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _masked_lab(img: np.ndarray, mask: np.ndarray):
    """Lab samples and weights of the pixels where mask > 0 (work on the mask's bounding box)."""
    box = _bbox(mask > 0)
    if box is None:
        raise RswapError("colour transfer: the mask is empty")
    lab = _to_lab(img[box])
    m = mask[box]
    sel = m > 0
    return lab, box, sel, lab[sel].astype(np.float64), m[sel].astype(np.float64)


def transfer_color(
    src: np.ndarray,
    ref: np.ndarray,
    src_mask: np.ndarray,
    ref_mask: np.ndarray | None = None,
    method: str = "reinhard",
) -> np.ndarray:
    """`src` with its masked colour statistics moved to those of `ref` under `ref_mask`.

    Masks are float (H, W) in [0, 1] (any dtype; > 0 counts, values weight the
    statistics). `ref_mask` defaults to `src_mask` when `ref` has src's size, else to
    the whole of `ref`. Only pixels where src_mask > 0 change.
    """
    if method not in METHODS:
        raise RswapError(f"unknown colour transfer method {method!r}; choose one of {', '.join(METHODS)}")
    src_mask = np.asarray(src_mask, np.float32)
    if ref_mask is None:
        ref_mask = src_mask if ref.shape[:2] == src.shape[:2] else np.ones(ref.shape[:2], np.float32)
    ref_mask = np.asarray(ref_mask, np.float32)

    src_lab, box, sel, s_pix, s_w = _masked_lab(src, src_mask)
    _, _, _, r_pix, r_w = _masked_lab(ref, ref_mask)
    mu_s, cov_s = _weighted_stats(s_pix, s_w)
    mu_r, cov_r = _weighted_stats(r_pix, r_w)

    if method == "reinhard":
        gain = np.sqrt(np.maximum(np.diag(cov_r), _EPS) / np.maximum(np.diag(cov_s), _EPS))
        A = np.diag(gain)
    else:
        # A = C_r^1/2 C_s^-1/2 satisfies A C_s A^T = C_r: output covariance equals the reference's.
        A = _sqrtm(cov_r) @ _sqrtm(cov_s, inverse=True)
    moved = (s_pix - mu_s) @ A.T + mu_r

    lab = src_lab.copy()
    lab[sel] = moved.astype(np.float32)
    out = src.copy()
    region = out[box]
    region[sel] = _from_lab(lab)[sel]
    return out
