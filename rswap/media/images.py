"""Image files in and out (RGB uint8), with clear errors and atomic writes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from rswap.errors import RswapError
from rswap.media.paths import atomic_output, require_input_file


def read_image(path: str | os.PathLike, what: str = "image") -> np.ndarray:
    p = require_input_file(path, what)
    data = np.fromfile(p, np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise RswapError(f"{what} is not a readable image (corrupt or unsupported format): {p}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def write_image(path: str | os.PathLike, image: np.ndarray, quality: int = 95,
                before_publish: Callable[[Path, Path], None] | None = None) -> None:
    """`before_publish(tmp, dest)` runs on the finished file before it is renamed into place."""
    ext = os.path.splitext(str(path))[1].lower() or ".png"
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(image[:, :, ::-1]), params)
    if not ok:
        raise RswapError(f"cannot encode an image as {ext}: {path}")
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(buf.tobytes())
        if before_publish is not None:
            before_publish(tmp, Path(path))
