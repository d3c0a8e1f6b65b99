"""The manifest round-trips, and realtime refuses any file that is not what it lists."""

import json

import pytest

from rswap.artifacts import EngineSpec, Manifest, NetworkSpec, TensorSpec, load_manifest, save_manifest, sha256_file
from rswap.errors import RswapError


def _manifest(file="g.onnx") -> Manifest:
    image = dict(value_range=(-1, 1), channel_order="RGB", layout="NCHW")
    net = NetworkSpec(
        file=file,
        inputs=[TensorSpec("target", ["batch", 3, 64, 64], **image), TensorSpec("identity", ["batch", 128], normalized="l2")],
        outputs=[TensorSpec("swapped", ["batch", 3, 64, 64], **image)],
        precision="fp16",
        opset=18,
    )
    return Manifest("tiny", 1, {"generator": net}, "ffhq256", 64, "dlib_resnet128", 128, build={"max_batch": 4})


@pytest.fixture
def model_dir(tmp_path):
    (tmp_path / "g.onnx").write_bytes(b"graph bytes " * 100)
    (tmp_path / "engines").mkdir()
    (tmp_path / "engines" / "g.plan").write_bytes(b"plan bytes")
    m = _manifest()
    m.engines = [EngineSpec("engines/g.plan", "generator", "ab" * 32, "10.8.0", "9.0", "fp16", [[1, 1, 4]])]
    save_manifest(tmp_path, m)
    return tmp_path


def test_round_trip_with_hashes(model_dir):
    m = load_manifest(model_dir)
    assert m.to_dict() == {**_manifest().to_dict(), "engines": m.to_dict()["engines"], "files": m.files}
    assert m.files == {"g.onnx": sha256_file(model_dir / "g.onnx"), "engines/g.plan": sha256_file(model_dir / "engines/g.plan")}
    assert m.network("generator").input("target").batch_axis == 0
    assert m.engines[0].compute_capability == "9.0" and m.path("g.onnx") == model_dir / "g.onnx"
    assert load_manifest(model_dir / "manifest.json").files == m.files  # the file itself works too


@pytest.mark.parametrize("victim", ["g.onnx", "engines/g.plan"])
def test_tampered_file_is_rejected(model_dir, victim):
    data = bytearray((model_dir / victim).read_bytes())
    data[3] ^= 1
    (model_dir / victim).write_bytes(bytes(data))
    with pytest.raises(RswapError, match="sha256"):
        load_manifest(model_dir)


def test_missing_file_and_unlisted_network_are_rejected(model_dir):
    (model_dir / "engines" / "g.plan").unlink()
    with pytest.raises(RswapError, match="missing"):
        load_manifest(model_dir)
    d = json.loads((model_dir / "manifest.json").read_text())
    d["files"] = {}
    (model_dir / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(RswapError, match="no sha256"):
        load_manifest(model_dir)


def test_paths_cannot_leave_the_directory(model_dir):
    d = json.loads((model_dir / "manifest.json").read_text())
    d["files"]["../outside"] = "00"
    (model_dir / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(RswapError, match="leaves the model directory"):
        load_manifest(model_dir)


def test_files_linked_from_outside_the_directory_are_refused(model_dir, tmp_path_factory):
    """Same bytes, same sha256, but the file lives elsewhere: a link out of the directory is refused;
    the directory reached through a link of its own still loads."""
    outside = tmp_path_factory.mktemp("elsewhere") / "g.onnx"
    outside.write_bytes((model_dir / "g.onnx").read_bytes())
    via_link = tmp_path_factory.mktemp("links") / "model"
    via_link.symlink_to(model_dir)
    assert load_manifest(via_link).files == load_manifest(model_dir).files
    (model_dir / "g.onnx").unlink()
    (model_dir / "g.onnx").symlink_to(outside)
    with pytest.raises(RswapError, match="outside the model directory"):
        load_manifest(model_dir)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(format="something-else"), "not an rswap model manifest"),
        (lambda d: d.update(format_version=99), "not supported"),
        (lambda d: d.pop("crop_size"), "incomplete"),
        (lambda d: d["networks"]["generator"]["inputs"][0].update(dtype="float128"), "unknown dtype"),
    ],
)
def test_malformed_manifests(model_dir, edit, message):
    d = json.loads((model_dir / "manifest.json").read_text())
    edit(d)
    (model_dir / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(RswapError, match=message):
        load_manifest(model_dir)


def test_no_manifest_and_unreadable_manifest(tmp_path):
    with pytest.raises(RswapError, match="no model manifest"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(RswapError, match="unreadable"):
        load_manifest(tmp_path)
