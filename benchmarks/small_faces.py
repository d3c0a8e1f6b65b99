"""How small a face the embedded mediapipe analyser finds in a 1280x720 frame, with and
without the tiled search (rswap.face.tiles), what false faces it reports on frames with
no face, and what one search costs.

    python -m benchmarks.small_faces                       # the astronaut only
    python -m benchmarks.small_faces --photos 'dir/*.jpg'  # more faces (kept out of the repo)

Each photo's face is meshed at full size (the reference); a square crop around it is
pasted, scaled to the given face height (the mesh's bbox), at random places in a 1280x720
frame, on a plain grey background and on a blurred photo (coffee). A face counts as found
when a returned face's 478 landmarks lie within 0.25 eye distances (mean) of the
reference's, scaled; any other returned face counts as false. No-face frames: 15 of
scikit-image's photos and textures (a cat, a rocket, coffee, gravel, ...) resized to 1280x720
and a mosaic of small photos.
Costs are medians of `analyse` over the no-face frames (where every call searches).
"""

from __future__ import annotations

import argparse
import glob
import time

import cv2
import numpy as np
from skimage import data

from rswap.face.mediapipe_analyser import (
    TILE,
    TILE_OVERLAP,
    MediapipeBoxDetector,
    MediapipeFaceAnalyser,
)
from rswap.media.images import read_image

W, H = 1280, 720


def backgrounds() -> dict[str, np.ndarray]:
    coffee = cv2.GaussianBlur(cv2.resize(data.coffee(), (W, H)), (0, 0), 2)
    return {"grey": np.full((H, W, 3), 90, np.uint8), "coffee": coffee}


def no_face_frames() -> dict[str, np.ndarray]:
    """scikit-image's photos and textures without a human face, resized to 1280x720, and a mosaic."""
    rgb = {n: getattr(data, n)() for n in ("coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
                                           "retina", "colorwheel")}
    rgb |= {n: cv2.cvtColor(getattr(data, n)(), cv2.COLOR_GRAY2RGB) for n in ("brick", "grass", "gravel", "coins", "clock", "moon")}
    rgb["motorcycle"] = data.stereo_motorcycle()[0]
    rgb["astronaut_suit"] = data.astronaut()[300:]  # suit and flag, no face
    frames = {n: cv2.resize(im, (W, H), interpolation=cv2.INTER_AREA) for n, im in rgb.items()}
    cells = [cv2.resize(rgb[n], (W // 4, H // 3), interpolation=cv2.INTER_AREA) for n in ("coffee", "chelsea", "motorcycle")]
    frames["mosaic"] = np.tile(np.concatenate(cells, axis=1)[:, : W // 2], (3, 2, 1))
    return {n: np.ascontiguousarray(f) for n, f in frames.items()}


def head_crop(image: np.ndarray, face) -> tuple[np.ndarray, np.ndarray]:
    """A square crop 2.2 face heights wide around the face, and the face's landmarks in it."""
    (x0, y0, x1, y1), side = face.bbox, 2.2 * (face.bbox[3] - face.bbox[1])
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    crop = image[top : int(cy + side / 2), left : int(cx + side / 2)]
    return crop, face.landmarks - np.array([left, top], np.float32)


def paste(background: np.ndarray, crop: np.ndarray, ref: np.ndarray, height: float, face_height: float, rng):
    k = height / face_height
    small = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    ox, oy = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
    frame = background.copy()
    frame[oy : oy + h, ox : ox + w] = small
    return frame, ref * k + np.array([ox, oy], np.float32)


def score(faces, ref) -> tuple[bool, int, float]:
    """(found, false faces, landmark error in eye distances of the matching face)."""
    eye = np.linalg.norm(ref[33] - ref[263])
    errors = [np.linalg.norm(f.landmarks - ref, axis=1).mean() / eye for f in faces]
    hits = [e for e in errors if e < 0.25]
    return bool(hits), len(faces) - len(hits[:1]), min(hits) if hits else float("nan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", help="glob of extra face photos")
    p.add_argument("--sizes", type=int, nargs="+", default=[16, 20, 25, 30, 35, 40, 50, 60, 70, 80, 90, 100],
                   help="face heights in pixels (the mesh's bbox)")
    p.add_argument("--tries", type=int, default=6, help="random placements per photo, size and background")
    p.add_argument("--max-faces", type=int, default=2)
    p.add_argument("--tile", type=int, default=TILE, help="tile side of the tiled search")
    p.add_argument("--overlap", type=int, default=TILE_OVERLAP, help="least overlap of neighbouring tiles")
    args = p.parse_args(argv)

    photos = [np.ascontiguousarray(data.astronaut())] + [read_image(f) for f in sorted(glob.glob(args.photos or ""))]
    modes = {"untiled": MediapipeBoxDetector(tile=None), "tiled": MediapipeBoxDetector(tile=args.tile, overlap=args.overlap)}
    analysers = {m: MediapipeFaceAnalyser(max_faces=args.max_faces, detector=d) for m, d in modes.items()}
    refs = []
    for im in photos:
        faces = analysers["untiled"].analyse(im)
        if faces:
            crop, ref = head_crop(im, faces[0])
            refs.append((crop, ref, faces[0].bbox[3] - faces[0].bbox[1]))
    print(f"{len(refs)} photos with a face, {args.tries} placements each per size and background, "
          f"max_faces={args.max_faces}, tiles {args.tile} px overlapping >= {args.overlap} px; found/tries, mean landmark error (eye distances), false faces")

    for name, bg in backgrounds().items():
        print(f"background: {name}")
        for size in args.sizes:
            rng = np.random.default_rng(size)
            cells = []
            frames = [paste(bg, crop, ref, size, fh, rng) for crop, ref, fh in refs for _ in range(args.tries)]
            for mode, analyser in analysers.items():
                results = [score(analyser.analyse(frame), ref) for frame, ref in frames]
                found = sum(r[0] for r in results)
                err = np.nanmean([r[2] for r in results]) if found else float("nan")
                cells.append(f"{mode} {found:3d}/{len(frames)} err {err:.3f} false {sum(r[1] for r in results)}")
            print(f"  face {size:3d} px | " + " | ".join(cells), flush=True)

    empty = no_face_frames()
    for mode, analyser in analysers.items():
        false, times = {}, []
        for _ in range(3):
            for name, frame in empty.items():
                start = time.perf_counter()
                n = len(analyser.analyse(frame))
                times.append(time.perf_counter() - start)
                false[name] = n
        where = ", ".join(f"{n} {k}" for n, k in false.items() if k)
        print(f"no-face frames, {mode}: false faces {sum(false.values())} on {len(empty)} frames ({where or 'none'}), "
              f"analyse median {1000 * np.median(times):.1f} ms")
    for analyser in analysers.values():
        analyser.close()
    for d in modes.values():
        d.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
