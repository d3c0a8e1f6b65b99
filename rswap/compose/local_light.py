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

`target_light_at` gives that place the target's light where the source's is darker: inside
the nose base (its tip, nostrils, wings and the skin just below, the hull grown a little and
feathered) the result's CIELAB colour blurred at a nostril's scale (SIGMA) is moved toward the
target's there, by what its lightness falls more than SLACK below the target's. The result's
finer detail (skin grain, the source's own nostril rims) stays on top, a lighter nose stays as
it is, and the nose above the tip (its bridge and width, which carry identity) stays the
source's. Taking the target's light both ways and over the whole lower nose removed twice as
many defective pairs but cost identity (closer to source 90.9% -> 89.0%, top-1 89.0% -> 86.0% on
264 pairs): the nostrils' shading is part of what dlib sees (RESULTS.md).
The crease under the lower lip is such a place too (BELOW_LIP, the lips themselves spared): a
source whose lower lip juts out (trump) carries its shadow there, and on a target lit there it
printed as a dark band under the mouth, the structure term's flags on 18 of trump's 22 eval pairs.
The same lift there: crops -> faces defective 220 -> 211 (trump 18 -> 14), closer to source 470
-> 470, top-1 464 -> 461 (near ties); 0.6 ms more a frame at 256² (RESULTS.md, twenty-second session).

`shade_below_occluders` gives the skin below what stays in front of the forehead (a cap's brim,
a fringe: rswap.compose.occluders) the target's shade there. A brim casts a hard shadow on the
forehead just below it, far finer than the coarse light's blur, so the swapped forehead came out
lit right up to the brim: a light band under the cap, and colour unlike both faces along it (21
of 24 sources onto 015259 defective, most flags under the brim; RESULTS.md, eighteenth session).
Near the occluders above the brows only, where the target's skin, blurred at SHADE_SIGMA, is more
than SHADE_SLACK grey levels darker than the result's, the result is darkened by the excess: 14
of those 24 pairs stay defective, identity as before. The same over the whole skin (the target's
mid-scale shade everywhere) removed defects too but cost 5 of 57 closer-to-source pairs on a
60-pair subset: the face's own shading is part of its identity. Hair falling over the sides of
the face (occluders.side_hair_box) shades the cheek beside it the same way, and the same step
gives that shade back (`above_brows=False`): on 2.jpg the swapped cheek came out lit up to her
lock, a pale band along it (RESULTS.md, twentieth session).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from rswap.compose.color import from_lab, to_lab
from rswap.compose.kernels import light_lift, smooth_ramp
from rswap.compose.masks import mask_box
from rswap.compose.source_detail import luma
from rswap.face.landmarks import BROWS

# The nose's lower part on mediapipe's mesh: the tip (1), columella and subnasale (19, 94, 2),
# the nostrils' rims and the lower wings (97/326, 98/327, 64/294, 240/460, 75/305).
NOSE_BASE = [1, 19, 94, 2, 97, 326, 98, 327, 64, 294, 240, 460, 75, 305]
# The crease under the lower lip: from just below the lip's outer edge (106 ... 335) to the chin's
# upper rise (204 ... 424), the lip itself left out (its colour is the source's).
BELOW_LIP = [106, 182, 83, 18, 313, 406, 335, 204, 194, 201, 200, 421, 418, 424]
GROW = 0.03  # where the weight falls to 0.5 beyond the points' hull (0 at twice that), fraction of the crop
SLACK = 6.0  # L units of the source's shade kept beyond the target's light
LIFT_RAMP = 4.0  # L units over which the colour move fades in
SIGMA = 0.02  # the scale of light taken from the target, fraction of the crop: a nostril's size
# shade_below_occluders, fractions of the crop: how far from an occluder the skin counts as near
# it (a Gaussian of NEAR_SIGMA, times NEAR_GAIN, capped at 1), and the blur of the shade taken.
NEAR_SIGMA, NEAR_GAIN = 0.04, 3.0
SHADE_SIGMA = 0.025
SHADE_SLACK = 4.0  # grey levels of the result's light kept above the target's shade


def target_light_at(result: np.ndarray, target: np.ndarray, points: np.ndarray, place: list[int],
                    spare: list[int] | None = None, grow: float = GROW, sigma: float = SIGMA) -> np.ndarray:
    """`result` (RGB uint8 crop) with the shadows in `place` (mesh indices: NOSE_BASE, BELOW_LIP)
    lifted to the light `target` (the same crop before the swap) has there, at the scale `sigma`,
    on the mesh `points` (both images' landmarks: the swap pins the nose and the lips); nothing
    changes inside the hull of `spare` (the lips beside BELOW_LIP). Only where the result's
    blurred lightness is more than SLACK below the target's: the excess is added to L, and the
    pixel takes the target's colour (a, b at that scale) as the excess grows past LIFT_RAMP. A
    lighter result (a source's own lit nose) is left as it is. `target_light_in` of one place."""
    return target_light_in(result, target, points, [(place, spare)], grow, sigma)


def target_light_in(result: np.ndarray, target: np.ndarray, points: np.ndarray,
                    places: list[tuple[list[int], list[int] | None]], grow: float = GROW,
                    sigma: float = SIGMA) -> np.ndarray:
    """`target_light_at` of several (place, spare) pairs in one pass: on the box that holds them
    all, their weights' maximum (each place's spared hull left out of its own weight), one change
    to the target's light and one lift. Works on that box, its statistics in 8-bit CIELAB and only
    the lifted pixels converted exactly. The swap's two places (the nose base, the crease under
    the lip) lie apart, and a call each cost twice the calls' Python glue (~0.1 ms of a 144² swap,
    under the GIL: issue 11, twenty-ninth session); one pass differs from two only where a place's
    blur reached the other's lifted pixels or the box's edge."""
    h, w = result.shape[:2]
    g = max(1, int(round(grow * h)))
    s = sigma * h
    pts = np.asarray(points, np.float32)
    hulls = [cv2.convexHull(pts[place])[:, 0] for place, _ in places]
    reach = 2 * g + int(np.ceil(2 * s))  # the ramp's and the blur's reach
    corners = np.concatenate(hulls)
    lo = np.maximum(np.floor(corners.min(0)).astype(int) - reach, 0)
    hi = np.minimum(np.ceil(corners.max(0)).astype(int) + reach + 1, (w, h))
    if (hi <= lo).any():
        return result
    box = (slice(lo[1], hi[1]), slice(lo[0], hi[0]))
    bh, bw = hi[1] - lo[1], hi[0] - lo[0]
    # Each region's weight: 1 inside the hull, 0.5 at g outside it, 0 at 2 g (a distance transform
    # on the box: the hull grown by g and blurred at g, as first made, cost 0.85 ms in a uint8
    # Gaussian; a ramp of full weight out to g took more of the target's nose and cost identity).
    weight = None
    for hull, (_, spare) in zip(hulls, places):
        outside = np.full((bh, bw), 255, np.uint8)
        cv2.fillPoly(outside, [np.rint(hull - lo).astype(np.int32)], 0)
        ramp = smooth_ramp(cv2.distanceTransform(outside, cv2.DIST_L2, 3), 1.0 / (2 * g))
        if spare is not None:
            spared = cv2.convexHull(pts[spare])[:, 0] - lo
            cv2.fillPoly(ramp, [np.rint(spared).astype(np.int32)], 0.0)
        weight = ramp if weight is None else cv2.max(weight, ramp)
    # The change to the target's light at this scale, in 8-bit CIELAB (8-bit a and b are CIELAB
    # units, L is 255/100 of them) on a half-size copy of the box: a blur of sigma keeps nothing
    # finer, and a blur is linear, so one blur of the difference.
    half = (max(1, bw // 2), max(1, bh // 2))
    lab = [cv2.cvtColor(cv2.resize(img[box], half, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2LAB) for img in (target, result)]
    change = cv2.GaussianBlur(cv2.subtract(lab[0], lab[1], dtype=cv2.CV_32F), (0, 0), s * half[0] / bw)
    change = cv2.resize(change, (bw, bh), interpolation=cv2.INTER_LINEAR)
    # The lift in one compiled pass (`kernels.light_lift`): the L excess over SLACK where it is more
    # than a quarter of an L unit (below it the 8-bit result does not change), and the colour
    # move's share, the excess over LIFT_RAMP.
    where, lift, shift = light_lift(weight, change, 100 / 255, SLACK, 1.0 / LIFT_RAMP, 0.25)
    if not lift.size:
        return result
    out = result.copy()
    region = out[box]
    lab = to_lab(region[where][None])
    lab[0, :, 0] += lift
    lab[0, :, 1:] += shift
    region[where] = from_lab(lab)[0]
    return out


def shade_below_occluders(result: np.ndarray, target: np.ndarray, weight: np.ndarray,
                          occluders: list[tuple[tuple[tuple[slice, slice], np.ndarray], bool]],
                          points: np.ndarray) -> np.ndarray:
    """`result` (RGB uint8 crop) with the skin near the `occluders` darkened to the shade `target`
    (the crop before the swap) has there. `occluders`: (found, above_brows) pairs, found a search's
    box and soft mask (`points`: the mesh in the crop); with above_brows, only its part above the
    brows counts (front_occluder_box's brim or fringe), without, all of it (side_hair_box's lock over
    a cheek). Where the target's skin mean within a Gaussian of SHADE_SIGMA is more than SHADE_SLACK
    grey levels below the result's, the result is darkened by the excess, times `weight` (H, W) in
    [0, 1] (the skin: eyes, brows and lips 0) and the nearness to the occluders. Both means are over
    the same skin (the pixels whose weighted nearness is above a half), so features and the
    occluders themselves count in neither. The change scales R, G and B alike (a shade dims a
    colour, it keeps its hue and saturation): the same grey levels off each channel made the
    shade a saturated orange-brown on a pale skin (the outer eye corner under simswap_specific1's
    lock, on every source; RESULTS.md, thirtieth session). Lighter places stay as they are.

    The nearness and the shade are smooth (blurs of 4% and 2.5% of the crop), so they are made
    on a half-size copy and scaled up; only the final product with `weight` is at full size
    (2.1-2.3 ms of CPU a call at 256² at full size, 0.76-0.84 ms so; the 8-bit results differ by at
    most 3 grey levels, PSNR 72 dB, on two eval pairs). All occluders in one pass, on the
    maximum of their masks: a pass each (a fringe and side hair: the astronaut) cost the glue
    twice, ~0.1 ms of a 144² swap under the GIL (issue 11, twenty-ninth session)."""
    h, w = weight.shape
    half = (max(1, w // 2), max(1, h // 2))
    near = np.zeros((h, w), np.float32)
    brows = max(0, math.ceil(np.asarray(points, np.float32)[BROWS, 1].min()))
    for (box, soft), above_brows in occluders:
        # Above the brows only for a brim or a fringe. Glasses' frames sit on the eyes, where the shade is
        # the face's own (taken there too, it cost simswap_specific2 4 of 16 closer-to-source pairs).
        if above_brows:
            rows = min(box[0].stop, brows) - box[0].start
            if rows <= 0:
                continue
            box, soft = (slice(box[0].start, box[0].start + rows), box[1]), soft[:rows]
        np.maximum(near[box], soft, out=near[box])
    near = cv2.resize(near, half, interpolation=cv2.INTER_AREA)
    near = cv2.min(cv2.multiply(cv2.GaussianBlur(near, (0, 0), NEAR_SIGMA * half[1]), NEAR_GAIN), 1.0)
    skin = (cv2.multiply(cv2.resize(np.asarray(weight, np.float32), half, interpolation=cv2.INTER_AREA), near) > 0.5)
    if not skin.any():
        return result
    skin = skin.astype(np.float32)
    sigma = SHADE_SIGMA * half[1]
    darker = cv2.subtract(luma(cv2.resize(target, half, interpolation=cv2.INTER_AREA)),
                          luma(cv2.resize(result, half, interpolation=cv2.INTER_AREA)))
    covered = np.maximum(cv2.GaussianBlur(skin, (0, 0), sigma), 1e-3)
    shade = cv2.GaussianBlur(cv2.multiply(darker, skin), (0, 0), sigma) / covered
    # The change at half size (nearness times the excess darkness), then at full size times the weight.
    change = cv2.multiply(cv2.min(shade + np.float32(SHADE_SLACK), 0.0), near)
    delta = cv2.multiply(cv2.resize(change, (w, h), interpolation=cv2.INTER_LINEAR), np.asarray(weight, np.float32))
    box = mask_box(delta != 0)
    if box is None:
        return result
    out = result.copy()
    # The luma change as a factor: luma is linear in R, G, B, so scaling them by (Y + delta) / Y
    # lowers Y by delta. OpenCV multiplies the uint8 pixels, rounds and saturates in one pass.
    light = luma(result[box])
    scale = cv2.divide(cv2.max(cv2.add(light, delta[box]), 0.0), cv2.max(light, 1.0))
    out[box] = cv2.multiply(result[box], cv2.merge([scale] * 3), dtype=cv2.CV_8U)
    return out
