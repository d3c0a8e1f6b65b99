"""Made-up identities from scikit-image's astronaut photo, for the training tests.

An "identity" is the astronaut's face with a fixed geometric reshaping (face width,
eye spacing, jaw length, nose) and skin tint; its "photos" are random augmentations
of it (rotation, scale, shift, brightness, noise). dlib tells these identities apart
(cosine well below its same-person level) while mediapipe still finds the face.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage.data import astronaut

# astronaut face centre and scale (pixels of the 512x512 photo)
_CX, _CY, _R = 225.0, 130.0, 75.0

IDENTITY_SHAPES = [
    # (face width, eye spacing, jaw length, nose length, tint BGR-free RGB gains)
    (1.00, 1.00, 1.00, 1.00, (1.00, 1.00, 1.00)),
    (1.25, 1.20, 0.85, 1.15, (1.05, 0.95, 0.90)),
    (0.80, 0.85, 1.25, 0.85, (0.92, 1.00, 1.08)),
    (1.15, 0.80, 1.15, 1.25, (1.00, 1.05, 0.95)),
    (0.90, 1.25, 0.80, 0.80, (1.08, 1.02, 0.95)),
]


def identity_image(k: int) -> np.ndarray:
    """The k-th made-up person: a smooth warp of the astronaut's face."""
    width, eyes, jaw, nose, tint = IDENTITY_SHAPES[k % len(IDENTITY_SHAPES)]
    image = astronaut()
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = (xs - _CX) / _R, (ys - _CY) / _R
    fall = np.exp(-(dx**2 + dy**2) / 2.0)  # effect fades outside the face
    sx = 1 + (width - 1) * fall + (eyes - 1) * fall * np.exp(-((dy + 0.35) ** 2) / 0.1)
    sy = 1 + (jaw - 1) * fall * (dy > 0) + (nose - 1) * fall * np.exp(-(dx**2) / 0.2) * np.exp(-(dy**2) / 0.2)
    map_x = _CX + (xs - _CX) / sx
    map_y = _CY + (ys - _CY) / sy
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
    if k % len(IDENTITY_SHAPES):
        # skin texture of its own (blotches, shading) inside the face: the part of identity that a
        # texture-carrying swap moves across, so synthesized triplets can pass the identity check
        rng = np.random.default_rng(1000 + k)
        field = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 5)
        field *= 45 / (field.std() + 1e-6)
        inside = np.exp(-(((xs - 225) / 42) ** 2 + ((ys - 128) / 52) ** 2) ** 2)
        out += (field * inside)[..., None]
    return np.clip(out * np.array(tint, np.float32), 0, 255).astype(np.uint8)


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A new "photo": rotation, scale, shift, brightness/contrast, a little noise."""
    h, w = image.shape[:2]
    M = cv2.getRotationMatrix2D((_CX, _CY), rng.uniform(-8, 8), rng.uniform(0.9, 1.1))
    M[:, 2] += rng.uniform(-15, 15, 2)
    out = cv2.warpAffine(image, M, (w, h), borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
    out = out * rng.uniform(0.85, 1.15) + rng.uniform(-15, 15) + rng.normal(0, 2, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def write_identity_folders(root: Path, identities: int, photos: int, seed: int = 0, size: int = 256) -> Path:
    """root/person_k/photo_j.jpg for k < identities, j < photos; images downscaled to `size`."""
    rng = np.random.default_rng(seed)
    for k in range(identities):
        folder = root / f"person_{k}"
        folder.mkdir(parents=True, exist_ok=True)
        base = identity_image(k)
        for j in range(photos):
            img = cv2.resize(augment(base, rng), (size, size), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(folder / f"photo_{j}.jpg"), img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    return root
