"""How large the mesh's ROI must be around a detector's box (`roi_scale` of a box detector).

    python -m benchmarks.roi_scale                      # the astronaut only
    python -m benchmarks.roi_scale --photos 'dir/*.jpg' # more faces (kept out of the repo)

Each photo's face is meshed at full size (the reference), then pasted small into a 1280x720
frame; the mesh runs on the ROI around a box of the given convention (jittered by 5% of
its width, as a real detector's boxes wobble) and is compared with the reference, scaled.
Printed per face size and scale: faces found (error under 25% of the eye distance) / tries,
and the mean landmark error in eye distances. Conventions: "wider" is the WIDER FACE box
that SCRFD is trained on, made from the 5 points with the proportions of a real
RetinaFace output (top 1.25 eye-mouth distances above the eyes, bottom 0.64 below the
mouth, sides at the face contour); "mediapipe" is mediapipe's full-range detector's box.
"""

from __future__ import annotations

import argparse
import glob

import cv2
import numpy as np
from skimage import data

from rswap.face.mediapipe_analyser import MediapipeBoxDetector, MediapipeFaceAnalyser
from rswap.media.images import read_image


def wider_box(face) -> np.ndarray:
    ey, my = face.kps5[:2, 1].mean(), face.kps5[3:, 1].mean()
    em = my - ey
    return np.array([face.landmarks[:, 0].min(), ey - 1.25 * em, face.landmarks[:, 0].max(), my + 0.64 * em], np.float32)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", help="glob of extra face photos")
    p.add_argument("--box", choices=("wider", "mediapipe"), default="wider")
    p.add_argument("--scales", type=float, nargs="+", default=[0.9, 1.2, 1.6, 1.9, 2.3, 3.0, 3.5])
    p.add_argument("--sizes", type=int, nargs="+", default=[16, 25, 40, 90], help="face heights in pixels")
    p.add_argument("--tries", type=int, default=2)
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    photos = [np.ascontiguousarray(data.astronaut())] + [read_image(f) for f in sorted(glob.glob(args.photos or ""))]
    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        detector = MediapipeBoxDetector()
        refs = []
        for im in photos:
            faces, boxes = analyser.analyse(im), detector.detect(im)
            if faces and boxes:
                refs.append((im, faces[0], wider_box(faces[0]) if args.box == "wider" else boxes[0]))
        detector.close()
        print(f"{len(refs)} photos with a face; box: {args.box}")
        for size in args.sizes:
            cells = []
            for scale in args.scales:
                found, errors = 0, []
                for im, face, box in refs:
                    k = size / (face.bbox[3] - face.bbox[1])
                    small = cv2.resize(im, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)[:620, :880]
                    for _ in range(args.tries):
                        frame = np.full((720, 1280, 3), 90, np.uint8)
                        ox, oy = 300 + int(rng.integers(0, 400 - max(0, small.shape[1] - 580))), 50 + int(rng.integers(0, 50))
                        frame[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
                        b = box * k + np.array([ox, oy, ox, oy]) + rng.normal(0, 0.05, 4) * (box[2] - box[0]) * k
                        got = analyser._mesh_in_roi(frame, b.astype(np.float32), scale)
                        ref = face.landmarks * k + np.array([ox, oy])
                        if got is None:
                            continue
                        err = np.linalg.norm(got.landmarks - ref, axis=1).mean() / np.linalg.norm(ref[33] - ref[263])
                        if err < 0.25:
                            found, errors = found + 1, [*errors, err]
                cells.append(f"{scale}: {found}/{len(refs) * args.tries} {np.mean(errors) if errors else float('nan'):.3f}")
            print(f"face {size:3d} px | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
