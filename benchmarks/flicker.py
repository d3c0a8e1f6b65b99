"""Flicker of a swapped video: frame-to-frame change of the face beyond the target's own.

Three figures. The aligned one (`flicker`) takes the head's motion out; the face box one
(`box_change`) is what a viewer sees, motion included, in input and output alike, so the
added change is their difference (unclipped: a swap may also change less than the input, and
a swapped face smoother than the target's does); the level one (`level_change`) follows the
aligned face's mean grey level, which a jumping colour estimate moves and smoothness does not.
`python -m benchmarks.flicker` measures both on `rswap convert` of talking-head clips.

Each frame's face is cut out aligned (its 5 key points onto the ffhq template, 128 px), so
the face's motion across the frame is taken out. For consecutive frames t-1, t of the input
and of the swapped output:
    excess_t = max(0, mean |out_t - out_{t-1}| - mean |in_t - in_{t-1}|)   (grey levels)
and the clip's flicker is the mean of excess_t. A swap that follows the face adds nothing; a
texture, mask or colour decision that changes from frame to frame (a mouth kept in one frame
and not the next, a colour estimate that jumps) shows up.
"""

from __future__ import annotations

import cv2
import numpy as np

from rswap.face.align import align_crop, get_template
from rswap.face.types import Face

CROP = 128


def _aligned_grey(img: np.ndarray, face: Face) -> np.ndarray:
    crop, _ = align_crop(img, face.kps5, get_template("ffhq256", CROP))
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)


