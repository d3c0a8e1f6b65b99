"""How much PyAV's decoder threading mode costs, and what the image integrity check costs.

    python -m benchmarks.decode_threads

rswap.media.video decodes slice-threaded because frame threading hides a failed frame;
this measures the price on made 720p/1080p H.264 clips (ms per frame, decode + RGB
conversion), interleaving the modes so the box's load hits them alike, and the Pillow
check of rswap.media.images against OpenCV's own decode. Prints a table."""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image
from skimage import data

from rswap.testing.render import moving_face_frames, write_clip

MODES = ("AUTO", "FRAME", "SLICE", "NONE")


def _decode_ms(path: Path, mode: str) -> float:
    t = time.perf_counter()
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = mode
        n = sum(1 for f in c.decode(vs) if f.to_ndarray(format="rgb24") is not None)
    return (time.perf_counter() - t) / n * 1000


def _pillow_check_ms(blob: bytes) -> float:
    t = time.perf_counter()
    with Image.open(io.BytesIO(blob)) as im:
        im.load()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    photo = np.ascontiguousarray(data.astronaut())
    with tempfile.TemporaryDirectory() as d:
        for size, n in (((1280, 720), 100), ((1920, 1080), 60)):
            path = Path(d) / f"{size[1]}p.mp4"
            write_clip(path, moving_face_frames(photo, size, n, scale=0.6), fps=25)
            times = {m: [] for m in MODES}
            for _ in range(5):
                for m in MODES:
                    times[m].append(_decode_ms(path, m))
            print(f"{size[1]}p decode ms/frame (median of 5): "
                  + ", ".join(f"{m} {statistics.median(v):.2f}" for m, v in times.items()))
    for name, size, ext in (("512² PNG", (512, 512), ".png"), ("12 MP JPEG", (4000, 3000), ".jpg")):
        ok, buf = cv2.imencode(ext, cv2.resize(photo, size))
        blob = buf.tobytes()
        check = statistics.median(_pillow_check_ms(blob) for _ in range(5))
        decode = []
        for _ in range(5):
            t = time.perf_counter()
            cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
            decode.append((time.perf_counter() - t) * 1000)
        print(f"{name}: Pillow check {check:.1f} ms, OpenCV decode {statistics.median(decode):.1f} ms")


if __name__ == "__main__":
    main()
