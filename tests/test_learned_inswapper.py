"""Bring-your-own inswapper: an inswapper-format ONNX built here (insightface's input/output
names and shapes, random weights, a 512x512 emap as the last initializer) and an
ArcFace-format recogniser load from a user path and swap the astronaut's face."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from rswap.errors import RswapError
from tests._onnx_files import save_graph
from rswap.face.align import align_crop, get_template
from rswap.swap.factory import SwapperOptions, make_swapper
from rswap.swap.frame import FrameSwapper
from rswap.swap.inswapper import InSwapper

RNG = np.random.default_rng(5)


def _save(graph, path: Path) -> Path:
    return save_graph(graph, path)


def make_inswapper(path: Path, emap: np.ndarray, last: np.ndarray | None = None) -> Path:
    """target (1,3,128,128) + source (1,512) -> output (1,3,128,128) in [0,1]."""
    inits = [
        numpy_helper.from_array(RNG.normal(0, 0.3, (3, 3, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(RNG.normal(0, 0.5, (512, 3)).astype(np.float32), "p"),
        numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "shape"),
        numpy_helper.from_array(emap if last is None else last, "emap"),  # insightface reads the LAST initializer
    ]
    nodes = [
        helper.make_node("Conv", ["target", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("MatMul", ["source", "p"], ["s"]),
        helper.make_node("Reshape", ["s", "shape"], ["s4"]),
        helper.make_node("Add", ["c", "s4"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "inswapper",
        [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
         helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])],
        inits,
    )
    return _save(graph, path)


def make_arcface(path: Path) -> Path:
    """(1,3,112,112) -> (1,512): pooled colour through a random projection."""
    q = numpy_helper.from_array(RNG.normal(0, 1, (3, 512)).astype(np.float32), "q")
    nodes = [
        helper.make_node("GlobalAveragePool", ["input.1"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("MatMul", ["f", "q"], ["683"]),
    ]
    graph = helper.make_graph(
        nodes, "arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])],
        [q],
    )
    return _save(graph, path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("insightface")
    emap = RNG.normal(0, 1, (512, 512)).astype(np.float32)
    swapper = make_inswapper(root / "inswapper_128.onnx", emap)
    arcface = make_arcface(root / "models" / "buffalo_l" / "w600k_r50.onnx")
    return {"root": root, "emap": emap, "swapper": swapper, "arcface": arcface}


def _unit(v):
    return v / np.linalg.norm(v)


def test_loads_and_follows_insightface_conventions(files, astronaut, astronaut_face):
    sw = make_swapper(str(files["swapper"]), SwapperOptions(insightface_root=str(files["root"])))
    assert isinstance(sw, InSwapper) and (sw.template.name, sw.template.size) == ("arcface128", 128)
    np.testing.assert_array_equal(sw.emap, files["emap"])
    source = sw.encode_source([astronaut], [astronaut_face])

    # the source latent, computed independently: ArcFace on the arcface112 crop, RGB, (x-127.5)/127.5
    crop112, _ = align_crop(astronaut, astronaut_face.kps5, get_template("arcface112"))
    x = ((crop112.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
    emb = ort.InferenceSession(str(files["arcface"])).run(None, {"input.1": x})[0][0]
    np.testing.assert_allclose(source.latent, _unit(_unit(emb) @ files["emap"]), atol=1e-5)

    # the swap: RGB [0,1] in, RGB [0,1] out
    crop, M = align_crop(astronaut, astronaut_face.kps5, sw.template)
    lm = astronaut_face.landmarks @ M[:, :2].T + M[:, 2]
    result = sw.swap(crop, lm, source)
    feeds = {"target": (crop.astype(np.float32) / 255).transpose(2, 0, 1)[None], "source": source.latent[None]}
    want = ort.InferenceSession(str(files["swapper"])).run(None, feeds)[0][0].transpose(1, 2, 0) * 255
    assert np.abs(result.crop.astype(float) - want).max() <= 0.51
    assert result.mask.shape == (128, 128) and result.mask.max() == 1.0 and result.mask[0, 0] == 0.0


def test_swaps_a_frame(files, astronaut, astronaut_face):
    sw = make_swapper(str(files["swapper"]), SwapperOptions(insightface_root=str(files["arcface"])))  # a file works too
    out = FrameSwapper(sw, [sw.encode_source([astronaut], [astronaut_face])], watermark=False).process(astronaut, [astronaut_face])
    x0, y0, x1, y1 = astronaut_face.bbox.astype(int)
    assert np.abs(out[y0:y1, x0:x1].astype(int) - astronaut[y0:y1, x0:x1]).mean() > 2
    np.testing.assert_array_equal(out[:, : max(0, x0 - 60)], astronaut[:, : max(0, x0 - 60)])


def test_refusals(files, tmp_path):
    no_emap = make_inswapper(tmp_path / "bad.onnx", files["emap"], last=np.zeros((3, 512), np.float32))
    with pytest.raises(RswapError, match="emap"):
        InSwapper(no_emap)
    sidecar = files["swapper"].with_name("inswapper_128.onnx.sha256")
    sidecar.write_text("0" * 64 + "  inswapper_128.onnx\n")
    try:
        with pytest.raises(RswapError, match="sha256"):
            InSwapper(files["swapper"])
    finally:
        sidecar.unlink()
    sw = InSwapper(files["swapper"], arcface_root=tmp_path / "empty")
    with pytest.raises(RswapError, match="never downloads"):
        sw.encode_source([np.zeros((8, 8, 3), np.uint8)], [None])
    with pytest.raises(RswapError, match="not found"):
        make_swapper(str(tmp_path / "missing.onnx"))


def test_inswapper_on_the_app_backend_and_on_the_device(files, astronaut, astronaut_face, tmp_path):
    """Through live/convert's flags the inswapper runs on the app's onnxruntime backend (GPU
    providers where installed), and its faces can be cropped and pasted on the device."""
    import argparse

    from realtime.swap_options import add_swap_arguments, frame_swapper_from_args
    from rswap.media.images import write_image

    source = tmp_path / "source.png"
    write_image(source, astronaut)
    parser = argparse.ArgumentParser()
    add_swap_arguments(parser)

    def frame_swapper(*flags):
        args = parser.parse_args(["-s", str(source), "--model", str(files["swapper"]), "--arcface", str(files["arcface"]), *flags])
        return frame_swapper_from_args(args)

    host = frame_swapper()
    assert host.swapper.backend.tensor_device == "cpu"  # the app's backend, not the core's bare runner
    device = frame_swapper("--compose-on", "device")
    assert type(device.compositor).__name__ == "DeviceCompositor"
    a = host.process(astronaut, [astronaut_face])
    b = device.process(astronaut, [astronaut_face])
    changed = np.abs(a.astype(int) - astronaut).sum(-1) > 0
    assert changed.sum() > 2000
    assert np.abs(b.astype(int) - a)[changed].mean() < 2.0
    with pytest.raises(RswapError, match="runs on onnxruntime"):
        frame_swapper("--backend", "torch")
