"""checkpoint -> model directory: ONNX graphs, checks, optional TensorRT plans, manifest.

The manifest is written last: a build that stops half way leaves either no manifest or
an old one whose hashes no longer match, and both are refused by load_manifest.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from engine_build.check import max_abs_error, require_close
from engine_build.export import OPSET, HalfInside, export_onnx, io_dtypes
from engine_build.identity_export import export_identity, load_identity_function
from rswap.artifacts import MANIFEST_NAME, EngineSpec, Manifest, NetworkSpec, TensorSpec, save_manifest
from rswap.atomic import atomic_path, remove_stale_temps, temp_prefix
from rswap.errors import RswapError
from rswap.models.checkpoint import load_generator
from rswap.models.generator import Generator, GeneratorConfig
from rswap.options import option

# onnxruntime vs torch, max abs difference on outputs in [-1, 1]
TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2}


@dataclass
class BuildOptions:
    precision: str = option("fp32", "fp16: half-precision graph with fp32 inputs/outputs and fp32 normalisations",
                            choices=("fp32", "fp16"))
    max_batch: int = option(8, "largest batch (faces per call) the graph/engine accepts (dynamic range 1..N)",
                            metavar="N")
    encoder: bool = option(True, "also export the identity function (aligned crop -> identity vector)")
    identity_weights: str = option("", "the encoder weights file training used (ArcFace backbones); checked by sha256",
                                   metavar="PATH")
    fixer: str = option("", "FixerNet file, only for generator files that do not carry their FixerNet", metavar="PATH")
    engine: bool = option(False, "also build a TensorRT plan (needs tensorrt and a GPU)")
    opt_level: int = option(3, "TensorRT builder optimisation level", choices=range(6))
    workspace_gib: float = option(4.0, "TensorRT builder workspace limit in GiB", metavar="GIB")

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def generator_inputs(config: GeneratorConfig, seed: int = 0) -> Callable[[int], dict[str, torch.Tensor]]:
    def make(batch: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(seed + batch)
        target = torch.rand(batch, 3, config.size, config.size, generator=g) * 2 - 1
        identity = F.normalize(torch.randn(batch, config.id_dim, generator=g), dim=-1)
        return {"target": target, "identity": identity}

    return make


def generator_network(config: GeneratorConfig, file: str, precision: str) -> NetworkSpec:
    s = config.size
    image = dict(dtype="float32", value_range=(-1.0, 1.0), channel_order="RGB", layout="NCHW")
    return NetworkSpec(
        file=file,
        inputs=[
            TensorSpec("target", ["batch", 3, s, s], **image),
            TensorSpec("identity", ["batch", config.id_dim], dtype="float32", layout="NC", normalized="l2"),
        ],
        outputs=[TensorSpec("swapped", ["batch", 3, s, s], **image)],
        precision=precision,
        opset=OPSET,
    )


def export_generator(model: Generator, config: GeneratorConfig, out_dir: Path, options: BuildOptions) -> NetworkSpec:
    file = f"generator_{options.precision}.onnx"
    path = out_dir / file
    make = generator_inputs(config)
    module = HalfInside(model) if options.precision == "fp16" else model
    proto = export_onnx(module, tuple(make(2).values()), ["target", "identity"], ["swapped"], path, options.max_batch)
    if any(dtype != "float32" for dtype in io_dtypes(proto).values()):
        raise RswapError(f"{path}: inputs/outputs must stay float32, got {io_dtypes(proto)}")
    require_close(path, max_abs_error(path, model, make), TOLERANCE[options.precision])
    return generator_network(config, file, options.precision)


def build_engine(out_dir: Path, network_key: str, network: NetworkSpec, options: BuildOptions) -> EngineSpec:
    from rswap import engines

    onnx_path = out_dir / network.file
    profiles = engines.batch_profiles(options.max_batch)
    key = engines.current_key(onnx_path, options.precision, profiles)
    cache_dir = out_dir / "engines"
    build_opts = {"opt_level": options.opt_level, "workspace_gib": options.workspace_gib}
    engines.load_or_build(
        cache_dir,
        network_key,
        key,
        lambda: engines.build_plan(onnx_path, profiles, options.opt_level, options.workspace_gib, cache_dir / "timing.cache"),
        build_opts,
    )
    plan, _ = engines.plan_paths(cache_dir, network_key, key)
    return EngineSpec(
        file=str(plan.relative_to(out_dir)),
        network=network_key,
        onnx_sha256=key.onnx_sha256,
        tensorrt_version=key.tensorrt_version,
        compute_capability=key.compute_capability,
        precision=key.precision,
        profiles=[list(p) for p in key.profiles],
    )


def build_model_dir(checkpoint: Path, out_dir: Path, options: BuildOptions, log: Callable[[str], None] = print) -> Path:
    """Build into a fresh sibling of `out_dir`, then swap it in: a build that fails part way
    leaves an existing model directory as it was, never half old and half new."""
    if options.precision not in TOLERANCE:
        raise RswapError(f"unknown precision {options.precision!r}; choose fp32 or fp16")
    # The exporter traces at batch 2 and keeps the batch axis symbolic; torch.export
    # specialises sizes 0 and 1, so a graph limited to one face cannot be traced dynamically.
    if options.max_batch < 2:
        raise RswapError(f"--max-batch must be at least 2 (the graph's batch axis is dynamic), got {options.max_batch}")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MANIFEST_NAME).is_file())):
        # it is replaced as a whole, so it must be a model directory (or empty), not any folder
        raise RswapError(f"{out_dir} exists and is not a model directory; choose a new or empty folder")
    model, config = load_generator(checkpoint)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir)  # a killed build's .building folder
    staging = out_dir.with_name(f"{temp_prefix(out_dir)}{uuid.uuid4().hex[:8]}.building")
    try:
        # Made inside the try: a SIGTERM delivered the moment the folder exists (before the try
        # was entered) left it behind (tests/test_interrupts.py, once in a CI run under load).
        staging.mkdir()
        if (out_dir / "engines").is_dir():  # keep cached TensorRT plans (minutes to rebuild); reused when still valid
            shutil.copytree(out_dir / "engines", staging / "engines", copy_function=_link_or_copy)
        _build(model, config, checkpoint, staging, options, log)
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    path = out_dir / MANIFEST_NAME
    log(f"wrote {path}")
    return path


def _link_or_copy(src: str, dst: str) -> None:
    # engine files are only ever replaced whole (atomic writes), never modified, so a hard link is safe
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _replace_dir(new: Path, dest: Path) -> None:
    """Move `new` to `dest`; an old `dest` is renamed away first and removed after."""
    if not dest.exists():
        os.rename(new, dest)
        return
    old = new.with_suffix(".old")
    os.rename(dest, old)
    os.rename(new, dest)
    shutil.rmtree(old, ignore_errors=True)


def _build(model: Generator, config: GeneratorConfig, checkpoint: Path, out_dir: Path, options: BuildOptions,
           log: Callable[[str], None]) -> None:
    identity = None
    if options.encoder:  # first, so a missing or wrong encoder/FixerNet file fails before the slow exports
        identity = load_identity_function(checkpoint, config, options.identity_weights, options.fixer)
    log(f"exporting generator {config.name!r} ({config.size}px, {options.precision}) ...")
    networks = {"generator": export_generator(model, config, out_dir, options)}
    if identity is not None:
        log(f"exporting identity function ({config.identity_encoder}{' + FixerNet' if config.fixer_dim else ''}) ...")
        networks["identity_encoder"] = export_identity(identity, config, out_dir, options.max_batch)
    # The weights themselves, so the torch backend can run this directory too (hash-checked like the rest).
    with atomic_path(out_dir / "generator.safetensors") as tmp:
        shutil.copyfile(checkpoint, tmp)
    engines = []
    if options.engine:
        log("building TensorRT plan (first build on a GPU takes minutes) ...")
        engines.append(build_engine(out_dir, "generator", networks["generator"], options))
    manifest = Manifest(
        name=config.name,
        version=config.version,
        networks=networks,
        template=config.template,
        crop_size=config.size,
        identity_encoder=config.identity_encoder,
        identity_size=config.id_dim,
        build={**options.to_dict(), "checkpoint": checkpoint.name, "torch_checkpoint": "generator.safetensors",
               "generator_config": config.to_dict(), "torch": torch.__version__},
        engines=engines,
        files={"generator.safetensors": ""},  # hashed by save_manifest
    )
    save_manifest(out_dir, manifest)
