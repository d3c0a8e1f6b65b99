"""A small visible "AI-generated" badge for live output (`rswap live --label`).

The invisible watermark is for machines; a viewer of a video call sees this. Drawn in
the top-right corner, sized to the frame (about 3% of its height), on a half-dark box
so it reads on any background. Costs well under a millisecond: only the box's pixels
are touched.
"""

from __future__ import annotations

import cv2
import numpy as np

TEXT = "AI-generated"


def draw_badge(image: np.ndarray, text: str = TEXT) -> np.ndarray:
    """Draw the badge into `image` (RGB uint8, modified in place) and return it."""
    h, w = image.shape[:2]
    scale = max(0.35, h / 1000)
    thickness = max(1, round(scale * 1.5))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(3, th // 2)
    x1, y0 = w - pad, pad
    x0, y1 = max(0, x1 - tw - 2 * pad), min(h, y0 + th + base + 2 * pad)
    box = image[y0:y1, x0:x1]
    box[:] = box // 2  # darken: white text reads on any background
    cv2.putText(image, text, (x0 + pad, y0 + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                thickness, cv2.LINE_AA)
    return image
