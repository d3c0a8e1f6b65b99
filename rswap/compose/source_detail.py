"""Detail for a flat source: its texture's contrast raised once, the target's skin grain per frame.

The sources that break most swaps by the eval's "flat" term are low-detail photos (video
stills, dark or compressed crops: ljm, ljm3, mars2): in the texture their face has a third of
a sharp face's gradient energy (1.8-2.7 grey levels a pixel against 6-7 for sharp sources and
5-9 for the eval's targets, 256² crops), and that energy predicted the source's mean flat term
across the eval's 24 sources far better than a blur estimate (re-blur ratios were alike for
sharp and soft sources: these faces are low in contrast at every fine scale, not just blurred).
So the pasted face read as a soft grey mask on a sharp target.

- `restore_detail`, once per source (`encode_source`): the texture's lightness detail (itself
  minus a blur of DETAIL_SIGMA) is raised by the gain that brings the face's gradient energy up
  to REFERENCE_ENERGY (at most MAX_GAIN; a sharp source gets none). Small amplitudes (under
  CORE grey levels: noise, JPEG blocks) are raised less (soft coring), and the result is held
  within OVERSHOOT grey levels of the original's 3x3 neighbourhood, so no edge grows a halo.
- `add_target_grain`, per frame (`ClassicalSwapper.swap`, after the colour match): a flat
  source's skin takes the target's own fine grain (its lightness minus a blur of GRAIN_SIGMA,
  clipped to GRAIN_CLIP so a fold or an outline is not carried) in the share of the reference
  detail the source lacked (`restore_detail`'s share: 0 for a sharp source, which pays nothing),
  on the skin only (the swap's detail mask: eyes, brows and lips 0). ~0.35 ms a 256² crop.
  Measured against the energy of the warped source per frame instead, the share came out 0 on
  the flattest sources: their colour-matched noise and blocks count as gradient energy.
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.compose.masks import mask_box
from rswap.face.landmarks import FACE_OVAL

REFERENCE_ENERGY = 6.0  # grey levels a pixel at a 256² crop: a sharp source's face (6-7), the targets' median ~7
MAX_GAIN = 3.0
DETAIL_SIGMA = 2.0 / 256  # the detail band raised, fraction of the crop: pores to the features' fine edges
CORE = 1.0  # grey levels: detail smaller than this is noise or compression and is raised less
OVERSHOOT = 3.0  # grey levels beyond the original's local range the raised detail may reach
GRAIN_SIGMA = 1.5 / 256  # the target grain's band, fraction of the crop: pores and freckles, below the features' edges
GRAIN_CLIP = 5.0  # grey levels: larger target detail (a fold, an outline) is not grain

def luma(rgb: np.ndarray) -> np.ndarray:
    """float32 (H, W) luminance (Rec. 601, OpenCV's RGB -> grey weights) of an RGB image."""
    return cv2.cvtColor(np.asarray(rgb, np.float32), cv2.COLOR_RGB2GRAY)


def gradient_energy(lum: np.ndarray, region: np.ndarray) -> float:
    """Mean gradient magnitude (grey levels a pixel) of `lum` over the bool `region`."""
    if not region.any():
        return 0.0
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
    return float(cv2.magnitude(gx, gy)[region].mean())


def face_region(hw: tuple[int, int], points: np.ndarray, erode: int) -> np.ndarray:
    """bool (H, W): the face oval of `points` shrunk by `erode` pixels, features included."""
    mask = np.zeros(hw, np.uint8)
    cv2.fillPoly(mask, [np.rint(np.asarray(points, np.float32)[FACE_OVAL]).astype(np.int32)], 255)
    if erode > 0:
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1)))
    return mask > 0


def detail_gain(texture: np.ndarray, points: np.ndarray) -> float:
    """The gain that lifts the face's gradient energy to REFERENCE_ENERGY (scaled to the
    texture's size), 1 for a face as detailed as that or more, at most MAX_GAIN."""
    size = texture.shape[0]
    energy = gradient_energy(luma(texture), face_region(texture.shape[:2], points, max(1, size // 64)))
    reference = REFERENCE_ENERGY * 256 / size  # gradients per pixel grow as the same face shrinks
    return float(np.clip(reference / max(energy, 1e-3), 1.0, MAX_GAIN))


def restore_detail(texture: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, float]:
    """(texture with its lightness detail raised, the grain share for `add_target_grain`):
    once per source. The share is the part of REFERENCE_ENERGY the texture lacked (0 for a
    sharp source, ~0.7 for the flattest eval sources)."""
    gain = detail_gain(texture, points)
    if gain <= 1.0:
        return texture, 0.0
    lum = luma(texture)
    detail = lum - cv2.GaussianBlur(lum, (0, 0), DETAIL_SIGMA * texture.shape[0])
    cored = detail * detail / (detail * detail + CORE * CORE)  # ~0 for noise, ~1 for real detail
    raised = lum + (gain - 1.0) * detail * cored
    box = np.ones((3, 3), np.uint8)
    raised = np.clip(raised, cv2.erode(lum, box) - OVERSHOOT, cv2.dilate(lum, box) + OVERSHOOT)
    out = texture.astype(np.float32) + (raised - lum)[..., None]  # the same change in R, G and B: no colour noise
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), float(1.0 - 1.0 / gain)


def add_target_grain(swapped: np.ndarray, target: np.ndarray, weight: np.ndarray, share: float) -> np.ndarray:
    """`swapped` with `share` of the target's fine grain (its lightness minus a blur of
    GRAIN_SIGMA, clipped to GRAIN_CLIP so a fold or an outline is not grain) added on the skin
    (`weight` (H, W) in [0, 1]: eyes, brows and lips 0), on the weight's box only."""
    skin = mask_box(weight != 0) if share > 0.0 else None
    if skin is None:
        return swapped
    pad = int(3 * GRAIN_SIGMA * target.shape[0]) + 1  # the blur's reach, so the box's grain is the whole crop's
    box = tuple(slice(max(0, s.start - pad), s.stop + pad) for s in skin)
    lum = luma(target[box])
    grain = cv2.min(cv2.max(lum - cv2.GaussianBlur(lum, (0, 0), GRAIN_SIGMA * target.shape[0]), -GRAIN_CLIP), GRAIN_CLIP)
    delta = cv2.multiply(np.asarray(weight[box], np.float32), grain, scale=share)
    out = swapped.copy()
    # OpenCV adds the float change to the uint8 pixels, rounds and saturates in one pass: 0.35 ms
    # where numpy's float copy, add, rint and clip took 0.9 at 256² (issue 11). A few pixels round
    # the other way (measured on the eval: 0-2 pixels of a face, one grey level apart).
    out[box] = cv2.add(swapped[box], cv2.merge([delta, delta, delta]), dtype=cv2.CV_8U)
    return out
