"""A source face texture that holds only the source's own face (computed once per source).

The classical swapper carries the source photo's pixels onto the target's mesh. Whatever
lies on the source's mesh that is not its face comes along: hair over the forehead and an
eye, a hand, the far side of a turned head (the temple's hair, the background beyond the
cheek). This module decides, in the source's aligned crop, which pixels to trust and
replaces the others:
0. layout (`frontal_texture`): the photo is unwrapped onto its own mesh seen from straight
   ahead (`rswap.face.symmetry.frontal_layout`), so a turned head's far cheek, a sliver or
   a fold in the photo, has its area in the texture and is filled there pixel by pixel;
1. visibility: each mesh triangle's facing in the photo, from mediapipe's 3D landmarks (x, y
   and the relative depth z on the same scale): the cosine between its normal and the view
   axis. Pixels of triangles turned away or strongly foreshortened are not trusted, and a
   pixel whose mirror the camera saw much more squarely gives way to it, smoothly
   (`mirror_preference`);
2. occluders (`occluder_mask`): a skin pixel unlike its mirror pixel (after the skin's coarse
   light is taken out) and the farther of the two from the source's skin statistics is
   covered; above the brows a symmetric outlier (a fringe) too; anywhere a colour no skin
   has; anywhere above the nose tip, and below it along the oval's sides, what looks like the
   hair just outside the face and joins it (`_hair_from_outside`: a fringe over both brows,
   strands over an eye corner, hair framing the cheeks and jaw); thin dark
   lines their mirror lacks next to what was found (`_grow_strands`: the strands beside a band,
   which the fill would otherwise mirror into a V); on a dim or dark face, dark pixels like
   the hair found above the brows and connected to it (`_grow_like_found`); where the mirror
   is covered (no symmetry to judge by), what is unlike the skin (`_unlike_skin_beside_covered`:
   hair down the near cheek of a turned head whose far cheek is hair). Before them, the frames
   of glasses are found by their shape and filled from the skin around them
   (`source_glasses.without_glasses`). Eyes,
   brows and lips are not skin-coloured, so they are judged by the skin ring
   around them: a feature whose surroundings are mostly covered (hair over an eye) is
   untrusted as a whole;
3. fill: untrusted pixels take the mirrored triangle from the other side of the mesh
   (`rswap.face.symmetry`), with that side's coarse colour moved to this side's light (the
   difference measured where both sides are trusted, `_light_shift`); where the mirror is
   untrusted too, or is on skin unlike it (MIRROR_SKIN_DE), a smooth skin fill (the trusted
   skin's local mean colour with a fine grain of its own spread, `_skin_grain`);
   eyes, brows and lips are never smooth-filled (they would vanish): eyes and lips take the
   mirror's, and a brow neither side shows is drawn along the mesh's brow band (`_drawn_brows`:
   under a fringe over both brows the mirror is the fringe);
4. several photos: each pixel from the photo whose texture is most trusted there;
5. past the outline (`skin_past_outline`, the swapper's last step before the detail raise):
   a narrow band outside the oval takes the nearest skin, where the warp's rim reads.
Thresholds are set where identity held on real photos (RESULTS.md, issue 10): eager ones
removed more pasted hair and flagged asymmetric light and real hairlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from rswap.compose.color import masked_blur, transfer_color
from rswap.compose.masks import hard_polygon, region_mask
from rswap.compose.source_glasses import without_glasses
from rswap.compose.source_light import even_light
from rswap.compose.warp import mesh_warp
from rswap.face.landmarks import (FACE_OVAL, LEFT_BROW, LEFT_BROW_EDGES, LEFT_EYE_LOOP, LEFT_EYE_SOCKET_LOWER, LIPS, NOSE,
                                  RIGHT_BROW, RIGHT_BROW_EDGES, RIGHT_EYE_LOOP, RIGHT_EYE_SOCKET_LOWER, mesh_triangles)
from rswap.face.align import similarity_matrix
from rswap.face.symmetry import frontal_layout, mirror_index

# Facing cosine below which a triangle is not trusted at all, and above which fully: ~84
# and ~73 degrees from the view axis. A frontal face's cheek rims sit at 60-70° (cosine
# 0.35-0.5): trusting only from 0.55 replaced them on every face and cost identity
# (measured on 24 x 6 pairs: closer-to-source 95% -> 88%).
VISIBLE_FROM, VISIBLE_FULL = 0.1, 0.3
# A pixel takes its mirror, blended, when the mirror faced the camera better by PREFER_FROM to
# PREFER_FULL in facing cosine, fading out where the pixel's own triangle was seen well anyway
# (facing SEEN_WELL and more: about 50 degrees from the view axis).
PREFER_FROM, PREFER_FULL, SEEN_WELL = 0.15, 0.4, 0.65
GRAIN = 0.5  # the fill's grain, in units of the skin's own fine-detail spread (a full one looked coarser than skin)
OCCLUDER_DISTANCE = 4.5  # robust z-score (MAD units, Lab) beyond which a forehead pixel is not skin on either side
MAX_LIGHT_SHIFT = np.array([12.0, 4.0, 4.0], np.float32)  # Lab: most the mirrored side's coarse colour moves
MIN_OCCLUDER_AREA = 1.5e-3  # fraction of the crop's area under which a flagged blob is noise (~100 px at 256²)
DARKER_THAN_SKIN = 15.0  # L units below the cheekbones' lower quartile that only hair or hard shadow reaches
DARKER_FRACTION = 0.6  # ... or, on a dark or dim face (that quartile under 37 L), this fraction of it
MIRROR_SKIN_DE = (15.0, 25.0)  # CIELAB distance from the smooth skin fill over which a mirror pixel stops filling skin
MIRROR_DE = 25.0  # CIELAB difference between a pixel and its mirror that marks one of them as covered
MIN_SCALE = np.array([5.0, 2.0, 2.0])  # floors of the robust Lab scales: flat skin must not flag its own shading
FEATURE_RING = 0.06  # ring around a feature judged for occlusion, fraction of the crop size
FEATURE_OCCLUDED = 0.5  # fraction of that ring occluded that makes the feature untrusted
FEATURE_MARGIN = 0.25  # ... and by this much more than its twin's (false flags on real photos cost identity)
# Nostrils are dark like hair: the quad nose-tip / wings / subnasale holds both of them.
NOSTRIL_POINTS = [1, 98, 2, 327]
NOSE_MARGIN = 0.015  # how far beside the nose's hull its side's shade reaches, fraction of the crop


@dataclass
class CleanTexture:
    texture: np.ndarray  # (H, W, 3) uint8: the crop with untrusted pixels filled
    trust: np.ndarray  # (H, W) float32 in [0, 1]: how much of each pixel is the photo's own
    filled: np.ndarray  # (H, W) float32 in [0, 1]: how much came from the mirror (vs. the smooth fill)
    quality: np.ndarray  # (H, W) float32: own trust, or the mirror's (what multi-photo merging compares)


def _smooth01(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def triangle_facing(points: np.ndarray, z: np.ndarray | None, triangles: np.ndarray) -> np.ndarray:
    """(T,) float: cosine between each triangle's normal and the view axis, negative for a
    triangle turned away (wound the other way on screen). Without depth (z None) it falls
    back to the 2D area against the mirrored triangle's (a foreshortened triangle is the
    smaller of the pair): 1 for the larger, their ratio for the smaller."""
    p = np.asarray(points, np.float64)
    tris = np.asarray(triangles)
    e1, e2 = p[tris[:, 1]] - p[tris[:, 0]], p[tris[:, 2]] - p[tris[:, 0]]
    area2 = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]  # signed, positive = facing the camera
    if z is None:
        mirror = mirror_index()
        m = p[mirror]
        f1, f2 = m[tris[:, 1]] - m[tris[:, 0]], m[tris[:, 2]] - m[tris[:, 0]]
        other = np.abs(f1[:, 0] * f2[:, 1] - f1[:, 1] * f2[:, 0])
        return area2 / np.maximum(np.maximum(np.abs(area2), other), 1e-6)
    q = np.column_stack([p, np.asarray(z, np.float64)[: len(p)]])
    n = np.cross(q[tris[:, 1]] - q[tris[:, 0]], q[tris[:, 2]] - q[tris[:, 0]])
    return area2 / np.maximum(np.linalg.norm(n, axis=1), 1e-6)


def _raster(hw: tuple[int, int], points: np.ndarray, triangles: np.ndarray, values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Per-triangle values drawn into an (H, W) float32 image, later triangles over earlier ones."""
    out = np.zeros(hw, np.float32)
    fixed = np.rint(np.asarray(points, np.float32)[triangles] * 16).astype(np.int32)
    for k in order.tolist():
        cv2.fillConvexPoly(out, fixed[k], float(values[k]), cv2.LINE_8, 4)
    return out


