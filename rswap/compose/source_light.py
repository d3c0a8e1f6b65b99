"""Even out the light on a source texture (once per source): its own shading and colour cast out.

The per-frame colour match (`color.match_face_colour`) moves the source skin's mean and spread
to the target's and adds the difference of the two faces' very coarse light (15% of the crop).
What lies between that scale and the skin's detail stays the source's: a face lit green from
one side (a video frame), the deep shade on one side of a hard-lit or dark-skinned face. Lifted
to a light target's brightness, those regions keep the low chroma that darkness has and read as
grey or grey-green patches with the shade's edge (lcw, dnl, james in the eval).

So, in CIELAB, the skin's local mean colour (a normalised blur at 5% of the crop over the skin,
leaving out what is much darker than the skin's coarse brightness around it: a beard, hair,
nostrils, deep creases are no light) minus the skin's mean is subtracted from the whole face:
its colour cast entirely, half of its shading (`KEEP_SHADING`: the shading of the nose and
cheekbones carries identity; taking all of it out cost 1 point of closer-to-source on the
crops -> faces eval, half of it 0.8 and kept top-1 and the cosine to the source). Detail keeps its
amplitude (an additive change; dividing out the light in linear RGB amplified a shadow's
compressed detail and its noise). One more step keeps the per-frame match honest: it scales the
skin's spread by (target's / source's) ** 0.5, and with the light gone the source's spread is
smaller, so its detail came out bolder on every target (measured on the hard set: closer to
source 91% -> 96%, but 4 more defective pairs, the structure term up 20%). The deviations from
the skin's mean are therefore shrunk by (spread after / spread before) ** `SHRINK_POWER`: 1 gives
the detail exactly its old amplitude (defects down, identity down too), 0.5 is between
(RESULTS.md, issue 10 fourth pass).
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.compose.color import masked_blur
from rswap.face.landmarks import FACE_OVAL, LEFT_BROW, LEFT_EYE_LOOP, LIPS, RIGHT_BROW, RIGHT_EYE_LOOP

LIGHT_SIGMA = 0.05  # scale of the light taken out, fraction of the crop (the per-frame match works at 0.15)
KEEP_SHADING = 0.5  # share of the lightness variation kept (0: all of it goes, 1: only the colour cast goes)
COARSE_SIGMA = 0.15  # the skin's coarse brightness (the per-frame match's scale), fraction of the crop
NOT_SKIN = 0.35  # a pixel darker than this share of the coarse brightness (linear light) is no skin
MAX_LIFT = 30.0  # the most the lightness moves (L units): a black beard is never lifted to skin
SHRINK_POWER = 0.5  # how much of the spread's loss is given back to the per-frame match (module doc)
_Y = np.array([0.2126, 0.7152, 0.0722], np.float32)  # linear RGB -> luminance


def _luminance(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32) * (1.0 / 255.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) @ _Y


def skin_weight(hw: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """float32 (H, W): the face oval without eyes, brows and lips (1), else 0."""
    pts = np.asarray(points, np.float32)
    mask = np.zeros(hw, np.uint8)
    cv2.fillPoly(mask, [np.round(pts[FACE_OVAL]).astype(np.int32)], 1)
    for idx in (RIGHT_EYE_LOOP, LEFT_EYE_LOOP, RIGHT_BROW, LEFT_BROW, LIPS):
        cv2.fillPoly(mask, [np.round(cv2.convexHull(pts[idx])[:, 0]).astype(np.int32)], 0)
    return mask.astype(np.float32)


def even_light(texture: np.ndarray, points: np.ndarray, sigma: float = LIGHT_SIGMA, keep: float = KEEP_SHADING) -> np.ndarray:
    """`texture` (aligned source crop, RGB uint8) with the light on its face evened out (module doc).

    points: its mesh points (crop pixels). Pixels outside the face oval are returned as they
    are; inside, the change fades in over the oval's edge (2% of the crop)."""
    hw = texture.shape[:2]
    skin = skin_weight(hw, points)
    if skin.sum() < 50:
        return texture.copy()
    y = _luminance(texture)
    coarse = masked_blur(np.repeat(y[..., None], 3, -1), skin, COARSE_SIGMA * hw[0])[..., 0]
    weight = skin * (y >= NOT_SKIN * coarse)
    if weight.sum() < 50:
        return texture.copy()
    lab = cv2.cvtColor(texture.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB)
    mean = (lab * weight[..., None]).reshape(-1, 3).sum(0) / weight.sum()
    shift = masked_blur(lab, weight, sigma * hw[0]) - mean  # the skin's local colour's departure from its mean
    shift[..., 0] = np.clip(shift[..., 0] * (1.0 - keep), -MAX_LIFT, MAX_LIFT)
    even = lab - shift
    sk = skin > 0
    ratio = np.minimum(even[sk].std(0) / np.maximum(lab[sk].std(0), 1e-3), 1.0)
    even = mean + (even - mean) * (ratio ** SHRINK_POWER).astype(np.float32)
    oval = np.zeros(hw, np.float32)
    cv2.fillPoly(oval, [np.round(np.asarray(points, np.float32)[FACE_OVAL]).astype(np.int32)], 1.0)
    oval = cv2.GaussianBlur(oval, (0, 0), 0.02 * hw[0])[..., None]
    out = cv2.cvtColor((oval * even + (1.0 - oval) * lab).astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)




