"""Per-operation latency of the composition operators (rswap.compose).

Runs each op on a 256x256 aligned crop of the astronaut photo (and paste-back into a
1280x720 frame) and prints the median and 90th-percentile milliseconds. Single-threaded
OpenCV by default, as a live pipeline stage would run beside others on a small CPU.
The thread CPU time column is the cost of the op itself; wall time also includes
waiting for the cores when other processes share them.

    python -m benchmarks.compose_bench [--repeats 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("GLOG_minloglevel", "2")

import cv2
import numpy as np


def _time(fn, repeats: int) -> tuple[float, float, float]:
    """Median and p90 wall ms, and median CPU ms of this thread (what the op costs when
    the cores are shared: wall time then also counts waiting for other processes)."""
    fn()  # warm-up (allocations, lazy imports)
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - c) * 1e3)
        wall.append((time.perf_counter() - t) * 1e3)
    return float(np.median(wall)), float(np.percentile(wall, 90)), float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (0 = OpenCV's default)")
    args = parser.parse_args()
    if args.threads:
        cv2.setNumThreads(args.threads)

    from skimage import data

    from rswap.compose.blend import alpha_blend, laplacian_blend
    from rswap.compose.color import transfer_color
    from rswap.compose.masks import region_mask
    from rswap.compose.paste import paste_back
    from rswap.compose.warp import mesh_warp, reshape_warp
    from rswap.face.align import align_crop, get_template, transform_points
    from rswap.face.landmarks import FACE_OVAL, MESH_POINTS, mesh_triangles
    from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser

    frame = cv2.resize(np.ascontiguousarray(data.astronaut()), (720, 720))
    frame = cv2.copyMakeBorder(frame, 0, 0, 280, 280, cv2.BORDER_REFLECT)  # 1280x720, face ~180 px
    with MediapipeFaceAnalyser(max_faces=1) as analyser:
        face = analyser.analyse(frame)[0]
    template = get_template("ffhq256")
    crop, M = align_crop(frame, face.kps5, template)
    pts = transform_points(face.landmarks[:MESH_POINTS], M)
    size = (template.size, template.size)
    tris = mesh_triangles()
    mask = region_mask(size, pts, exclude=("mouth_inner",))
    other = np.ascontiguousarray(crop[:, ::-1])  # a second face texture
    other_pts = pts.copy()
    other_pts[:, 0] = template.size - 1 - other_pts[:, 0]
    centre = pts[FACE_OVAL].mean(0)
    slimmer = centre + (pts[FACE_OVAL] - centre) * [0.9, 1.0]
    anchors = pts[[1, 33, 133, 362, 263, 61, 291, 168]]

    ops = {
        "region_mask (oval - mouth, feathered)": lambda: region_mask(size, pts, exclude=("mouth_inner",)),
        "laplacian_blend 5 levels": lambda: laplacian_blend(other, crop, mask, levels=5),
        "alpha_blend": lambda: alpha_blend(other, crop, mask),
        "transfer_color reinhard": lambda: transfer_color(other, crop, mask, method="reinhard"),
        "transfer_color lct": lambda: transfer_color(other, crop, mask, method="lct"),
        "mesh_warp (898 triangles)": lambda: mesh_warp(other, pts, pts + 1.5, size, tris),
        "reshape_warp (36 controls, 8 anchors)": lambda: reshape_warp(crop, pts[FACE_OVAL], slimmer, 1.0, anchors),
        "paste_back 720p, alpha": lambda: paste_back(frame, other, mask, M, levels=0),
        "paste_back 720p, laplacian 5": lambda: paste_back(frame, other, mask, M, levels=5),
        "align_crop 720p (host crop)": lambda: align_crop(frame, face.kps5, template),
    }
    ops.update(_device_ops(frame, other, mask, M, template.size, args.threads))
    print(f"crop {template.size}x{template.size}, frame {frame.shape[1]}x{frame.shape[0]}, "
          f"OpenCV threads {cv2.getNumThreads()}, {args.repeats} repeats")
    print(f"{'op':42s} {'wall median':>11s} {'wall p90':>9s} {'cpu median':>10s}  (ms)")
    for name, fn in ops.items():
        med, p90, cpu = _time(fn, args.repeats)
        print(f"{name:42s} {med:11.2f} {p90:9.2f} {cpu:10.2f}")


def _device_ops(frame, crop, mask, M, size, threads) -> dict:
    """The on-device twins of crop and paste (rswap.compose.tensor_warp), here on CPU tensors:
    what `--compose-on device` costs where there is no GPU. Skipped without torch."""
    try:
        import torch
    except ImportError:
        return {}
    from rswap.compose.paste import paste_region
    from rswap.compose.tensor_warp import crop_faces, paste_faces

    if threads:
        torch.set_num_threads(threads)
    t_frame = torch.from_numpy(frame)
    t_crop = torch.from_numpy(crop).permute(2, 0, 1)[None].float()
    t_mask = torch.from_numpy(mask)[None, None]
    region = [paste_region(frame.shape[:2], mask, M)]
    return {
        "crop_faces 720p (torch CPU)": lambda: crop_faces(t_frame, M[None], size),
        "paste_faces 720p, alpha (torch CPU)": lambda: paste_faces(t_frame, t_crop, t_mask, M[None], regions=region),
    }


if __name__ == "__main__":
    main()
