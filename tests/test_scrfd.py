"""SCRFD detector from a user's insightface pack, without a real model: the tests build
SCRFD-format ONNX graphs (insightface's input convention and output order) whose outputs
come from the input image, so a wrong letterbox, normalisation, channel order, stride or
anchor layout moves or loses the detection."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from cli.main import main
from rswap.errors import RswapError
from tests._onnx_files import save_graph
from rswap.face.insightface_pack import find_scrfd
from rswap.face.mediapipe_analyser import MediapipeFaceAnalyser
from rswap.face.scrfd import SCRFDDetector
from rswap.face.types import box_iou
from rswap.media.images import read_image, write_image

STRIDES = (8, 16, 32)
# keypoints of the marker "face", relative to its centre, in units of its side (insightface order)
KFRAC = np.array([[-0.2, -0.15], [0.2, -0.15], [0.0, 0.05], [-0.15, 0.25], [0.15, 0.25]], np.float32)
RED = (255, 0, 0)


def _save(nodes, inits, inputs, outputs, path: Path) -> Path:
    return save_graph(helper.make_graph(nodes, "scrfd", inputs, outputs, inits), path)


def _centres(stride: int, size: int = 640, anchors: int = 2) -> np.ndarray:
    """(rows, 2) anchor centres in SCRFD's output row order: grid row by row, anchors adjacent."""
    ys, xs = np.mgrid[: size // stride, : size // stride]
    c = np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(c, anchors, axis=0)


def _io(batched: bool, dynamic: bool, kps: bool):
    side = ["n", 3, "h", "w"] if dynamic else [1, 3, 640, 640]
    inputs = [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, side)]
    outputs = []
    for width, prefix in ((1, "score"), (4, "bbox"), (10, "kps"))[: 3 if kps else 2]:
        for s in STRIDES:
            rows = (640 // s) ** 2 * 2
            shape = [1, rows, width] if batched else [rows, width]
            outputs.append(helper.make_tensor_value_info(f"{prefix}_{s}", TensorProto.FLOAT, shape))
    return inputs, outputs


def marker_scrfd(path: Path, batched=False, dynamic=False, kps=True, gain=1.0) -> Path:
    """An SCRFD-format detector of one pure-red square. From the normalised RGB input it
    computes a red mask ((R - G) > 1.5, true only for (x-127.5)/128 in RGB order), the mask's
    centroid and side, and writes at every anchor the distances from THAT anchor's centre to
    the square's edges and keypoints (divided by the stride); scores are the mask's mean over
    each anchor's cell, times `gain`, on anchor 0 of each location only."""
    def f(name, a):
        return numpy_helper.from_array(np.asarray(a, np.float32), name)

    ys, xs = np.mgrid[:640, :640].astype(np.float32)
    inits = [
        f("wc", np.array([20.0, -20.0, 0.0]).reshape(1, 3, 1, 1)), f("bc", [-30.0]),
        f("X", xs[None, None]), f("Y", ys[None, None]), f("half", 0.5),
        numpy_helper.from_array(np.array([1, 1], np.int64), "s11"),
        f("edges", [[-0.5, -0.5, 0.5, 0.5]]), f("kfrac", KFRAC.reshape(1, 10)),
        f("anchor_gain", np.array([gain, 0.0]).reshape(1, 1, 1, 2)),
    ]
    nodes = [
        helper.make_node("Conv", ["input.1", "wc", "bc"], ["d"]),
        helper.make_node("Sigmoid", ["d"], ["mask"]),
        helper.make_node("ReduceSum", ["mask"], ["area4"]),
        helper.make_node("Mul", ["mask", "X"], ["mx"]), helper.make_node("ReduceSum", ["mx"], ["sx"]),
        helper.make_node("Mul", ["mask", "Y"], ["my"]), helper.make_node("ReduceSum", ["my"], ["sy"]),
        helper.make_node("Div", ["sx", "area4"], ["cx4"]), helper.make_node("Div", ["sy", "area4"], ["cy4"]),
        helper.make_node("Sqrt", ["area4"], ["side4"]),
        *(helper.make_node("Reshape", [v + "4", "s11"], [v]) for v in ("cx", "cy", "side")),
        helper.make_node("Concat", ["cx", "cy", "cx", "cy"], ["c4"], axis=1),
        helper.make_node("Mul", ["side", "edges"], ["e_off"]), helper.make_node("Add", ["c4", "e_off"], ["E"]),
        helper.make_node("Concat", ["cx", "cy"] * 5, ["c10"], axis=1),
        helper.make_node("Mul", ["side", "kfrac"], ["k_off"]), helper.make_node("Add", ["c10", "k_off"], ["K"]),
    ]
    score_out, box_out, kps_out = [], [], []
    for s in STRIDES:
        c = _centres(s)
        rows = len(c)
        inits += [
            f(f"A4_{s}", np.tile(c, 2)), f(f"A10_{s}", np.tile(c, 5)),
            f(f"sign_{s}", np.array([[-1, -1, 1, 1]]) / s), f(f"inv_{s}", 1.0 / s),
            numpy_helper.from_array(np.array([1, rows, 1] if batched else [rows, 1], np.int64), f"rs_{s}"),
            numpy_helper.from_array(np.array([1, rows, 4] if batched else [rows, 4], np.int64), f"rb_{s}"),
            numpy_helper.from_array(np.array([1, rows, 10] if batched else [rows, 10], np.int64), f"rk_{s}"),
        ]
        nodes += [
            helper.make_node("AveragePool", ["mask"], [f"pool_{s}"], kernel_shape=[s, s], strides=[s, s]),
            helper.make_node("Transpose", [f"pool_{s}"], [f"hw_{s}"], perm=[0, 2, 3, 1]),
            helper.make_node("Mul", [f"hw_{s}", "anchor_gain"], [f"sa_{s}"]),
            helper.make_node("Reshape", [f"sa_{s}", f"rs_{s}"], [f"score_{s}"]),
            helper.make_node("Sub", ["E", f"A4_{s}"], [f"bd_{s}"]),
            helper.make_node("Mul", [f"bd_{s}", f"sign_{s}"], [f"b_{s}"]),
            helper.make_node("Reshape", [f"b_{s}", f"rb_{s}"], [f"bbox_{s}"]),
            helper.make_node("Sub", ["K", f"A10_{s}"], [f"kd_{s}"]),
            helper.make_node("Mul", [f"kd_{s}", f"inv_{s}"], [f"k_{s}"]),
            helper.make_node("Reshape", [f"k_{s}", f"rk_{s}"], [f"kps_{s}"]),
        ]
        score_out.append(f"score_{s}")
        box_out.append(f"bbox_{s}")
        kps_out.append(f"kps_{s}")
    inputs, outputs = _io(batched, dynamic, kps)
    return _save(nodes, inits, inputs, outputs, path)


def constant_scrfd(path: Path, candidates) -> Path:
    """An SCRFD-format graph with fixed outputs: each candidate is (stride, col, row, anchor,
    score, box (4,), keypoints (5,2)), box and keypoints in 640x640 input pixels."""
    score = {s: np.zeros((len(_centres(s)), 1), np.float32) for s in STRIDES}
    bbox = {s: np.zeros((len(_centres(s)), 4), np.float32) for s in STRIDES}
    kps = {s: np.zeros((len(_centres(s)), 10), np.float32) for s in STRIDES}
    for s, col, row, anchor, sc, box, k in candidates:
        i = (row * (640 // s) + col) * 2 + anchor
        c = _centres(s)[i]
        score[s][i] = sc
        bbox[s][i] = np.concatenate([c - box[:2], box[2:] - c]) / s
        kps[s][i] = (np.asarray(k, np.float32) - c).reshape(-1) / s
    inits, nodes = [], [helper.make_node("ReduceSum", ["input.1"], ["total"], keepdims=0),
                        helper.make_node("Mul", ["total", "zero"], ["nothing"])]  # outputs must hang off the input
    inits.append(numpy_helper.from_array(np.float32(0), "zero"))
    for name, maps in (("score", score), ("bbox", bbox), ("kps", kps)):
        for s in STRIDES:
            inits.append(numpy_helper.from_array(maps[s], f"const_{name}_{s}"))
            nodes.append(helper.make_node("Add", [f"const_{name}_{s}", "nothing"], [f"{name}_{s}"]))
    inputs, outputs = _io(batched=False, dynamic=False, kps=True)
    return _save(nodes, inits, inputs, outputs, path)


def frame_with_square(w: int, h: int, x: int, y: int, m: int) -> np.ndarray:
    frame = np.full((h, w, 3), 128, np.uint8)
    frame[y : y + m, x : x + m] = RED
    return frame


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("scrfd")
    return {
        "plain": marker_scrfd(root / "plain.onnx"),
        "batched": marker_scrfd(root / "batched.onnx", batched=True),
        "dynamic": marker_scrfd(root / "dynamic.onnx", dynamic=True),
        "no_kps": marker_scrfd(root / "no_kps.onnx", kps=False),
        "weak": marker_scrfd(root / "weak.onnx", gain=0.45),
    }


@pytest.mark.parametrize(
    ("layout", "w", "h", "x", "y", "m"),
    [
        ("plain", 1280, 720, 900, 400, 120),  # landscape: scale 0.5, padding below
        ("plain", 480, 640, 100, 420, 90),  # portrait: scale 1, padding on the right
        ("plain", 600, 800, 330, 90, 100),  # portrait: scale 0.8
        ("batched", 1280, 720, 150, 500, 110),  # outputs (1, rows, k)
        ("dynamic", 1280, 720, 640, 80, 140),  # dynamic input: run at 640x640
        ("no_kps", 1280, 720, 500, 300, 100),  # 6 outputs
    ],
)
def test_decoded_box_and_keypoints_land_on_the_frame_pixels(models, layout, w, h, x, y, m):
    det = SCRFDDetector(models[layout])
    assert det.input_size == (640, 640)
    found = det.detections(frame_with_square(w, h, x, y, m))
    assert len(found.boxes) == 1  # every firing anchor predicts the same box: NMS keeps one
    assert found.scores[0] > 0.6
    np.testing.assert_allclose(found.boxes[0], [x, y, x + m, y + m], atol=2.5)
    if layout == "no_kps":
        assert found.kps is None
    else:
        want = np.array([x + m / 2, y + m / 2]) + m * KFRAC
        np.testing.assert_allclose(found.kps[0], want, atol=2.5)
    assert found.boxes.dtype == np.float32 and len(det.detect(frame_with_square(w, h, x, y, m))) == 1


def test_no_red_square_no_face_and_bgr_input_is_not_red(models):
    det = SCRFDDetector(models["plain"])
    assert len(det.detections(np.full((720, 1280, 3), 128, np.uint8)).boxes) == 0
    blue = frame_with_square(1280, 720, 100, 100, 120)[..., ::-1]  # what a BGR frame would look like
    assert len(det.detections(np.ascontiguousarray(blue)).boxes) == 0


def test_score_threshold(models):
    frame = frame_with_square(1280, 720, 300, 300, 120)
    assert len(SCRFDDetector(models["weak"]).detections(frame).boxes) == 0  # best score 0.45 < 0.5
    found = SCRFDDetector(models["weak"], score_threshold=0.4).detections(frame)
    assert len(found.boxes) == 1 and 0.4 <= found.scores[0] <= 0.45 + 1e-6


def test_nms_keeps_the_higher_of_two_overlapping_candidates(tmp_path):
    def kps(cx, cy):
        return np.array([cx, cy]) + 100 * KFRAC

    path = constant_scrfd(tmp_path / "two.onnx", [
        (8, 20, 20, 0, 0.7, [110, 110, 210, 210], kps(160, 160)),
        (8, 21, 20, 1, 0.9, [118, 110, 218, 210], kps(168, 160)),  # IoU 0.85 with the one above
        (16, 30, 5, 0, 0.6, [430, 30, 530, 130], kps(480, 80)),  # far away: kept
    ])
    found = SCRFDDetector(path).detections(np.full((640, 640, 3), 128, np.uint8))
    np.testing.assert_allclose(found.scores, [0.9, 0.6], atol=1e-6)
    np.testing.assert_allclose(found.boxes, [[118, 110, 218, 210], [430, 30, 530, 130]], atol=1e-3)
    np.testing.assert_allclose(found.kps[0], kps(168, 160), atol=1e-3)


def test_bad_model_files_are_one_line_errors(tmp_path):
    with pytest.raises(RswapError, match="SCRFD model not found"):
        SCRFDDetector(tmp_path / "nope.onnx")
    corrupt = tmp_path / "det_10g.onnx"
    corrupt.write_bytes(np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(RswapError, match="cannot load"):
        SCRFDDetector(corrupt)
    # a graph that is not a detector: one output
    one = _save([helper.make_node("ReduceMean", ["input.1"], ["y"])], [],
                [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 640, 640])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1])], tmp_path / "one.onnx")
    with pytest.raises(RswapError, match=r"not an SCRFD detector .*6 or 9 outputs") as e:
        SCRFDDetector(one)
    assert "\n" not in str(e.value)
    # nine outputs, but the "boxes" are 3 wide
    nodes, outs = [], []
    for i in range(9):
        width = 3 if i == 3 else (1, 4, 10)[i // 3]
        nodes.append(helper.make_node("Constant", [], [f"o{i}"], value=numpy_helper.from_array(np.zeros((5, width), np.float32))))
        outs.append(helper.make_tensor_value_info(f"o{i}", TensorProto.FLOAT, [5, width]))
    nodes.append(helper.make_node("Identity", ["input.1"], ["unused"]))
    nine = _save(nodes, [], [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 640, 640])],
                 outs, tmp_path / "nine.onnx")
    with pytest.raises(RswapError, match=r"output 'o3' .*expected \(N,4\)"):
        SCRFDDetector(nine)


