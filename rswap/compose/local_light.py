"""The target's own light at the base of the nose (issue 10, sixth session).

Under and around a nose the light makes a picture of its own: the nostrils' openings, the
shade the tip casts on the upper lip, the lit underside of a raised head. A source carries
its photo's version of that (a frontal source's dark nostrils and the shadow under its tip,
a moustache's edge) and the per-frame colour match cannot move it: its coarse light is a
blur over 15% of the crop, five times the size of a nostril. Warped onto a target whose
nose base is lit differently (a raised head, a top light, a smile that stretches the upper
lip), the source's nose shadow lands on the target's lit skin: a dark brown blob below the
nose, the eval's commonest colour defect on the targets that break most swaps (on the eight
worst targets, most colour-flagged pixels lay at the nose base in 80 of their 137 defective
pairs; RESULTS.md, issue 10 sixth session).

`target_nose_light` gives that place the target's light: inside the nose base (its wings,
tip, nostrils and the skin below, grown a little and feathered) the result's CIELAB colour
blurred at a few pixels is replaced by the target's there, and the result's finer detail
(skin grain, the source's own nostril rims) stays on top. The nose's shape above the wings
(its bridge and width, which carry identity) stays the source's.
"""

from __future__ import annotations

import cv2
import numpy as np

# The nose's lower part on mediapipe's mesh: tip (1, 4, 5), columella and subnasale (19, 94,
# 2), the nostrils' rims and the wings (97/326, 98/327, 64/294, 240/460, 75/305, 48/278) and the
# wings' creases (115/344).
NOSE_BASE = [1, 19, 94, 2, 97, 326, 98, 327, 64, 294, 240, 460, 75, 305]
GROW = 0.03  # the region's growth beyond the points' hull (and its feather), fraction of the crop
SLACK = 3.0  # L units of the source's shade kept beyond the target's light
LIFT_RAMP = 4.0  # L units over which the colour move fades in
SIGMA = 0.02  # the scale of light taken from the target, fraction of the crop: a nostril's size


def target_nose_light(result: np.ndarray, target: np.ndarray, points: np.ndarray,
                      grow: float = GROW, sigma: float = SIGMA) -> np.ndarray:
    """`result` (RGB uint8 crop) with its light at the nose base taken from `target` (the same
    crop before the swap) at the scale `sigma`, on the mesh `points` (both images' landmarks:
    the swap pins the nose). Works on the nose's box only (~0.2 ms at 256²)."""
    h, w = result.shape[:2]
    g = max(1, int(round(grow * h)))
    s = sigma * h
    hull = cv2.convexHull(np.asarray(points, np.float32)[NOSE_BASE])[:, 0]
    reach = 2 * g + int(np.ceil(3 * s))  # the feather's and the blur's reach
    lo = np.maximum(np.floor(hull.min(0)).astype(int) - reach, 0)
    hi = np.minimum(np.ceil(hull.max(0)).astype(int) + reach + 1, (w, h))
    if (hi <= lo).any():
        return result
    box = (slice(lo[1], hi[1]), slice(lo[0], hi[0]))
    mask = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
    cv2.fillPoly(mask, [np.round(hull - lo).astype(np.int32)], 255)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1)))
    weight = cv2.GaussianBlur(mask.astype(np.float32) * np.float32(1 / 255), (0, 0), g)
    res = cv2.cvtColor(result[box].astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2LAB)
    tgt = cv2.cvtColor(target[box].astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2LAB)
    change = cv2.GaussianBlur(tgt, (0, 0), s) - cv2.GaussianBlur(res, (0, 0), s)
    # Only where the result is much the darker (a shadow the target's light does not make there),
    # and only by what is beyond SLACK: a source's own nostrils and soft shade stay.
    excess = change[..., 0] - SLACK
    gate = weight * np.clip(excess * (1.0 / LIFT_RAMP), 0.0, 1.0)
    res[..., 0] += weight * np.maximum(excess, 0.0)
    res[..., 1:] += gate[..., None] * change[..., 1:]
    out = result.copy()
    out[box] = np.clip(np.rint(cv2.cvtColor(res, cv2.COLOR_LAB2RGB) * 255.0), 0, 255).astype(np.uint8)
    return out
