"""rswap build on a tiny generator: a checked ONNX graph TensorRT can parse, equal to torch,
fp16 inside with fp32 I/O, and a manifest that describes it."""

from pathlib import Path

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from cli.main import main
from engine_build.build import generator_inputs
from engine_build.check import max_abs_error
from engine_build.tensorrt_ops import TENSORRT_OPS, check_tensorrt_ops, graph_ops
from rswap.artifacts import load_manifest
from rswap.errors import RswapError
from rswap.models.checkpoint import load_generator, save_generator
from rswap.models.generator import Generator, preset


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = preset("tiny")
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_generator(path, Generator(config), config)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, checkpoint) -> dict[str, Path]:
    """The same checkpoint built at both precisions through the CLI."""
    dirs = {}
    for precision in ("fp32", "fp16"):
        out = tmp_path_factory.mktemp(f"model_{precision}")
        rc = main(["build", "--checkpoint", str(checkpoint), "-o", str(out), "--precision", precision, "--no-encoder", "--max-batch", "4"])
        assert rc == 0
        dirs[precision] = out
    return dirs


def _graph(model_dir: Path) -> tuple[Path, onnx.ModelProto]:
    m = load_manifest(model_dir)
    path = m.path(m.network("generator").file)
    return path, onnx.load(str(path))


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_graph_is_valid_and_tensorrt_parsable(built, precision):
    path, proto = _graph(built[precision])
    onnx.checker.check_model(proto, full_check=True)
    ops = {op for _, op in graph_ops(proto)}
    assert ops <= TENSORRT_OPS, ops - TENSORRT_OPS
    assert not ops & {"GridSample", "AffineGrid"}
    assert {"Conv", "Resize"} <= ops  # it is really the generator
    # the batch axis is symbolic, the rest fixed
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 64, 64]


def test_fp32_onnxruntime_equals_torch(built, checkpoint):
    path, _ = _graph(built["fp32"])
    model, config = load_generator(checkpoint)
    errors = max_abs_error(path, model, generator_inputs(config, seed=7), batches=(1, 3))
    assert max(errors.values()) <= 1e-4, errors


def test_fp16_graph_keeps_fp32_io_and_is_close(built, checkpoint):
    path, proto = _graph(built["fp16"])
    io = list(proto.graph.input) + list(proto.graph.output)
    assert all(v.type.tensor_type.elem_type == TensorProto.FLOAT for v in io)
    weights = [i for i in proto.graph.initializer if len(i.dims) == 4]
    assert weights and all(i.data_type == TensorProto.FLOAT16 for i in weights)  # convs really are fp16
    model, config = load_generator(checkpoint)
    errors = max_abs_error(path, model, generator_inputs(config, seed=7), batches=(1, 3))
    assert 0 < max(errors.values()) <= 2e-2, errors  # > 0: it is not the fp32 graph in disguise
    m = load_manifest(built["fp16"])
    assert m.network("generator").precision == "fp16" and m.build["precision"] == "fp16"


def test_manifest_states_what_realtime_needs(built):
    m = load_manifest(built["fp32"])
    net = m.network("generator")
    target, identity = net.input("target"), net.input("identity")
    assert target.shape == ["batch", 3, 64, 64] and target.value_range == (-1.0, 1.0) and target.channel_order == "RGB"
    assert identity.shape == ["batch", 128] and identity.normalized == "l2"
    assert net.output("swapped").value_range == (-1.0, 1.0)
    assert (m.template, m.crop_size, m.identity_encoder, m.identity_size) == ("ffhq256", 64, "dlib_resnet128", 128)
    assert set(m.files) == {net.file, "generator.safetensors"}
    assert m.build["max_batch"] == 4


def _tiny_model(op: str, **attrs) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])
    g = helper.make_tensor_value_info("g", TensorProto.FLOAT, [1, 4, 4, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])
    node = helper.make_node(op, ["x", "g"], ["y"], **attrs)
    return helper.make_model(helper.make_graph([node], "t", [x, g], [y]), opset_imports=[helper.make_opsetid("", 18)])


def test_op_check_rejects_grid_sample_and_old_opsets():
    with pytest.raises(RswapError, match="GridSample"):
        check_tensorrt_ops(_tiny_model("GridSample"))
    old = _tiny_model("Add")
    old.opset_import[0].version = 11
    with pytest.raises(RswapError, match="opset 11"):
        check_tensorrt_ops(old)


def test_build_errors_are_one_line(tmp_path):
    bad = tmp_path / "not_a_checkpoint.safetensors"
    bad.write_bytes(b"garbage")
    assert main(["build", "--checkpoint", str(bad), "-o", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_max_batch_below_two_is_one_line(checkpoint, tmp_path, capsys):
    for value in ("0", "1"):
        assert main(["build", "--checkpoint", str(checkpoint), "-o", str(tmp_path / "m"), "--no-encoder", "--max-batch", value]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "--max-batch must be at least 2" in err, err
    assert not (tmp_path / "m").exists()


def test_failed_rebuild_leaves_the_old_model_directory_intact(checkpoint, tmp_path, monkeypatch, capsys):
    import engine_build.build as build

    out = tmp_path / "model"
    argv = ["build", "--checkpoint", str(checkpoint), "-o", str(out), "--no-encoder", "--max-batch", "2"]
    assert main(argv) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "manifest.json" in before and "generator_fp32.onnx" in before

    def fail(path, errors, tolerance):  # the graph file is written, then the check fails
        assert Path(path).is_file()
        raise RswapError(f"{path} does not match torch")

    monkeypatch.setattr(build, "require_close", fail)
    assert main(argv + ["--precision", "fp16"]) == 2
    assert "does not match torch" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folder left behind
    load_manifest(out)  # still a valid model directory

    monkeypatch.undo()
    assert main(argv + ["--precision", "fp16"]) == 0  # a successful rebuild replaces it
    assert sorted(p.name for p in out.iterdir()) == ["generator.safetensors", "generator_fp16.onnx", "manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_build_refuses_to_replace_a_folder_that_is_not_a_model(checkpoint, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["build", "--checkpoint", str(checkpoint), "-o", str(tmp_path), "--no-encoder"]) == 2
    assert "not a model directory" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"
