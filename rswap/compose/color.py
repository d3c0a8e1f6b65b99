"""Colour transfer inside a mask: make one face's colours match another's.

Both methods work in CIELAB (perceptual, lightness separated from colour) on the
masked pixels only, weighting each pixel by the mask:
- "reinhard": match each channel's mean and standard deviation (Reinhard et al. 2001);
- "lct": linear colour transform matching the full mean and covariance, so colour
  casts that mix channels are also corrected.
Pixels where the mask is 0 are returned unchanged.

`match_shading` then moves the colour locally: it adds the difference of the two
images' coarse (heavily blurred) skin colour, so the source keeps its fine texture but
takes the reference's light direction and any tone gradient across the face.
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.compose.kernels import (CUBE_ROOT, SRGB_LINEAR, area_sums, eye_chroma_goal, hair_candidates,
                                  hold_range, lightness_pair, move_feature_chroma, pieces_at, put_where, rgb8, shadow_lift)
from rswap.compose.masks import mask_box
from rswap.errors import RswapError

METHODS = ("reinhard", "lct")
# The most a reinhard match of *detail* spreads (`detail_spread`: the face match, whose coarse light
# moves on its own) scales the source skin's colour detail (a, b; lightness is not capped; a whole
# spread, which a light's colour widens, is not capped either).
# A dim or washed-out photo (a video frame: ljm, ljm3, mars2, lcw in the eval) has a, b detail of
# 0.6-0.9 units against a target's 3-5, so the match scaled it 3-5x; that detail is mostly the
# codec's (video and JPEG keep colour at half resolution and quantise it hardest), and raised it
# showed as pink, violet and green blotches round the eyes and on the cheeks. Capped at 1.5, those
# pairs' lightness detail is unchanged and the blotches are gone (benchmarks/RESULTS.md, issue 10,
# twenty-second session). Of 84 pairs sampled, sources sharper than those and dnl met the cap only
# in b on two targets (015384 and simswap_Iron_man: up to 1.8).
DETAIL_CHROMA_GAIN_MAX = 1.5
_EPS = 1e-3  # variance floor (Lab units²): flat regions must not blow up the gain


def lab8(rgb: np.ndarray) -> np.ndarray:
    """Float CIELAB (L 0..100, a and b centred) from OpenCV's 8-bit conversion: for per-frame
    masks and statistics, where the 8-bit path's ~5x speed matters more than its rounding."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2LAB).astype(np.float32)
    lab -= np.array([0.0, 128.0, 128.0], np.float32)
    lab[..., 0] *= 100.0 / 255.0
    return lab


def to_lab(img: np.ndarray) -> np.ndarray:
    """RGB uint8 -> float32 CIELAB (L 0-100): the exact conversion, for the pixels a step changes.
    (The scaling in one numpy pass, as float32: a cast and a product were two.)"""
    return cv2.cvtColor(np.multiply(img, np.float32(1.0 / 255.0), dtype=np.float32), cv2.COLOR_RGB2LAB)


def to_lab_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`to_lab` of two images of one shape in one conversion (stacked): the same values, one
    OpenCV call fewer (the colour match and the eye range convert both faces' boxes)."""
    lab = to_lab(np.concatenate([a, b]))
    return lab[: len(a)], lab[len(a):]


def from_lab(lab: np.ndarray) -> np.ndarray:
    """float32 CIELAB -> RGB uint8, rounded and clipped."""
    return rgb8(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB))


