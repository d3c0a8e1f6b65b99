"""Image files in and out (RGB uint8), with clear errors and atomic writes.

OpenCV decodes (it applies EXIF orientation, and it is what the rest of the code uses);
Pillow checks first: its full decode raises on a file cut short ("image file is
truncated") for every format it reads, where OpenCV's answer depends on its version and
codec (libjpeg-based decoders have filled the missing part with grey; 4.11 returns None
for the cuts we tried). So the image is decoded twice: the check costs ~6 ms for a 512²
PNG and ~70 ms for a 12-megapixel JPEG (OpenCV's own decode: ~8 / ~50 ms; RESULTS.md),
once per photo, never per video frame. Not caught by either: a JPEG cut and then
given a fresh end marker decodes grey without an error.
An image over OpenCV's pixel limit (2^30, e.g. 40000x40000) is one line, not an assertion.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from rswap.errors import RswapError
from rswap.media.paths import atomic_output, require_input_file

# OpenCV's CV_IO_MAX_IMAGE_PIXELS: imdecode asserts above this many pixels.
OPENCV_MAX_PIXELS = 1 << 30


def _check_with_pillow(data: bytes, what: str, p) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:  # over Pillow's guard; OpenCV may still read it
            return
        except (OSError, SyntaxError, ValueError):  # a format Pillow does not know: OpenCV decides
            return
        with im:
            try:
                im.load()
            except Image.DecompressionBombError:
                return
            except (OSError, SyntaxError, ValueError) as e:
                raise RswapError(f"{what} is truncated or corrupt ({e}): {p}") from e


def read_image(path: str | os.PathLike, what: str = "image") -> np.ndarray:
    p = require_input_file(path, what)
    data = np.fromfile(p, np.uint8)
    _check_with_pillow(data.tobytes(), what, p)
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as e:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(e):
            raise RswapError(f"{what} has more than {OPENCV_MAX_PIXELS / 1e6:.0f} megapixels, OpenCV's limit; "
                             f"scale it down first: {p}") from e
        raise RswapError(f"{what} is not a readable image (OpenCV: {str(e).strip().splitlines()[-1]}): {p}") from e
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