def test_find_scrfd_in_a_pack_and_the_sha256_sidecar(models, tmp_path):
    with pytest.raises(RswapError, match="never downloads"):
        find_scrfd(tmp_path)
    small = tmp_path / "models" / "buffalo_s" / "det_500m.onnx"  # ~/.insightface itself: models/ below
    small.parent.mkdir(parents=True)
    small.write_bytes(models["plain"].read_bytes())
    assert find_scrfd(tmp_path) == small
    large = tmp_path / "buffalo_l" / "det_10g.onnx"  # buffalo_l is preferred
    large.parent.mkdir()
    large.write_bytes(models["plain"].read_bytes())
    assert find_scrfd(tmp_path) == large
    assert find_scrfd(small) == small  # a file path is taken as given
    other = tmp_path / "other"
    (other / "mypack").mkdir(parents=True)
    (other / "mypack" / "det_2.5g.onnx").write_bytes(b"x")
    assert find_scrfd(other) == other / "mypack" / "det_2.5g.onnx"

    large.with_name("det_10g.onnx.sha256").write_text("0" * 64 + "  det_10g.onnx\n")
    with pytest.raises(RswapError, match="sha256"):
        SCRFDDetector(large)
    import hashlib

    large.with_name("det_10g.onnx.sha256").write_text(hashlib.sha256(large.read_bytes()).hexdigest())
    assert SCRFDDetector(large).has_kps


