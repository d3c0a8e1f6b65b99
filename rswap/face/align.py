"""Alignment templates and the similarity transform that maps a face onto one.

A template is five reference points (insightface order) in a square crop of a
given size. `align_crop` returns the crop and the 2x3 matrix M that maps frame
pixels to crop pixels; `paste_back` (rswap.compose) uses the inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rswap.errors import RswapError

# insightface's ArcFace reference points for a 112x112 crop.
_ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    np.float32,
)
# FFHQ-style points for a 512x512 crop (the template GFPGAN/CodeFormer align with).
_FFHQ_512 = np.array(
    [[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043], [313.08905, 371.15118]],
    np.float32,
)


@dataclass(frozen=True)
class Template:
    name: str
    size: int
    points: np.ndarray  # (5, 2) float32 in crop pixels

    def scaled(self, size: int) -> "Template":
        return Template(self.name, size, self.points * (size / self.size))


TEMPLATES: dict[str, Template] = {
    "arcface112": Template("arcface112", 112, _ARCFACE_112),
    # insightface's 128 variant (inswapper_128): same points shifted 8 px right.
    "arcface128": Template("arcface128", 128, _ARCFACE_112 + np.array([8.0, 0.0], np.float32)),
    "ffhq256": Template("ffhq256", 256, _FFHQ_512 * 0.5),
    "ffhq512": Template("ffhq512", 512, _FFHQ_512),
}


def get_template(name: str, size: int | None = None) -> Template:
    try:
        t = TEMPLATES[name]
    except KeyError:
        raise RswapError(f"unknown alignment template {name!r}; choose one of {', '.join(TEMPLATES)}") from None
    return t if size is None or size == t.size else t.scaled(size)


def crop_steps(template: Template, steps: int = 5) -> tuple[int, ...]:
    """Crop sizes from half the template's to its own in eighths (ffhq256: 128, 160, 192, 224, 256)."""
    return tuple(template.size * (4 + k) // 8 for k in range(steps))


def fitted_template(kps5: np.ndarray, template: Template, sizes: tuple[int, ...]) -> Template:
    """`template` at the smallest of `sizes` whose crop has at least as many pixels across the
    face as the frame has: below that the crop would drop detail the frame holds, above it the
    swap works on upsampled pixels that the paste-back samples down again.

    The swap's cost is per crop pixel (issue 11, seventh session): `rswap bench stages`' 720p
    face spans 142 frame pixels of the 256² crop (160² is enough, 39% of the pixels), the
    talking-head clip's face at 15% of 720p 167-178 (192²), at 40% 447-460 and the dev photos
    162-1169 (256²). No sizes: the template as it is."""
    if not sizes:
        return template
    M = similarity_matrix(kps5, template.points)
    extent = template.size / np.sqrt(abs(float(np.linalg.det(M[:, :2].astype(np.float64)))) + 1e-12)
    size = next((s for s in sorted(sizes) if s >= extent), template.size)
    return template if size == template.size else template.scaled(size)


def similarity_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src to dst (Umeyama 1991).

    Written out because OpenCV only offers robust (RANSAC/LMEDS) fits, which with five
    points ignore some of them; alignment wants every point to count.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c**2).sum() / len(src)
    if var_s < 1e-12:
        raise RswapError("could not fit an alignment transform: the face landmarks are degenerate")
    cov = d_c.T @ s_c / len(src)
    U, S, Vt = np.linalg.svd(cov)
    D = np.diag([1.0, np.sign(np.linalg.det(U) * np.linalg.det(Vt))])
    R = U @ D @ Vt
    scale = np.trace(np.diag(S) @ D) / var_s
    t = mu_d - scale * R @ mu_s
    return np.hstack([scale * R, t[:, None]]).astype(np.float32)


def invert_affine(M: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(M).astype(np.float32)


def transform_points(points: np.ndarray, M: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, np.float32)
    return (pts @ M[:, :2].T + M[:, 2]).astype(np.float32)


def align_crop(image: np.ndarray, kps5: np.ndarray, template: Template) -> tuple[np.ndarray, np.ndarray]:
    """Warp `image` so the face's 5 points land on the template. Returns (crop, M frame->crop)."""
    M = similarity_matrix(kps5, template.points)
    crop = cv2.warpAffine(
        image, M, (template.size, template.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    return crop, M
