"""How much of a colour drawn on a source photo reaches the swapped face (the cleaning's tests)."""

from __future__ import annotations

import numpy as np

from rswap.compose.color import to_lab
from rswap.compose.masks import region_mask
from rswap.face.align import align_crop, transform_points
from rswap.swap.classical import ClassicalSwapper


def share_in_swap(source_image: np.ndarray, target_image: np.ndarray, analyse, rgb: tuple[int, int, int], within: float,
                  clean_source: bool = True) -> float:
    """Share of the swapped face's skin (its oval without eyes and brows, 4 pixels in) within
    `within` CIELAB units of `rgb`, the source swapped onto the target's aligned crop by a
    classical swapper; `analyse`: image -> its face (conftest's fixture)."""
    sw = ClassicalSwapper(clean_source=clean_source)
    source = sw.encode_source([source_image], [analyse(source_image)])
    face = analyse(target_image)
    crop, M = align_crop(target_image, face.kps5, sw.template)
    landmarks = transform_points(face.landmarks, M)
    out = sw.swap(crop, landmarks, source).crop
    skin = region_mask(crop.shape[:2], landmarks, include=("face_oval",),
                       exclude=("left_eye", "right_eye", "left_brow", "right_brow"), feather=0, erode=4) > 0
    near = np.linalg.norm(to_lab(out) - to_lab(np.array([[rgb]], np.uint8)), axis=2) < within
    return float((near & skin).sum() / skin.sum())