def _wider_box(face) -> np.ndarray:
    """A WIDER-FACE-style box (what SCRFD gives) from a face's mesh: forehead to chin."""
    ey, my = face.kps5[:2, 1].mean(), face.kps5[3:, 1].mean()
    em = my - ey
    return np.array([face.landmarks[:, 0].min(), ey - 1.25 * em, face.landmarks[:, 0].max(), my + 0.64 * em], np.float32)


def small_face_scene(astronaut, astronaut_face, tmp_path: Path, face_px: int):
    """A 1280x720 frame with the astronaut's face pasted at about `face_px` pixels, its
    WIDER-style box, and an SCRFD-format model that reports that box (score 0.92) plus a
    false detection on the empty background (score 0.8)."""
    frame = np.full((720, 1280, 3), 80, np.uint8)
    k = face_px / (astronaut_face.bbox[3] - astronaut_face.bbox[1])
    side = round(512 * k)
    frame[660 - side : 660, 1180 - side : 1180] = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_AREA)
    offset = np.array([1180 - side, 660 - side], np.float32)
    box = _wider_box(astronaut_face) * k + np.tile(offset, 2)
    empty = np.array([100, 100, 190, 210], np.float32)
    to_input = 0.5  # 1280x720 -> 640x360
    cands = []
    for b, score in ((box, 0.92), (empty, 0.8)):
        bi = b * to_input
        cx, cy = (bi[:2] + bi[2:]) / 2
        kps = np.array([cx, cy]) + (bi[2] - bi[0]) * KFRAC
        cands.append((8, int(cx // 8), int(cy // 8), 0, score, bi, kps))
    model = constant_scrfd(tmp_path / "buffalo_l" / "det_10g.onnx", cands)
    return frame, box, astronaut_face.landmarks * k + offset, model


def test_analyser_meshes_the_small_face_the_detector_boxes(astronaut, astronaut_face, tmp_path):
    frame, box, expected, model = small_face_scene(astronaut, astronaut_face, tmp_path, 90)
    det = SCRFDDetector(model)
    np.testing.assert_allclose(det.detections(frame).boxes[0], box, atol=1e-2)

    with MediapipeFaceAnalyser(max_faces=2, detector=det) as analyser:
        assert not analyser._mesh_faces(analyser._mesh, frame)  # pass 1 misses it: the detector's box finds it
        faces = analyser.analyse(frame)
    assert len(faces) == 1  # the empty box has no mesh: dropped
    face = faces[0]
    assert face.landmarks.shape == (478, 2)
    eyes = np.linalg.norm(expected[33] - expected[263])
    assert np.linalg.norm(face.landmarks - expected, axis=1).mean() < 0.1 * eyes
    assert box_iou(face.bbox, box) > 0.6


def test_convert_with_detector_scrfd_swaps_a_face_mediapipe_misses(astronaut, astronaut_face, source_png, tmp_path, capsys):
    frame, box, _, _ = small_face_scene(astronaut, astronaut_face, tmp_path, 45)
    target, out = tmp_path / "target.png", tmp_path / "out.png"
    write_image(target, frame)
    # mediapipe's whole-frame pass misses this face (its tiled search finds it: tests/test_face.py),
    # so the face is found only by the detector --detector scrfd chose: a blind one finds nothing.
    blind = constant_scrfd(tmp_path / "blind.onnx", [])
    assert main(["convert", "-s", source_png, "-t", str(target), "-o", str(out), "--detector", "scrfd",
                 "--detector-model", str(blind)]) == 2
    assert "no face found" in capsys.readouterr().err
    # the pack folder is found the usual way: <root>/buffalo_l/det_10g.onnx
    args = ["convert", "-s", source_png, "-t", str(target), "-o", str(out), "--detector", "scrfd", "--detector-model", str(tmp_path),
            "--no-watermark"]  # the mark touches the whole frame: this test looks at the face alone
    assert main(args) == 0
    diff = np.abs(read_image(out).astype(int) - frame.astype(int)).max(-1)
    x0, y0, x1, y1 = box.astype(int)
    face = diff[y0:y1, x0:x1]  # the astronaut swapped onto herself: a real but modest change
    assert face.mean() > 3 and (face > 10).sum() > 200
    diff[y0 - 20 : y1 + 20, x0 - 20 : x1 + 20] = 0
    assert diff.max() == 0  # nothing else did


def test_detector_flag_errors_are_one_line(source_png, tmp_path, capsys):
    def fails(args, words):
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err

    live = ["live", "-s", source_png, "-t", "/dev/video99", "-o", "null", "--duration", "1"]
    fails([*live, "--detector", "scrfd", "--detector-model", str(tmp_path / "none")], "needs an SCRFD model")
    fails([*live, "--detector-model", str(tmp_path)], "--detector-model needs --detector scrfd")
    not_scrfd = _save([helper.make_node("ReduceMean", ["input.1"], ["y"])], [],
                      [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 640, 640])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1])], tmp_path / "det.onnx")
    out = str(tmp_path / "o.png")
    fails(["convert", "-s", source_png, "-t", source_png, "-o", out, "--detector", "scrfd", "--detector-model", str(not_scrfd)],
          "not an SCRFD detector")