SKIN_HUE = 55.0  # CIELAB hue angle (degrees) of skin in neutral light: people differ along it (and in lightness)
SKIN_SPREAD = 4.0  # how far (a, b units) a skin in neutral light lies across that line; beyond, it is a cast
# CIELAB chroma over (L + 16) that a skin in neutral light stays under (free of exposure: light
# scales both); a more saturated frame is toned down. A washed-out one is not boosted: raising a
# nearly grey skin (ljm2, chroma 2.3) to 0.12 tripled its colour noise into green-grey patches.
SKIN_CHROMA = (0.0, 0.35)


def _to_linear(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32) * (1.0 / 255.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _from_linear(lin: np.ndarray) -> np.ndarray:
    x = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.maximum(lin, 0.0031308) ** (1 / 2.4) - 0.055)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _lab_to_linear(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(np.asarray(lab, np.float32).reshape(1, 1, 3), cv2.COLOR_LAB2RGB)[0, 0]
    return _to_linear(np.clip(rgb * 255.0, 0, 255))


def _second_light_out(lab: np.ndarray, weight: np.ndarray, along: np.ndarray) -> np.ndarray:
    """`lab` (CIELAB) with the part of its skin's colour that changes with lightness, where no skin's
    own colour does, taken out of every pixel: the colour of a second light that fills the shade.
    `along`: the skin line's direction in (a, b).

    One light's colour multiplies every pixel alike and leaves each one's chromaticity (a, b over
    L + 16: an exposure scales all three); the gains in `neutral_light` take that out. A frame lit by
    a white key light with a green fill or bounce (hzc in the eval) has green shade: its darker skin
    lies farther across the skin line than its lit skin (a over L + 16: -0.36 at L 12 against -0.24 at
    L 65 on hzc's crop). The gains fix the median only, so the shade stayed green (under the eyes,
    the cheeks' sides, the stubble), and per frame a dark pixel takes only its share of the skin's
    colour change (`match_face_colour`): olive patches on every warm target. So the chromaticity
    across and along the line is fitted as a straight line in L over the skin (least squares, L held
    to the skin's 5th-95th percentiles so dark hair and glare do not lever it), and a slope that is a
    light's is taken out of every pixel in proportion to its (L + 16), as a light would put it there;
    at the skin's median lightness nothing changes.
    - Across the line, a shade greener than the lit skin (slope < 0: 11 of the eval's 24 sources, most
      of all lcw, ljm, ljm2, hzc). A shade redder than the lit skin (the other 13: cage, trump, ds,
      jl, mouth_open most) is left as it is: taking that out too turned cage's shaded far cheek
      blue-grey on 015384 (RESULTS.md, issue 10, seventh session).
    - Along the line, a shade less saturated than the lit skin (slope > 0): a cool fill, a blue sky's
      or a blue-lit frame's (zxy, per unit of L + 16 +0.0048; ljm +0.0017, lcw +0.0002; the other 21
      sources -0.001 to -0.012). A dark skin's deeper, more saturated shade and a sheen's paler
      highlight (slope < 0) are the skin's own. Left in, zxy's shade came out grey-violet on every
      warm target: eye sockets, nose sides, chin. (Its texture's darkest tenth of skin against its
      lightest: a, b -4.5, -5.6 units with it left in, -0.4, -0.3 now; RESULTS.md, issue 10,
      twenty-third session.)"""
    across = np.array([-along[1], along[0]], np.float32)
    px = lab[weight]
    light = px[:, 0]
    chroma = (px[:, 1:] @ np.stack([across, along], 1)) / (light + 16.0)[:, None]  # chromaticity across, along
    lo, mid, hi = np.percentile(light, [5, 50, 95])
    x = np.clip(light, lo, hi) - mid
    slopes = (x @ (chroma - chroma.mean(0))) / max(float(x @ x), 1e-6)
    # Only a greener shade across the line, a greyer one along it: what a second light puts there.
    light_colour = min(float(slopes[0]), 0.0) * across + max(float(slopes[1]), 0.0) * along
    move = (np.clip(lab[..., 0], lo, hi) - mid) * (lab[..., 0] + 16.0)  # per pixel, times the slopes: a, b units
    out = lab.copy()
    out[..., 1:] -= move[..., None] * light_colour.astype(np.float32)
    return out


def neutral_light(texture: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`texture` (aligned source crop or texture, RGB uint8) with its light's colour taken out of
    every pixel, features and all (once per source; `points`: its mesh points).

    `even_light` takes out the skin's local cast around its mean; the mean's own cast stays, and the
    per-frame match moves it to the target's skin as one shift in CIELAB for every pixel. A green-lit
    frame's skin moves a long way toward red there, and the brows, eyes and moustache, which are dark
    and nearly grey, move as far: they came out purple (lcw in the eval). A light's colour multiplies,
    so it is taken out as a light does it: gains on linear RGB that move the skin's median colour
    back onto the skin line (hue SKIN_HUE: people differ along it, so only what lies across it beyond
    SKIN_SPREAD is the light's; a warm or cool light along it is left to the per-frame match) and
    leave its lightness; a dark brow then moves as little as the light moved it. A light cool enough
    to push the skin along the line past grey to blue (zxy in the eval: a, b = -7.7, -14; no other
    source below -0.5) is the light's too, and its gains take the skin back to grey: left to the
    per-frame match, its dark brows and eyes took a small share of a long move and came out purple
    and lavender (RESULTS.md, issue 10, twenty-first session). A skin's chroma above skin's range (an
    over-saturated frame) is a saturation, not a cast: every pixel's chroma is scaled alike, so what
    is grey stays grey (gains there turned a grey moustache green); a washed-out frame is left as it is (SKIN_CHROMA). A second
    light's colour in the shade (a green or blue fill) is taken out between the two (`_second_light_out`). Lightness is left alone: scaling a dim source's eyes and
    brows with an exposure to a normal skin lightness (so they stay as dark against the skin as they
    were, not lifted to grey) cost identity on the hard set (closer to source 93% -> 90%) and counted
    more defects; doing it for everything darker than the skin's dark tail counted more still
    (RESULTS.md, issue 10 fifth session)."""
    hw = texture.shape[:2]
    skin = skin_weight(hw, points)
    if skin.sum() < 50:
        return texture.copy()
    lin = _to_linear(texture)
    y = lin @ _Y
    coarse = masked_blur(np.repeat(y[..., None], 3, -1), skin, COARSE_SIGMA * hw[0])[..., 0]
    weight = (skin > 0) & (y >= NOT_SKIN * coarse)  # skin, without beard, hair and deep creases (as even_light)
    if weight.sum() < 50:
        return texture.copy()
    lab = cv2.cvtColor(texture.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB)
    med = np.median(lab[weight], axis=0)
    along = np.array([np.cos(np.radians(SKIN_HUE)), np.sin(np.radians(SKIN_HUE))], np.float32)
    across = np.array([-along[1], along[0]], np.float32)
    off = float(med[1:] @ across)
    cast = np.sign(off) * max(abs(off) - SKIN_SPREAD, 0.0)
    cool = min(float(med[1:] @ along), 0.0)  # bluer than grey along the line: no skin's colour, a cool light's
    want = np.array([med[0], *(med[1:] - cast * across - cool * along)], np.float32)
    out = _from_linear(lin * (_lab_to_linear(want) / np.maximum(_lab_to_linear(med), 1e-5)))
    lab = cv2.cvtColor(out.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB)
    lab = _second_light_out(lab, weight, along)
    med = np.median(lab[weight], axis=0)
    have = float(np.hypot(med[1], med[2])) / (med[0] + 16.0)
    lab[..., 1:] *= float(np.clip(have, *SKIN_CHROMA)) / max(have, 1e-3)
    return np.clip(np.rint(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0), 0, 255).astype(np.uint8)
