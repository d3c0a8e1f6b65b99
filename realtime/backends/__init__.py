"""Inference backends behind one interface (`run(dict of arrays) -> dict of arrays`).

`select_backend("auto")` picks the best one this machine can run and says why;
`open_backend(manifest, ...)` opens a network of a model directory on it. Everything a
backend needs (files, I/O names, precision) comes from the manifest. torch is imported
only when the torch backend is the one chosen.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path
from typing import Callable

from realtime.backends.base import Backend
from rswap.artifacts import Manifest
from rswap.errors import RswapError



def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def cuda_device_count() -> int:
    """GPUs the CUDA driver sees, asked through libcuda itself (no torch, no cuda-python needed)."""
    for lib in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            cuda = ctypes.CDLL(lib)
        except OSError:
            continue
        count = ctypes.c_int(0)
        if cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(count)) == 0:
            return count.value
        return 0
    return 0


def select_backend(name: str = "auto") -> tuple[str, str]:
    """(backend name, reason). 'auto': TensorRT on a GPU when installed, then onnxruntime with a
    GPU provider, then torch on the GPU, then onnxruntime on the CPU, then torch on the CPU."""
    if name not in NAMES:
        raise RswapError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}")
    gpus = cuda_device_count()
    from realtime.backends.ort_backend import GPU_PROVIDERS, available_providers

    providers = available_providers()
    if name != "auto":
        if name == "tensorrt" and not (_installed("tensorrt") and gpus):
            raise RswapError("backend tensorrt needs the tensorrt package and an NVIDIA GPU")
        if name == "onnxruntime" and not providers:
            raise RswapError("backend onnxruntime: onnxruntime is not installed")
        if name == "torch" and not _installed("torch"):
            raise RswapError("backend torch: torch is not installed")
        return name, "chosen with --backend"
    if gpus and _installed("tensorrt") and (_installed("cuda.bindings") or _installed("cuda.cudart")):
        return "tensorrt", f"TensorRT and {gpus} GPU(s) found"
    if gpus and any(p in providers for p in GPU_PROVIDERS):
        return "onnxruntime", "onnxruntime with a GPU provider found (TensorRT not installed)"
    if gpus and _installed("torch"):
        return "torch", "GPU found, torch installed (no TensorRT, no GPU onnxruntime)"
    if providers:
        return "onnxruntime", "no usable GPU path: onnxruntime on the CPU"
    if _installed("torch"):
        return "torch", "no onnxruntime: torch on the CPU"
    raise RswapError("no inference backend installed (pip install onnxruntime)")


def engine_cache_dir(manifest: Manifest) -> Path:
    """Plans built on first use go beside the model when we may write there, else to the user cache."""
    own = manifest.path("engines")
    if os.access(manifest.root, os.W_OK):
        return own
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rswap" / "engines" / manifest.name


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # status lines go to stderr, like every other


def open_backend(
    manifest: Manifest,
    network: str = "generator",
    name: str = "auto",
    precision: str | None = None,
    log=None,
    **options,
) -> Backend:
    """The manifest's `network` on backend `name`. `options` go to the backend
    (torch: device, channels_last, cuda_graphs, compile; tensorrt: cuda_graphs).
    `precision` other than the graph's is for torch only (it casts the weights); ONNX
    graphs and TensorRT plans have theirs built in. cuda_graphs None: on wherever a GPU runs."""
    log = log or _stderr
    chosen, reason = select_backend(name)
    spec = manifest.network(network)
    if precision not in (None, spec.precision) and chosen != "torch":
        raise RswapError(f"model {manifest.name!r} was built {spec.precision}; for {precision} on {chosen}, "
                         f"rebuild it with `rswap build --precision {precision}` (or use --backend torch)")
    backend = BACKENDS[chosen](manifest, network, precision or spec.precision, log, **options)
    log(f"inference backend: {chosen} on {backend.device} ({reason})")
    return backend


def open_onnx(path: Path, name: str = "auto", log=None) -> Backend:
    """A bare .onnx file (bring-your-own models such as inswapper_128) on onnxruntime, with
    its GPU providers where installed. Such files have no manifest and no torch weights, and
    TensorRT plans are built only from rswap's own verified exports, so onnxruntime it is."""
    if name not in ("auto", "onnxruntime"):
        raise RswapError(f"{Path(path).name} runs on onnxruntime (with its GPU providers when installed), "
                         f"not --backend {name}")
    select_backend("onnxruntime")  # one clear line when onnxruntime is missing
    backend = _open_onnxruntime(Path(path))
    (log or _stderr)(f"inference backend: onnxruntime on {backend.device} for {Path(path).name}")
    return backend


