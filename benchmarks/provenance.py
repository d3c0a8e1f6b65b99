"""The watermark's robustness, false alarms, cost and visibility; the cost of C2PA signing.

    python -m benchmarks.provenance                         # scikit-image photos only
    python -m benchmarks.provenance --photos 'dir/*.jpg'    # more photos (kept out of the repo)

Per photo (RGB, as it is):
- clean score (false alarms: the detector's best z over its 16 payloads; "found" at 6);
- marked as convert marks a still (no face given: texture raises the strength everywhere),
  then JPEG q75 / half-size resize (INTER_AREA) / half-size + JPEG q75 / one frame through
  H.264 at CRF 28 (PyAV, libx264 medium): score each; the same for the photo marked as a
  video frame is (its faces, found by mediapipe, kept at the flat-area strength);
- PSNR of the marked photo.
Per clip (each photo moving across a 1280x720 and a 480x270 frame, 25 frames, as in
tests): clean frames after H.264 CRF 20 (false alarms, per frame and averaged), marked
frames after H.264 CRF 28 (per-frame scores and the 12-frame score `rswap verify` uses);
at 480x270 the faces are found in every frame (mediapipe, video mode) and kept at the flat
strength, as convert does.
Flicker (benchmarks.flicker, tests/test_eval.py's steady swap of a 10-frame 480x270 clip):
the swap alone, and with the mark as convert makes it and with no face given.
Costs: best of N single-thread runs (cv2.setNumThreads(1)) of a plain copy, embed and
detect on a 720p frame, and the time to sign a 25-frame 720p MP4 with the local signer.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

from rswap.media.images import read_image
from rswap.testing.render import moving_face_frames, write_clip
from rswap.provenance.watermark import THRESHOLD, Watermarker, detect


def jpeg(img: np.ndarray, q: int = 75) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]


def half(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def h264(frames: list[np.ndarray], crf: int) -> list[np.ndarray]:
    buf = io.BytesIO()
    h, w = frames[0].shape[:2]
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        s.options = {"crf": str(crf), "preset": "medium"}
        for im in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(im[: s.height, : s.width]), format="rgb24")))
        c.mux(s.encode(None))
    buf.seek(0)
    with av.open(buf) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def score(images) -> float:
    return detect(images).score


def best_ms(fn, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def photos(pattern: str | None) -> dict[str, np.ndarray]:
    out = {}
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel", "retina", "hubble_deep_field"):
        im = getattr(data, name)()
        out[name] = np.ascontiguousarray(np.stack([im] * 3, -1) if im.ndim == 2 else im[..., :3])
    for path in sorted(glob.glob(pattern)) if pattern else []:
        out[os.path.relpath(path, os.path.dirname(os.path.dirname(path)))] = read_image(path)
    return out


def face_boxes(analyser, image: np.ndarray) -> list[np.ndarray]:
    return [f.bbox for f in analyser.analyse(image)]


def flicker_figures() -> tuple[float, float, float]:
    """Aligned-face flicker of tests/test_eval.py's steady swap: alone, marked as convert marks
    it, and marked with no face given (texture raises the strength on the face too)."""
    from benchmarks.flicker import flicker
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
    from rswap.swap.classical import ClassicalSwapper
    from rswap.swap.frame import FrameSwapper

    astronaut = np.ascontiguousarray(data.astronaut())
    frames = list(moving_face_frames(astronaut[20:300, 60:300], (480, 270), 10, scale=0.9, amplitude=0.05))
    sw = ClassicalSwapper()
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    with MediapipeFaceAnalyser(max_faces=1, video=True) as analyser:
        faces = [analyser.analyse(f)[:1] for f in frames]
    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        source = sw.encode_source([mirrored], [analyser.analyse(mirrored)[0]])
    plain = FrameSwapper(sw, [source], watermark=False)
    outputs = [plain.process(f, fs) for f, fs in zip(frames, faces)]
    first = [fs[0] if fs else None for fs in faces]
    wm = Watermarker()
    as_convert = [wm.embed(o, [f.bbox for f in fs]) if fs else o for o, fs in zip(outputs, faces)]
    no_faces = [wm.embed(o) if fs else o for o, fs in zip(outputs, faces)]
    return flicker(frames, outputs, first), flicker(frames, as_convert, first), flicker(frames, no_faces, first)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", help="glob of extra photos (e.g. '../shared/data/*/*.*')")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    wm = Watermarker()
    images = photos(args.photos)

    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

    def attacked(m: np.ndarray) -> list[float]:
        return [score([m]), score([jpeg(m)]), score([half(m)]), score([jpeg(half(m))]), score(h264([m, m], 28)[1:])]

    rows, with_faces, clean, n_faces = [], [], [], 0
    with MediapipeFaceAnalyser(max_faces=4) as analyser:
        for name, im in images.items():
            m = wm.embed(im)
            clean.append(score([im]))
            rows.append(attacked(m) + [cv2.PSNR(im, m)])
            boxes = face_boxes(analyser, im)
            if boxes:
                n_faces += 1
                with_faces.append(attacked(wm.embed(im, boxes)))
    n = len(images)
    print(f"photos: {n} ({n_faces} with a face found)")
    print(f"clean: max score {max(clean):.2f}, hits at {THRESHOLD}: {sum(c >= THRESHOLD for c in clean)}/{n}")
    for label, r in (("still (no face given)", np.array(rows)), ("video frame (faces flat)", np.array(with_faces))):
        for i, what in enumerate(["marked", "jpeg75", "half", "half+jpeg75", "h264 crf28 (1 frame)"]):
            col = r[:, i]
            print(f"{label}: {what:22s} found {int((col >= THRESHOLD).sum())}/{len(col)}  min {col.min():5.1f}  median {np.median(col):5.1f}")
    r = np.array(rows)
    print(f"PSNR marked vs photo: min {r[:, 5].min():.1f} dB, median {np.median(r[:, 5]):.1f} dB")

    for size in ((1280, 720), (480, 270)):
        per_frame_clean, avg_clean, per_frame, verify, found = [], [], [], [], 0
        for name, im in images.items():
            frames = list(moving_face_frames(im, size, 25, scale=0.9, amplitude=0.15))
            plain = h264(frames, 20)
            per_frame_clean += [score([f]) for f in plain]
            avg_clean.append(score(plain[::2][:12]))
            if size == (480, 270):  # as convert marks them: the faces at the flat strength
                with MediapipeFaceAnalyser(max_faces=4, video=True) as analyser:
                    marked = h264([wm.embed(f, face_boxes(analyser, f)) for f in frames], 28)
            else:
                marked = h264([wm.embed(f) for f in frames], 28)
            zs = [score([f]) for f in marked]
            per_frame += zs
            v = detect(marked[:: max(1, len(marked) // 12)][:12])
            verify.append(v.score)
            found += v.found
        pf, vf = np.array(per_frame), np.array(verify)
        print(f"clip {size[0]}x{size[1]}: clean frames max {max(per_frame_clean):.2f} (hits {sum(c >= THRESHOLD for c in per_frame_clean)}"
              f"/{len(per_frame_clean)}), clean 12-frame max {max(avg_clean):.2f}; marked+CRF28 per frame found "
              f"{int((pf >= THRESHOLD).sum())}/{pf.size} (min {pf.min():.1f}, median {np.median(pf):.1f}), "
              f"12-frame found {found}/{n} (min {vf.min():.1f})")

    alone, as_convert, no_faces = flicker_figures()
    print(f"flicker (grey levels): swap alone {alone:.2f}, marked as convert {as_convert:.2f}, marked with no face given {no_faces:.2f}")

    frame = cv2.resize(data.coffee(), (1280, 720))
    boxes = [np.array([500.0, 150.0, 800.0, 550.0])]
    wm.embed(frame)  # the pattern for this size is made once
    copy = best_ms(lambda: frame.copy(), 200)
    embed = best_ms(lambda: wm.embed(frame), 200)
    embed_faces = best_ms(lambda: wm.embed(frame, boxes), 200)
    print(f"720p, single thread, best of 200: copy {copy:.3f} ms, embed {embed:.3f} ms ({embed / copy:.0f}x the copy), "
          f"embed with a face box {embed_faces:.3f} ms; detect: best {best_ms(lambda: detect([frame]), 20):.2f} ms (of 20)")

    from rswap.provenance.credentials import ContentCredentials, local_identity

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "c.mp4"
        write_clip(clip, moving_face_frames(data.astronaut(), (1280, 720), 25), fps=25, audio_seconds=1.0)
        cc = ContentCredentials(local_identity(Path(tmp) / "cfg"), target=clip)
        work = Path(tmp) / "w.mp4"

        def sign():
            shutil.copy(clip, work)
            cc.sign_in_place(work, Path(tmp) / "out.mp4")

        copy_ms = best_ms(lambda: shutil.copy(clip, work), 5)
        print(f"sign a 1 s 720p MP4 ({clip.stat().st_size // 1024} KiB): best {best_ms(sign, 5) - copy_ms:.1f} ms")


if __name__ == "__main__":
    main()
