"""The learned swapper from a built model directory, through the frame swapper, on the
astronaut, with onnxruntime on the CPU: manifest-driven pre/post-processing reproduces the
torch generator, faces are batched, and only the face changes."""


import numpy as np
import pytest
import torch

from rswap.errors import RswapError
from rswap.face.align import align_crop
from rswap.models.checkpoint import load_generator
from rswap.swap.factory import SwapperOptions, make_swapper
from rswap.swap.frame import FrameSwapper
from rswap.swap.learned import LearnedSource, LearnedSwapper


def _unit(seed: int) -> LearnedSource:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return LearnedSource(v / np.linalg.norm(v))


def test_factory_makes_a_learned_swapper(model_dir):
    sw = make_swapper(str(model_dir))
    assert isinstance(sw, LearnedSwapper) and sw.name == "learned:tiny"
    assert (sw.template.name, sw.template.size) == ("ffhq256", 64)
    assert type(sw.backend).__name__ == "OnnxRunner"
    with pytest.raises(RswapError, match="live"):
        make_swapper(str(model_dir), SwapperOptions(backend="tensorrt"))  # no app backend injected


def test_swap_reproduces_the_torch_generator(model_dir, astronaut, astronaut_face):
    sw = LearnedSwapper(model_dir)
    crop, _ = align_crop(astronaut, astronaut_face.kps5, sw.template)
    source = _unit(0)
    result = sw.swap(crop, np.zeros((468, 2), np.float32) + 32, source)
    model, _ = load_generator(model_dir / "generator.safetensors")
    with torch.no_grad():
        x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 127.5 - 1
        y = model(x, torch.from_numpy(source.identity)[None])[0].permute(1, 2, 0).numpy()
    want = np.clip(np.rint((y + 1) * 127.5), 0, 255)
    assert result.crop.shape == (64, 64, 3) and result.crop.dtype == np.uint8
    assert np.abs(result.crop.astype(int) - want).max() <= 1


def test_batch_equals_one_by_one(model_dir, astronaut, astronaut_face):
    sw = LearnedSwapper(model_dir)
    crop, M = align_crop(astronaut, astronaut_face.kps5, sw.template)
    lm = astronaut_face.landmarks @ M[:, :2].T + M[:, 2]
    crops = [crop, np.ascontiguousarray(crop[:, ::-1])]
    sources = [_unit(1), _unit(2)]
    batched = sw.swap_batch(crops, [lm, lm], sources)
    for c, s, b in zip(crops, sources, batched):
        single = sw.swap(c, lm, s)
        assert np.abs(single.crop.astype(int) - b.crop).max() <= 1
    assert np.abs(batched[0].crop.astype(int) - sw.swap(crops[0], lm, sources[1]).crop).mean() > 0.5  # identity matters


def test_through_the_frame_swapper(model_dir, astronaut, astronaut_face):
    sw = make_swapper(str(model_dir), SwapperOptions(keep_mouth=True))
    source = sw.encode_source([astronaut], [astronaut_face])  # dlib, as the manifest says
    assert source.identity.shape == (128,) and abs(np.linalg.norm(source.identity) - 1) < 1e-5
    out = FrameSwapper(sw, [source], watermark=False).process(astronaut, [astronaut_face])  # the paste alone
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    x0, y0, x1, y1 = astronaut_face.bbox.astype(int)
    face_change = np.abs(out[y0:y1, x0:x1].astype(int) - astronaut[y0:y1, x0:x1]).mean()
    assert face_change > 2  # the untrained generator's output went in
    outside = np.ones(astronaut.shape[:2], bool)
    pad = (x1 - x0) // 2
    outside[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = False
    np.testing.assert_array_equal(out[outside], astronaut[outside])  # nothing changes away from the face


def test_tampered_model_is_refused(model_dir, tmp_path):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    onnx_file = next(copy.glob("generator_*.onnx"))
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    with pytest.raises(RswapError, match="sha256"):
        make_swapper(str(copy))


def test_convert_cli_with_a_model_directory(model_dir, source_png, astronaut, tmp_path):
    """`rswap convert --model DIR`: the app's backend selection, the conveyor and paste-back."""
    from cli.main import main
    from rswap.media.images import read_image

    out = tmp_path / "swapped.png"
    assert main(["convert", "-s", source_png, "-t", source_png, "-o", str(out), "--model", str(model_dir), "--backend", "onnxruntime"]) == 0
    result = read_image(str(out))
    assert result.shape == astronaut.shape
    changed = np.abs(result.astype(int) - astronaut).max(axis=2) > 8
    assert 500 < changed.sum() < 0.2 * changed.size  # the face changed, the rest of the photo did not
