"""Where the target's own rim is skin: the per-pixel choice of where the swap's mask starts.

The classical swap's face mask ramps in from a whole feather inside the face oval. Starting it
at the oval (`FACE_ERODE`) with a source texture whose rim is skin (source_rim.py) shows more of
the source's cheeks and jaw (eval: top-1 +14 of 528, +10 of 160 hard), and also lays the
source's lit skin where the TARGET's own rim, inside its mesh oval, is shade, hair or
background (+22 / +4 defective pairs; RESULTS.md, issue 10 ninth session). `skin_rim_weight`
says, per pixel of the target crop, how skin-like the target is there: near 1 where its coarse
colour is near its own inner skin's, near 0 where it is well darker, lighter or of another
hue. The swap takes the mask that starts at the oval where it is 1 and the one a feather inside
where it is 0. Worked on a 4x smaller copy of the crop (the band is a few pixels wide at 256²
and only a coarse colour is asked): ~0.1 ms a frame at 256².
"""

from __future__ import annotations

import cv2
import numpy as np

SCALE = 4  # the crop is judged at 1/SCALE of its size
DARKER = (3.0, 8.0)  # L units below the inner skin's median where a pixel starts / ends being not-skin
LIGHTER = (8.0, 15.0)  # ... above it
HUE = (6.0, 12.0)  # a, b distance from the inner skin's (hair, background of another colour)


def _smooth01(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def skin_rim_weight(crop: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: how much the target crop (RGB uint8) is like its own inner skin
    at each pixel. skin: (H, W) float mask of that inner skin (the swap's target skin mask,
    the oval a feather in without eyes, brows and lips). No skin to go by: zeros (the ramp
    stays a feather inside, as before)."""
    h, w = crop.shape[:2]
    size = (max(1, w // SCALE), max(1, h // SCALE))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2LAB)
    inner = cv2.resize(skin.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.9
    if inner.sum() < 20:
        return np.zeros((h, w), np.float32)
    ref = np.median(lab[inner], axis=0)
    gap = lab[..., 0] - ref[0]
    hue = np.hypot(lab[..., 1] - ref[1], lab[..., 2] - ref[2])
    like = (1.0 - _smooth01(-gap, *DARKER)) * (1.0 - _smooth01(gap, *LIGHTER)) * (1.0 - _smooth01(hue, *HUE))
    like = cv2.GaussianBlur(like.astype(np.float32), (0, 0), 0.75)
    return cv2.resize(like, (w, h), interpolation=cv2.INTER_LINEAR)


AGREE = (4.0, 10.0)  # coarse ΔE between the colour-matched source and the target where the oval's ramp stops being taken


def rim_agreement(warped: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 1 where the colour-matched warped source and the target crop
    (both RGB uint8) have nearly the same coarse colour, 0 where they differ by AGREE[1] ΔE or
    more. A skin rim the source does not match in light (its lit cheek on the target's shaded
    one) would show a seam at the oval; there the ramp stays a feather inside."""
    h, w = target.shape[:2]
    size = (max(1, w // SCALE), max(1, h // SCALE))
    labs = [cv2.cvtColor(cv2.resize(x, size, interpolation=cv2.INTER_AREA).astype(np.float32) * np.float32(1 / 255),
                         cv2.COLOR_RGB2LAB) for x in (warped, target)]
    apart = np.linalg.norm(labs[0] - labs[1], axis=2)
    agree = cv2.GaussianBlur((1.0 - _smooth01(apart, *AGREE)).astype(np.float32), (0, 0), 0.75)
    return cv2.resize(agree, (w, h), interpolation=cv2.INTER_LINEAR)


RIM_LIGHT_SIGMA = 0.02  # what "the light" at the rim means: a blur 2% of the crop (5 px at 256²), finer than the shading match's 15%
GAIN_LIMIT = (0.5, 1.0)  # the source's rim is only darkened, at most to half: lightening a source rim to a lit target chin drew a light crescent (dnl -> simswap_specific3, structure 0.009 -> 0.016)


def _rim_gain(warped, target, skin, inner, rim, valid, sigma):
    """(box, band, gain, support) on the band's box, or None: the ratio of the target's coarse
    grey level to the warped source's, both over the same pixels (module doc of match_rim_light)."""
    band = skin * (1.0 - inner) * (rim > 0)
    x, y, w, h = cv2.boundingRect((band > 0.01).astype(np.uint8))
    if w == 0 or h == 0:
        return None
    pad = int(np.ceil(3 * sigma)) + 1
    y0, y1 = max(0, y - pad), min(warped.shape[0], y + h + pad)
    x0, x1 = max(0, x - pad), min(warped.shape[1], x + w + pad)
    box = np.s_[y0:y1, x0:x1]
    sample = (skin[box] * (rim[box] > 0) * valid[box]).astype(np.float32)
    blur = lambda a: cv2.GaussianBlur(a, (0, 0), sigma)  # noqa: E731
    grey = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)  # noqa: E731
    coarse_t = blur(grey(target[box]) * sample)
    coarse_s = blur(grey(warped[box]) * sample)
    gain = np.clip(coarse_t / np.maximum(coarse_s, 1.0), *GAIN_LIMIT)
    return box, band[box], gain, _smooth01(blur(sample), 0.1, 0.3)


REACH = (0.05, 0.15)  # |gain - 1| where the ramp at the oval starts / stops being taken (reach variant)


def rim_light_reach(warped, target, skin, inner, rim, valid, sigma):
    """(H, W) float32: 1 where the two rims' coarse light agrees, falling to 0 where the target's
    is REACH[1] darker or lighter than the source's (the ramp then stays a feather inside)."""
    out = np.ones(skin.shape, np.float32)
    got = _rim_gain(warped, target, skin, inner, rim, valid, sigma)
    if got is not None:
        box, band, gain, support = got
        out[box] = 1.0 - support * _smooth01(np.abs(gain - 1.0), *REACH)
    return out


def match_rim_light(warped: np.ndarray, target: np.ndarray, skin: np.ndarray, inner: np.ndarray, rim: np.ndarray,
                    valid: np.ndarray, sigma: float, strength: float = 1.0) -> np.ndarray:
    """RGB uint8: `warped` (the colour-matched warped source) with its coarse light in the
    outer band of the oval moved to the target's own there.

    The colour match's shading term is 15% of the crop wide; the ramp at the oval is 5 px wide.
    A source rim made skin at its inner skin's light (source_rim.py) then meets a target rim
    that is skin but shaded (a jaw, a turned face's far cheek) as a light seam at the oval.
    Here the two coarse lightnesses (grey level, normalised blur of `sigma` px over the pixels
    both sides count: the target's skin-like rim `skin` inside the oval `rim` > 0, where the
    source has pixels `valid`) are compared, and the source is scaled by their ratio: in full
    where the target's main mask `inner` is 0 (the outer band), fading to nothing where it
    reaches 1, and only as far as `skin` says the target's rim is skin. Works on the band's
    box only; a handful of whole-window OpenCV calls."""
    got = _rim_gain(warped, target, skin, inner, rim, valid, sigma)
    if got is None:
        return warped
    box, band, gain, support = got
    k = 1.0 + (strength * band * support) * (gain - 1.0)
    out = warped.copy()
    out[box] = np.clip(warped[box].astype(np.float32) * k[..., None] + 0.5, 0, 255).astype(np.uint8)
    return out
