"""SCRFD face detector from a user's insightface pack (det_10g.onnx, det_500m.onnx, ...),
run with onnxruntime. Nothing is shipped or downloaded: see rswap.face.insightface_pack.

The conventions are those of insightface's own model_zoo/scrfd.py, which defines how these
files are meant to be read:
- Input: the frame is scaled to fit the model's input (its fixed size, or 640x640 when the
  graph's size is dynamic) keeping its aspect ratio, and placed in the TOP-LEFT corner of a
  black canvas (not centred). Pixels are RGB, (x - 127.5) / 128, NCHW float32.
- Outputs, in this order: one score map per stride, then one box map per stride, then (for
  keypoint models) one keypoint map per stride. Strides 8/16/32 with 2 anchors per location
  (6 or 9 outputs), or 8..128 with 1 anchor (10 or 15 outputs). Each map is (rows, 1|4|10),
  or (1, rows, 1|4|10) in batched exports; rows run over the feature grid row by row, the
  anchors of one location next to each other.
- Decoding: the anchor centre of grid cell (col, row) is (col * stride, row * stride); a box
  is the centre minus (left, top) and plus (right, bottom), those distances being the
  network's numbers times the stride; each keypoint is the centre plus (dx, dy) * stride.
- Scores at or above the threshold (0.5) survive, then non-maximum suppression at IoU 0.4;
  boxes and keypoints are divided by the letterbox scale to return to frame pixels. Boxes
  are not clipped to the frame (a face at the edge keeps its true extent).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rswap.errors import RswapError
from rswap.face.insightface_pack import verify_hash
from rswap.face.types import nms
from rswap.onnx_runner import OnnxRunner

DYNAMIC_INPUT = 640  # insightface's usual det_size when the graph leaves the size open
# outputs -> (strides, keypoints?)
LAYOUTS = {6: ((8, 16, 32), False), 9: ((8, 16, 32), True), 10: ((8, 16, 32, 64, 128), False), 15: ((8, 16, 32, 64, 128), True)}
WIDTHS = (1, 4, 10)  # last dim of the score, box and keypoint maps
EXPECTED = ("an SCRFD graph has one image input and 6 or 9 outputs (scores (N,1), boxes (N,4) "
            "[, keypoints (N,10)] for strides 8, 16, 32; optionally with a leading batch dim of 1)")


@dataclass
class Detections:
    boxes: np.ndarray  # (N, 4) float32 x0, y0, x1, y1 in frame pixels, best score first
    scores: np.ndarray  # (N,) float32
    kps: np.ndarray | None  # (N, 5, 2) float32 in insightface order, or None for models without keypoints


class SCRFDDetector:
    """Face boxes (+ 5 keypoints) from an SCRFD ONNX. Stateless after loading, and onnxruntime
    sessions may be run from several threads, so one detector can serve several analysers."""

    # ROI side / box's longer side for the face mesh (see MediapipeFaceAnalyser). SCRFD's box
    # (WIDER FACE's convention) runs from the upper forehead to just below the chin. Measured
    # with benchmarks/roi_scale.py (21 photos, faces pasted 16-90 px tall, WIDER-style boxes made
    # from each face's 5 points): the ROI mesh finds every face for scales 1.2 to 3.5 (it
    # re-detects inside the ROI), errors are lowest around 1.2-1.9, and that box's longer side
    # is 1.21x (median) mediapipe's full-range box, so 1.6 gives the same ROI as mediapipe's 1.9.
    # Not yet checked with a real det_10g.onnx's boxes.
    roi_scale = 1.6

    def __init__(self, path: str | Path, sha256: str | None = None, score_threshold: float = 0.5,
                 nms_threshold: float = 0.4, providers: list[str] | None = None, threads: int = 0):
        path = Path(path)
        if not path.is_file():
            raise RswapError(f"SCRFD model not found: {path}")
        verify_hash(path, sha256)
        self.runner = OnnxRunner(path, providers, threads)
        self.score_threshold, self.nms_threshold = score_threshold, nms_threshold
        inputs, outputs = self.runner.session.get_inputs(), self.runner.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or len(outputs) not in LAYOUTS:
            raise RswapError(f"{path} is not an SCRFD detector ({len(inputs)} inputs, {len(outputs)} outputs): {EXPECTED}")
        self.strides, self.has_kps = LAYOUTS[len(outputs)]
        n = len(self.strides)
        for i, o in enumerate(outputs):
            width, last = WIDTHS[i // n], o.shape[-1] if o.shape else None
            if len(o.shape) not in (2, 3) or (isinstance(last, int) and last != width):
                raise RswapError(f"{path} is not an SCRFD detector (output {o.name!r} is {o.shape}, "
                                 f"expected (N,{width})): {EXPECTED}")
        self.input_name = inputs[0].name
        h, w = inputs[0].shape[2:]
        fixed = isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0
        self.input_size = (w, h) if fixed else (DYNAMIC_INPUT, DYNAMIC_INPUT)  # (width, height)
        self._centres = {s: self._grid(s) for s in self.strides}

    def _grid(self, stride: int) -> np.ndarray:
        """(rows*cols, 2) anchor centres (x, y) in input pixels, row by row."""
        w, h = self.input_size
        ys, xs = np.mgrid[: h // stride, : w // stride]
        return (np.stack([xs, ys], -1).reshape(-1, 2) * stride).astype(np.float32)

    def letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The model's input canvas (H, W, 3) uint8 and the scale from frame to canvas."""
        w_in, h_in = self.input_size
        h, w = image.shape[:2]
        # insightface's rounding: the limiting side fills the input, the other is truncated.
        if h / w > h_in / w_in:
            new_h, new_w = h_in, int(h_in * w / h)
        else:
            new_w, new_h = w_in, int(w_in * h / w)
        canvas = np.zeros((h_in, w_in, 3), np.uint8)
        canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h))
        return canvas, new_h / h

    def detections(self, image: np.ndarray) -> Detections:
        """All faces in an RGB uint8 frame, best score first."""
        canvas, scale = self.letterbox(image)
        blob = ((canvas.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
        maps = list(self.runner.run({self.input_name: blob}).values())
        n = len(self.strides)
        scores, boxes, kps = [], [], []
        for i, stride in enumerate(self.strides):
            centres = self._centres[stride]
            s = maps[i].reshape(-1).astype(np.float32)
            anchors = len(s) // len(centres)
            if anchors < 1 or anchors * len(centres) != len(s):
                raise RswapError(f"SCRFD output for stride {stride} has {len(s)} rows; the {self.input_size[0]}x"
                                 f"{self.input_size[1]} input gives {len(centres)} locations: not an SCRFD graph")
            keep = s >= self.score_threshold
            c = np.repeat(centres, anchors, axis=0)[keep]
            d = maps[n + i].reshape(-1, 4)[keep].astype(np.float32) * stride
            scores.append(s[keep])
            boxes.append(np.concatenate([c - d[:, :2], c + d[:, 2:]], axis=1))
            if self.has_kps:
                k = maps[2 * n + i].reshape(-1, 5, 2)[keep].astype(np.float32) * stride
                kps.append(c[:, None, :] + k)
        scores_all = np.concatenate(scores)
        boxes_all = np.concatenate(boxes) / scale
        kps_all = np.concatenate(kps) / scale if self.has_kps else None
        order = nms(boxes_all, scores_all, self.nms_threshold)
        return Detections(
            boxes_all[order].astype(np.float32), scores_all[order],
            kps_all[order].astype(np.float32) if kps_all is not None else None,
        )

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """The box-detector interface MediapipeFaceAnalyser takes: (4,) float32 boxes, best first."""
        return list(self.detections(image).boxes)

    def detect_tiled(self, image: np.ndarray) -> list[np.ndarray]:
        """None: SCRFD sees the frame at 640 px, not at mediapipe's 192, so it is not tiled."""
        return []

    def close(self) -> None:
        """Nothing to release (the onnxruntime session goes with the object); here so every
        box detector can be closed the same way."""
