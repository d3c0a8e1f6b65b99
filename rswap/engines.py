"""TensorRT plans: build, cache, and load only what we built and can verify.

A plan is valid only for the exact ONNX file, TensorRT version, GPU architecture,
precision and batch profiles it was built with, so those five things are the cache key.
Each cached plan has a record beside it (`<key>.json`: the key's fields + the plan's
sha256, written after a successful build). `load_or_build` deserializes a plan only when
its record matches the current key and the plan's bytes match the record; anything else
(missing, stale, truncated, edited) is rebuilt, never trusted.

Shared by `rswap build --engine` (engine_build) and the live TensorRT backend (realtime),
which builds on first use. The key logic is plain Python; `tensorrt` is imported only
when a plan is actually built or read.

TensorRT 10 and 11: networks are built strongly typed, so precision comes from the ONNX
graph (rswap build --precision fp16 writes an fp16 graph with fp32 I/O). TensorRT 11 has
no FP16 builder flag and is always strongly typed; TensorRT 10 honours the same graph
with the STRONGLY_TYPED network flag, so one code path serves both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from rswap.artifacts import sha256_file, write_json_atomic
from rswap.atomic import atomic_path
from rswap.errors import RswapError

RECORD_FORMAT = "rswap-engine-record-v1"


@dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    tensorrt_version: str
    compute_capability: str  # "major.minor"
    precision: str
    profiles: tuple[tuple[int, int, int], ...]  # per profile: (min, opt, max) batch

    def digest(self) -> str:
        fields = asdict(self)
        fields["profiles"] = [list(p) for p in self.profiles]
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def stem(self, name: str) -> str:
        return f"{name}-{self.digest()[:16]}"


def batch_profiles(max_batch: int, opt_batch: int | None = None) -> tuple[tuple[int, int, int], ...]:
    """One profile covering batch 1..max_batch, tuned for opt_batch (default: 1, the live case)."""
    if max_batch < 1:
        raise RswapError(f"max batch must be >= 1, got {max_batch}")
    opt = min(max(1, opt_batch or 1), max_batch)
    return ((1, opt, max_batch),)


def plan_paths(cache_dir: Path, name: str, key: EngineKey) -> tuple[Path, Path]:
    stem = key.stem(name)
    return cache_dir / f"{stem}.plan", cache_dir / f"{stem}.json"


def read_valid_plan(cache_dir: Path, name: str, key: EngineKey) -> bytes | None:
    """The plan's bytes if its record matches `key` and the bytes match the record; else None."""
    plan, record = plan_paths(cache_dir, name, key)
    try:
        rec = json.loads(record.read_text())
        data = plan.read_bytes()
    except (OSError, ValueError):
        return None
    if rec.get("format") != RECORD_FORMAT or rec.get("key") != key.digest():
        return None
    if hashlib.sha256(data).hexdigest() != rec.get("plan_sha256"):
        return None
    return data


def store_plan(cache_dir: Path, name: str, key: EngineKey, data: bytes, build_options: dict) -> Path:
    """Write plan then record (both atomically); a crash in between leaves a plan without a record: rebuilt."""
    plan, record = plan_paths(cache_dir, name, key)
    _write_bytes_atomic(plan, data)
    fields = asdict(key)
    fields["profiles"] = [list(p) for p in key.profiles]
    write_json_atomic(
        record,
        {
            "format": RECORD_FORMAT,
            "key": key.digest(),
            **fields,
            "plan": plan.name,
            "plan_sha256": hashlib.sha256(data).hexdigest(),
            "build": build_options,
        },
    )
    return plan


def load_or_build(
    cache_dir: Path, name: str, key: EngineKey, build: Callable[[], bytes], build_options: dict
) -> tuple[bytes, bool]:
    """(plan bytes, built_now). Reuses a verified cached plan, else calls build() and stores it."""
    data = read_valid_plan(cache_dir, name, key)
    if data is not None:
        return data, False
    data = build()
    store_plan(cache_dir, name, key, data, build_options)
    return data, True


# ---- TensorRT (imported only below this line) ------------------------------------------


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError:
        raise RswapError("TensorRT is not installed (pip install tensorrt cuda-python, on a machine with an NVIDIA GPU)") from None
    return trt


def current_key(onnx_path: Path, precision: str, profiles) -> EngineKey:
    """The key for this ONNX file on this machine's TensorRT and GPU 0."""
    trt = import_tensorrt()
    return EngineKey(
        onnx_sha256=sha256_file(onnx_path),
        tensorrt_version=trt.__version__,
        compute_capability=compute_capability(),
        precision=precision,
        profiles=tuple(tuple(int(v) for v in p) for p in profiles),
    )


def import_cudart():
    """cuda-python's runtime module (cuda.bindings.runtime since 12.6, cuda.cudart before)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            raise RswapError("cuda-python is not installed (pip install cuda-python)") from None
    return cudart


def cuda_check(result):
    """cuda-python calls return (error, *values); raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RswapError(f"CUDA error {int(err)} ({err})")
    return values[0] if len(values) == 1 else tuple(values)


def compute_capability(device: int = 0) -> str:
    cudart = import_cudart()
    attr = cudart.cudaDeviceAttr
    major = cuda_check(cudart.cudaDeviceGetAttribute(attr.cudaDevAttrComputeCapabilityMajor, device))
    minor = cuda_check(cudart.cudaDeviceGetAttribute(attr.cudaDevAttrComputeCapabilityMinor, device))
    return f"{major}.{minor}"


def build_plan(
    onnx_path: Path,
    profiles,
    opt_level: int = 3,
    workspace_gib: float = 4.0,
    timing_cache: Path | None = None,
) -> bytes:
    """Parse the ONNX graph into a strongly typed network, build a serialized plan.

    The timing cache (kernel timings from earlier builds) makes rebuilds on the same GPU
    fast; it is updated after a successful build.
    """
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    strongly_typed = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    if strongly_typed is not None:  # TensorRT 10.x; 11.x is strongly typed always
        flags |= 1 << int(strongly_typed)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RswapError(f"TensorRT could not parse {onnx_path}: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    config.builder_optimization_level = int(opt_level)
    for lo, opt, hi in profiles:
        profile = builder.create_optimization_profile()
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            rest = tuple(tensor.shape)[1:]
            if any(d < 0 for d in rest):
                raise RswapError(f"{onnx_path}: input {tensor.name} has a dynamic axis other than batch: {tensor.shape}")
            profile.set_shape(tensor.name, (lo, *rest), (opt, *rest), (hi, *rest))
        config.add_optimization_profile(profile)

    cache_bytes = timing_cache.read_bytes() if timing_cache is not None and timing_cache.is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    # A timing cache from another GPU/version is ignored rather than failing the build.
    config.set_timing_cache(cache, ignore_mismatch=True)

    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RswapError(f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)")
    if timing_cache is not None:
        _write_bytes_atomic(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())))
    return bytes(memoryview(serialized))


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path, make_parents=True) as tmp:
        tmp.write_bytes(data)