def _open_onnxruntime(path: Path) -> Backend:
    from realtime.backends.ort_backend import GPU_PROVIDERS, OnnxRuntimeBackend, available_providers

    gpu = [p for p in GPU_PROVIDERS if p in available_providers()] if cuda_device_count() else []
    return OnnxRuntimeBackend(path, providers=gpu + ["CPUExecutionProvider"])


def _open_manifest_onnx(manifest: Manifest, network: str, precision: str, log, **_) -> Backend:
    return _open_onnxruntime(manifest.path(manifest.network(network).file))


def _open_tensorrt(manifest: Manifest, network: str, precision: str, log, cuda_graphs: bool | None = None, **_) -> Backend:
    from realtime.backends.tensorrt_backend import TensorRTBackend
    from rswap import engines

    cuda_graphs = True if cuda_graphs is None else cuda_graphs

    spec = manifest.network(network)
    onnx_path = manifest.path(spec.file)
    max_batch = int(manifest.build.get("max_batch", 8))
    key = engines.current_key(onnx_path, spec.precision, engines.batch_profiles(max_batch))
    # A plan from `rswap build --engine` (hash-checked with the manifest) or one we cached earlier.
    for e in manifest.engines:
        if e.network == network and (e.onnx_sha256, e.tensorrt_version, e.compute_capability, e.precision) == (
            key.onnx_sha256, key.tensorrt_version, key.compute_capability, key.precision
        ) and [tuple(p) for p in e.profiles] == list(key.profiles):
            return TensorRTBackend(manifest.path(e.file).read_bytes(), cuda_graphs=cuda_graphs)
    cache = engine_cache_dir(manifest)
    plan, built = engines.load_or_build(
        cache, network, key, lambda: engines.build_plan(onnx_path, key.profiles, timing_cache=cache / "timing.cache"), {}
    )
    log(f"TensorRT engine {'built and cached' if built else 'loaded from cache'} in {cache}")
    return TensorRTBackend(plan, cuda_graphs=cuda_graphs)


def _open_torch(manifest: Manifest, network: str, precision: str, log, device: str | None = None,
                cuda_graphs: bool | None = None, **options) -> Backend:
    if network != "generator" or "torch_checkpoint" not in manifest.build:
        raise RswapError(f"model {manifest.name!r} has no torch weights for {network!r}; use onnxruntime or tensorrt")
    from realtime.backends.torch_backend import TorchBackend
    from rswap.models.checkpoint import load_generator

    import torch

    model, _ = load_generator(manifest.path(manifest.build["torch_checkpoint"]))
    spec = manifest.network(network)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda_graphs = device.startswith("cuda") if cuda_graphs is None else cuda_graphs
    return TorchBackend(
        model, [t.name for t in spec.inputs], [t.name for t in spec.outputs], device=device, precision=precision,
        cuda_graphs=cuda_graphs, **options,
    )


# name -> opener(manifest, network, precision, log, **options); `auto` picks one (select_backend)
BACKENDS: dict[str, Callable[..., Backend]] = {
    "tensorrt": _open_tensorrt,
    "onnxruntime": _open_manifest_onnx,
    "torch": _open_torch,
}
NAMES = ("auto", *BACKENDS)

__all__ = ["BACKENDS", "NAMES", "Backend", "cuda_device_count", "open_backend", "open_onnx", "select_backend"]
