"""The embedded demo: `python -m convert.demo [OUTDIR]` (what `make demo` runs).

Source: scikit-image's astronaut photo (Eileen Collins, NASA, public domain).
Target: a clip rendered from Barack Obama's official portrait (White House, public
domain), which the PyPI package face_recognition ships in its source archive; the
Makefile fetches that archive with pip. Without it the demo falls back to a clip of
a mirrored, recoloured astronaut, which still exercises the whole path.
Then it runs `rswap convert` on them, exactly as a user would.
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np

from rswap.media.images import write_image
from rswap.testing.render import render_moving_face

SDIST_MEMBER = "tests/test_images/obama.jpg"


def target_photo(sdist_dir: Path) -> tuple[np.ndarray, str]:
    for archive in sorted(sdist_dir.glob("face_recognition-*.tar.gz")):
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if member.name.endswith(SDIST_MEMBER):
                    data = np.frombuffer(tar.extractfile(member).read(), np.uint8)
                    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy(), "obama.jpg (face_recognition sdist)"
    from skimage import data

    mirrored = np.ascontiguousarray(data.astronaut()[:, ::-1])
    return cv2.convertScaleAbs(mirrored, alpha=0.9, beta=-10), "mirrored astronaut (face_recognition sdist not found)"


def head_and_shoulders(photo: np.ndarray) -> np.ndarray:
    """Crop a portrait around its face so the face fills a good part of the clip."""
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        faces = analyser.analyse(photo)
    if not faces:
        return photo
    x0, y0, x1, y1 = faces[0].bbox
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, 2.6 * max(x1 - x0, y1 - y0)
    h, w = photo.shape[:2]
    top, left = int(max(0, cy - 0.45 * side)), int(max(0, cx - side / 2))
    return np.ascontiguousarray(photo[top : int(min(h, top + side)), left : int(min(w, left + side))])


def main(argv: list[str]) -> int:
    from skimage import data

    from rswap.entry import hide_native_logs, run_command

    hide_native_logs()

    out = Path(argv[0] if argv else "demo")
    out.mkdir(parents=True, exist_ok=True)
    source = out / "source_astronaut.png"
    write_image(source, data.astronaut())
    photo, name = target_photo(out)
    target = out / "target.mp4"
    render_moving_face(target, head_and_shoulders(photo), size=(1280, 720), fps=25, seconds=4.0, audio=True, scale=0.8, amplitude=0.15)
    print(f"demo: source {source}, target {target} rendered from {name}")
    code = run_command("convert.cli", "rswap convert", "swap faces in a video or image file",
                       ["-s", str(source), "-t", str(target), "-o", str(out / "swapped.mp4")])
    if code == 0:
        frame_path = out / "swapped_frame.png"
        from rswap.media.video import VideoReader

        with VideoReader(out / "swapped.mp4") as r:
            first = next(iter(r)).image
        write_image(frame_path, first)
        print(f"demo: open {out / 'swapped.mp4'} (first frame saved as {frame_path})")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