def box_change(inputs: list[np.ndarray], outputs: list[np.ndarray], faces: list[Face | None]) -> tuple[float, float]:
    """(input, output): mean frame-to-frame change (grey levels) inside the face's box, unaligned,
    over frame pairs with a face in both; the box is the union of the two frames' boxes. The
    figure the user sees (the head's own motion included, in both); added flicker is their
    difference. (0.0, 0.0) when no pair has a face in both frames."""
    d_in, d_out = [], []
    for t in range(1, len(inputs)):
        if faces[t - 1] is None or faces[t] is None:
            continue
        box = np.concatenate([np.minimum(faces[t - 1].bbox[:2], faces[t].bbox[:2]), np.maximum(faces[t - 1].bbox[2:], faces[t].bbox[2:])])
        x0, y0 = np.maximum(np.floor(box[:2]).astype(int), 0)
        x1, y1 = np.ceil(box[2:]).astype(int)
        for frames, d in ((inputs, d_in), (outputs, d_out)):
            a, b = (cv2.cvtColor(frames[k][y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32) for k in (t - 1, t))
            d.append(float(np.abs(b - a).mean()))
    return (float(np.mean(d_in)), float(np.mean(d_out))) if d_in else (0.0, 0.0)


def level_change(inputs: list[np.ndarray], outputs: list[np.ndarray], faces: list[Face | None]) -> tuple[float, float]:
    """(input, output): mean frame-to-frame change of the aligned face's mean grey level (its
    central half, where the swapped skin is). A colour estimate that jumps moves the whole face's
    level; a smoother face does not lower this figure as it lowers the per-pixel ones."""
    pairs = []
    for t in range(1, len(inputs)):
        if faces[t - 1] is None or faces[t] is None:
            continue
        q = CROP // 4
        d = [abs(float(_aligned_grey(x[t], faces[t])[q:-q, q:-q].mean() - _aligned_grey(x[t - 1], faces[t - 1])[q:-q, q:-q].mean()))
             for x in (inputs, outputs)]
        pairs.append(d)
    return tuple(np.mean(pairs, axis=0).tolist()) if pairs else (0.0, 0.0)


def flicker(inputs: list[np.ndarray], outputs: list[np.ndarray], faces: list[Face | None]) -> float:
    """Mean added frame-to-frame change (grey levels) of the aligned face; see the module doc.
    `faces[t]`: the face in input frame t (None when there is none; pairs with a missing face
    are skipped). 0.0 when no pair has a face in both frames."""
    if not (len(inputs) == len(outputs) == len(faces)):
        raise ValueError("flicker: inputs, outputs and faces must have one entry per frame")
    excess = []
    for t in range(1, len(inputs)):
        if faces[t - 1] is None or faces[t] is None:
            continue
        d_in = np.abs(_aligned_grey(inputs[t], faces[t]) - _aligned_grey(inputs[t - 1], faces[t - 1])).mean()
        d_out = np.abs(_aligned_grey(outputs[t], faces[t]) - _aligned_grey(outputs[t - 1], faces[t - 1])).mean()
        excess.append(max(0.0, float(d_out - d_in)))
    return float(np.mean(excess)) if excess else 0.0


# --- `python -m benchmarks.flicker`: rswap convert of talking-head clips --------------------

def _decode(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _encode(path, frames: list[np.ndarray], fps: int, crf: int = 18, preset: str = "medium") -> None:
    """H.264 at convert's default settings: what the encoder alone adds to the input's flicker."""
    import av

    with av.open(str(path), mode="w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.options = {"crf": str(crf), "preset": preset}
        for img in frames:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")))
        out.mux(vs.encode(None))


def main(argv=None) -> None:
    """Render a talking-head clip of each target photo at each face size, run `rswap convert`
    on it with each source (a subprocess: the real path, tracking, smoothing, watermark,
    encode), and print the added flicker of every run and of the encoder alone (the input
    re-encoded at convert's settings). Clips and outputs go to --work (never commit them)."""
    import argparse
    import itertools
    import os
    import subprocess
    import sys
    from pathlib import Path

    from benchmarks.talking_head import render_talking_head
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
    from rswap.media.images import read_image

    ap = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    ap.add_argument("--targets", nargs="+", required=True, help="portrait photos the clips are rendered from")
    ap.add_argument("--sources", nargs="+", required=True, help="source photos")
    ap.add_argument("--fractions", nargs="+", type=float, default=[0.15, 0.40], help="face height / frame height")
    ap.add_argument("--seconds", type=float, default=2.5)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--work", required=True, help="folder for the clips and outputs")
    ap.add_argument("--convert-args", default="", help="extra flags for rswap convert (e.g. --no-watermark)")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    fps = 24
    rows = []
    for target, frac in itertools.product(args.targets, args.fractions):
        tag = f"{Path(target).stem}_{int(round(frac * 100))}"
        clip = work / f"{tag}.mp4"
        if not clip.exists():
            render_talking_head(clip, read_image(target), size=(w, h), fps=fps, seconds=args.seconds, face_fraction=frac)
        inputs = _decode(clip)
        with MediapipeFaceAnalyser(max_faces=1, video=True) as analyser:
            faces = [(analyser.analyse(f) or [None])[0] for f in inputs]
        again = work / f"{tag}_reencoded.mp4"
        _encode(again, inputs, fps)
        encoder = flicker(inputs, _decode(again), faces)
        for source in args.sources:
            out = work / f"{tag}__{Path(source).stem}.mp4"
            cmd = [sys.executable, "-m", "cli", "convert", "-s", source, "-t", str(clip), "-o", str(out), "--no-progress",
                   *args.convert_args.split()]
            subprocess.run(cmd, check=True, env=os.environ.copy())
            outputs = _decode(out)
            f = flicker(inputs, outputs, faces)
            b_in, b_out = box_change(inputs, outputs, faces)
            l_in, l_out = level_change(inputs, outputs, faces)
            rows.append((tag, Path(source).stem, f, encoder, b_out - b_in, l_out - l_in))
            print(f"{tag:>16} <- {Path(source).stem:<10} aligned flicker {f:.2f} (encoder alone {encoder:.2f}); "
                  f"face box change in {b_in:.2f} out {b_out:.2f} added {b_out - b_in:+.2f}; "
                  f"face level change in {l_in:.2f} out {l_out:.2f} added {l_out - l_in:+.2f}; "
                  f"faces {sum(x is not None for x in faces)}/{len(faces)}", flush=True)
    print(f"mean over {len(rows)} runs: aligned flicker {np.mean([r[2] for r in rows]):.2f} (encoder alone "
          f"{np.mean([r[3] for r in rows]):.2f}), face box added change {np.mean([r[4] for r in rows]):+.2f}, "
          f"face level added change {np.mean([r[5] for r in rows]):+.2f}; "
          f"worst {max(r[2] for r in rows):.2f} / {max(r[4] for r in rows):+.2f} / {max(r[5] for r in rows):+.2f}")


if __name__ == "__main__":
    main()
