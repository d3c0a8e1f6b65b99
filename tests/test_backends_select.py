"""Backend selection and the one run() interface: onnxruntime and torch give the same
generator output; the onnxruntime path never imports torch."""

import subprocess
import sys

import numpy as np
import pytest

from realtime.backends import NAMES, cuda_device_count, open_backend, select_backend
from rswap.artifacts import load_manifest
from rswap.errors import RswapError


def _inputs(batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ident = rng.standard_normal((batch, 128)).astype(np.float32)
    return {
        "target": rng.uniform(-1, 1, (batch, 3, 64, 64)).astype(np.float32),
        "identity": ident / np.linalg.norm(ident, axis=1, keepdims=True),
    }


def test_auto_picks_onnxruntime_on_a_cpu_machine():
    if cuda_device_count():
        pytest.skip("this machine has a GPU")
    name, reason = select_backend("auto")
    assert name == "onnxruntime" and "CPU" in reason


def test_explicit_and_unknown_names():
    assert select_backend("onnxruntime") == ("onnxruntime", "chosen with --backend")
    with pytest.raises(RswapError, match="unknown backend"):
        select_backend("tpu")
    if not cuda_device_count():
        with pytest.raises(RswapError, match="tensorrt"):
            select_backend("tensorrt")
    assert set(NAMES) == {"auto", "tensorrt", "onnxruntime", "torch"}


def test_onnxruntime_and_torch_agree(model_dir):
    manifest = load_manifest(model_dir)
    said = []
    ort_backend = open_backend(manifest, name="onnxruntime", log=said.append)
    torch_backend = open_backend(manifest, name="torch", log=said.append, device="cpu")
    assert said[0].startswith("inference backend: onnxruntime on CPUExecutionProvider")
    assert said[1].startswith("inference backend: torch on cpu")
    for batch in (1, 3):
        feeds = _inputs(batch, seed=batch)
        a = ort_backend.run(feeds)["swapped"]
        b = torch_backend.run(feeds)["swapped"]
        assert a.shape == (batch, 3, 64, 64) and a.dtype == np.float32
        assert np.abs(a - b).max() <= 1e-4
    # bf16 on the CPU: same picture, coarser numbers
    bf16 = open_backend(manifest, name="torch", precision="bf16", log=said.append, device="cpu", channels_last=True)
    c = bf16.run(_inputs(2))["swapped"]
    d = ort_backend.run(_inputs(2))["swapped"]
    assert 0 < np.abs(c - d).max() < 0.1


def test_onnxruntime_path_does_not_import_torch(model_dir):
    code = (
        "import sys\n"
        "from realtime.backends import open_backend\n"
        "from rswap.artifacts import load_manifest\n"
        "import numpy as np\n"
        f"b = open_backend(load_manifest({str(model_dir)!r}), name='onnxruntime', log=lambda _: None)\n"
        "out = b.run({'target': np.zeros((1,3,64,64), np.float32), 'identity': np.full((1,128), 128**-0.5, np.float32)})\n"
        "assert out['swapped'].shape == (1,3,64,64)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(b.name)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "onnxruntime"  # named: on a GPU machine 'auto' would pick torch


def test_bench_backends_runs_generator_and_pipeline(tmp_path):
    """`rswap bench backends` end to end on CPU: per-backend generator timings and the live
    pipeline with the learned swapper on onnxruntime (short, tiny generator)."""
    import json

    from cli.main import main

    out = tmp_path / "bench.json"
    argv = ["bench", "backends", "--preset", "tiny", "--iters", "2", "--warmup", "1", "--batches", "1", "2",
            "--backends", "onnxruntime", "torch", "--pipeline-seconds", "1.5", "--sizes", "720p", "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    ort = {(r["precision"], r["batch"]) for r in report["rows"] if r["backend"] == "onnxruntime"}
    assert ort == {("fp32", 1), ("fp32", 2), ("fp16", 1), ("fp16", 2)}
    assert all(r["median_ms"] > 0 for r in report["rows"])
    # each backend runs the pipeline twice: crop/paste on the host, and on its device
    assert [(p["backend"], p["compose"]) for p in report["pipeline"]] == [
        ("onnxruntime", "host"), ("onnxruntime", "device"), ("torch", "host"), ("torch", "device")]
    assert all(p["fps"] > 1 and p["paste_p50_ms"] > 0 for p in report["pipeline"])


def test_swap_flags_reach_the_backend(model_dir, source_png):
    """--backend/--precision/--cuda-graphs from the command line to the backend that runs the model."""
    import argparse

    import torch

    from realtime.swap_options import add_swap_arguments, frame_swapper_from_args

    parser = argparse.ArgumentParser()
    add_swap_arguments(parser)

    def swapper(*flags):
        return frame_swapper_from_args(parser.parse_args(["-s", source_png, "--model", str(model_dir), *flags])).swapper

    bf16 = swapper("--backend", "torch", "--precision", "bf16")
    # auto: CUDA graphs wherever the GPU runs the model, none on a CPU
    assert bf16.backend.dtype == torch.bfloat16 and bf16.backend.cuda_graphs == bool(cuda_device_count())
    with pytest.raises(RswapError, match="rebuild it with `rswap build --precision fp16`"):
        swapper("--backend", "onnxruntime", "--precision", "fp16")  # an ONNX graph has its precision built in
    if not cuda_device_count():
        with pytest.raises(RswapError, match="CUDA graphs need a CUDA device"):
            swapper("--backend", "torch", "--cuda-graphs", "on")