def visibility_map(hw: tuple[int, int], points: np.ndarray, z: np.ndarray | None,
                   facing: np.ndarray | None = None) -> np.ndarray:
    """float32 (H, W) in [0, 1]: how far each pixel's mesh triangle faces the camera.
    `facing` (T,), optional: the triangles' facing in the photo, when `points` are another
    layout of the mesh (`frontal_texture`)."""
    tris = mesh_triangles()
    if facing is None:
        facing = triangle_facing(points, z, tris)
    return _raster(hw, points, tris, _smooth01(facing, VISIBLE_FROM, VISIBLE_FULL), np.argsort(facing))


@lru_cache(maxsize=1)
def mirror_triangles() -> np.ndarray:
    """(T,) int: the row in mesh_triangles() of each triangle's mirror image (-1 where the
    tessellation has no mirrored twin: a few flipped quad diagonals)."""
    tris = mesh_triangles()
    mirror = mirror_index()
    row = {tuple(sorted(t)): k for k, t in enumerate(tris.tolist())}
    return np.array([row.get(tuple(sorted(mirror[t].tolist())), -1) for t in tris])


def mirror_preference(hw: tuple[int, int], points: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """float32 (H, W) in [0, 1]: how much each pixel should rather show its mirror, which the
    camera saw much more squarely (the far cheek of a turned head, whose own pixels are a
    stretched sliver of the photo, often with the background or hair beyond the cheek in it).
    Smooth (blurred at 3% of the crop), so own and mirrored texture blend with no seam; 0 on
    a frontal face, whose two sides face the camera alike."""
    tris = mesh_triangles()
    other = mirror_triangles()
    mfacing = np.where(other >= 0, facing[np.maximum(other, 0)], facing)
    gain = _smooth01(mfacing - facing, PREFER_FROM, PREFER_FULL) * (1.0 - _smooth01(facing, SEEN_WELL, 1.0))
    pref = cv2.GaussianBlur(_raster(hw, points, tris, gain, np.argsort(facing)), (0, 0), 0.03 * hw[0])
    # Eyes, brows and lips stay whole, own or (where untrusted) mirrored: a blend of a feature
    # with its slightly misplaced mirror image is a ghost (double lids, a blurred iris).
    features = np.any([hard_polygon(hw, points, idx, hull=True) for idx in FEATURES], axis=0).astype(np.uint8)
    features = cv2.GaussianBlur(cv2.dilate(features, _disc(0.02 * hw[0])).astype(np.float32), (0, 0), 0.01 * hw[0])
    return pref * (1.0 - features)


def frontal_texture(image: np.ndarray, image_points: np.ndarray, crop: np.ndarray, points: np.ndarray,
                    z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(texture, layout): the source photo unwrapped onto its own mesh seen from straight
    ahead (`rswap.face.symmetry.frontal_layout`, in the crop's frame).

    In the crop of a turned head the far cheek's triangles are slivers or fold over the near
    face and the background: a texture in that frame has no pixels of its own to hold a fill
    from the mirror, so the far side used to sample the near side's triangles at swap time,
    a hard cut at triangle edges with the near side's light (the wedges seen on three-quarter
    sources). In the frontal layout every triangle has its area, so the fill blends per
    pixel. The mesh is warped from the photo itself (one resampling, as the crop is); what
    lies outside the mesh comes from the crop, moved by the same fit.
    image_points: the 468 mesh points in `image`; points, z: the same in the crop's frame."""
    hw = crop.shape[:2]
    layout = frontal_layout(points, z)
    S = similarity_matrix(points, layout)
    out = cv2.warpAffine(crop, S, (hw[1], hw[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    face, valid = mesh_warp(image, np.asarray(image_points, np.float32)[:len(layout)], layout, hw, mesh_triangles())
    inside = valid > 0
    out[inside] = face[inside]
    return out, layout


def _disc(r: float) -> np.ndarray:
    r = max(1, int(round(r)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


FEATURES = (RIGHT_EYE_LOOP, LEFT_EYE_LOOP, RIGHT_BROW, LEFT_BROW, LIPS)
FEATURE_TWINS = (1, 0, 3, 2, 4)  # each feature's mirror in FEATURES (the lips are their own)


def occluder_mask(texture: np.ndarray, points: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """bool (H, W): pixels on the face that are neither the source's skin nor its features.

    Two cues, in CIELAB at a blur of 0.4% of the crop (a strand of hair stays visible):
    - asymmetry: a skin pixel that differs from its mirror pixel (through the mesh) by more
      than MIRROR_DE and is the farther of the two from the source's skin (robust median /
      MAD), or about as far and the darker, is covered (hair over one side, a hand, a hard
      shadow);
    - a plain outlier above the brows: farther than OCCLUDER_DISTANCE from the statistics of
      the cheekbones' skin, or much darker than most of it, on both sides alike (a fringe
      across the whole forehead); elsewhere a symmetric outlier is a beard or an eye
      socket's shadow, which stay, unless its colour (a, b) is one no skin has (> 9 MAD).
    Light falling off across a face inflates the global spread, which is why the first cue
    carries the common case. Small blobs are dropped and the rest grown a little (hair edges
    are soft). A feature (eye, brow, lips) whose ring of skin is mostly occluded is occluded
    whole: hair over an eye covers the eye too."""
    hw = texture.shape[:2]
    size = float(hw[0])
    pts = np.asarray(points, np.float32)
    oval = region_mask(hw, pts, include=("face_oval",), feather=0, erode=0) > 0
    features = [hard_polygon(hw, pts, idx, hull=True) for idx in FEATURES]
    skin = oval & ~np.any(features, axis=0) & ~hard_polygon(hw, pts, NOSTRIL_POINTS, hull=True)
    lab = cv2.cvtColor(cv2.GaussianBlur(texture, (0, 0), 0.004 * size).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    ref = lab[skin & (visible > 0.9)]
    if len(ref) < 50:
        ref = lab[skin]
    if len(ref) < 50:
        return np.zeros(hw, bool)
    med = np.median(ref, axis=0)
    # The two sides of a face are rarely lit alike (a cheek in shadow is 10-20 L darker than
    # the lit one, which alone would read as "unlike its mirror"): the symmetry cue compares
    # lightness after removing the skin's coarse light (a blur at 15% of the crop, wider
    # than a strand or band of hair, which therefore stays).
    light = masked_blur(lab, skin.astype(np.float32), 0.15 * size)[..., 0]
    flat = lab.copy()
    flat[..., 0] += med[0] - light
    scale = np.maximum(1.4826 * np.median(np.abs(flat[skin] - np.median(flat[skin], axis=0)), axis=0), MIN_SCALE)
    dist = np.linalg.norm((flat - med) / scale, axis=2)
    tris = mesh_triangles()
    mirrored = pts[mirror_index()]
    mflat, mvalid = mesh_warp(flat, mirrored, pts, hw, tris)
    mdist, _ = mesh_warp(dist.astype(np.float32), mirrored, pts, hw, tris)
    mskin, _ = mesh_warp(skin.astype(np.float32), mirrored, pts, hw, tris)
    # Of an unlike pair, the covered one is the one farther from the skin statistics (a
    # coloured object, a hand in other light); when both are about as far, the darker one
    # (hair, a hard shadow).
    darker = flat[..., 0] < mflat[..., 0] - 0.5 * MIRROR_DE
    odd = (dist > mdist + 1.0) | (darker & (dist > mdist - 0.5))
    unlike = np.linalg.norm(flat - mflat, axis=2)
    # Not on the nose: lit from one side, its far wall is a hard shade the coarse light (15%)
    # leaves in, unlike its lit twin (2, wlh: a stripe down the nose flagged, grown into the
    # cheek and the eye beside it and filled from the mirror). A strand over the nose is still
    # found by `_grow_strands`, which judges lines, not shade.
    nose = cv2.dilate(hard_polygon(hw, pts, NOSE, hull=True).astype(np.uint8), _disc(NOSE_MARGIN * size)) > 0
    asym = (mvalid > 0) & (mskin > 0.5) & (unlike > MIRROR_DE) & odd & ~nose
    # Inside the features (not skin-coloured, but symmetric): only a gross difference from
    # the twin, on the side farther from the skin (a green card over half the lips).
    feature_odd = np.any(features, axis=0) & (mvalid > 0) & (unlike > 2 * MIRROR_DE) & (dist > mdist + 1.0)
    # The plain-outlier cue against statistics of the symmetric cheekbone skin only: the
    # forehead and temples add their own light fall-off (and often hair) to the spread, the
    # chin a beard.
    rows = np.arange(hw[0])[:, None]
    below_eyes = rows > pts[[33, 263], 1].max()
    # Reference skin: the cheekbones and nose, between the eyes and the nose tip (no beard,
    # no fringe, lit much like the forehead).
    core = skin & ~asym & (visible > 0.9) & below_eyes & (rows < pts[1, 1])
    darkest = -np.inf
    if core.sum() >= 50:
        ref = lab[core]
        med = np.median(ref, axis=0)
        scale = np.maximum(1.4826 * np.median(np.abs(ref - med), axis=0), MIN_SCALE)
        dist = np.linalg.norm((lab - med) / scale, axis=2)
        darkest = _darkest(ref[:, 0])
    # Symmetric outliers count above the brows only (a fringe over the forehead); the eye
    # sockets are shadowed on most faces, and below the eyes a dark patch on both sides is a
    # beard or a moustache, which carry identity.
    above_brows = rows < pts[LEFT_BROW + RIGHT_BROW, 1].mean()
    outlier = (dist > OCCLUDER_DISTANCE) | (lab[..., 0] < darkest)
    # A colour no skin has (green, blue: a card, a toy, a tinted lens) is an occluder anywhere;
    # a beard's or a shadow's colour is skin-like (a few MAD in a, b, measured ~3).
    foreign = np.linalg.norm((lab[..., 1:] - med[1:]) / scale[1:], axis=2) > 3 * OCCLUDER_DISTANCE
    hairlike = (skin & outlier & above_brows) | _hair_from_outside(lab, pts, oval, dist, med, scale)
    occ = ((skin & (asym | foreign)) | feature_odd | hairlike).astype(np.uint8)
    # Speckles (pores, a mole, registration noise at a feature's rim) are small blobs; a
    # strand of hair is thin but long, so components are kept by area, not by an opening.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(occ, connectivity=8)
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < MIN_OCCLUDER_AREA * size * size)
    occ[np.isin(labels, small[small > 0])] = 0
    # Grown only into pixels much darker than their mirror in proportion (under DARKER_FRACTION
    # of its lightness) or off the mesh: on a dim face a Lab difference is small however dark
    # the hair is (hair_dnl: band L 11, its mirror 23, passed as skin), and a proportion tells
    # it from the face's own shade (1_source's shaded cheek: 55 against 72; grown there, it
    # and zjl's shaded side went with a fringe's colour model, eyes included).
    mlight, _ = mesh_warp(np.ascontiguousarray(lab[..., 0]), mirrored, pts, hw, tris)
    unjudged = (mvalid == 0) | (lab[..., 0] < DARKER_FRACTION * mlight)
    # The band is followed across a brow or an eye (it covers them), but only skin is marked:
    # whether the feature is covered is the ring's judgement below.
    dark = (skin | np.any(features, axis=0)) & (rows < pts[1, 1]) & (lab[..., 0] < darkest) & unjudged
    occ |= (_grow_like_found(hairlike & (occ > 0), lab, dark, dist) & skin).astype(np.uint8)
    # A reference that is a fifth hair or cut (`_skin_reference`) is the mark of hair framing the
    # face that no cue above could see; only then is what lies beside a covered mirror judged
    # against the skin (run on every face it cost hzxc's fringe 3 closer-to-source pairs of 22).
    reference = _skin_reference(lab, core, pts) if core.sum() >= 50 else None
    if reference is not None:
        rims = cv2.dilate(np.any(features, axis=0).astype(np.uint8), _disc(STRAND_RIM * size)) > 0
        occ |= (_unlike_skin_beside_covered(occ, lab, skin & (rows < pts[1, 1]), rims, reference, mirrored, pts, tris)).astype(np.uint8)
    # Whether an eye or brow is covered is judged as before the gaps and strands are added:
    # thin lines and slivers near an eye do not hide it, and counting them buried clean eyes
    # (wlh's fringe: both eyes replaced by their mirror, closer-to-source 20 -> 8 of 22).
    bulk = cv2.dilate(occ, _disc(0.02 * size)) & oval
    # A gap inside hair (a lit lock, a few pixels between strands) is hair too, and so is a
    # sliver between hair and the oval's edge (real side hair on 2: left trusted, it fed the
    # smooth fill next to it and came back as a dark blob beside the eye).
    gaps = cv2.morphologyEx(occ | (~oval).astype(np.uint8), cv2.MORPH_CLOSE, _disc(HAIR_GAP * size))
    gaps &= cv2.dilate(occ, _disc(2 * HAIR_GAP * size))  # (the oval's own concave bends are no gaps)
    occ |= gaps & skin & (rows < pts[1, 1])
    strands = _grow_strands(occ, lab, skin, pts, mirrored, tris) & ~occ
    occ = cv2.dilate(occ, _disc(0.02 * size)) & oval
    # Strands are thin: grown only a little, and never into the eyes or brows (grown like the
    # rest, the lash lines they catch next to an eye took the eye with them: wlh's eyes
    # replaced by their mirror, closer-to-source 20 -> 8 of 22 targets).
    occ |= cv2.dilate(strands, _disc(STRAND_GROW * size)) & skin
    ring_kernel = _disc(FEATURE_RING * size)
    covered = []
    for f in features:
        ring = (cv2.dilate(f.astype(np.uint8), ring_kernel) > 0) & skin
        covered.append(bulk[ring].mean() if ring.any() else 0.0)
    for k, f in enumerate(features):
        # An eye or brow is untrusted when its surroundings are covered and more so than its
        # twin's: with a fringe over both, the less covered one is the better of the two.
        twin = covered[FEATURE_TWINS[k]]
        # The lips have no twin and a moustache or the nasolabial shadows around them: they
        # need most of their ring covered.
        limit = FEATURE_OCCLUDED if FEATURE_TWINS[k] != k else 0.6
        # Both twins buried alike (a fringe over both brows) are both untrusted: neither is
        # better, but another photo may be. One clearly less buried stays: untrusted, it took
        # its twin's pixels, which are the hair (a band over one brow that reached the other
        # printed a brow of hair on every target).
        alike = twin > 0.6 and covered[k] > twin - FEATURE_MARGIN
        if covered[k] > limit and (FEATURE_TWINS[k] == k or covered[k] > twin + FEATURE_MARGIN or alike):
            occ[f] = 1
    return occ > 0


DARK_MODE = 0.2  # share of the reference skin darker than skin gets that is a second mode (hair, background), not skin


def _skin_reference(lab: np.ndarray, core: np.ndarray, pts: np.ndarray) -> np.ndarray | None:
    """(N, 3) Lab: the reference skin of `core` (cheekbones and nose) less a dark mode, or None
    where it has none.

    The mesh of a face whose far cheek was cut away or hidden by hair that falls along it
    (turned_2, turned_hzxc, turned_jl of the hard set: mediapipe still sees a frontal face)
    trusts that cheek, and hair whose mirror is the dark cut is alike on both sides, so no
    cue removed it: 30% of the reference at L 3-17 against skin at 60-68 (its median pulled
    to 46 and its spread to 25 L, under which hair at L 5 was 2.6 MAD from "skin" and
    passed). The nose strip between the inner eye corners is skin on all of those (and on
    a fringe over one eye); the reference's pixels darker than it gets (`_darkest` of its L)
    are dropped when they are a mode of their own, DARK_MODE of the reference or more (a few
    dark pixels, a mole or a nostril's rim, leave the median alone: None, nothing to add)."""
    ref = lab[core]
    cols = np.arange(core.shape[1])[None, :]
    nose = core & (cols > pts[133, 0]) & (cols < pts[362, 0])
    if nose.sum() < 50:
        return None
    dark = ref[:, 0] < _darkest(lab[nose][:, 0])
    if dark.mean() < DARK_MODE or (~dark).sum() < 50:
        return None
    return ref[~dark]


def _unlike_skin_beside_covered(occ: np.ndarray, lab: np.ndarray, skin: np.ndarray, rims: np.ndarray, ref: np.ndarray,
                                mirrored: np.ndarray, pts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """bool (H, W): skin pixels whose mirror is covered and that are not skin themselves.

    Symmetry cannot judge a pixel whose twin is covered, and that twin will be filled from
    this pixel: hair along the near cheek of a head whose far cheek is hair or background
    (turned_2: her hair down the near temple, its mirror the dark cut; both dark, so no
    asymmetry) stayed, and was then mirrored onto the far cheek too, a dark diagonal band
    on every target. Judged instead against the skin (`ref`, `_skin_reference`): farther
    than OCCLUDER_DISTANCE from it, or darker than skin gets (`_darkest`). The mirror counts
    as covered where the occluder will be once grown (by 2% of the crop, at the end of
    `occluder_mask`): the strands at turned_2's near eye corner mirror the rim of the cut. In blobs of
    MIN_OCCLUDER_AREA off the eyes' and brows' `rims`, and followed into the rims from
    there: alone, a lash line or lid crease there is the eye's own (flagged, ds lost its
    lower lid), joined to hair it is the hair's end (turned_2's hair by the eye's outer
    corner, left alone, printed dark wings beside both eyes)."""
    hw = occ.shape
    grown = cv2.dilate(occ.astype(np.uint8), _disc(0.02 * hw[0]))  # as the occluder is grown at the end
    mocc, mvalid = mesh_warp(grown.astype(np.float32), mirrored, pts, hw, tris)
    med = np.median(ref, axis=0)
    scale = np.maximum(1.4826 * np.median(np.abs(ref - med), axis=0), MIN_SCALE)
    dist = np.linalg.norm((lab - med) / scale, axis=2)
    unlike = (dist > OCCLUDER_DISTANCE) | (lab[..., 0] < _darkest(ref[:, 0]))
    found = (skin & (mvalid > 0) & (mocc >= 0.5) & unlike).astype(np.uint8)
    n, labels = cv2.connectedComponents(found, connectivity=8)
    area = np.bincount(labels[~rims], minlength=n)  # each blob's area off the rims
    big = np.flatnonzero(area >= MIN_OCCLUDER_AREA * hw[0] * hw[0])
    return np.isin(labels, big[big > 0])


def _darkest(skin_light: np.ndarray) -> float:
    """The lightness (L) under which a pixel is darker than skin gets: hair or a hard shadow,
    from the L values of the cheekbones' skin. On a strongly modelled face (dark skin, hard
    light) the spread is wide, but dark hair is still well below most of that skin (a
    quartile: a band of hair may reach the cheek and be a few % of the reference itself):
    DARKER_THAN_SKIN below it; on a dark face in dim light those 15 L are most of the skin's
    own range (dnl: quartile 25, a dark brown band at 12 passed as skin), and a fraction of
    the quartile is the line instead."""
    q25 = float(np.percentile(skin_light, 25))
    return max(q25 - DARKER_THAN_SKIN, DARKER_FRACTION * q25)


def _grow_like_found(occ: np.ndarray, lab: np.ndarray, region: np.ndarray, skin_dist: np.ndarray) -> np.ndarray:
    """bool (H, W): pixels of `region` that look like the occluder already found and are
    connected to it: a band of hair followed from where a cue caught it into where none did.

    On a dark face in dim light (hair_dnl) the cues catch a band of dark hair only above the
    brow: over the eye and the cheek its mirror is the far side's shade (no asymmetry) and
    outliers count above the brows only, so the rest of the band stayed in the texture. The
    model is the found occluder's own colour (median, robust spread floored at
    HAIR_SCALE_FLOOR); a pixel is like it within HAIR_LIKE of that model and nearer to it than
    to the skin (each in its own MAD units), as in `_hair_from_outside`."""
    seeds = (occ > 0) & region
    if seeds.sum() < 50:
        return np.zeros(occ.shape, bool)
    ref = lab[seeds]
    hmed = np.median(ref, axis=0)
    hscale = np.maximum(1.4826 * np.median(np.abs(ref - hmed), axis=0), HAIR_SCALE_FLOOR)
    hdist = np.linalg.norm((lab - hmed) / hscale, axis=2)
    like = region & (hdist < HAIR_LIKE) & (hdist < skin_dist)
    n, labels = cv2.connectedComponents((like | seeds).astype(np.uint8), connectivity=8)
    found = np.unique(labels[seeds])
    return np.isin(labels, found[found > 0]) & like


HAIR_GAP = 0.03  # gaps inside an occluder narrower than about twice this (fraction of the crop) are closed
STRAND_NEAR = 0.06  # how far from a found occluder a strand is looked for, fraction of the crop
STRAND_RIM = 0.025  # margin around the eyes, brows (and the oval's edge) where no strand is looked for, fraction of the crop
STRAND_GROW = 0.01  # how much a found strand is widened (its blurred edge), fraction of the crop
STRAND_STEPS = 4  # times the search steps along a strand from what was found
STRAND_CONTRAST = 5.0  # L units a strand is darker than its surroundings (a blur at 1.2% of the crop), and than its mirror is


def _grow_strands(occ: np.ndarray, lab: np.ndarray, skin: np.ndarray,
                  pts: np.ndarray, mirrored: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """uint8 (H, W): `occ` with the thin dark strands near it added, above the upper lip.

    The strands at a band's edge differ from their mirror by less than MIRROR_DE (thin, so
    blurred into the skin), and where a strand crosses the midline its mirror is the band
    itself (both dark: no asymmetry at all). Missed, they stayed in the texture and the fill
    mirrored them onto the covered side: the V of dark strands over the nose on every target
    (hair_zjl, hair_cage, RESULTS.md issue 10). What gives them away is local: darker than
    their own surroundings by STRAND_CONTRAST (a line, not the broad shade of a cheek, which
    growing by connectivity alone spread into on real photos), a line their mirror lacks,
    within STRAND_NEAR of a found occluder (followed along, STRAND_STEPS times), down to the
    upper lip (a strand ends beside the nostril; below the lip a line is a beard or a fold)."""
    if not occ.any():
        return occ
    hw = occ.shape
    size = float(hw[0])
    mocc, _ = mesh_warp(occ.astype(np.float32), mirrored, pts, hw, tris)
    light = lab[..., 0]
    detail = light - cv2.GaussianBlur(light, (0, 0), 0.012 * size)
    mdetail, _ = mesh_warp(detail, mirrored, pts, hw, tris)
    line = detail < -STRAND_CONTRAST
    rows = np.arange(hw[0])[:, None]
    # A strand is a line its mirror does not have (the mirror's detail is compared, not its
    # lightness: beside the nose one side is in shade, and a strand there is no darker than
    # the shaded twin); where the mirror is covered there is no symmetry to judge by, and any
    # dark line counts. Not at the eyes' and brows' rims: lids, creases and lashes are dark
    # lines of the face, and a smile or a glance makes them unlike their twins (flagged, they
    # were filled from the mirror: hzxc, wlh lost identity).
    rims = cv2.dilate((~skin).astype(np.uint8), _disc(STRAND_RIM * size)) > 0
    unlike = (detail < mdetail - STRAND_CONTRAST) | (mocc >= 0.5)
    strands = (line & unlike & skin & ~rims & (rows < pts[0, 1])).astype(np.uint8)
    out = occ.copy()
    for _ in range(STRAND_STEPS):  # a strand found is followed along: its continuation is near it
        grown = out | (strands & cv2.dilate(out, _disc(STRAND_NEAR * size)))
        if np.array_equal(grown, out):
            break
        out = grown
    return out


HAIR_LIKE = 3.0  # robust distance (MAD units, Lab) to the hair model within which a pixel is hair-like
HAIR_RING = 0.08  # width of the band outside the face oval where hair (or background) is sampled, fraction of the crop
HAIR_SCALE_FLOOR = np.array([6.0, 3.0, 3.0])
# Hair falling down the sides of the face, below the eyes: followed in a band SIDE_RIM (fraction of the
# crop) wide inside the oval's sides, where a pixel is hair when its distance to the hair model is under
# SIDE_NEARER of its distance to the skin; not where BEARD_SHARE of the chin (below the lower lip, between
# the mouth corners) is hair-like (a beard).
SIDE_RIM, SIDE_NEARER, BEARD_SHARE = 0.05, 0.5, 0.2


def _hair_from_outside(lab: np.ndarray, pts: np.ndarray, oval: np.ndarray, skin_dist: np.ndarray,
                       skin_med: np.ndarray, skin_scale: np.ndarray) -> np.ndarray:
    """bool (H, W): pixels in the face oval, above the nose tip (and below it, along the oval's
    sides), that look like what lies just outside the oval above the eyes (hair, or background)
    and are connected to it.

    A fringe or side hair is continuous with the hair around the face: that continuity is the
    cue the symmetry test lacks when hair covers both sides of a forehead, or covers a brow
    whose twin is in shadow. The hair model is the median and robust spread of the band just
    outside the oval above the eyes, from its pixels that are not skin-like (the forehead's
    skin may run past the oval); a pixel is hair-like when it is within HAIR_LIKE of that
    model and nearer to it than to the skin (both in their own MAD units). Eyes' shadows and
    brows stay unless hair-like pixels join them to the outside (a fringe over a brow)."""
    hw = oval.shape
    size = float(hw[0])
    rows, cols = np.arange(hw[0])[:, None], np.arange(hw[1])[None, :]
    outside = (cv2.dilate(oval.astype(np.uint8), _disc(HAIR_RING * size)) > 0) & ~oval
    above_eyes = rows < pts[[33, 263], 1].max()
    ring = outside & above_eyes
    samples = ring & (skin_dist > OCCLUDER_DISTANCE)
    if samples.sum() < 5e-3 * size * size:
        return np.zeros(hw, bool)
    ref = lab[samples]
    hmed = np.median(ref, axis=0)
    hscale = np.maximum(1.4826 * np.median(np.abs(ref - hmed), axis=0), HAIR_SCALE_FLOOR)
    hdist = np.linalg.norm((lab - hmed) / hscale, axis=2)
    like = (hdist < HAIR_LIKE) & (hdist < skin_dist) & (skin_dist > OCCLUDER_DISTANCE)
    cand = (like & oval & (rows < pts[1, 1])) | (like & ring)
    # Below the eyes, hair that falls down the sides of the face: pixels in a band along the oval's
    # sides that are hair-like and much nearer the hair than the skin, joined to the hair above
    # through the band outside the oval. The mesh's outline runs a few pixels past a cheek that
    # hair frames, and a face in side light spreads its skin statistics so wide that such a strand
    # was within OCCLUDER_DISTANCE of them: left in, it drew a dark streak down the target's cheek
    # on every target (hzxc). Not on a bearded face: there the same colour covering the chin is
    # the beard, which carries identity.
    chin = oval & (rows > pts[17, 1]) & (cols >= pts[61, 0]) & (cols <= pts[291, 0])
    if chin.any() and like[chin].mean() < BEARD_SHARE:
        rim = oval & ~(cv2.erode(oval.astype(np.uint8), _disc(SIDE_RIM * size)) > 0) & ~above_eyes & ~chin
        strands = (hdist < HAIR_LIKE) & (hdist < SIDE_NEARER * skin_dist)
        cand |= strands & (rim | (outside & ~above_eyes))
    n, labels = cv2.connectedComponents(cand.astype(np.uint8), connectivity=8)
    seeds = np.unique(labels[like & ring])
    return np.isin(labels, seeds[seeds > 0]) & oval


BROW_DEPTH = 0.6  # how far a drawn brow goes from the skin toward the hair's colour at its core (hairs leave skin between them)
BROW_MIN = 0.05  # least thickness of a drawn brow, in eye distances (mediapipe's brow band is 0.07-0.1 on most faces)
BROW_TAIL = 0.6  # a drawn brow's thickness at its outer end, relative to its inner end (the head)
BROW_CONTRAST = (20.0, 45.0)  # L units a drawn brow's colour lies below the skin's median, at least and at most
BROW_STREAKS = 0.15  # the streaks' strength, a fraction of the brow's depth


def _drawn_brows(skin: np.ndarray, lab: np.ndarray, pts: np.ndarray, occluded: np.ndarray,
                 skin_median: np.ndarray) -> np.ndarray:
    """(H, W, 3) Lab: `skin` (the smooth skin fill) with a brow drawn along each brow's mesh band.

    For a brow that neither the photo nor its mirror shows (a fringe over both brows): its
    place and arch are the mesh's (the two contours of the band), its thickness the band's
    (at least BROW_MIN eye distances) tapering to BROW_TAIL at the outer end, its colour that
    of the hair covering it (brows are about the hair's colour; a drawn one is lighter, as
    sparse hairs over skin are), held between BROW_CONTRAST below the skin. Fine streaks along
    the brow, so it does not read as a painted bar."""
    hw = skin.shape[:2]
    size = float(hw[0])
    iod = float(np.linalg.norm(pts[33] - pts[263]))
    shape = np.zeros(hw, np.float32)
    band = np.zeros(hw, np.uint8)
    for a, b in (RIGHT_BROW_EDGES, LEFT_BROW_EDGES):
        pa, pb = pts[a], pts[b]
        centre = 0.5 * (pa + pb)
        thick = np.maximum(np.linalg.norm(pa - pb, axis=1), BROW_MIN * iod)
        inner = int(np.argmin(np.abs(centre[:, 0] - pts[168, 0])))  # the head: nearer the nose bridge
        t = np.abs(np.arange(len(a)) - inner) / max(len(a) - 1, 1)
        thick = thick * (1.0 - (1.0 - BROW_TAIL) * t)
        for k in range(len(a) - 1):  # a chain of round-capped strokes, 16x sub-pixel
            p0, p1 = np.rint(centre[k] * 16).astype(int), np.rint(centre[k + 1] * 16).astype(int)
            w = max(1, int(round(0.5 * (thick[k] + thick[k + 1]))))
            cv2.line(shape, tuple(p0.tolist()), tuple(p1.tolist()), 1.0, w, cv2.LINE_AA, 4)
        cv2.fillPoly(band, [np.rint(np.vstack([pa, pb[::-1]])).astype(np.int32)], 1)
    shape = cv2.GaussianBlur(shape, (0, 0), max(0.5, 0.004 * size))
    # Streaks: noise smoothed along the rows much more than across (brow hairs lie sideways).
    streak = cv2.GaussianBlur(np.random.default_rng(1).standard_normal(hw).astype(np.float32), (0, 0),
                              sigmaX=0.012 * size, sigmaY=0.002 * size)
    streak /= max(float(streak.std()), 1e-6)
    alpha = np.clip(BROW_DEPTH * shape * (1.0 + BROW_STREAKS * streak), 0.0, 1.0)
    near = (cv2.dilate(band, _disc(0.03 * size)) > 0) & occluded
    tone = np.median(lab[near], axis=0) if near.sum() >= 20 else skin_median - [BROW_CONTRAST[1] / 2, 0.0, 0.0]
    tone = tone.astype(np.float32).copy()
    tone[0] = np.clip(tone[0], skin_median[0] - BROW_CONTRAST[1], skin_median[0] - BROW_CONTRAST[0])
    tone[1:] = 0.5 * (tone[1:] + skin_median[1:])  # the skin shows between the hairs: half its hue
    return skin + alpha[..., None] * (tone - skin)


def _light_shift(diff: np.ndarray, both: np.ndarray, size: float) -> np.ndarray:
    """(H, W, 3) Lab: what to add to the mirrored texture to bring it to this side's light.

    Measured where both a pixel and its mirror are trusted skin (`both`: their difference
    there is light and little else once blurred) and carried smoothly into where only the
    mirror is: at 4% of the crop near such pixels, so the fill meets its surroundings with no
    seam, at 12% farther in. (Comparing each side's own coarse colour instead, each over its
    own trusted pixels, left a step at the rim of a filled patch: lighter or darker wedges
    on turned sources.) Clipped: a hair edge still leans the trusted mean dark, and the
    target's light is matched at swap time anyway."""
    near = masked_blur(diff, both, 0.04 * size)
    wide = masked_blur(diff, both, 0.12 * size)
    t = _smooth01(cv2.GaussianBlur(both.astype(np.float32), (0, 0), 0.04 * size), 0.02, 0.1)[..., None]
    return np.clip(t * near + (1.0 - t) * wide, -MAX_LIGHT_SHIFT, MAX_LIGHT_SHIFT)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """a where t is 1, b where t is 0 (t (H, W), a and b (H, W, 3))."""
    t = t[..., None]
    return t * a + (1.0 - t) * b


def _skin_grain(lab: np.ndarray, weight: np.ndarray, size: float) -> np.ndarray:
    """(H, W, 3) Lab: a fine random grain with the trusted skin's own fine-detail spread
    (its pores, down and the photo's noise, above a blur of 1.5% of the crop), to lay over
    the smooth fill: a flat fill reads as a plastic patch next to the photo's skin. Seeded,
    so a source always gives the same texture."""
    detail = lab - cv2.GaussianBlur(lab, (0, 0), 0.015 * size)
    skin = detail[weight > 0.9]
    if len(skin) < 50:
        return np.zeros_like(lab)
    spread = 1.4826 * np.median(np.abs(skin[:, 0] - np.median(skin[:, 0])))
    noise = np.random.default_rng(0).standard_normal(lab.shape[:2]).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), max(0.5, 0.003 * size))
    grain = np.zeros_like(lab)
    grain[..., 0] = noise * (GRAIN * spread / max(float(noise.std()), 1e-6))  # lightness only: coloured grain speckles
    return grain


def clean_texture(texture: np.ndarray, points: np.ndarray, z: np.ndarray | None = None,
                  facing: np.ndarray | None = None, covered: np.ndarray | None = None) -> CleanTexture:
    """The source crop with what is not its own visible face replaced (see the module doc).

    texture: aligned source crop, RGB uint8; points: its 468 mesh points (crop pixels);
    z: their relative depth on the crop's pixel scale, or None (2D fallback);
    facing (T,), optional: the triangles' facing in the photo when `texture` and `points`
    are the frontal layout (`frontal_texture`; z is then not used);
    covered (H, W) float in [0, 1], optional: what is known to lie over the face (a hand found
    on it, rswap.face.hands), untrusted whatever the cues below say (over half: covered)."""
    hw = texture.shape[:2]
    size = float(hw[0])
    pts = np.asarray(points, np.float32)
    # Glasses' frames first, filled from the skin around them (source_glasses.py): symmetric and
    # beside the eyes, the cues below leave them in.
    texture, _ = without_glasses(texture, pts)
    tris = mesh_triangles()
    if facing is None:
        facing = triangle_facing(pts, z, tris)
    visible = visibility_map(hw, pts, z, facing)
    occluded = occluder_mask(texture, pts, visible)
    if covered is not None:
        occluded |= covered > 0.5
    soft_occ = cv2.GaussianBlur(occluded.astype(np.float32), (0, 0), 0.01 * size)
    trust = visible * (1.0 - np.maximum(soft_occ, occluded))

    # The mirror image through the mesh: point i of the face shows what point mirror[i] shows.
    mirrored_pts = pts[mirror_index()]
    mirror, mvalid = mesh_warp(texture, mirrored_pts, pts, hw, tris)
    mtrust, _ = mesh_warp(trust, mirrored_pts, pts, hw, tris)
    mtrust *= mvalid

    # Light differs between the two sides: move the mirror's coarse colour to this side's.
    oval = region_mask(hw, pts, include=("face_oval",), feather=0, erode=0)
    features = np.any([hard_polygon(hw, pts, idx, hull=True) for idx in FEATURES], axis=0)
    skin_w = oval * (~features)
    lab, mlab = (cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB) for img in (texture, mirror))
    mirror_fixed = mlab + _light_shift(lab - mlab, skin_w * trust * mtrust, size)
    # The smooth fill: the trusted skin's local colour; where none is near (a fringe over the
    # whole forehead) a wider one, and where even that finds none, the skin's median.
    weight = skin_w * trust
    # Only what is lighter than hair feeds it: a strand or lash line left trusted beside an
    # untrusted patch (turned_2's near temple, where her hair falls by the eye) was blurred
    # into the fill as a grey smear from the eye to the temple.
    if (weight > 0.9).sum() > 50:
        weight = weight * (lab[..., 0] >= _darkest(lab[weight > 0.9][:, 0]))
    smooth = masked_blur(lab, weight, 0.03 * size)
    near = cv2.GaussianBlur(weight.astype(np.float32), (0, 0), 0.03 * size)
    wide = masked_blur(lab, weight, 0.12 * size)
    far = cv2.GaussianBlur(weight.astype(np.float32), (0, 0), 0.12 * size)
    median = np.median(lab[weight > 0.5], axis=0) if (weight > 0.5).sum() > 20 else lab[oval > 0].mean(0)
    # Blended, not switched, from one reach to the next: a switch drew the fill's own seams.
    wide = _mix(wide, median, _smooth01(far, 0.01, 0.04))
    smooth = _mix(smooth, wide, _smooth01(near, 0.02, 0.08)) + _skin_grain(lab, weight, size)
    # Features are never smoothed away (a face without a brow). Eyes and lips, where neither
    # side is trusted, take the mirror's all the same; a brow gets one drawn along its mesh
    # band instead (`_drawn_brows`): the mirror of a brow under a fringe is the fringe, which
    # printed a thick bar of hair where each brow goes (hzxc, RESULTS.md issue 10).
    eyes_lips = np.any([hard_polygon(hw, pts, FEATURES[k], hull=True) for k in (0, 1, 4)], axis=0)
    smooth_fill = np.where(eyes_lips[..., None], mirror_fixed, _drawn_brows(smooth, lab, pts, occluded, median))

    # A mirror pixel fills skin only where it looks like this side's skin (the smooth fill):
    # hair the cues left trusted along one jaw edge was mirrored onto the other as a dark
    # streak, and grey half-hair onto a cheek (hzxc). Features, the eye sockets (brow to cheekbone)
    # and the nose keep their mirror: their shade is the face's own (an eyelid took the fill as a
    # pale ring, the shade under a covered eye as a pale arc).
    own_shade = hard_polygon(hw, pts, NOSE, hull=True)
    for socket in (RIGHT_EYE_LOOP + RIGHT_BROW + RIGHT_EYE_SOCKET_LOWER, LEFT_EYE_LOOP + LEFT_BROW + LEFT_EYE_SOCKET_LOWER):
        own_shade |= hard_polygon(hw, pts, socket, hull=True)
    own_shade = cv2.dilate(own_shade.astype(np.uint8), _disc(NOSE_MARGIN * size)) > 0
    unlike = np.linalg.norm(mirror_fixed - smooth, axis=2)
    mtrust = mtrust * (1.0 - ((skin_w > 0) & ~own_shade) * _smooth01(unlike, MIRROR_SKIN_DE[0], MIRROR_SKIN_DE[1]))
    # Own pixels give way, smoothly, to a trusted mirror that the camera saw much better.
    own = trust * (1.0 - mirror_preference(hw, pts, facing) * mtrust)
    a = own[..., None]
    b = mtrust[..., None]
    out = a * lab + (1.0 - a) * (b * mirror_fixed + (1.0 - b) * smooth_fill)
    rgb = np.clip(np.rint(cv2.cvtColor(out.astype(np.float32), cv2.COLOR_LAB2RGB) * 255.0), 0, 255).astype(np.uint8)
    inside = oval > 0
    rgb[~inside] = texture[~inside]
    rgb = even_light(rgb, pts)  # the source's own light and colour cast out (source_light.py)
    filled = ((1.0 - own) * mtrust).astype(np.float32)
    return CleanTexture(rgb, trust.astype(np.float32), filled, np.maximum(trust, mtrust).astype(np.float32))


SKIN_PAST_OUTLINE = 0.025  # how far past the face oval the texture's skin is carried, fraction of the crop (6 px at 256²)


def skin_past_outline(texture: np.ndarray, points: np.ndarray, reach: float = SKIN_PAST_OUTLINE) -> np.ndarray:
    """The texture with a band `reach` (fraction of the crop) wide outside its face oval taking
    the colour of the nearest pixel inside the oval, the photo beyond it. (Nearest, not
    inpainted: an inpainting fills the band from both its edges, and half of it took the
    photo's background colour.)

    The swap's mesh warp reads a little past the outline: bilinear taps at the rim, and rim
    triangles that are thin (or folded) in the source layout, stretched over a turned target's
    near cheek. On hzxc -> 015310, 806 pixels of the warped face sampled outside the source's
    oval (most within 2 px, the folded ones up to 32 px): with the photo's hair there, a dark,
    streaky band ran down the cheek of every target turned that way (RESULTS.md, issue 10,
    twenty-sixth session)."""
    hw = texture.shape[:2]
    inside = hard_polygon(hw, points, FACE_OVAL)
    band = (cv2.dilate(inside.astype(np.uint8), _disc(reach * hw[0])) > 0) & ~inside
    if not inside.any() or not band.any():
        return texture
    # Each pixel outside the oval labelled with its nearest pixel inside (the zeros of the input).
    _, labels = cv2.distanceTransformWithLabels((~inside).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    where = np.zeros(int(labels.max()) + 1, np.int64)
    where[labels[inside]] = np.flatnonzero(inside)
    out = texture.copy()
    out[band] = texture.reshape(-1, texture.shape[2])[where[labels[band]]]
    return out


def merge_textures(base: np.ndarray, base_points: np.ndarray, base_quality: np.ndarray,
                   others: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Several cleaned photos of one person into the base photo's frame: each pixel from the
    photo that sees it best (highest quality: own trust, or the mirror's), the others'
    colour first matched to the base's skin so the patches do not show.

    others: (texture, points, quality) of the other photos, each in its own crop frame."""
    hw = base.shape[:2]
    tris = mesh_triangles()
    best = base_quality.copy()
    out = base.astype(np.float32)
    skin = region_mask(hw, base_points, include=("face_oval",), feather=0, erode=0.05 * hw[0])
    for texture, points, quality in others:
        warped, valid = mesh_warp(texture, points, base_points, hw, tris)
        q, _ = mesh_warp(quality, points, base_points, hw, tris)
        q *= valid
        if not (skin * valid).any():
            continue
        warped = transfer_color(warped, base, skin * valid, skin, method="reinhard", where=valid)
        # Soft take-over: a photo wins where it is clearly better (by 0.2 in quality).
        w = _smooth01(q - best, 0.0, 0.2)[..., None]
        out = out * (1.0 - w) + warped.astype(np.float32) * w
        best = np.maximum(best, q)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