def _weighted_stats(lab: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (3,) and covariance (3, 3) of Lab pixels (..., 3) under weights (...)."""
    x = lab.reshape(-1, 3).astype(np.float64)
    w = weight.reshape(-1).astype(np.float64)
    w /= w.sum()
    mean = w @ x
    second = (x * w[:, None]).T @ x
    return mean, second - np.outer(mean, mean)


def _reinhard_gain(var_r: np.ndarray, var_s: np.ndarray, spread: float, raise_spread: float | None,
                   chroma_max: float = np.inf) -> np.ndarray:
    """Per channel, the deviation ratio (ref over src) to the power `spread`, or `raise_spread`
    where the ratio is above 1 (the reference the more contrasty) and it is given; a and b at
    most `chroma_max`."""
    ratio = np.sqrt(np.maximum(var_r, _EPS) / np.maximum(var_s, _EPS))
    gain = ratio ** np.where(ratio > 1.0, spread if raise_spread is None else raise_spread, spread)
    gain[1:] = np.minimum(gain[1:], chroma_max)
    return gain


def detail_spread(lab: np.ndarray, weight: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Per channel, the standard deviation of the skin's detail: its Lab pixels (weight > 0) minus
    their coarse light `coarse` (the masked blur the shading match moves).

    Why not the skin's own spread: the shading match already gives the source the target's coarse
    light, and a target lit from one side, or darker at its rim, has a wide spread of skin colour
    that is light, not texture. Matched, that spread scaled the source's wrinkles, pores and a
    video frame's compression blocks up 1.5-3x in L and 2-4x in b: dark mottle and grey-violet
    patches (ljm, trump -> simswap_specific1; turned_gy, hair_dnl -> mars2). Measured on both eval
    sets (benchmarks/RESULTS.md, issue 10, sixteenth session): defective pairs 244 -> 233 and
    89 -> 88 at the same closer-to-source counts, with `classical.COLOR_SPREAD` 0.5 -> 0.6."""
    mask = (weight > 0).astype(np.uint8)
    _, sd = cv2.meanStdDev(lab - coarse, mask=mask)
    return sd[:, 0]


# Hair over the sides of a target's face (`side_hair`): lightness detail more than HAIR_DEPTH of the
# skin's detail deviations below its coarse light, and darker than HAIR_DARK of the skin's median
# lightness (hair, not a shadow); in pieces of at least HAIR_AREA of the skin that reach the skin's
# outer rim (HAIR_RIM of its size) on its left or right HAIR_SIDE, above HAIR_TOP of its height
# (strands fall in from beside the face; a nostril, a crease or a jaw's shade does not).
HAIR_DEPTH, HAIR_DARK = 2.5, 0.6
HAIR_RIM, HAIR_SIDE, HAIR_TOP, HAIR_AREA = 0.06, 0.25, 0.7, 0.005


def side_hair(light: np.ndarray, skin: np.ndarray, coarse: np.ndarray, detail_sd: float) -> np.ndarray:
    """bool (H, W): the strands of hair lying over the sides of a face's skin, from the skin's
    lightness `light` (L 0..100), its pixels `skin` (bool), its coarse lightness `coarse` and the
    deviation of its lightness detail `detail_sd` (`detail_spread`'s L).

    The face mesh runs on under hair that falls over the cheeks (2.jpg, 015384,
    simswap_specific1), so the target's skin mask holds dark strands. Counted as skin detail they
    raised the colour match's gain on the source's texture (the L detail deviation with them and
    without: 2.jpg 15.1 and 11.4, 015384 12.1 and 8.1), and as skin colour they darkened it: mottle,
    crackle and grey patches on every source pasted there, among the eval's worst pairs. Taken out
    of the target's statistics: defective pairs 233 -> 229 and 88 -> 87, the worst 24 pairs' mean
    score 3.75 -> 3.39 and 4.33 -> 3.48, closer to source 472 and 146 as before (RESULTS.md, issue
    10, seventeenth session). ~0.2 ms a frame at 720p (the colour step 1.3-1.4 -> 1.5-1.6 ms); its
    first pass compiled (`kernels.hair_candidates`, nogil): the colour step ~0.1 ms less at 144² and
    256², the same strands (twenty-fourth session)."""
    # The dark pixels and each row's skin span in one compiled pass (`kernels.hair_candidates`).
    dark, first, last = hair_candidates(light, skin, coarse, -HAIR_DEPTH * detail_sd, HAIR_DARK)
    rows = np.flatnonzero(first >= 0)
    if rows.size == 0 or not dark.any():
        return np.zeros(skin.shape, bool)
    # The skin's outline: its convex hull, from each row's first and last skin pixel (the hull of
    # all of them, ~10x cheaper), so the eyes' and mouth's openings are inside it, not its rim.
    left, right = first[rows], last[rows]
    x0, x1, y0 = int(left.min()), int(right.max()), int(rows[0])
    height, width = int(rows[-1]) - y0, x1 - x0
    side = HAIR_SIDE * width
    top = int(np.ceil(y0 + HAIR_TOP * height))
    # A strand's middle lies above `top` and in a side band, so some dark pixel does: most faces stop here.
    if not (dark[:top].any() and (dark[:, : int(x0 + side) + 1].any() or dark[:, int(np.ceil(x1 - side)):].any())):
        return np.zeros(skin.shape, bool)
    ends = np.concatenate([np.column_stack([left, rows]), np.column_stack([right, rows])]).astype(np.int32)
    hull = np.zeros(skin.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(ends), 1)
    r = max(1, int(HAIR_RIM * max(height, width)))
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(dark, connectivity=8)
    inner = cv2.erode(hull, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    touching = pieces_at(labels, dark, hull, inner, 0.0)  # the pieces that reach the hull's rim
    cx, cy = centroids[:, 0], centroids[:, 1]
    strand = (touching & (stats[:, cv2.CC_STAT_AREA] >= HAIR_AREA * np.count_nonzero(skin)) & (cy < y0 + HAIR_TOP * height)
              & ((cx < x0 + side) | (cx > x1 - side)))
    strand[0] = False  # the background label
    return strand[labels]


def _sqrtm(cov: np.ndarray, inverse: bool = False) -> np.ndarray:
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, _EPS)
    return (vecs * (vals ** (-0.5 if inverse else 0.5))) @ vecs.T


def _masked_lab(img: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """Lab pixels and mask weights on the bounding box of mask > 0 (the only pixels that count)."""
    box = mask_box(mask > 0)
    if box is None:
        raise RswapError("colour transfer: the mask is empty")
    return to_lab(img[box]), mask[box], box


def transfer_color(
    src: np.ndarray,
    ref: np.ndarray,
    src_mask: np.ndarray,
    ref_mask: np.ndarray | None = None,
    method: str = "reinhard",
    spread: float = 1.0,
    where: np.ndarray | None = None,
    chroma: np.ndarray | None = None,
    raise_spread: float | None = None,
    detail_sigma: float | None = None,
) -> np.ndarray:
    """`src` with its masked colour statistics moved to those of `ref` under `ref_mask`.

    Masks are float (H, W) in [0, 1] (any dtype; > 0 counts, values weight the
    statistics). `ref_mask` defaults to `src_mask` when `ref` has src's size, else to
    the whole of `ref`. Only pixels where src_mask > 0 change.
    `spread` (reinhard only) is how much of the standard deviations to match: 1 fully,
    0 not at all (a pure mean shift), in between a geometric mix. Matching it fully
    flattens or exaggerates the source's texture when the two faces' contrast differs.
    `where` (H, W): the pixels to change, when they are not the ones the statistics come
    from (e.g. statistics from skin only, change applied to the whole face).
    `chroma` (H, W) in [0, 1]: how much of the colour (a, b) change each pixel takes; the
    lightness change always applies. 0 on eyes, teeth and lips keeps their hue: a skin-tone
    shift pushed onto eye whites turns them teal or pink, a hue neither face has there.
    `raise_spread` (reinhard): `spread` for the channels where ref's deviation is the larger.
    `detail_sigma` (reinhard, src and ref the same size): the deviations compared are those of the
    masked pixels' detail, each image minus its `masked_blur` at this sigma, for a caller that moves
    the coarse light itself (`match_shading`; see `detail_spread`), their a, b gains at most
    DETAIL_CHROMA_GAIN_MAX; and hair over the sides of ref's skin is no part of its statistics (`side_hair`).
    """
    if method not in METHODS:
        raise RswapError(f"unknown colour transfer method {method!r}; choose one of {', '.join(METHODS)}")
    src_mask = np.asarray(src_mask, np.float32)
    if ref_mask is None:
        ref_mask = src_mask if ref.shape[:2] == src.shape[:2] else np.ones(ref.shape[:2], np.float32)
    ref_mask = np.asarray(ref_mask, np.float32)

    src_lab, src_w, box = _masked_lab(src, src_mask)
    ref_lab, ref_w, _ = _masked_lab(ref, ref_mask)
    mu_s, cov_s = _weighted_stats(src_lab, src_w)
    mu_r, cov_r = _weighted_stats(ref_lab, ref_w)

    if method == "reinhard":
        var_s, var_r = np.diag(cov_s), np.diag(cov_r)
        if detail_sigma is not None:
            ref_light = masked_blur(ref_lab, ref_w, detail_sigma)
            sd_r = detail_spread(ref_lab, ref_w, ref_light)
            hair = side_hair(ref_lab[..., 0], ref_w > 0, ref_light[..., 0], float(sd_r[0]))
            if hair.any():  # the reference's skin statistics without the hair over its sides
                ref_w = ref_w * ~hair
                mu_r = _weighted_stats(ref_lab, ref_w)[0]
                sd_r = detail_spread(ref_lab, ref_w, ref_light)
            var_s, var_r = detail_spread(src_lab, src_w, masked_blur(src_lab, src_w, detail_sigma)) ** 2, sd_r ** 2
        A = np.diag(_reinhard_gain(var_r, var_s, spread, raise_spread,
                                   np.inf if detail_sigma is None else DETAIL_CHROMA_GAIN_MAX))
    else:
        # A = C_r^1/2 C_s^-1/2 satisfies A C_s A^T = C_r: output covariance equals the reference's.
        A = _sqrtm(cov_r) @ _sqrtm(cov_s, inverse=True)
    affine = np.hstack([A, (mu_r - A @ mu_s)[:, None]]).astype(np.float32)  # x -> A x + b
    if where is not None:
        where = np.asarray(where) > 0
        box = mask_box(where)
        if box is None:
            return src.copy()
        src_lab, src_w = to_lab(src[box]), where[box]
    moved_lab = cv2.transform(src_lab, affine)
    if chroma is not None:
        moved_lab = _limit_chroma(src_lab, moved_lab, np.asarray(chroma, np.float32)[box])
    moved = from_lab(moved_lab)

    out = src.copy()
    put_where(out[box], moved, src_w > 0)
    return out


def _limit_chroma(before: np.ndarray, after: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """`after` (Lab) with its a, b change from `before` scaled by `chroma` per pixel."""
    out = after.copy()
    out[..., 1:] = before[..., 1:] + chroma[..., None] * (after[..., 1:] - before[..., 1:])
    return out


def _feature_boxes(regions):
    """(box, weights on the box, core: weights > 0.5) of each soft feature mask with a core of at
    least 8 pixels: what the features' own colour and lightness steps work on."""
    for region in regions:
        box = mask_box(np.asarray(region) > 0)
        if box is None:
            continue
        m = np.asarray(region, np.float32)[box]
        core = m > 0.5
        if core.sum() >= 8:
            yield box, m, core


def match_bright_chroma(src: np.ndarray, ref: np.ndarray, regions: list[np.ndarray], axis: np.ndarray,
                        own_axis: np.ndarray, eyes: int = 2) -> np.ndarray:
    """`src` with each region's colour (a, b) moved by the difference of the two images' mean
    colour over the region's brighter half (eye whites, teeth), lightness untouched; on the
    first `eyes` regions (both eyes, judged together), only as far as the reference's eyes
    read as its photo's cast, and for the rest to that cast (`kernels.eye_chroma_goal`; `axis`,
    `own_axis`: the reference's and src's skin a, b).

    Regions are float (H, W) masks (soft edges weight the move). The statistics come from
    the bright half because an iris or the tongue would otherwise decide the move: a blue
    iris in one image and a brown one in the other must not tint the whites. But where little
    white shows (and JPEG's half-size chroma smears the iris over what does), the reference's
    bright half is its eye's own colour: 015316's light blue irises (a, b -3, -15 with its
    skin at 5, 2), simswap_specific1's lilac lids (15, 6 with its skin at 18, 20). Moved
    there, every source's eyes came out cyan or lilac. The light that tints whites tints the
    skin too: an eye colour near the skin's hue axis is the cast, and is matched, and so is one
    near the source eyes' own (ordinary whites on a tinted skin: tests/test_source_texture.py);
    one far from both is the eye's own. For that part the eyes take a share of the target skin's
    hue: the target eyes' own share where it is the larger, else the source eyes' share of their
    skin's hue (an eye's own hue lies off or against the skin's hue, so it only pulls the share
    down). Tried and not kept: the source's colour left as it was (its warm lid skin came out as
    orange rings on a pale target); none of the skin's hue where the blue lies against it, or the
    source's share alone (grey lids, cyan beside warm skin, from a greenish source onto lilac
    lids: hzc onto simswap_specific1). So the eyes end up with neither the skin's cast nor a hue
    that neither face's whites have. The mouth keeps the plain move: a closed mouth's
    region is the lips' inner edge, whose red is its own and is matched (left at the source's,
    a grey source's lips came out cyan beside the warm skin). Works on each region's box only."""
    found = [(k, box, m, core) for k, region in enumerate(regions) for box, m, core in _feature_boxes([region])]
    means = {}
    for k, box, m, core in found:
        means[k] = []
        for lab in (to_lab(src[box]), to_lab(ref[box])):
            bright = core & (lab[..., 0] >= np.median(lab[..., 0][core]))
            means[k].append(lab[bright][:, 1:].mean(0))
    eye_means = [means[k] for k in means if k < eyes]
    share, cast = 1.0, np.zeros(2)
    if eye_means:
        have_eyes, want_eyes = np.mean(eye_means, axis=0)
        share, *cast = eye_chroma_goal(want_eyes, have_eyes, np.asarray(axis, np.float64), np.asarray(own_axis, np.float64))
    out = src.copy()
    for k, box, m, core in found:
        have, want = means[k]
        goal = share * want + (1.0 - share) * np.asarray(cast) if k < eyes else want
        src_lab = to_lab(out[box])
        src_lab[..., 1:] += m[..., None] * (goal - have).astype(np.float32)
        put_where(out[box], from_lab(src_lab), m > 0)
    return out


# How much brighter than the target's brightest eye pixels a swapped eye's may be (L units). Held
# to the target's own (0; the teeth's region too), closer to source fell 478 -> 470 of 528 on
# crops -> faces: a source's whites a little brighter than the target's carry some of its
# likeness. With 10 to spare, 472-475 (the pairs lost all within 0.02 of a tie, three of them
# ljm3's, whose whites glowed most), and the glowing plates still go; with 20, dnl's and ljm3's
# whites still glowed on simswap_Iron_man (RESULTS.md, issue 10, twenty-first session).
WHITER = 10.0
# An eye whose dark end (10th percentile) lies under this L has sunk to black: only then is it lifted.
# Lifted whenever it fell below both faces' dark ends, it moved eyes that were no holes, and the
# training tests' made identities (near ties for dlib) lost every cycle triplet (RESULTS.md, issue 10,
# twenty-first session).
BLACK = 2.0
# How far above the lighter of both faces' dark ends (10th percentile: iris, pupil, lash line) the
# skin's light change may lift an eye's dark end. A dim or dark-skinned source lifted onto a light
# target had its eyes lifted 30-40 L with the skin: pale blanks (gy onto 015384, ljm onto 000002).
# At 15: crops -> faces defective 178 -> 172, closer-to-source 468 -> 469. A first form at 10: 167,
# but closer 464 and hard-set top-1 134 -> 130 (darker eyes read more like the target's for dlib);
# at 20: 175 (RESULTS.md, twenty-eighth session).
LIFTED = 15.0


def hold_eye_range(src: np.ndarray, ref: np.ndarray, own: np.ndarray, eyes: list[np.ndarray]) -> np.ndarray:
    """`src` (the colour-matched source) with each eye's lightness range held between the dark end
    of both faces' eyes and at most WHITER above `ref`'s brightest eye pixels: 10th and 98th
    percentiles; `own`: the source before its colour match, `ref`: the target.

    The skin's lightness change is one shift for every pixel of the face. A dim photo's whites,
    lifted with its skin to a light target's, glowed as pale plates where the target's own eyes lie
    in shade (ljm3 onto 015309, dnl onto Iron man in the eval); a bright photo's irises, lowered onto
    a darker face, sank below black: dark holes (trump's half-lidded eyes onto simswap_specific2,
    mtdm's); a dim or dark-skinned photo's irises, lifted with its skin onto a light face, came out
    as pale blanks (gy onto 015384). Too bright, the range is scaled down from its dark end; sunk
    to black (BLACK), up from its bright end until its dark end is no darker than both faces' own (a
    dark-eyed source on a light-eyed target keeps its dark irises); washed out (its dark end more
    than LIFTED above both faces'), down from its bright end until the dark end lies there:
    scaled, not clipped (a clip left flat plates).
    `eyes`: float (H, W) masks (soft edges weight the change); each works on its own box."""
    out = src
    for box, m, core in _feature_boxes(eyes):
        lab = to_lab(out[box])
        n = int(np.count_nonzero(core))
        # The 10th and 98th percentiles by nearest rank: np.percentile's interpolation cost ~0.1 ms a call.
        low, high = (int(round(f * (n - 1))) for f in (0.10, 0.98))
        # The range's ends and both scalings in one compiled pass (`kernels.hold_range`), on L in place.
        # (m contiguous: one compiled layout whatever the box; a new one would compile mid-stream.)
        ref_lab, own_lab = to_lab_pair(ref[box], own[box])
        ref_light, own_light = ref_lab[..., 0], own_lab[..., 0]
        if hold_range(lab[..., 0], np.ascontiguousarray(m), core, ref_light, own_light, low, high, WHITER, BLACK, LIFTED):
            out = out.copy() if out is src else out
            put_where(out[box], from_lab(lab), m > 0)
    return out


def masked_blur(lab: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised convolution: the weighted local mean of `lab`, where only weighted pixels count.

    A blur this wide keeps nothing finer than sigma, so it runs on a copy shrunk to about
    sigma/4 pixels a step and is scaled back up: the same result at a fraction of the cost."""
    h, w = weight.shape
    step = max(1, int(sigma // 4))
    small = (max(1, w // step), max(1, h // step))
    num = cv2.resize(lab * weight[..., None], small, interpolation=cv2.INTER_AREA)
    den = cv2.resize(weight, small, interpolation=cv2.INTER_AREA)
    s = sigma * small[0] / w
    num, den = cv2.GaussianBlur(num, (0, 0), s), cv2.GaussianBlur(den, (0, 0), s)
    mean = num / np.maximum(den, 1e-4)[..., None]
    return cv2.resize(mean, (w, h), interpolation=cv2.INTER_LINEAR)


def match_shading(
    src: np.ndarray, ref: np.ndarray, src_weight: np.ndarray, ref_weight: np.ndarray, where: np.ndarray, sigma: float,
    chroma: np.ndarray | None = None,
) -> np.ndarray:
    """`src` plus (coarse colour of `ref` − coarse colour of `src`) in CIELAB, where `where` > 0.

    Coarse colour is the weighted mean within a Gaussian of `sigma` pixels, each image
    over its own weight (e.g. its skin without eyes, brows and lips, so features and hair
    do not tint the estimate). src and ref are the same size and roughly aligned, as a
    warped source face and its target are. A large sigma (a fifth of the face) moves
    light and tone only; the source's features and texture stay. `chroma`: as in
    `transfer_color`, how much of the colour (a, b) shift each pixel takes."""
    if src.shape != ref.shape:
        raise ValueError(f"match_shading: shapes differ: {src.shape} vs {ref.shape}")
    box = mask_box(np.asarray(where) > 0)
    if box is None:
        return src.copy()
    src_w, ref_w = (np.asarray(w, np.float32) for w in (src_weight, ref_weight))
    if not (src_w.any() and ref_w.any()):
        return src.copy()
    src_lab, ref_lab = to_lab(src), to_lab(ref)
    shift = masked_blur(ref_lab, ref_w, sigma) - masked_blur(src_lab, src_w, sigma)
    moved_lab = src_lab[box] + shift[box]
    if chroma is not None:
        moved_lab = _limit_chroma(src_lab[box], moved_lab, np.asarray(chroma, np.float32)[box])
    moved = from_lab(moved_lab)
    out = src.copy()
    put_where(out[box], moved, np.asarray(where)[box] > 0)
    return out


def limit_shadows(src: np.ndarray, ref: np.ndarray, weight: np.ndarray, sigma: float, slack: float = 8.0, keep: float = 0.3) -> np.ndarray:
    """`src` with its skin's shadows held near the reference's own shadows there.

    Shadow detail is lightness minus its coarse skin mean (a `masked_blur` of `sigma`), in
    each image. A source photographed in hard light (a dark skin's deep eye sockets, wrinkles,
    a moustache's shade) carries shadows the target's light does not make: on a lighter,
    softer-lit target they read as dark patches (the eval's worst pairs, RESULTS.md issue 10).
    Where the source's detail is more than `slack` (L units) darker than the reference's
    darkest detail within `sigma`/2 (a little misalignment is not a defect), the excess is
    kept at `keep`, a soft knee: the shape still shows, only fainter. Highlights are left
    alone: limiting them too (and with a slack of 4) cost identity (closer-to-source 91% ->
    88% on the eval), these settings cost none. `weight` (H, W) in [0, 1]: the skin pixels
    this applies to, its soft edge fading it in (eyes, brows and lips carry identity and are
    not shading: give them 0)."""
    weight = np.asarray(weight, np.float32)
    box = mask_box(weight > 0)
    if box is None:
        return src.copy()
    # Work on the box grown by the blur's reach, so the coarse means see their surroundings.
    h, w = weight.shape
    pad = int(2 * sigma)
    ys, xs = box
    box = (slice(max(0, ys.start - pad), min(h, ys.stop + pad)), slice(max(0, xs.start - pad), min(w, xs.stop + pad)))
    wb = weight[box]
    reach = max(1, int(round(sigma / 2)))
    # The lightness L of src and ref side by side (channel 2 zero) for one masked blur, in one
    # compiled pass over the box (read in place: no contiguous copy): src's where the weight is
    # (only there is it read), ref's within the erosion's reach of it.
    y0, x0 = ys.start - box[0].start, xs.start - box[1].start
    ref_rows = max(0, y0 - reach), min(wb.shape[0], y0 + ys.stop - ys.start + reach)
    ref_cols = max(0, x0 - reach), min(wb.shape[1], x0 + xs.stop - xs.start + reach)
    light = lightness_pair(src[box], ref[box], wb, *ref_rows, *ref_cols, SRGB_LINEAR, CUBE_ROOT)
    skin = (wb > 0.5).astype(np.float32)
    coarse = _masked_blur_2d(light, skin, sigma)  # both images in the same three calls
    dr = light[..., 1] - coarse[..., 1]
    low = cv2.erode(dr, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))  # a square: separable, fast
    # The L units to add, and where they are more than 0.05, in one compiled pass (`kernels.shadow_lift`).
    where, lift = shadow_lift(light, coarse, low, np.ascontiguousarray(wb), slack, 1.0 - keep, 0.05)
    out = src.copy()
    if not lift.size:
        return out
    # Only the lifted pixels are converted (exactly, in float CIELAB) and written back.
    region = out[box]
    lab = to_lab(region[where][None])
    lab[0, :, 0] += lift
    region[where] = from_lab(lab)[0]
    return out


def _masked_blur_2d(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """`masked_blur` of float32 (H, W, 3) values under one weight: the same downscaled
    normalised convolution, each channel on its own; the channels and the weight travel
    together through one shrink, one blur and one enlargement (OpenCV works per channel).
    The shrink is the compiled `area_sums` (INTER_AREA's cells, summed: the constant cell
    area cancels in the ratio): the stack numpy built for OpenCV's resize, and the resize at
    a fractional scale, cost 0.6 ms of the shadow limit's 2 (issue 11, fifth session).
    The step is sigma/4 rounded (masked_blur rounds down; the same step, 3, at the 256² crop's
    12.8): rounded down, a 144² crop's 7.2 blurred at full size, 1.3 ms where 160²'s took 0.6."""
    h, w = weight.shape
    step = max(1, int(round(sigma / 4)))
    small = (max(1, w // step), max(1, h // step))
    cell_h, cell_w = h / small[1], w / small[0]
    sums = area_sums(values, weight, 0, 0, cell_h, cell_w, small[1], small[0])
    sums = cv2.GaussianBlur(sums, (0, 0), sigma * small[0] / w)
    mean = sums[..., :3] / np.maximum(sums[..., 3:], 1e-4 * cell_h * cell_w)
    return cv2.resize(mean, (w, h), interpolation=cv2.INTER_LINEAR)


def match_face_colour(
    src: np.ndarray,
    ref: np.ndarray,
    src_skin: np.ndarray,
    ref_skin: np.ndarray,
    where: np.ndarray,
    sigma: float,
    method: str = "reinhard",
    spread: float = 1.0,
    chroma: np.ndarray | None = None,
    regions: list[np.ndarray] = (),
    raise_spread: float | None = None,
    eyes: int = 2,
) -> np.ndarray:
    """`transfer_color` (reinhard: with `detail_sigma` = `sigma`), then `match_shading`, then
    `match_bright_chroma`, in one pass.

    The same three steps on the same masks (see each function), but each image goes to
    CIELAB once, on the box its changed pixels lie in, and back once; the two coarse
    skin colours are subtracted on their shrunk grid and only the difference is scaled
    up; each feature works on its own box. Called one after the other the three converted
    16 times a frame and took 9.5 ms of the swap's 25 at 256² (one OpenCV thread). The
    result differs from the chain only by the uint8 rounding the chain did between its
    steps (well over 40 dB PSNR, tests/test_swap_reference.py). `where` (H, W): the
    pixels the skin transfer and the shading change; `regions`: float masks whose
    pixels take their feature's colour (match_bright_chroma; the first `eyes` of them are the eyes).
    `raise_spread` (reinhard): the exponent for the
    channels whose deviation ratio is above 1 (the target's skin the more contrasty), when it is
    not `spread`. Other pixels stay as they are.
    The skin masks are 0/1 (as the swapper's are): "reinhard" counts the pixels > 0 alike,
    which lets OpenCV's masked mean and meanStdDev take the statistics (0.05 ms against numpy's 0.9);
    its detail spreads reuse the coarse light step 2 needs, the source's on its own pixels. Hair
    over the sides of the reference's skin is left out of its mean and spread (`side_hair`).
    """
    if method not in METHODS:
        raise RswapError(f"unknown colour transfer method {method!r}; choose one of {', '.join(METHODS)}")
    if src.shape != ref.shape:
        raise ValueError(f"match_face_colour: shapes differ: {src.shape} vs {ref.shape}")
    where = np.asarray(where) > 0
    src_skin, ref_skin = np.asarray(src_skin, np.float32), np.asarray(ref_skin, np.float32)
    changed = where.copy()
    for region in regions:
        changed |= np.asarray(region) > 0
    # One box holds every pixel that counts: those that change and those the statistics read.
    box = mask_box(changed | (src_skin > 0) | (ref_skin > 0))
    if box is None or not (where.any() and src_skin.any() and ref_skin.any()):
        return src.copy()
    src_lab, ref_lab = to_lab_pair(src[box], ref[box])
    src_w, ref_w = src_skin[box], ref_skin[box]
    hw = where.shape
    ref_coarse = _coarse_mean(ref_lab, ref_w, box, hw, sigma)  # the reference's coarse light (steps 1 and 2)
    # 1. Global statistics: the skin's mean and spread (or covariance) moved to the reference's.
    # x -> A x + b as a change: (A - I) x + b.
    if method == "reinhard":  # per channel: the skin's mean, and the deviation of its detail (`detail_spread`)
        mu_s, mu_r = (np.array(cv2.mean(lab_, mask=(w_ > 0).astype(np.uint8))[:3])
                      for lab_, w_ in ((src_lab, src_w), (ref_lab, ref_w)))
        src_coarse = _coarse_mean(src_lab, src_w, box, hw, sigma)
        ref_light = _box_of(ref_coarse, box, hw)
        sd_s, sd_r = (detail_spread(lab_, w_, coarse)
                      for lab_, w_, coarse in ((src_lab, src_w, _box_of(src_coarse, box, hw)), (ref_lab, ref_w, ref_light)))
        hair = side_hair(ref_lab[..., 0], ref_w > 0, ref_light[..., 0], float(sd_r[0]))
        if hair.any():  # the target's skin statistics without the hair over its sides
            skin = (ref_w > 0) & ~hair
            mu_r = np.array(cv2.mean(ref_lab, mask=skin.astype(np.uint8))[:3])
            sd_r = detail_spread(ref_lab, skin, ref_light)
        A = np.diag(_reinhard_gain(sd_r ** 2, sd_s ** 2, spread, raise_spread, DETAIL_CHROMA_GAIN_MAX))
    else:
        mu_s, cov_s = _weighted_stats(src_lab[src_w > 0], src_w[src_w > 0])
        mu_r, cov_r = _weighted_stats(ref_lab[ref_w > 0], ref_w[ref_w > 0])
        A = _sqrtm(cov_r) @ _sqrtm(cov_s, inverse=True)
    change = np.hstack([A - np.eye(3), (mu_r - A @ mu_s)[:, None]]).astype(np.float32)
    # Per pixel and channel, how much of the skin's change it takes: L where `where`, a and b
    # scaled by `chroma` there too, and by the pixel's (L + 16) over the skin mean's where it is
    # darker: a light's colour multiplies, so a dark brow, lash or moustache takes a smaller
    # share of the skin's colour change (all of it turned them purple or teal).
    # (OpenCV per plane and one merge: 0.1 ms at 256², where numpy's strided writes took 0.14
    # without the lightness term.)
    take_l = where[box].astype(np.float32)
    scale = 1.0 / (float(mu_s[0]) + 16.0)
    dim = cv2.min(cv2.addWeighted(cv2.extractChannel(src_lab, 0), scale, 0, 0.0, 16.0 * scale), 1.0)
    take_ab = cv2.multiply(take_l, dim if chroma is None else cv2.multiply(np.asarray(chroma, np.float32)[box], dim))
    take = cv2.merge([take_l, take_ab, take_ab])
    lab = cv2.transform(src_lab, change)
    lab *= take
    lab += src_lab

    # 2. Local light: the difference of the two coarse skin colours, on the whole image's
    # shrunk grid (zero outside the box, where the weights are zero too: a blur of the box
    # alone would reflect the skin at the box's edge and shift the mean there).
    shift = _box_of(ref_coarse - _coarse_mean(lab, src_w, box, hw, sigma), box, hw)
    shift *= take
    lab += shift

    # 3. Eyes and teeth: the colour of the reference's own feature (its brighter half), where it
    # reads as the photo's cast (`match_bright_chroma`), all regions in one compiled call.
    if len(regions):
        move_feature_chroma(lab, ref_lab, np.ascontiguousarray(np.asarray(regions, np.float32)[:, box[0], box[1]]),
                            np.asarray(mu_r[1:], np.float64), np.asarray(mu_s[1:], np.float64), eyes)

    out = src.copy()
    put_where(out[box], from_lab(lab), changed[box])
    return out


def _box_of(small: np.ndarray, box: tuple[slice, slice], hw: tuple[int, int]) -> np.ndarray:
    """A shrunk-grid field (`_coarse_mean`) scaled up to the frame of size hw, on the box."""
    return cv2.resize(small, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)[box]


def _coarse_mean(lab: np.ndarray, weight: np.ndarray, box: tuple[slice, slice], hw: tuple[int, int], sigma: float) -> np.ndarray:
    """masked_blur of the box's pixels in a frame of size hw (zero outside the box), on its
    shrunk grid (not scaled back up): the weighted local mean, where only weighted pixels count.

    The shrink is a compiled pass over the box alone (`area_sums`, the same cells as
    masked_blur's INTER_AREA resize of the whole frame: 0.7 ms there for the 256² frame)."""
    step = max(1, int(sigma // 4))
    small = (max(1, hw[1] // step), max(1, hw[0] // step))
    sums = area_sums(np.ascontiguousarray(lab), np.ascontiguousarray(weight), box[0].start, box[1].start,
                     hw[0] / small[1], hw[1] / small[0], small[1], small[0])
    sums = cv2.GaussianBlur(sums, (0, 0), sigma * small[0] / hw[1])
    return sums[..., :3] / np.maximum(sums[..., 3:], 1e-4 * hw[0] * hw[1] / (small[0] * small[1]))
