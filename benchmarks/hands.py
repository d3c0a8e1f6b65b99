"""What keeping hands in front of faces costs per frame (rswap.face.hands).

    python -m benchmarks.hands --hand PHOTO [--no-hand PHOTO] [--frames 60]

PHOTO: a photo with a face and a hand over it (kept out of the repo); --no-hand: one with a
face and no hand (default: scikit-image's astronaut). Each photo is letterboxed into 1280x720
and 640x368 frames, its face at ~45% of the frame's height, and slid by a few pixels a frame
(the trackers see motion). For each size, photo and hand model (lite: what a stream uses;
full: stills and sources), a stream-mode HandFinder runs over the frames (the first
`search_every` frames are left out of the figures), and a still-mode one searches one frame.

CPU is `time.process_time()`: mediapipe's graph computes in its own threads, so a thread's
own time (`thread_time`) would show only the wrapper's share (~0.5 ms). Run nothing else in
the process. Also timed: the crop's hand mask (`keep_in_front`, in the plan) and taking it out
of a 256x256 paste mask (`in_front`, in the swap).
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
from skimage import data

from rswap.face.hands import SEARCH_EVERY, HandFinder
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.media.images import read_image
from rswap.swap.frame import in_front, keep_in_front

SIZES = ((1280, 720), (640, 368))


def frames(photo: np.ndarray, size: tuple[int, int], n: int) -> list[np.ndarray]:
    """`photo` scaled to 0.9 of the frame's height, centred, sliding by up to 6 px."""
    w, h = size
    s = 0.9 * h / photo.shape[0]
    out = []
    for i in range(n):
        dx = 6 * np.sin(i / 5)
        M = np.float32([[s, 0, (w - s * photo.shape[1]) / 2 + dx], [0, s, 0.05 * h]])
        out.append(cv2.warpAffine(photo, M, (w, h), borderValue=(90, 90, 90)))
    return out


def _cpu_ms(fn, *args, own: list | None = None) -> tuple[float, object]:
    """Process CPU ms of fn(*args) and its result; `own` gets the calling thread's share."""
    start, thread = time.process_time(), time.thread_time()
    out = fn(*args)
    if own is not None:
        own.append(1000 * (time.thread_time() - thread))
    return 1000 * (time.process_time() - start), out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hand", required=True, help="a photo with a hand over a face")
    p.add_argument("--no-hand", help="a photo with a face and no hand (default: the astronaut)")
    p.add_argument("--frames", type=int, default=60)
    args = p.parse_args(argv)
    photos = {"hand": read_image(args.hand, "photo"),
              "no hand": read_image(args.no_hand, "photo") if args.no_hand else data.astronaut()[:380, 60:440]}
    with MediapipeFaceAnalyser(max_faces=1, video=False) as analyser:
        for (w, h) in SIZES:
            for name, photo in photos.items():
                clip = frames(photo, (w, h), args.frames)
                boxes = [[f.bbox for f in analyser.analyse(frame)] for frame in clip]
                for model in ("lite", "full"):
                    stream = HandFinder(video=True, model=model)
                    costs, own, found = [], [], []
                    for frame, faces in zip(clip, boxes):
                        ms, hands = _cpu_ms(stream.find, frame, faces, own=own)
                        costs.append(ms)
                        found.append(len(hands))
                    stream.close()
                    still = HandFinder(video=False, model=model)
                    still.find(clip[0], boxes[0])  # the first call loads the models
                    search, _ = _cpu_ms(still.find, clip[1], boxes[1])
                    still.close()
                    tail = costs[SEARCH_EVERY:]
                    print(f"{w}x{h} {name:8s} {model}: stream {np.mean(tail):5.1f} ms/frame (median {np.median(tail):4.1f}, "
                          f"calling thread {np.mean(own[SEARCH_EVERY:]):4.2f}), "
                          f"{stream.graph_calls} graph calls in {len(clip)} frames, hands found on "
                          f"{sum(k > 0 for k in found)}; a still's search {search:5.1f} ms")
        hand_frame = frames(photos["hand"], SIZES[0], 1)[0]
        face = analyser.analyse(hand_frame)[0]
    finder = HandFinder()
    face.hands = tuple(finder.find(hand_frame, [face.bbox]))
    finder.close()
    if face.hands:
        M = cv2.getRotationMatrix2D(tuple(map(float, face.center)), 0, 256 / (face.bbox[3] - face.bbox[1]) / 1.6)
        M[:, 2] += 128 - face.center
        mask = np.ones((256, 256), np.float32)
        plan = [_cpu_ms(keep_in_front, face, M, 256) for _ in range(50)]
        keep = plan[0][1]
        take = [_cpu_ms(in_front, mask, keep)[0] for _ in range(50)]
        print(f"hand mask in a 256 crop: {np.median([t for t, _ in plan]):.2f} ms; out of the paste mask: {np.median(take):.2f} ms")


if __name__ == "__main__":
    main()
