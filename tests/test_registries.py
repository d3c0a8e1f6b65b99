"""The name -> factory tables (swappers, backends, box detectors, identity encoders): each name
opens what it says, and an unknown name is one clear error that lists the table."""

from __future__ import annotations

import pytest

from rswap.errors import RswapError
from rswap.face.box_detectors import BOX_DETECTORS, open_box_detector
from rswap.swap.factory import SWAPPERS, SwapperOptions, make_swapper, swapper_kind


def test_a_model_spec_names_its_swapper_kind(model_dir, tmp_path):
    onnx = tmp_path / "inswapper_128.onnx"
    onnx.write_bytes(b"not read")
    assert swapper_kind("classical") == "classical"
    assert swapper_kind(str(model_dir)) == "learned"
    assert swapper_kind(str(model_dir / "manifest.json")) == "learned"
    assert swapper_kind(str(onnx)) == "inswapper"
    assert set(SWAPPERS) == {"classical", "learned", "inswapper"}
    with pytest.raises(RswapError, match="not found"):
        swapper_kind(str(tmp_path / "missing"))
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(RswapError, match="neither a model directory"):
        swapper_kind(str(tmp_path / "weights.bin"))


def test_each_swapper_factory_builds_its_swapper(model_dir):
    classical = make_swapper("classical", SwapperOptions(reshape=0.2, color="lct", keep_mouth=True))
    assert (type(classical).__name__, classical.reshape, classical.color, classical.keep) == (
        "ClassicalSwapper", 0.2, "lct", ("mouth_inner",))
    assert classical.tensor_device is None  # host arrays only: the host compositor
    learned = make_swapper(str(model_dir))
    assert type(learned).__name__ == "LearnedSwapper"
    assert learned.tensor_device is None  # the core's own onnxruntime runner takes no tensors


def test_box_detector_table():
    assert open_box_detector("mediapipe") is None  # every analyser builds its own mediapipe graph
    with pytest.raises(RswapError, match="needs --detector scrfd"):
        open_box_detector("mediapipe", "det_10g.onnx")
    with pytest.raises(RswapError, match="mediapipe, scrfd"):
        open_box_detector("yolo")
    assert list(BOX_DETECTORS) == ["mediapipe", "scrfd"]


def test_identity_encoder_table():
    pytest.importorskip("torch")
    from rswap.models.identity_encoders import IDENTITY_ENCODERS, build_identity_encoder

    assert {"dlib_resnet128", "arcface_r50", "arcface_r100"} <= set(IDENTITY_ENCODERS)
    assert build_identity_encoder("dlib_resnet128").name == "dlib_resnet128"
    with pytest.raises(RswapError, match="needs --identity-weights"):
        build_identity_encoder("arcface_r100")
    with pytest.raises(RswapError, match="choose one of dlib_resnet128"):
        build_identity_encoder("facenet")


def test_backend_table_feeds_auto_selection():
    from realtime.backends import BACKENDS, NAMES, select_backend

    assert NAMES == ("auto", *BACKENDS) and set(BACKENDS) == {"tensorrt", "onnxruntime", "torch"}
    assert select_backend("auto")[0] in BACKENDS  # auto always lands on a table entry
    with pytest.raises(RswapError, match="choose one of auto, tensorrt, onnxruntime, torch"):
        select_backend("openvino")
