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


def crop_steps(template: Template) -> tuple[int, ...]:
    """Crop sizes from half the template's to its own in sixteenths (ffhq256: 128, 144, ..., 256)."""
    return tuple(template.size * (8 + k) // 16 for k in range(9))


def fitted_template(kps5: np.ndarray, template: Template, sizes: tuple[int, ...]) -> Template:
    """`template` at the smallest of `sizes` whose crop has at least as many pixels across the
    face as the frame has: below that the crop would drop detail the frame holds, above it the
    swap works on upsampled pixels that the paste-back samples down again.

    The swap's cost is per crop pixel (issue 11, seventh session): `rswap bench stages`' 720p
    face spans 142 frame pixels of the 256² crop (144² is enough, 32% of the pixels), the
    talking-head clip's face at 15% of 720p 167-178 (176² or 192²), at 40% 447-460 and the dev photos
    162-1169 (256²). No sizes: the template as it is."""
    if not sizes:
        return template
    extent = template.size * enlargement(similarity_matrix(kps5, template.points))
    size = next((s for s in sorted(sizes) if s >= extent), template.size)
    return template if size == template.size else template.scaled(size)


def enlargement(M: np.ndarray) -> float:
    """Frame pixels a crop pixel spans for a face cut with M (frame -> crop): > 1, a face larger than its crop."""
    return 1.0 / max(float(np.sqrt(abs(np.linalg.det(np.asarray(M, np.float64)[:, :2])))), 1e-6)


def similarity_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src to dst.

    Written out because OpenCV only offers robust (RANSAC/LMEDS) fits, which with five
    points ignore some of them; alignment wants every point to count. In 2D the fit has a
    closed form (a z + t over complex points z, a = sum(conj(s) d) / sum(|s|²) on centred
    points): the same matrix as Umeyama's (1991) SVD with its reflection guard, within float
    rounding, in 40 µs where the SVD took 70 (it runs three times per face per frame)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.sum(0) / len(src), dst.sum(0) / len(dst)  # np.mean's sums, without its wrapper (~10 µs)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c * s_c).sum()
    if var_s < 1e-12 * len(src):
        raise RswapError("could not fit an alignment transform: the face landmarks are degenerate")
    a = (s_c * d_c).sum() / var_s
    b = (s_c[:, 0] * d_c[:, 1] - s_c[:, 1] * d_c[:, 0]).sum() / var_s
    R = np.array([[a, -b], [b, a]])
    t = mu_d - R @ mu_s
    return np.hstack([R, t[:, None]]).astype(np.float32)


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
