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

`target_nose_light` gives that place the target's light where the source's is darker: inside
the nose base (its tip, nostrils, wings and the skin just below, the hull grown a little and
feathered) the result's CIELAB colour blurred at a nostril's scale (SIGMA) is moved toward the
target's there, by what its lightness falls more than SLACK below the target's. The result's
finer detail (skin grain, the source's own nostril rims) stays on top, a lighter nose stays as
it is, and the nose above the tip (its bridge and width, which carry identity) stays the
source's. Taking the target's light both ways and over the whole lower nose removed twice as
many defective pairs but cost identity (closer to source 90.9% -> 89.0%, top-1 89.0% -> 86.0% on
264 pairs): the nostrils' shading is part of what dlib sees (RESULTS.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.compose.color import from_lab, to_lab

# The nose's lower part on mediapipe's mesh: the tip (1), columella and subnasale (19, 94, 2),
# the nostrils' rims and the lower wings (97/326, 98/327, 64/294, 240/460, 75/305).
NOSE_BASE = [1, 19, 94, 2, 97, 326, 98, 327, 64, 294, 240, 460, 75, 305]
GROW = 0.03  # where the weight falls to 0.5 beyond the points' hull (0 at twice that), fraction of the crop
SLACK = 6.0  # L units of the source's shade kept beyond the target's light
LIFT_RAMP = 4.0  # L units over which the colour move fades in
SIGMA = 0.02  # the scale of light taken from the target, fraction of the crop: a nostril's size


def target_nose_light(result: np.ndarray, target: np.ndarray, points: np.ndarray,
                      grow: float = GROW, sigma: float = SIGMA) -> np.ndarray:
    """`result` (RGB uint8 crop) with the shadows at its nose base lifted to the light `target`
    (the same crop before the swap) has there, at the scale `sigma`, on the mesh `points` (both
    images' landmarks: the swap pins the nose). Only where the result's blurred lightness is more
    than SLACK below the target's: the excess is added to L, and the pixel takes the target's
    colour (a, b at that scale) as the excess grows past LIFT_RAMP. A lighter result (a source's
    own lit nose) is left as it is. Works on the nose's box, its statistics in 8-bit CIELAB and
    only the lifted pixels converted exactly."""
    h, w = result.shape[:2]
    g = max(1, int(round(grow * h)))
    s = sigma * h
    hull = cv2.convexHull(np.asarray(points, np.float32)[NOSE_BASE])[:, 0]
    reach = 2 * g + int(np.ceil(2 * s))  # the ramp's and the blur's reach
    lo = np.maximum(np.floor(hull.min(0)).astype(int) - reach, 0)
    hi = np.minimum(np.ceil(hull.max(0)).astype(int) + reach + 1, (w, h))
    if (hi <= lo).any():
        return result
    box = (slice(lo[1], hi[1]), slice(lo[0], hi[0]))
    bh, bw = hi[1] - lo[1], hi[0] - lo[0]
    # The region's weight: 1 inside the hull, 0.5 at g outside it, 0 at 2 g (a distance transform
    # on the box: the hull grown by g and blurred at g, as first made, cost 0.85 ms in a uint8
    # Gaussian; a ramp of full weight out to g took more of the target's nose and cost identity).
    outside = np.full((bh, bw), 255, np.uint8)
    cv2.fillPoly(outside, [np.round(hull - lo).astype(np.int32)], 0)
    t = np.clip(1.0 - cv2.distanceTransform(outside, cv2.DIST_L2, 3) * (1.0 / (2 * g)), 0.0, 1.0)
    weight = t * t * (3.0 - 2.0 * t)
    # The change to the target's light at this scale, in 8-bit CIELAB (8-bit a and b are CIELAB
    # units, L is 255/100 of them) on a half-size copy of the box: a blur of sigma keeps nothing
    # finer, and a blur is linear, so one blur of the difference.
    half = (max(1, bw // 2), max(1, bh // 2))
    lab = [cv2.cvtColor(cv2.resize(img[box], half, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2LAB) for img in (target, result)]
    change = cv2.GaussianBlur(cv2.subtract(lab[0], lab[1], dtype=cv2.CV_32F), (0, 0), s * half[0] / bw)
    change = cv2.resize(change, (bw, bh), interpolation=cv2.INTER_LINEAR)
    excess = change[..., 0] * np.float32(100 / 255) - np.float32(SLACK)
    lift = weight * np.maximum(excess, 0.0)
    where = lift > 0.25  # a quarter of an L unit: below it the 8-bit result does not change
    if not where.any():
        return result
    gate = (weight * np.clip(excess * (1.0 / LIFT_RAMP), 0.0, 1.0))[where]
    out = result.copy()
    region = out[box]
    lab = to_lab(region[where][None])
    lab[0, :, 0] += lift[where]
    lab[0, :, 1:] += gate[:, None] * change[where][:, 1:]
    region[where] = from_lab(lab)[0]
    return out
